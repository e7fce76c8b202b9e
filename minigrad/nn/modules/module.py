"""``torch.nn.modules.module``'s path: the base class.

Re-exported: the classes live in ``minigrad.nn.module``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.module.Module is mg.nn.Module
    True
"""

from minigrad.nn.module import Module

__all__ = ["Module"]
