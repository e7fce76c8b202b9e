"""``torch.nn.modules.activation``'s path: the activation layers, re-exported from where they live.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.activation.GELU is mg.nn.GELU
    True
"""

from minigrad.nn.activation import ELU, GELU, LeakyReLU, Softplus
from minigrad.nn.layers import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "Sigmoid", "Softmax", "Softplus", "Tanh"]
