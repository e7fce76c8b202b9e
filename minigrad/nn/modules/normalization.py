"""``torch.nn.modules.normalization``'s path: LayerNorm.

Re-exported: the classes live in ``minigrad.nn.normalization``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.normalization.LayerNorm is mg.nn.LayerNorm
    True
"""

from minigrad.nn.normalization import LayerNorm

__all__ = ["LayerNorm"]
