"""``mg.nn.modules``: the module paths of ``torch.nn.modules``, for scripts and checkpoints that name them.

``mg.nn.modules.rnn.LSTM``, ``mg.nn.modules.linear.Linear``, ``mg.nn.modules.loss.NLLLoss``, ...
are the very classes of ``mg.nn`` (thin re-exports), so ``isinstance`` checks and class paths
written for PyTorch keep working.

Example::

    >>> import minigrad as mg
    >>> from minigrad.nn.modules.rnn import LSTM
    >>> LSTM is mg.nn.LSTM, mg.nn.modules.Linear is mg.nn.Linear
    (True, True)
"""

from minigrad.nn.modules import (
    activation,
    batchnorm,
    container,
    dropout,
    flatten,
    linear,
    loss,
    module,
    normalization,
    rnn,
    sparse,
)
from minigrad.nn.modules.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from minigrad.nn.modules.batchnorm import BatchNorm1d
from minigrad.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from minigrad.nn.modules.dropout import Dropout, Dropout1d, Dropout2d
from minigrad.nn.modules.flatten import Flatten, Unflatten
from minigrad.nn.modules.linear import Identity, Linear
from minigrad.nn.modules.loss import (
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
from minigrad.nn.modules.module import Module
from minigrad.nn.modules.normalization import LayerNorm
from minigrad.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from minigrad.nn.modules.sparse import Embedding

__all__ = [
    "activation", "batchnorm", "container", "dropout", "flatten", "linear", "loss", "module", "normalization",
    "rnn", "sparse",
    "Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict",
    "Linear", "Identity", "Embedding", "Dropout", "Dropout1d", "Dropout2d", "Flatten", "Unflatten",
    "Tanh", "Sigmoid", "ReLU", "LeakyReLU", "ELU", "GELU", "Softplus", "Softmax", "LogSoftmax",
    "LayerNorm", "BatchNorm1d",
    "MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCEWithLogitsLoss", "BCELoss", "SmoothL1Loss", "HuberLoss",
    "KLDivLoss",
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
]
