"""``torch.nn.modules.flatten``'s path: Flatten and Unflatten.

Re-exported: the classes live in ``minigrad.nn.layers``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.flatten.Flatten is mg.nn.Flatten
    True
"""

from minigrad.nn.layers import Flatten, Unflatten

__all__ = ["Flatten", "Unflatten"]
