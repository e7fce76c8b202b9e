"""``mg.nn``: modules, layers, losses, initialisation and functional forms.

Example::

    >>> import minigrad as mg
    >>> model = mg.nn.Sequential(mg.nn.Linear(4, 8), mg.nn.Tanh(), mg.nn.Linear(8, 3))
    >>> loss = mg.nn.CrossEntropyLoss()(model(mg.randn(5, 4)), mg.tensor([0, 1, 2, 0, 1]))
    >>> loss.backward()
    >>> model[0].weight.grad.shape
    (8, 4)
"""

from minigrad.nn import functional, init, utils
from minigrad.nn.layers import (
    Dropout,
    Embedding,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from minigrad.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss
from minigrad.nn.module import Module, ModuleList, Sequential
from minigrad.nn.parameter import Parameter
from minigrad.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

__all__ = [
    "Module", "Sequential", "ModuleList", "Parameter",
    "Linear", "Embedding", "Dropout", "Tanh", "Sigmoid", "ReLU", "Identity", "Softmax", "LogSoftmax", "Flatten",
    "MSELoss", "CrossEntropyLoss", "BCEWithLogitsLoss", "L1Loss",
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
    "functional", "init", "utils",
]
