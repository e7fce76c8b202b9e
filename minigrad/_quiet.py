"""``quiet()``: NumPy's floating-point warnings off for a block, because PyTorch never warns.

In PyTorch ``x / 0`` is ``inf``, ``0 / 0`` and ``inf * 0`` are ``nan``, ``exp(1000)`` is ``inf``,
all without a word; NumPy computes the same values but also warns ("invalid value encountered
in dot"). Every op that can meet such values runs its NumPy arithmetic inside ``quiet()``.

Rule: ``quiet()`` is ``np.errstate(all="ignore")``, made cheap. ``np.errstate`` costs as much
per use as a small op's arithmetic, since it parses its keywords on every entry; ``quiet()``
sets NumPy's own per-context error state (a ``contextvars.ContextVar``, NumPy 2) to one
prepared value and puts the previous one back. Where that part of NumPy is not found (it is
not public API), ``quiet()`` falls back to ``np.errstate(all="ignore")``: the same effect.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:  # NumPy >= 2.0 keeps its floating-point error state in this context variable
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj

    _IGNORE_ALL: Any = _make_extobj(all="ignore")
except (ImportError, AttributeError, TypeError):  # pragma: no cover - another NumPy's internals
    _extobj_contextvar = None


class _Quiet:
    """The context manager ``quiet()`` returns (one per ``with``: it holds the state to restore)."""

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _extobj_contextvar.set(_IGNORE_ALL)

    def __exit__(self, *exc_info: object) -> None:
        _extobj_contextvar.reset(self._token)


def enter_quiet() -> Any:
    """Switch the warnings off until ``leave_quiet(token)``: ``quiet()`` without a ``with`` (for the
    hot path of every op, ``Function.apply``, in a ``try``/``finally``).

    Example::

        >>> token = enter_quiet()
        >>> try:
        ...     r = np.float32(0.0) / np.float32(0.0)
        ... finally:
        ...     leave_quiet(token)
        >>> bool(np.isnan(r))
        True
    """
    if _extobj_contextvar is None:  # pragma: no cover - another NumPy's internals
        state = np.errstate(all="ignore")
        state.__enter__()
        return state
    return _extobj_contextvar.set(_IGNORE_ALL)


def leave_quiet(token: Any) -> None:
    """Put back the state ``enter_quiet`` replaced."""
    if _extobj_contextvar is None:  # pragma: no cover - another NumPy's internals
        token.__exit__(None, None, None)
    else:
        _extobj_contextvar.reset(token)


def quiet() -> Any:
    """A context in which NumPy's floating-point operations do not warn (``np.errstate(all="ignore")``).

    Example::

        >>> import numpy as np
        >>> with quiet():
        ...     r = np.float32(1.0) / np.float32(0.0)
        >>> float(r)
        inf
    """
    if _extobj_contextvar is None:  # pragma: no cover - another NumPy's internals
        return np.errstate(all="ignore")
    return _Quiet()
