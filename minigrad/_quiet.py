"""NumPy's floating-point warnings off while minigrad computes, because PyTorch never warns.

In PyTorch ``x / 0`` is ``inf``, ``0 / 0`` and ``inf * 0`` are ``nan``, ``exp(1000)`` is ``inf``,
all without a word; NumPy computes the same values but also warns ("invalid value encountered
in dot"). Every op's forward (``Function.apply``) and the whole backward walk (the engine) run
with the warnings off; so do the optimizers' updates and a few helpers (``quiet()``).

Rule: the state switched on is ``np.errstate(all="ignore")``, made cheap. ``np.errstate`` costs
about as much per use as a small op's arithmetic (it parses its keywords on every entry); NumPy
2 keeps that state in a ``contextvars.ContextVar``, which ``NUMPY_ERRORS.set(IGNORE_ALL)`` sets to
one prepared value and ``NUMPY_ERRORS.reset(token)`` puts back. Where that part of NumPy is not
found (it is not public API), the same two calls enter and leave ``np.errstate(all="ignore")``.

Example::

    >>> token = NUMPY_ERRORS.set(IGNORE_ALL)
    >>> try:
    ...     r = np.float32(0.0) / np.float32(0.0)
    ... finally:
    ...     NUMPY_ERRORS.reset(token)
    >>> bool(np.isnan(r))
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np


class _ErrstateSwitch:
    """``set``/``reset`` through ``np.errstate``, for a NumPy without the context variable."""

    def set(self, state: Any) -> Any:
        context = np.errstate(all="ignore")
        context.__enter__()
        return context

    def reset(self, token: Any) -> None:
        token.__exit__(None, None, None)


try:  # NumPy >= 2.0 keeps its floating-point error state in this context variable
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    NUMPY_ERRORS: Any = _extobj_contextvar
    IGNORE_ALL: Any = _make_extobj(all="ignore")
except (ImportError, AttributeError, TypeError):  # pragma: no cover - another NumPy's internals
    NUMPY_ERRORS, IGNORE_ALL = _ErrstateSwitch(), None


class _Quiet:
    """The context manager ``quiet()`` returns (one per ``with``: it holds the state to restore)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = NUMPY_ERRORS.set(IGNORE_ALL)

    def __exit__(self, *exc_info: object) -> None:
        NUMPY_ERRORS.reset(self._token)


def quiet() -> _Quiet:
    """A context in which NumPy's floating-point operations do not warn (``np.errstate(all="ignore")``).

    Example::

        >>> with quiet():
        ...     r = np.float32(1.0) / np.float32(0.0)
        >>> float(r)
        inf
    """
    return _Quiet()
