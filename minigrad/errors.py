"""Exceptions with messages that tell the user what to fix."""

from __future__ import annotations


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an op. A ValueError, and a RuntimeError like PyTorch's, so both catch it.

    Example::

        >>> import minigrad as mg
        >>> try:
        ...     mg.ones(2, 3) + mg.ones(4)
        ... except mg.ShapeError as e:
        ...     print(e)
        add: shapes (2, 3) and (4,) cannot be broadcast together (sizes 3 and 4 differ in the last dimension)
    """


def broadcast_error(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> ShapeError:
    """The message for two shapes that do not broadcast: names the op and the first clash."""
    for back in range(1, min(len(a), len(b)) + 1):
        x, y = a[-back], b[-back]
        if x != y and x != 1 and y != 1:
            where = "the last dimension" if back == 1 else f"dimension -{back}"
            return ShapeError(
                f"{op}: shapes {a} and {b} cannot be broadcast together (sizes {x} and {y} differ in {where})"
            )
    return ShapeError(f"{op}: shapes {a} and {b} cannot be broadcast together")


COMPAT_PAGE = "docs/pytorch-compat.md"


def not_in_minigrad(qualified_name: str, name: str) -> AttributeError:
    """The error for a PyTorch name that minigrad lacks (``mg.X``, ``mg.nn.X``, ``Tensor.X``).

    It says so plainly and points to the compatibility page. ``obj=None`` keeps Python from adding a
    misleading "Did you mean: 'L1Loss'?" for ``NLLLoss``.

    Example::

        >>> str(not_in_minigrad("torch.fft", "fft"))
        'minigrad does not implement torch.fft; see docs/pytorch-compat.md for what minigrad offers'
    """
    return AttributeError(f"minigrad does not implement {qualified_name}; see {COMPAT_PAGE} for what minigrad offers",
                          name=name, obj=None)
