"""``DataLoader``: a dataset -> an iterable of batches, as ``torch.utils.data.DataLoader``.

One pass (an *epoch*) over a map-style dataset, in four steps::

    sampler          the order of sample indices   (sequential, or a fresh shuffle when shuffle=True)
    batch_sampler    indices grouped into batches  (batch_size, drop_last)
    fetch            [dataset[i] for i in batch]
    collate_fn       the samples -> one batch      (default_collate stacks them into tensors)

An ``IterableDataset`` skips the first two steps: its stream is cut into batches as it comes.
Everything runs in the calling process: ``num_workers > 0`` is accepted (PyTorch scripts pass it)
but loads in the main process too, and says so once with a warning.

Example::

    >>> import minigrad as mg
    >>> from minigrad.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(mg.arange(10.0).reshape(5, 2), mg.tensor([0, 1, 0, 1, 1]))
    >>> loader = DataLoader(ds, batch_size=2, drop_last=True)
    >>> len(loader)
    2
    >>> for x, y in loader:
    ...     print(x.shape, y.tolist())
    (2, 2) [0, 1]
    (2, 2) [0, 1]
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

import numpy as np

from minigrad.tensor import Tensor
from minigrad.utils.data.collate import default_collate, default_convert
from minigrad.utils.data.dataset import Dataset, IterableDataset, TensorDataset
from minigrad.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from minigrad.utils.generator import Generator, numpy_rng

__all__ = ["DataLoader", "get_worker_info"]

T_co = TypeVar("T_co", covariant=True)

# Set once the num_workers warning has been shown: it is said once per process, not once per loader.
_warned_about_workers = False

# Changing these after construction would leave the sampler and batch sampler out of step (PyTorch forbids it too).
_FIXED_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


def get_worker_info() -> None:
    """Information about the current loader worker process; always None: minigrad loads in the main process.

    Example::

        >>> from minigrad.utils.data import get_worker_info
        >>> get_worker_info() is None
        True
    """
    return None


class DataLoader(Generic[T_co]):
    """Iterate over ``dataset`` in batches (see the module docstring for the steps).

    Arguments are PyTorch's: ``batch_size`` (None: no batching, one converted sample at a time),
    ``shuffle`` (a new order every epoch, repeatable with a seeded ``generator``), ``sampler`` or
    ``batch_sampler`` (your own order), ``collate_fn``, ``drop_last`` (drop a short last batch;
    ``len(loader)`` counts accordingly). ``num_workers``, ``pin_memory``, ``timeout``,
    ``worker_init_fn``, ``prefetch_factor``, ``persistent_workers`` and the other multiprocessing
    options are accepted and have no effect: batches are loaded in the main process, on the CPU.

    Example::

        >>> import minigrad as mg
        >>> from minigrad.utils.data import DataLoader
        >>> loader = DataLoader(list(range(7)), batch_size=3, shuffle=True, generator=mg.Generator().manual_seed(0))
        >>> sorted(sum((b.tolist() for b in loader), []))
        [0, 1, 2, 3, 4, 5, 6]
    """

    def __init__(self, dataset: Dataset[T_co], batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Generator | None = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        _check_worker_options(num_workers, timeout, multiprocessing_context, prefetch_factor, persistent_workers)
        numpy_rng(generator)  # type check now rather than at the first epoch
        if isinstance(dataset, IterableDataset):
            _check_iterable_options(shuffle, sampler, batch_sampler)
        elif not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset of type {type(dataset).__name__} has no __getitem__; a map-style "
                            "dataset needs __len__ and __getitem__ (subclass mg.utils.data.Dataset), a stream "
                            "needs to be an mg.utils.data.IterableDataset")
        elif sampler is None and batch_sampler is None and not hasattr(dataset, "__len__"):
            raise TypeError(f"DataLoader: dataset of type {type(dataset).__name__} has no __len__, so the default "
                            "sampler cannot number its samples; define __len__ or pass a sampler")
        batch_size, drop_last = _check_batching_options(batch_size, shuffle, sampler, batch_sampler, drop_last)

        if sampler is None and not isinstance(dataset, IterableDataset):
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and sampler is not None:
            batch_sampler = BatchSampler(sampler, int(batch_size), drop_last)

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if self._auto_collation else default_convert)
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if self.__dict__.get("_initialized") and name in _FIXED_AFTER_INIT:
            raise ValueError(f"DataLoader: {name} attribute should not be set after DataLoader is initialized "
                             "(make a new DataLoader instead)")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        """True when samples are grouped into batches (batch_size or batch_sampler given)."""
        return self.batch_sampler is not None or (
            isinstance(self.dataset, IterableDataset) and self.batch_size is not None)

    def __iter__(self) -> _LoaderIterator:
        if self.num_workers > 0:
            _warn_main_process_once(self.num_workers)
        if isinstance(self.dataset, IterableDataset):
            batches = self._stream_batches()
        elif self.batch_sampler is not None and self._rows_at_once():
            batches = (self._collated_rows(list(indices)) for indices in self.batch_sampler)
        elif self.batch_sampler is not None:
            batches = (self.collate_fn(self._fetch(list(indices))) for indices in self.batch_sampler)
        else:
            batches = (self.collate_fn(self.dataset[index]) for index in self.sampler)
        return _LoaderIterator(batches, self)

    def _rows_at_once(self) -> bool:
        """Whether a batch can be taken from a TensorDataset's tensors in one indexing each.

        What ``default_collate`` makes of the samples one by one (a list of the stacked rows of
        each tensor), without making the samples: for the default collate only, and for tensors
        that need no gradient (a batch of those is an op of the graph, made by the general path).
        """
        dataset = self.dataset
        return (type(dataset) is TensorDataset and self.collate_fn is default_collate and len(dataset.tensors) > 0
                and not any(t.requires_grad for t in dataset.tensors))

    def _collated_rows(self, indices: list[int]) -> list[Tensor]:
        """``default_collate(self._fetch(indices))`` for a TensorDataset (see ``_rows_at_once``)."""
        rows = np.asarray(indices, dtype=np.int64)
        try:
            if len(rows):
                return [Tensor(t._array[rows]) for t in self.dataset.tensors]
        except IndexError:  # an index out of range: the general path says which, in the dataset's words
            pass
        return self.collate_fn(self._fetch(indices))  # (and refuses an empty batch, as collating one does)

    def _fetch(self, indices: list[int]) -> list[Any]:
        """The samples at ``indices``: one ``__getitems__`` call if the dataset offers it, else one by one."""
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems(indices)
        return [self.dataset[i] for i in indices]

    def _stream_batches(self) -> Iterator[Any]:
        """An IterableDataset's samples, cut into batches in arrival order."""
        stream = iter(self.dataset)
        if self.batch_size is None:
            for sample in stream:
                yield self.collate_fn(sample)
            return
        while True:
            chunk = list(itertools.islice(stream, self.batch_size))
            if not chunk or (self.drop_last and len(chunk) < self.batch_size):
                return
            yield self.collate_fn(chunk)

    def __len__(self) -> int:
        """Batches per epoch (samples, with batch_size=None); a short last batch counts unless drop_last."""
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        source = self.batch_sampler if self.batch_sampler is not None else self.sampler
        return len(source)  # type: ignore[arg-type]


