"""Samplers: which sample indices a ``DataLoader`` reads, in which order, and how they are batched.

A sampler is an iterable of indices (``SequentialSampler``: 0, 1, 2...; ``RandomSampler``: a fresh
shuffle every epoch). A ``BatchSampler`` groups any sampler's indices into lists, one per batch.

Example::

    >>> import minigrad as mg
    >>> from minigrad.utils.data import BatchSampler, RandomSampler, SequentialSampler
    >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    >>> sorted(RandomSampler(range(5), generator=mg.Generator().manual_seed(0)))
    [0, 1, 2, 3, 4]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any, Generic, TypeVar

import numpy as np

from minigrad.tensor import Tensor
from minigrad.utils.generator import Generator, numpy_rng

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]

T_co = TypeVar("T_co", covariant=True)


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{owner}: {name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


class Sampler(Generic[T_co]):
    """Base class: subclass it and define ``__iter__`` (yielding indices) and usually ``__len__``.

    Example::

        >>> from minigrad.utils.data import DataLoader, Sampler
        >>> class EvensFirst(Sampler):
        ...     def __init__(self, n):
        ...         self.n = n
        ...     def __iter__(self):
        ...         return iter([*range(0, self.n, 2), *range(1, self.n, 2)])
        ...     def __len__(self):
        ...         return self.n
        >>> [b.tolist() for b in DataLoader(range(5), batch_size=3, sampler=EvensFirst(5))]
        [[0, 2, 4], [1, 3]]
    """

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator[T_co]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler[int]):
    """Indices ``0, 1, ..., len(data_source) - 1`` in order.

    Example::

        >>> from minigrad.utils.data import SequentialSampler
        >>> list(SequentialSampler("abc"))
        [0, 1, 2]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler[int]):
    """A random order of the indices, new on every pass (``replacement=True``: draws with repeats).

    ``num_samples`` (default: the dataset's length) is how many indices one pass yields.
    ``generator`` makes the order repeatable; without one it follows ``mg.manual_seed``.

    Example::

        >>> import minigrad as mg
        >>> from minigrad.utils.data import RandomSampler
        >>> s = RandomSampler(range(4), replacement=True, num_samples=6, generator=mg.Generator().manual_seed(0))
        >>> len(list(s)), all(0 <= i < 4 for i in s)
        (6, True)
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got {replacement!r}")
        numpy_rng(generator)  # checks the type now, not at the first epoch
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is None and len(data_source) == 0:
            raise ValueError("RandomSampler: num_samples should be a positive integer value, but got num_samples=0 "
                             "(the dataset is empty: there is nothing to shuffle)")
        _positive_int("RandomSampler", "num_samples", self.num_samples)

    @property
    def num_samples(self) -> int:
        """Indices per pass: ``num_samples`` if given, else ``len(data_source)`` (read anew each time)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, rng = len(self.data_source), numpy_rng(self.generator)
        if n == 0:  # the dataset shrank after construction: nothing to draw from
            return
        if self.replacement:
            yield from rng.integers(0, n, size=self.num_samples).tolist()
            return
        # Without replacement, more samples than the dataset holds means whole permutations back to back.
        full_passes, rest = divmod(self.num_samples, n)
        for _ in range(full_passes):
            yield from rng.permutation(n).tolist()
        yield from rng.permutation(n)[:rest].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler[int]):
    """The given ``indices`` in a random order, new on every pass (e.g. a validation split).

    Example::

        >>> import minigrad as mg
        >>> from minigrad.utils.data import SubsetRandomSampler
        >>> sorted(SubsetRandomSampler([7, 3, 5], generator=mg.Generator().manual_seed(0)))
        [3, 5, 7]
    """

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        numpy_rng(generator)
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in numpy_rng(self.generator).permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler[int]):
    """``num_samples`` indices drawn with probabilities proportional to ``weights`` (need not sum to 1).

    Example::

        >>> import minigrad as mg
        >>> from minigrad.utils.data import WeightedRandomSampler
        >>> list(WeightedRandomSampler([0.0, 1.0, 0.0], 3, generator=mg.Generator().manual_seed(0)))
        [1, 1, 1]
    """

    def __init__(self, weights: Sequence[float] | Tensor, num_samples: int, replacement: bool = True,
                 generator: Generator | None = None) -> None:
        _positive_int("WeightedRandomSampler", "num_samples", num_samples)
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, but got {replacement!r}")
        w = np.asarray(weights._array if isinstance(weights, Tensor) else weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"WeightedRandomSampler: weights must be a non-empty 1-d sequence of finite, "
                             f"non-negative numbers with a positive sum, got shape {w.shape}")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                             f"from {np.count_nonzero(w)} non-zero weights")
        numpy_rng(generator)
        self.weights = w
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = numpy_rng(self.generator)
        drawn = rng.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                           p=self.weights / self.weights.sum())
        return iter(drawn.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler[list[int]]):
    """Groups the indices of ``sampler`` into lists of ``batch_size``; ``drop_last`` drops a short last one.

    Example::

        >>> from minigrad.utils.data import BatchSampler
        >>> list(BatchSampler(range(5), batch_size=2, drop_last=True))
        [[0, 1], [2, 3]]
    """

    def __init__(self, sampler: Sampler[int] | Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.batch_size = _positive_int("BatchSampler", "batch_size", batch_size)
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got drop_last={drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
