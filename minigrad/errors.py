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
