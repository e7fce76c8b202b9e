"""``torch.nn.modules.linear``'s path: Linear and Identity.

Re-exported: the classes live in ``minigrad.nn.layers``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.linear.Linear is mg.nn.Linear
    True
"""

from minigrad.nn.layers import Identity, Linear

__all__ = ["Identity", "Linear"]
