"""A weight's transpose, copied once per backward pass: BPTT's ``g_t @ W^T`` at every step.

A weight used at every step of a sequence (``h @ W_hh`` stepped in Python) is read transposed by
every step's backward: the gradient of the step's input is

    dL/dh_t = g_t @ W_hh^T

``W_hh^T`` is a view whose rows are columns of ``W_hh``: a product reads it gathered (packed)
first, at every step again, and for the few rows of a batch that gathering costs as much as a
third of the product. Copied once into rows of its own, the transpose is read as it is by every
later step. ``MatMul.backward`` asks ``transposed(b, rows)`` for its ``b^T``; the engine opens a
store for the copies around its walk (``kept_transposes``) and drops it after.

Rules: copies live for one backward pass only, while the saved weight cannot change
(``saved_tensors`` checks its version first); a weight's first ``COPY_AT_USE - 1`` products read
the view, as before, and the next makes the copy: a weight read once or twice is never copied, the
copy costing about as much as gathering it one to five times. Only where the product would gather
the view (``kernels/products.py: gathers_transposed_b``: in our kernels, not in BLAS, which reads
it as it is) and for gradients of at most ``ROWS_MAX`` rows (with more, one gathering serves them all).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from minigrad.autograd.modes import _mode
from minigrad.kernels.products import gathers_transposed_b
from minigrad.kernels.transpose import contiguous_transpose

ROWS_MAX = 64  # a gradient with more rows than this reads the transposed view (its product packs it once for them all)
COPY_AT_USE = 3  # the product of one weight, in one walk, at which its transpose is copied (1: at the first)


class kept_transposes:
    """Inside the block, ``transposed`` keeps the copies it makes; after it, they are dropped.

    The engine's walk (``engine.run_backward``) runs inside one. Nested walks (a hook that calls
    ``backward``) keep their own store. Example::

        >>> with kept_transposes():
        ...     inside = _mode.transposes
        >>> type(inside).__name__, _mode.transposes
        ('dict', None)
    """

    def __enter__(self) -> None:
        self.previous = _mode.transposes
        _mode.transposes = {}

    def __exit__(self, *exc_info: object) -> None:
        _mode.transposes = self.previous


def transposed(b: np.ndarray, rows: int) -> np.ndarray:
    """``b.T`` for a product with a gradient of ``rows`` rows: the view, or the pass's copy of it (module docstring).

    Example: ``transposed(np.ones((2, 3)), 1).shape`` -> (3, 2).
    """
    store: dict[int, list[Any]] | None = _mode.transposes
    if store is None:
        return b.T
    entry = store.get(id(b))
    if entry is None or entry[0]() is not b:  # (or another array that took a freed one's id)
        if b.ndim != 2 or not b.flags.c_contiguous:
            return b.T
        # [the array (weakly: an activation read once must not outlive its node), its products so far,
        #  the copy, the rows last judged and whether those products gather the view]
        entry = store[id(b)] = [weakref.ref(b), 0, None, -1, False]
    if entry[2] is not None:
        return entry[2]
    if rows != entry[3]:  # judged once per number of rows: the per-step products of a loop share it
        entry[3], entry[4] = rows, rows <= ROWS_MAX and gathers_transposed_b(rows, b.shape[1], b.shape[0], b.dtype)
    if not entry[4]:
        return b.T
    entry[1] += 1
    if entry[1] < COPY_AT_USE:
        return b.T
    entry[2] = contiguous_transpose(b)
    return entry[2]
