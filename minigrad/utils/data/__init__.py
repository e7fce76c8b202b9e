"""``mg.utils.data``: datasets, samplers and the DataLoader, with PyTorch's names and behaviour.

Example::

    >>> import minigrad as mg
    >>> from minigrad.utils.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(mg.randn(10, 3), mg.randint(0, 2, (10,)))
    >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=mg.Generator().manual_seed(0))
    >>> [x.shape for x, y in loader]
    [(4, 3), (4, 3), (2, 3)]
"""

from typing import Any

from minigrad.errors import not_in_minigrad
from minigrad.utils.data.collate import default_collate, default_convert
from minigrad.utils.data.dataloader import DataLoader, get_worker_info
from minigrad.utils.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from minigrad.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "StackDataset", "ChainDataset",
    "random_split",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
    "DataLoader", "get_worker_info", "default_collate", "default_convert",
]


def __getattr__(name: str) -> Any:
    """A PyTorch name this package lacks: say so (not Python's bare "has no attribute")."""
    if name.startswith("__"):  # Python's own protocol look-ups: a plain miss
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise not_in_minigrad(f"torch.utils.data.{name}", name)
