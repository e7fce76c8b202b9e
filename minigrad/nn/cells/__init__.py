"""Recurrent cells: one description per built-in cell, and cells to use with ``mg.nn.Recurrent``.

- ``elman.py``, ``lstm.py``, ``gru.py``: the built-in cells, each in one file: gate names, the
  textbook step, the kernels, the equations (``CellDescription``). ``describe(mode)`` finds one.
- ``layer_norm_lstm.py``, ``peephole_lstm.py``, ``variational_dropout.py``: cells written the
  way a user writes one (a ``Module`` with ``forward(x_t, state)`` and ``initial_state(batch_size)``),
  ready for ``mg.nn.Recurrent``.

Example::

    >>> import minigrad as mg
    >>> [describe(m).num_gates for m in ("rnn_tanh", "lstm", "gru")]
    [1, 4, 3]
"""

from minigrad.nn.cells.description import CellDescription, gate_blocks
from minigrad.nn.cells.elman import RNN_RELU, RNN_TANH, rnn_step
from minigrad.nn.cells.gru import GRU, gru_step
from minigrad.nn.cells.layer_norm_lstm import LayerNormLSTMCell, layer_norm
from minigrad.nn.cells.lstm import LSTM, lstm_step
from minigrad.nn.cells.peephole_lstm import PeepholeLSTMCell
from minigrad.nn.cells.variational_dropout import LockedDropout, VariationalDropoutCell

BUILTIN_CELLS: dict[str, CellDescription] = {d.mode: d for d in (RNN_TANH, RNN_RELU, LSTM, GRU)}


def describe(mode: str) -> CellDescription:
    """The description of a built-in cell: ``'rnn_tanh'``, ``'rnn_relu'``, ``'lstm'`` or ``'gru'``.

    Example::

        >>> describe("gru").gates
        ('r', 'z', 'n')
    """
    try:
        return BUILTIN_CELLS[mode.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"describe: no built-in cell {mode!r}; expected one of {sorted(BUILTIN_CELLS)}") from None


__all__ = ["CellDescription", "BUILTIN_CELLS", "describe", "gate_blocks", "rnn_step", "lstm_step", "gru_step",
           "LayerNormLSTMCell", "PeepholeLSTMCell", "LockedDropout", "VariationalDropoutCell", "layer_norm"]