class _LoaderIterator:
    """One epoch of a DataLoader: ``next()`` gives the next batch; ``len()`` the batches in the epoch."""

    def __init__(self, batches: Iterator[Any], loader: DataLoader) -> None:
        self._batches = batches
        self._loader = loader

    def __iter__(self) -> _LoaderIterator:
        return self

    def __next__(self) -> Any:
        return next(self._batches)

    def __len__(self) -> int:
        return len(self._loader)


def _check_worker_options(num_workers: Any, timeout: Any, multiprocessing_context: Any, prefetch_factor: Any,
                          persistent_workers: bool) -> None:
    """PyTorch's checks of the multiprocessing options (they must make sense even though they do nothing)."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers option should be a non-negative int, got {num_workers!r}; "
                         "use num_workers=0 to disable multiprocessing")
    if not isinstance(timeout, (int, float)) or timeout < 0:
        raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
    if num_workers == 0:
        if prefetch_factor is not None:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in multiprocessing: "
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None")
        if persistent_workers:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None:
            raise ValueError("DataLoader: multiprocessing_context can only be used with multi-process loading "
                             "(num_workers > 0), but got num_workers=0")
    elif prefetch_factor is not None and (not isinstance(prefetch_factor, int) or prefetch_factor < 0):
        raise ValueError(f"DataLoader: prefetch_factor option should be a non-negative int, got {prefetch_factor!r}")


def _check_batching_options(batch_size: Any, shuffle: Any, sampler: Any, batch_sampler: Any,
                            drop_last: Any) -> tuple[int | None, bool]:
    """PyTorch's rules for combining the batching options; returns (batch_size, drop_last) to use."""
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last (the batch sampler decides all of them)")
        batch_size, drop_last = None, False
    elif batch_size is None:
        if drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
    elif isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"DataLoader: batch_size should be a positive integer value or None, "
                         f"but got batch_size={batch_size!r}")
    if not isinstance(drop_last, bool):
        raise ValueError(f"DataLoader: drop_last should be a boolean value, but got drop_last={drop_last!r}")
    return batch_size, drop_last


def _check_iterable_options(shuffle: Any, sampler: Any, batch_sampler: Any) -> None:
    """An IterableDataset decides its own order: shuffle and samplers make no sense for it."""
    if shuffle not in (False, None):
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, but got "
                         f"shuffle={shuffle!r} (shuffle inside the dataset's __iter__ instead)")
    if sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, but got "
                         f"sampler={sampler!r}")
    if batch_sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, but got "
                         f"batch_sampler={batch_sampler!r}")


def _warn_main_process_once(num_workers: int) -> None:
    global _warned_about_workers
    if _warned_about_workers:
        return
    _warned_about_workers = True
    warnings.warn(f"DataLoader: num_workers={num_workers} was asked for, but minigrad loads every batch in the main "
                  "process (no worker processes; worker_init_fn is not called). The batches are the same, only not "
                  "loaded in parallel. Pass num_workers=0 to silence this warning.", UserWarning, stacklevel=3)
