"""``mg.utils``: ``mg.utils.data`` (datasets and the DataLoader), as ``torch.utils``.

Example::

    >>> import minigrad as mg
    >>> len(mg.utils.data.DataLoader(range(10), batch_size=4))
    3
"""

from minigrad.utils import data

__all__ = ["data"]
