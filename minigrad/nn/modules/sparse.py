"""``torch.nn.modules.sparse``'s path: Embedding.

Re-exported: the classes live in ``minigrad.nn.layers``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.sparse.Embedding is mg.nn.Embedding
    True
"""

from minigrad.nn.layers import Embedding

__all__ = ["Embedding"]
