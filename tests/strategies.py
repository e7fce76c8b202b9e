"""Hypothesis strategies and value generators shared by the op tests.

Two ideas matter here:

* **Layouts.** A NumPy array can look the same and sit in memory in many ways: contiguous,
  transposed, sliced with a step, walked backwards (negative strides). Ops that silently assume
  C-contiguous memory pass every test written with ``np.random.randn`` and then break on
  ``x.T``. ``strided_like`` builds an array with the same values in a random non-contiguous
  layout, and ``leaf`` wraps it with ``mg.from_numpy`` (which does not copy) so the op really sees it.
* **Values away from kinks.** Finite differences are wrong at the kinks of relu/abs/clamp and
  at ties of max/min, so each input has a *kind*: ``"n"`` (any), ``"away"`` (|x - k| > 0.05 for
  the kinks 0, +-0.5, +-1), ``"pos"`` (in [0.5, 2], for log/sqrt/pow/division), ``"distinct"``
  (all values at least 0.2 apart, for max/min).

Nothing here imports minigrad at module level: ``tests/fixture_makers/ops.py`` uses
``values`` to make the PyTorch fixtures on a machine without minigrad installed.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

KINKS = np.array([0.0, 0.5, -0.5, 1.0, -1.0])
KINDS = ("n", "away", "pos", "distinct")


# ------------------------------------------------------------------------------ values


def values(rng: np.random.Generator, shape: tuple[int, ...], kind: str = "n") -> np.ndarray:
    """A float64 array of ``shape`` whose values suit ``kind`` (see the module docstring)."""
    n = int(np.prod(shape, dtype=np.int64))
    if kind == "n":
        v = np.clip(rng.standard_normal(n), -2.5, 2.5)
    elif kind == "pos":
        v = rng.uniform(0.5, 2.0, n)
    elif kind == "away":
        v = rng.uniform(-2.0, 2.0, n)
        for _ in range(100):  # resample the few values that landed near a kink
            near = (np.abs(v[:, None] - KINKS[None, :]) < 0.05).any(axis=1)
            if not near.any():
                break
            v[near] = rng.uniform(-2.0, 2.0, int(near.sum()))
    elif kind == "distinct":
        # A shuffled grid: ties are impossible and every gap is >= 0.2, far more than gradcheck's eps.
        v = (rng.permutation(n) - n / 2) * 0.2 + rng.uniform(0.01, 0.09)
    else:
        raise ValueError(f"unknown value kind {kind!r}; expected one of {KINDS}")
    return v.reshape(shape).astype(np.float64)


def seeded_rng(*key: Any) -> np.random.Generator:
    """A generator seeded from a readable key (e.g. the case name), stable across runs and machines."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


# ------------------------------------------------------------------------------ layouts


def strided_like(a: np.ndarray, perm: tuple[int, ...], steps: tuple[int, ...]) -> np.ndarray:
    """A non-contiguous view with the same shape and values as ``a``.

    The view is ``base[slices].transpose(perm)``: every axis of ``base`` is walked with the step
    in ``steps`` (e.g. 2 skips every other element, -1 walks backwards) and then the axes are
    permuted. ``base`` is allocated just big enough.
    """
    if a.ndim == 0:
        return a.copy()
    inv = np.argsort(perm)
    pre_shape = tuple(a.shape[inv[j]] for j in range(a.ndim))  # shape before the transpose
    base = np.zeros(tuple(max(n, 1) * abs(s) for n, s in zip(pre_shape, steps)), dtype=a.dtype)
    view = base[tuple(slice(None, None, s) for s in steps)]
    view = view[tuple(slice(0, n) for n in pre_shape)].transpose(perm)
    assert view.shape == a.shape, (view.shape, a.shape)
    view[...] = a
    return view


def non_contiguous(a: np.ndarray) -> np.ndarray:
    """A fixed, deterministic non-contiguous copy of ``a``: reversed axes, step 2, last axis backwards."""
    if a.ndim == 0:
        return a.copy()
    perm = tuple(reversed(range(a.ndim)))
    steps = tuple(-2 if i == 0 else 2 for i in range(a.ndim))
    return strided_like(a, perm, steps)


@st.composite
def layouts(draw: st.DrawFn, ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A random (perm, steps) pair for ``strided_like``; (identity, all 1) means contiguous."""
    perm = tuple(draw(st.permutations(range(ndim)))) if ndim else ()
    steps = tuple(draw(st.sampled_from([1, 2, -1, -2])) for _ in range(ndim))
    return perm, steps


@st.composite
def arrays(draw: st.DrawFn, shape: tuple[int, ...], kind: str = "n",
           contiguous: bool | None = None) -> np.ndarray:
    """A float64 array of ``shape`` with values of ``kind``, in a random memory layout.

    ``contiguous=None`` lets hypothesis choose: plain C order, or a view with a random axis
    permutation and steps in {1, 2, -1, -2} (transposed, sliced, negative strides).
    """
    seed = draw(st.integers(0, 2**32 - 1))
    a = values(np.random.default_rng(seed), shape, kind)
    if contiguous is None:
        contiguous = draw(st.booleans())
    if contiguous or a.ndim == 0:
        return a
    perm, steps = draw(layouts(a.ndim))
    return strided_like(a, perm, steps)


# ------------------------------------------------------------------------------ shapes


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes (0-d allowed by default; ``min_side=0`` allows zero-size dims)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcast_pairs(min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
                    max_side: int = 4) -> st.SearchStrategy:
    """Pairs of shapes that broadcast together (size-1 dims, different ndims, 0-d, optionally 0-size)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda bs: bs.input_shapes)


# ------------------------------------------------------------------------------ tensors


def leaf(a: np.ndarray, requires_grad: bool = True) -> Any:
    """``mg.from_numpy`` around ``a`` (*without copying*), so the op sees ``a``'s exact memory layout."""
    import minigrad as mg

    t = mg.from_numpy(a).requires_grad_(requires_grad)
    assert t._array is a, "mg.from_numpy(ndarray) must wrap without copying"
    return t


@st.composite
def tensors(draw: st.DrawFn, shape: tuple[int, ...] | st.SearchStrategy, kind: str = "n",
            contiguous: bool | None = None, requires_grad: bool = True) -> Any:
    """A float64 leaf tensor (requires grad) of ``shape`` in a random layout."""
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    return leaf(draw(arrays(shape, kind, contiguous)), requires_grad)
