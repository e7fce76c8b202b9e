"""Datasets: what a ``DataLoader`` reads samples from.

A *map-style* dataset (``Dataset``) answers ``len(ds)`` and ``ds[i]``; an *iterable-style* one
(``IterableDataset``) is a stream you loop over. Anything with ``__len__`` and ``__getitem__``
works as a map-style dataset, even a plain list.

Example::

    >>> import minigrad as mg
    >>> from minigrad.utils.data import TensorDataset, random_split
    >>> ds = TensorDataset(mg.arange(10.0).reshape(5, 2), mg.tensor([0, 1, 0, 1, 1]))
    >>> x, y = ds[0]
    >>> x.tolist(), y.item()
    ([0.0, 1.0], 0)
    >>> train, val = random_split(ds, [0.8, 0.2], generator=mg.Generator().manual_seed(0))
    >>> len(train), len(val)
    (4, 1)
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from minigrad.tensor import Tensor
from minigrad.utils.generator import Generator, numpy_rng

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "StackDataset", "ChainDataset",
           "random_split"]

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """Base class of map-style datasets: subclass it and define ``__getitem__`` and ``__len__``.

    ``ds1 + ds2`` chains two datasets into a ``ConcatDataset``.

    Example::

        >>> from minigrad.utils.data import Dataset
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return i * i
        >>> [x for x in Squares() + Squares()][:6]
        [0, 1, 4, 9, 0, 1]
    """

    def __getitem__(self, index: Any) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__ (Dataset subclasses do)")

    def __add__(self, other: Dataset[T_co]) -> ConcatDataset[T_co]:
        return ConcatDataset([self, other])


class IterableDataset(Dataset[T_co]):
    """Base class of stream datasets: subclass it and define ``__iter__``.

    A ``DataLoader`` over one takes samples in the stream's order (no sampler, no shuffle) and
    groups them into batches. ``ds1 + ds2`` chains two streams into a ``ChainDataset``.

    Example::

        >>> from minigrad.utils.data import DataLoader, IterableDataset
        >>> class Count(IterableDataset):
        ...     def __iter__(self):
        ...         return iter(range(5))
        >>> [b.tolist() for b in DataLoader(Count(), batch_size=2)]
        [[0, 1], [2, 3], [4]]
    """

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__ (IterableDataset subclasses do)")

    def __add__(self, other: Dataset[T_co]) -> ChainDataset:
        return ChainDataset([self, other])


class TensorDataset(Dataset[tuple[Tensor, ...]]):
    """Samples are rows: ``ds[i]`` is ``(t[i] for t in tensors)``, a tuple.

    Every tensor must have the same size in dimension 0 (one row per sample).

    Example::

        >>> import minigrad as mg
        >>> from minigrad.utils.data import TensorDataset
        >>> ds = TensorDataset(mg.zeros(3, 2), mg.tensor([1, 2, 3]))
        >>> len(ds), ds[2][1].item()
        (3, 3)
    """

    tensors: tuple[Tensor, ...]

    def __init__(self, *tensors: Tensor) -> None:
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} is a {type(t).__name__}, expected a Tensor "
                                "(wrap arrays with mg.tensor(...) or mg.from_numpy(...))")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a 0-d tensor; each tensor needs a "
                                 "first dimension with one row per sample")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) > 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: their first dimensions are {sizes}, "
                             "but every tensor needs one row per sample")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0] if self.tensors else 0


class Subset(Dataset[T_co]):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, [4, 0])[0] is ds[4]``.

    Example::

        >>> from minigrad.utils.data import Subset
        >>> s = Subset(["a", "b", "c", "d"], [3, 1])
        >>> len(s), s[0], s[-1]
        (2, 'd', 'b')
    """

    def __init__(self, dataset: Dataset[T_co], indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list[T_co]:
        """A whole batch at once (the DataLoader uses this when the wrapped dataset offers it)."""
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__([self.indices[i] for i in indices])
        return [self.dataset[self.indices[i]] for i in indices]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset[T_co]):
    """Several map-style datasets one after the other: indices run through all of them.

    Example::

        >>> from minigrad.utils.data import ConcatDataset
        >>> ds = ConcatDataset([[0, 1, 2], [10, 11]])
        >>> len(ds), ds[3], ds[-1], ds.cumulative_sizes
        (5, 10, 11, [3, 5])
    """

    def __init__(self, datasets: Iterable[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use ChainDataset to chain streams)")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> T_co:
        if idx < 0:
            if -idx > len(self):
                raise ValueError(f"ConcatDataset: index {idx} is out of range for a dataset of length {len(self)} "
                                 "(absolute value of index should not exceed dataset length)")
            idx = len(self) + idx
        if idx >= len(self):
            raise IndexError(f"ConcatDataset: index {idx} is out of range for a dataset of length {len(self)}")
        which = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][idx - start]


