"""``torch.nn.modules.batchnorm``'s path: BatchNorm1d.

Re-exported: the classes live in ``minigrad.nn.normalization``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.batchnorm.BatchNorm1d is mg.nn.BatchNorm1d
    True
"""

from minigrad.nn.normalization import BatchNorm1d

__all__ = ["BatchNorm1d"]
