"""``mg.utils``: ``mg.utils.data`` (datasets and the DataLoader), as ``torch.utils``.

Example::

    >>> import minigrad as mg
    >>> len(mg.utils.data.DataLoader(range(10), batch_size=4))
    3
"""

from typing import Any

from minigrad.errors import not_in_minigrad
from minigrad.utils import data

__all__ = ["data"]


def __getattr__(name: str) -> Any:
    """A PyTorch name this package lacks: say so (not Python's bare "has no attribute")."""
    if name.startswith("__"):  # Python's own protocol look-ups: a plain miss
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise not_in_minigrad(f"torch.utils.{name}", name)