class StackDataset(Dataset):
    """Several same-length datasets side by side: ``ds[i]`` is a tuple (positional) or dict (keywords).

    Example::

        >>> from minigrad.utils.data import StackDataset
        >>> StackDataset([1, 2], ["a", "b"])[1], StackDataset(x=[1, 2], label=["a", "b"])[0]
        ((2, 'b'), {'x': 1, 'label': 'a'})
    """

    datasets: tuple | dict

    def __init__(self, *args: Dataset, **kwargs: Dataset) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: give the datasets either positionally (samples are tuples) or as "
                             "keywords (samples are dicts), not both")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        self.datasets = args if args else kwargs
        parts = args if args else tuple(kwargs.values())
        lengths = [len(d) for d in parts]
        if len(set(lengths)) > 1:
            raise ValueError(f"StackDataset: size mismatch between datasets: their lengths are {lengths}")
        self._length = lengths[0]

    def __getitem__(self, index: Any) -> tuple | dict:
        if isinstance(self.datasets, dict):
            return {key: d[index] for key, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class ChainDataset(IterableDataset):
    """Several stream datasets one after the other (``ds1 + ds2`` for IterableDatasets).

    Example::

        >>> from minigrad.utils.data import ChainDataset
        >>> list(ChainDataset([range(2), range(3)]))
        [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def random_split(dataset: Dataset[T_co], lengths: Sequence[int | float],
                 generator: Generator | None = None) -> list[Subset[T_co]]:
    """Split ``dataset`` at random into non-overlapping ``Subset``s of the given lengths.

    ``lengths`` are counts that add up to ``len(dataset)``, or fractions that add up to 1: each
    part then gets ``floor(fraction * len(dataset))`` samples and the leftover samples go one
    each to the parts in turn, as in PyTorch. Pass a seeded ``generator`` for a repeatable split
    (without one, the split follows ``mg.manual_seed``).

    Example::

        >>> import minigrad as mg
        >>> from minigrad.utils.data import random_split
        >>> parts = random_split(range(10), [0.5, 0.3, 0.2], generator=mg.Generator().manual_seed(1))
        >>> [len(p) for p in parts]
        [5, 3, 2]
    """
    lengths = list(lengths)
    for x in lengths:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or x < 0 or not math.isfinite(x):
            raise ValueError(f"random_split: lengths must be non-negative ints or fractions, got {lengths}")
    total = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:  # PyTorch's test, even for [1, 0]
        lengths = _lengths_from_fractions(lengths, total)
    if not all(isinstance(x, int) or float(x).is_integer() for x in lengths):
        raise ValueError(f"random_split: lengths {lengths} are neither whole counts nor fractions summing to 1")
    lengths = [int(x) for x in lengths]
    if sum(lengths) != total:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the length of the "
                         f"input dataset ({total}); give counts that add up to {total} or fractions that add up to 1")
    order = numpy_rng(generator).permutation(total).tolist()
    ends = list(itertools.accumulate(lengths))
    return [Subset(dataset, order[end - n : end]) for end, n in zip(ends, lengths)]


def _lengths_from_fractions(fractions: list[float], total: int) -> list[int]:
    """floor(fraction * total) each, then the remainder one by one round-robin (PyTorch's rule)."""
    counts = [int(math.floor(total * f)) for f in fractions]
    for i in range(total - sum(counts)):
        counts[i % len(counts)] += 1
    for i, n in enumerate(counts):
        if n == 0:
            warnings.warn(f"random_split: length of split at index {i} is 0: this split will be empty",
                          UserWarning, stacklevel=3)
    return counts
