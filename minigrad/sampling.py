"""Random tensors: rand, randn, randint, randperm, normal, multinomial, and their ``*_like`` forms.

All of them draw from the library's seeded generator (``mg.manual_seed(0)`` makes a run repeatable),
or from the generator passed as ``generator=``. They take PyTorch's arguments and overloads, e.g.
``randint(high, size)``, ``randint(low, high, size)`` and ``randint(low, high, size=...)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad._quiet import quiet
from minigrad.creation import check_device, float_dtype, like, make, size_arg, sizes, tensor_arg
from minigrad.dtypes import to_dtype
from minigrad.errors import ShapeError
from minigrad.random import rng
from minigrad.tensor import Tensor


def numpy_rng(op: str, generator: Any) -> np.random.Generator:
    """The NumPy generator to draw from: the library's (``mg.manual_seed``), or the one behind an mg.Generator."""
    if generator is None:
        return rng()
    from minigrad.utils.generator import Generator, numpy_rng  # (loaded on first use: import minigrad stays fast)

    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be an mg.Generator or None, got {type(generator).__name__}")
    return numpy_rng(generator)


def _floating_only(op: str, dt: np.dtype) -> None:
    if dt.kind != "f":
        raise TypeError(f"{op}: needs a floating point dtype, got {dt}")


# ----------------------------------------------------------------------------------- rand, randn


def randn(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          out: Any = None, **kw: Any) -> Tensor:
    """Standard normal samples. Example: ``mg.randn(4, 20, 8).shape`` -> (4, 20, 8)."""
    shape = sizes("randn", size, kw.pop("size", None))
    dt = float_dtype(dtype)
    _floating_only("randn", dt)
    return make("randn", numpy_rng("randn", generator).standard_normal(shape).astype(dt), requires_grad, device, out)


def rand(*size: Any, generator: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         out: Any = None, **kw: Any) -> Tensor:
    """Uniform samples in [0, 1). Example: ``mg.rand(2, 3).shape`` -> (2, 3)."""
    shape = sizes("rand", size, kw.pop("size", None))
    dt = float_dtype(dtype)
    _floating_only("rand", dt)
    return make("rand", numpy_rng("rand", generator).random(shape).astype(dt), requires_grad, device, out)


# ----------------------------------------------------------------------------------- integers


def _integers(op: str, low: Any, high: Any, shape: tuple[int, ...], gen: np.random.Generator) -> np.ndarray:
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{op}: {name} must be an int, got {v!r} ({type(v).__name__})")
    if not low < high:
        raise ValueError(f"{op}: low ({low}) must be smaller than high ({high}): the range [low, high) is empty")
    return gen.integers(low, high, size=shape, dtype=np.int64)


def randint(*args: Any, size: Any = None, low: Any = None, high: Any = None, generator: Any = None,
            dtype: Any = None, device: Any = None, requires_grad: bool = False, out: Any = None) -> Tensor:
    """Random integers in [low, high), int64 by default; all of PyTorch's call forms.

    ``randint(high, size)``, ``randint(low, high, size)``, with ``size=``/``low=``/``high=`` as keywords too.

    Example::

        >>> import minigrad as mg
        >>> mg.randint(10, (2, 3)).shape, mg.randint(5, 7, size=(4,)).dtype
        ((2, 3), dtype('int64'))
    """
    args = [a.item() if isinstance(a, Tensor) and a.ndim == 0 else a for a in args]
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if len(args) == 2 and low is None and high is None:
        low, high = args
    elif len(args) == 1 and high is None:
        low, high = (0 if low is None else low), args[0]
    elif args:
        raise TypeError(f"randint: expected randint(high, size) or randint(low, high, size), got {len(args)} "
                        "positional bound(s) together with keywords")
    if high is None:
        raise TypeError("randint: missing the upper bound high (randint(high, size) or randint(low, high, size))")
    if size is None:
        raise TypeError("randint: missing the size (e.g. randint(10, (3,)) or size=(3,))")
    shape = size_arg((size,) if not isinstance(size, (tuple, list)) else (size,), "randint")
    low = 0 if low is None else low
    dt = np.dtype(np.int64) if dtype is None else to_dtype(dtype)
    arr = _integers("randint", low, high, shape, numpy_rng("randint", generator)).astype(dt)
    return make("randint", arr, requires_grad, device, out)


