"""``torch.nn.modules.dropout``'s path: the dropout layers.

Re-exported: the classes live in ``minigrad.nn.layers``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.dropout.Dropout is mg.nn.Dropout
    True
"""

from minigrad.nn.layers import Dropout, Dropout1d, Dropout2d

__all__ = ["Dropout", "Dropout1d", "Dropout2d"]
