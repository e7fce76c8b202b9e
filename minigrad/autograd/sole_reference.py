"""Whether a gradient array may become ``leaf.grad`` itself, or must be copied first.

PyTorch's rule for a leaf's first gradient: keep the array when nobody else can see it. The engine
asks ``sole_reference`` (autograd/engine.py, at the end of the walk); a copy of a weight-sized
gradient in every step is memory traffic the step would not need.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from minigrad._allocator import kept_by_recycler


def sole_reference(g: np.ndarray) -> bool:
    """Whether nothing but the caller's one variable refers to the gradient ``g`` or to its memory.

    PyTorch's rule for a leaf's first gradient: keep the array itself when nobody else can see
    it, else copy it. A backward's fresh result qualifies; an array returned twice (``x + x``),
    kept by its node, given by the user, or a view of memory someone else holds, does not.
    Counted with ``sys.getrefcount`` against what an array held by one variable shows in the
    same kind of call (``_FRESH_COUNTS``, measured once, so that no interpreter's way of counting
    is assumed); where it cannot be counted, nothing is kept. The one reference of
    ``empty_aligned``'s buffer cache to the memory of an array it made is nobody's (``_allocator.py``).

    Example::

        >>> g = np.ones(3)
        >>> kept_elsewhere = [g]
        >>> sole_reference(g)
        False
    """
    if _FRESH_COUNTS is None:
        return False
    own, base = _FRESH_COUNTS
    return (sys.getrefcount(g) <= own and g.flags.writeable
            and (g.base is None or _count_base(g) <= base + kept_by_recycler(g.base)))


def _count_base(g: Any) -> int:
    """``sys.getrefcount`` of the array whose memory the view ``g`` shows (``g``'s reference, the argument)."""
    return sys.getrefcount(g.base)


def _fresh_counts() -> tuple[int, int] | None:
    """The counts ``sole_reference`` sees for an array held by one variable, and for the memory of its view.

    ``sole_reference`` counts inside a call from the engine's loop: the loop's variable, its own argument
    and ``getrefcount``'s. This probe makes the same calls on arrays nobody else holds.
    """
    if not hasattr(sys, "getrefcount"):  # not CPython: no reference counts to go by
        return None
    alone = np.empty(1)
    view = np.empty(2)[:1]
    own, base = _count_probe(alone), _count_base(view)
    holder = [alone]  # one more holder must show as one more reference, or the counts mean nothing
    if _count_probe(holder[0]) != own + 1:
        return None
    return own, base


def _count_probe(g: Any) -> int:
    """``sys.getrefcount`` of ``g`` one call deep, as ``sole_reference`` calls it (caller's variable, argument)."""
    return sys.getrefcount(g)


_FRESH_COUNTS = _fresh_counts()