def randperm(n: int, *, generator: Any = None, dtype: Any = None, device: Any = None, requires_grad: bool = False,
             out: Any = None) -> Tensor:
    """A random permutation of 0..n-1 (int64).

    Example::

        >>> import minigrad as mg
        >>> sorted(mg.randperm(4).tolist())
        [0, 1, 2, 3]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    dt = np.dtype(np.int64) if dtype is None else to_dtype(dtype)
    arr = numpy_rng("randperm", generator).permutation(int(n)).astype(dt)
    return make("randperm", arr, requires_grad, device, out)


# ----------------------------------------------------------------------------------- normal, multinomial


def normal(mean: Any = 0.0, std: Any = 1.0, size: Any = None, *, generator: Any = None, dtype: Any = None,
           device: Any = None, requires_grad: bool = False, out: Any = None) -> Tensor:
    """Normal samples with the given mean and std: numbers with ``size``, or tensors (elementwise, broadcast).

    Example::

        >>> import minigrad as mg
        >>> mg.normal(0.0, 1.0, size=(2, 3)).shape, mg.normal(mg.zeros(4), 2.0).shape
        ((2, 3), (4,))
    """
    check_device("normal", device)
    gen = numpy_rng("normal", generator)
    m = mean._array if isinstance(mean, Tensor) else mean
    s = std._array if isinstance(std, Tensor) else std
    tensors = [a for a in (m, s) if isinstance(a, np.ndarray)]
    if tensors:
        if size is not None:
            raise TypeError("normal: size= is only for numbers as mean and std; with tensors the shape is theirs")
        if any(a.dtype.kind != "f" for a in tensors):
            raise TypeError("normal: mean and std tensors must be floating point")
        dt = np.result_type(*tensors) if dtype is None else to_dtype(dtype)
        try:
            shape = np.broadcast_shapes(*(np.shape(a) for a in (m, s)))
        except ValueError:
            raise ShapeError(f"normal: mean of shape {np.shape(m)} and std of shape {np.shape(s)} cannot be "
                             "broadcast together") from None
    else:
        if size is None:
            raise TypeError("normal: with numbers as mean and std, give size= (e.g. normal(0.0, 1.0, size=(3,)))")
        shape = size_arg((size,) if not isinstance(size, (tuple, list)) else (size,), "normal")
        dt = float_dtype(dtype)
    if np.any(np.asarray(s) < 0):
        raise ValueError("normal: std must be non-negative")
    arr = (m + s * gen.standard_normal(shape)).astype(dt)
    return make("normal", np.asarray(arr), requires_grad, None, out)


def multinomial(weights: Tensor, num_samples: int, replacement: bool = False, *, generator: Any = None,
                out: Any = None) -> Tensor:
    """Draw ``num_samples`` category indices from each row of non-negative ``weights`` (1-D or 2-D).

    Without replacement, each category is drawn at most once per row, and the indices come in the
    order they were drawn.

    Example::

        >>> import minigrad as mg
        >>> mg.multinomial(mg.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
        tensor([1, 1])
    """
    w = tensor_arg("multinomial", weights)._array
    if w.ndim not in (1, 2):
        raise ShapeError(f"multinomial: weights must be 1-D or 2-D, got shape {w.shape}")
    if w.dtype.kind != "f":
        raise TypeError(f"multinomial: weights must be floating point, got dtype {w.dtype}")
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be a positive int, got {num_samples!r}")
    rows = (w.reshape(1, -1) if w.ndim == 1 else w).astype(np.float64)
    if not replacement and num_samples > rows.shape[1]:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                         f"{rows.shape[1]} categories")
    if rows.shape[1] == 0:
        raise ValueError(f"multinomial: weights of shape {w.shape} have no categories to draw from")
    if rows.shape[0] == 0:
        return make("multinomial", np.empty((0, num_samples), dtype=np.int64), False, None, out)
    with quiet():  # (finite weights may sum to inf: refused below, without NumPy's warning)
        totals = rows.sum(axis=1)
    if not (rows.min() >= 0 and totals.max() < np.inf):  # (False for NaN too)
        if rows.min() >= 0 and np.isfinite(rows).all():
            raise ValueError(f"multinomial: row {int(np.argmax(totals))} of the weights sums to more than float64 "
                             "holds (inf); scale the weights down")
        raise ValueError("multinomial: weights must be finite and non-negative")
    if not totals.min() > 0:
        r = int(np.argmin(totals))
        raise ValueError(f"multinomial: row {r} of the weights sums to {totals[r]}; it needs a positive weight")
    gen = numpy_rng("multinomial", generator)
    if replacement or num_samples == 1:
        result = _draw_with_replacement(rows, num_samples, gen)
    else:
        nonzero = np.count_nonzero(rows, axis=1)
        if nonzero.min() < num_samples:
            r = int(np.argmin(nonzero))
            raise ValueError(f"multinomial: row {r} has {nonzero[r]} non-zero weights, fewer than the "
                             f"{num_samples} samples asked for without replacement")
        result = _draw_without_replacement(rows, num_samples, gen)
    return make("multinomial", result.reshape(w.shape[:-1] + (num_samples,)), False, None, out)


# Rows up to this many categories are sorted whole to find the smallest keys.
_SORT_WHOLE_ROWS_UP_TO = 1024
# Draws whose comparisons (rows x samples x categories) fit in this many make one NumPy call.
_COMPARE_ALL_UP_TO = 1 << 16


def _draw_with_replacement(rows: np.ndarray, num_samples: int, gen: np.random.Generator) -> np.ndarray:
    """Inverse-CDF draws: category ``k`` of a row is the first whose running total exceeds ``u * total``.

    A zero weight adds nothing to the running total, so ``side="right"`` never lands on it. ``u`` is
    below 1 but ``u * total`` may round up to the total itself, past every category: such a draw
    takes the row's last category of positive weight, the one it was heading for.
    """
    cumulative = np.cumsum(rows, axis=1)
    targets = gen.random((rows.shape[0], num_samples)) * cumulative[:, -1:]
    if cumulative.size * num_samples <= _COMPARE_ALL_UP_TO:  # how many running totals each target reaches
        result = (cumulative[:, None, :] <= targets[:, :, None]).sum(axis=2, dtype=np.int64)
    else:  # the same count by binary search, row by row
        result = np.empty((rows.shape[0], num_samples), dtype=np.int64)
        for r in range(rows.shape[0]):
            result[r] = np.searchsorted(cumulative[r], targets[r], side="right")
    past = result == rows.shape[1]
    if past.any():
        last_positive = rows.shape[1] - 1 - np.argmax(rows[:, ::-1] > 0, axis=1)
        result[past] = np.broadcast_to(last_positive[:, None], result.shape)[past]
    return result


def _draw_without_replacement(rows: np.ndarray, num_samples: int, gen: np.random.Generator) -> np.ndarray:
    """Draws without replacement by exponential keys, as PyTorch draws them.

    Each category gets the key ``E / w`` with ``E`` a standard exponential sample: the smallest key
    is distributed as one draw with probabilities ``w / sum(w)``, and the categories sorted by key
    are distributed as draws one after another, each from what is left (Efraimidis and Spirakis,
    2006). A zero weight's key is infinite: never drawn (the caller checked there are enough others).
    """
    with quiet():  # (w = 0 gives inf: the intended key)
        keys = gen.standard_exponential(rows.shape) / rows
    if rows.shape[1] <= _SORT_WHOLE_ROWS_UP_TO or num_samples * 8 >= rows.shape[1]:
        return np.argsort(keys, axis=1)[:, :num_samples]
    smallest = np.argpartition(keys, num_samples - 1, axis=1)[:, :num_samples]  # unordered, then ordered
    row = np.arange(rows.shape[0])[:, None]
    return smallest[row, np.argsort(keys[row, smallest], axis=1)]


# ----------------------------------------------------------------------------------- *_like


def rand_like(t: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
              generator: Any = None, memory_format: Any = None) -> Tensor:
    """Uniform samples in [0, 1) shaped like ``t`` (a float dtype).

    Example::

        >>> import minigrad as mg
        >>> mg.rand_like(mg.ones(2, 3)).shape
        (2, 3)
    """
    shape, dt = like("rand_like", t, dtype)
    _floating_only("rand_like", dt)
    return make("rand_like", numpy_rng("rand_like", generator).random(shape).astype(dt), requires_grad, device)


def randn_like(t: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               generator: Any = None, memory_format: Any = None) -> Tensor:
    """Standard normal samples shaped like ``t`` (a float dtype).

    Example::

        >>> import minigrad as mg
        >>> mg.randn_like(mg.ones(2, dtype=mg.float64)).dtype
        dtype('float64')
    """
    shape, dt = like("randn_like", t, dtype)
    _floating_only("randn_like", dt)
    arr = numpy_rng("randn_like", generator).standard_normal(shape).astype(dt)
    return make("randn_like", arr, requires_grad, device)


def randint_like(t: Tensor, low: int, high: int | None = None, *, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False, generator: Any = None, memory_format: Any = None) -> Tensor:
    """Random integers in [low, high) (or [0, low)) shaped like ``t``, with ``t``'s dtype.

    Example::

        >>> import minigrad as mg
        >>> mg.randint_like(mg.zeros(3, dtype=mg.int64), 10).shape
        (3,)
    """
    shape, dt = like("randint_like", t, dtype)
    low, high = (0, low) if high is None else (low, high)
    arr = _integers("randint_like", low, high, shape, numpy_rng("randint_like", generator)).astype(dt)
    return make("randint_like", arr, requires_grad, device)



# ----------------------------------------------------------------------------------- bernoulli


def bernoulli(input: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    """A 0 or 1 for each element of ``input``: 1 with probability ``input[i]`` (or ``p`` for every
    element, when given), in ``input``'s dtype. A sample has no gradient.

    Example::

        >>> import minigrad as mg
        >>> mg.bernoulli(mg.tensor([0.0, 1.0])).tolist()
        [0.0, 1.0]
    """
    op = "bernoulli"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    array = input._array
    _floating_only(op, array.dtype)
    if p is None:
        probabilities = array
        if probabilities.size and not ((probabilities >= 0) & (probabilities <= 1)).all():  # (NaN fails too)
            raise ValueError(f"{op}: probabilities must be in [0, 1], got values from {np.nanmin(probabilities)} to "
                             f"{np.nanmax(probabilities)}" + (" and NaN" if np.isnan(probabilities).any() else ""))
    else:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not 0 <= p <= 1:
            raise ValueError(f"{op}: p must be a number in [0, 1], got {p!r}")
        probabilities = p
    draws = numpy_rng(op, generator).random(array.shape)
    return Tensor((draws < probabilities).astype(array.dtype))
