"""``mg.nn``: modules, layers, losses, initialisation and functional forms.

Example::

    >>> import minigrad as mg
    >>> model = mg.nn.Sequential(mg.nn.Linear(4, 8), mg.nn.Tanh(), mg.nn.Linear(8, 3))
    >>> loss = mg.nn.CrossEntropyLoss()(model(mg.randn(5, 4)), mg.tensor([0, 1, 2, 0, 1]))
    >>> loss.backward()
    >>> model[0].weight.grad.shape
    (8, 4)
"""

from typing import Any

from minigrad.errors import not_in_minigrad
from minigrad.nn import functional, init, modules, utils
from minigrad.nn.activation import (
    ELU,
    GELU,
    CosineSimilarity,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    ReLU6,
    SiLU,
    Softplus,
)
from minigrad.nn.cells import LayerNormLSTMCell, LockedDropout, PeepholeLSTMCell, VariationalDropoutCell
from minigrad.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from minigrad.nn.custom_recurrent import Recurrent
from minigrad.nn.layers import (
    Dropout,
    Dropout1d,
    Dropout2d,
    Embedding,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    Unflatten,
)
from minigrad.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from minigrad.nn.module import Module
from minigrad.nn.normalization import BatchNorm1d, LayerNorm
from minigrad.nn.parameter import Parameter
from minigrad.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = [
    "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Parameter",
    "Linear", "Embedding", "Dropout", "Dropout1d", "Dropout2d", "Identity", "Flatten", "Unflatten",
    "Tanh", "Sigmoid", "ReLU", "LeakyReLU", "ELU", "GELU", "Softplus", "SiLU", "LogSigmoid",
    "Hardtanh", "ReLU6", "CosineSimilarity", "Softmax", "LogSoftmax",
    "LayerNorm", "BatchNorm1d",
    "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "SmoothL1Loss", "HuberLoss",
    "KLDivLoss",
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU", "RNNBase", "RNNCellBase",
    "Recurrent", "LayerNormLSTMCell", "PeepholeLSTMCell", "LockedDropout", "VariationalDropoutCell",
    "functional", "init", "modules", "utils",
]


def __getattr__(name: str) -> Any:
    """A PyTorch name that minigrad lacks (``mg.nn.Conv2d``) says so, without a misleading suggestion."""
    if name.startswith("_"):  # Python's own protocol look-ups and private names: a plain miss
        raise AttributeError(f"module 'minigrad.nn' has no attribute {name!r}")
    raise not_in_minigrad(f"torch.nn.{name}", name)
