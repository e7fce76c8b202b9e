"""``torch.jit`` and ``torch.compile``: scripts that decorate with ``@torch.jit.script``, call
``torch.jit.trace`` or ``torch.compile(model)`` run as plain Python.

TorchScript compiles a model for deployment; it never changes what the model computes. minigrad has
no compiler for it, so ``script`` and ``trace`` return what they were given, which computes the same
numbers. Saving a scripted model (``torch.jit.save``) is refused with a clear error.

Example::

    >>> import minigrad as mg
    >>> @mg.jit.script
    ... def double(x):
    ...     return x * 2
    >>> double(mg.ones(2))
    tensor([2., 2.])
"""

from __future__ import annotations

from typing import Any, TypeVar

from minigrad.errors import COMPAT_PAGE

T = TypeVar("T")


def script(obj: T, *args: Any, **kwargs: Any) -> T:
    """The function or module itself: it runs as ordinary Python."""
    return obj


def trace(func: T, example_inputs: Any = None, *args: Any, **kwargs: Any) -> T:
    """The function or module itself (a trace would record the same computation)."""
    return func


def ignore(drop: Any = False, **kwargs: Any) -> Any:
    """``@torch.jit.ignore`` and ``@torch.jit.ignore(drop=True)``: the function is left as it is."""
    return drop if callable(drop) else (lambda fn: fn)


unused = export = ignore


def compile(model: Any = None, *, fullgraph: bool = False, dynamic: bool | None = None,  # noqa: A001
            backend: Any = "inductor", mode: str | None = None, options: dict | None = None,
            disable: bool = False) -> Any:
    """``torch.compile``: the model or function itself, which computes the same numbers.

    PyTorch's compiler turns a model into faster code with the same results; minigrad's speed
    comes from its fused layers instead, so the model runs as written. It works as a call
    (``model = mg.compile(model)``) and as a decorator, with or without arguments; the arguments
    are accepted and change nothing.

    Example::

        >>> import minigrad as mg
        >>> lstm = mg.nn.LSTM(2, 3)
        >>> mg.compile(lstm, mode="max-autotune") is lstm
        True
        >>> @mg.compile(fullgraph=True)
        ... def double(x):
        ...     return x * 2
        >>> double(mg.ones(2))
        tensor([2., 2.])
    """
    if model is None:  # @mg.compile(...) with arguments: the decorator
        return lambda fn: fn
    return model


def is_scripting() -> bool:
    """Always False: nothing is compiled."""
    return False


def save(*args: Any, **kwargs: Any) -> None:
    """Refused: there is no TorchScript file format in minigrad."""
    raise NotImplementedError(f"minigrad does not implement torch.jit.save; save the state_dict with mg.save and "
                              f"rebuild the model, or run the script with `import torch`. See {COMPAT_PAGE}")


load = save
