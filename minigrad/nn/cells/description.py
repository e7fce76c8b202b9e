"""What every built-in cell declares about itself: ``CellDescription``.

A built-in recurrent cell (Elman RNN, LSTM, GRU) is described once, in its own file of this
package, and everything else reads that description: the layers (``nn/recurrent.py``) take the
gate count and the textbook step from it, the fused layer (``nn/fused_rnn.py``) takes the compiled
kernels, and the drawings take the gate names and the equations a fused step expands into.
Adding a cell means adding one description; no table elsewhere needs a new row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from minigrad.tensor import Tensor

State = tuple[Tensor, ...]
"""A recurrent state: ``(h,)`` or ``(h, c)``; ``state[0]`` is always the output ``h_t``."""


@dataclass(frozen=True)
class CellDescription:
    """One built-in cell: its gates, its state, its textbook step, its kernels and its equations.

    - ``mode``: the name used by the layers and kernels (``"lstm"``, ``"gru"``, ``"rnn_tanh"``, ...).
    - ``gates``: gate names in the order their row blocks are stacked in ``weight_ih``/``weight_hh``.
    - ``state``: names of the state tensors; the first is the output ``h_t`` (LSTM: ``("h", "c")``).
    - ``step``: the textbook step ``step(x_t, state, W_ih, W_hh, b_ih, b_hh) -> state`` written
      with Tensor ops; the weights and biases come as tuples of gate blocks.
    - ``kernels``: the module of compiled kernels and their NumPy references (``minigrad.kernels``).
    - ``equations``: the equations of one step, one string each, in the order they are computed;
      the drawing of a fused layer expands each step into these.

    Example::

        >>> from minigrad.nn.cells import describe
        >>> lstm = describe("lstm")
        >>> lstm.gates, lstm.num_gates, lstm.state
        (('i', 'f', 'g', 'o'), 4, ('h', 'c'))
    """

    mode: str
    gates: tuple[str, ...]
    state: tuple[str, ...]
    step: Callable[..., State]
    kernels: ModuleType
    equations: tuple[str, ...]

    @property
    def num_gates(self) -> int:
        """How many ``hidden_size``-row blocks are stacked in ``weight_ih`` and ``weight_hh``."""
        return len(self.gates)

    @property
    def has_cell_state(self) -> bool:
        """True when the state carries a second tensor ``c_t`` besides ``h_t`` (the LSTM)."""
        return len(self.state) > 1


def gate_blocks(weight: Tensor | None, num_gates: int, rows: int, dtype: np.dtype) -> tuple[Tensor, ...]:
    """Split a stacked ``(num_gates*H, ...)`` weight or bias into its gate blocks.

    A missing bias (``bias=False``) becomes constant zeros, so the equations keep one form.

    Example::

        >>> import minigrad as mg
        >>> [b.shape for b in gate_blocks(mg.zeros(8, 3), 4, 8, mg.float32)]
        [(2, 3), (2, 3), (2, 3), (2, 3)]
    """
    if weight is None:
        weight = Tensor(np.zeros(rows, dtype=dtype))
    return weight.chunk(num_gates, 0) if num_gates > 1 else (weight,)
