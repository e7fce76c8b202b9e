"""``torch.nn.modules.rnn``'s path: the recurrent layers and cells.

Re-exported: the classes live in ``minigrad.nn.recurrent``.

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.rnn.LSTM is mg.nn.LSTM
    True
"""

from minigrad.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]
