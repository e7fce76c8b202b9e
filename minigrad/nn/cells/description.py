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

import numpy as np

from minigrad.tensor import Tensor

State = tuple[Tensor, ...]
"""A recurrent state: ``(h,)`` or ``(h, c)``; ``state[0]`` is always the output ``h_t``."""


@dataclass
class LayerArrays:
    """The working arrays of one fused layer (``minigrad/nn/fused_rnn.py``), handed to the kernels.

    Layout as in ``minigrad/kernels/rnn.py``: ``gates`` ``(T, B, G*H)``, ``h_all``/``c_all``
    ``(T+1, B, H)``, ``out`` (``(T, B, H)``, or ``(T, B, 0)`` when ``h_all`` is the output),
    ``lengths`` ``(B,)``; backward adds the gradients ``dgates`` (``dgx``: input side, where it
    differs), ``grad_out``, ``rec``, ``carry_h``/``carry_c``, ``dh_all``. Arrays a cell does not
    use stay None.
    """

    gates: np.ndarray
    h_all: np.ndarray
    lengths: np.ndarray
    rec: np.ndarray
    reverse: bool
    out: np.ndarray | None = None
    bias: np.ndarray | None = None
    bias_hn: np.ndarray | None = None
    c_all: np.ndarray | None = None
    hn: np.ndarray | None = None
    grad_out: np.ndarray | None = None
    carry_h: np.ndarray | None = None
    carry_c: np.ndarray | None = None
    dgates: np.ndarray | None = None
    dgx: np.ndarray | None = None
    dh_all: np.ndarray | None = None


@dataclass(frozen=True)
class FusedKernels:
    """How the fused layer calls a cell's compiled kernels: one adapter per strategy and direction.

    - ``step_forward(a, t, tp, tn)`` / ``step_backward(a, t, tp, tn)``: one time step (the layer
      computes ``rec = h_{t-1} @ W_hh^T`` before, and ``dgates_t @ W_hh`` after, with ``matmul2d``);
    - ``sequence_forward(a, w_hh_t)`` / ``sequence_backward(a, w_hh)``: the whole time loop in one kernel;
    - ``parallel_forward(a, w_hh, units)`` / ``parallel_backward(a, w_hh, units, need_h0)``: the
      whole loop, each step split across threads by blocks of hidden units (None: no such kernels);
    - ``rows_forward(a, packed, rows)`` / ``rows_backward(a, packed, rows)``: the whole loop, the
      batch split across threads by blocks of rows, ``packed`` the ``(cols, panels)`` of
      ``W_hh^T`` / ``W_hh`` (``kernels/rnn_common.py: packed_weight``) (None: no such kernels).

    Flags for the arrays a cell needs: ``cell_state`` (``c_all``, ``carry_c``), ``hidden_n``
    (GRU: ``hn = h_{t-1} @ W_hn.T + b_hn`` kept apart, its own bias ``bias_hn`` and input-side
    gradients ``dgx``), ``in_place_backward`` (the kernels write ``dgates`` over ``gates``).
    """

    step_forward: Callable[..., None]
    step_backward: Callable[..., None]
    sequence_forward: Callable[..., None]
    sequence_backward: Callable[..., None]
    parallel_forward: Callable[..., None] | None = None
    parallel_backward: Callable[..., None] | None = None
    rows_forward: Callable[..., None] | None = None
    rows_backward: Callable[..., None] | None = None
    cell_state: bool = False
    hidden_n: bool = False
    in_place_backward: bool = False


@dataclass(frozen=True)
class StepDrawing:
    """How a drawing expands one step of a fused layer into the cell's equations (``mg.viz``, ops view).

    - ``nodes``: equation node -> ``(title, formula)``, in the order they are computed;
    - ``edges``: the edges between equation nodes inside one step;
    - ``takes``: which equation nodes read each input of the step: ``x`` (x_t), ``h`` (h_{t-1}),
      ``c`` (c_{t-1}) and the parameters ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``;
    - ``columns``: groups of nodes drawn in one column (the gates, in PyTorch's order);
    - ``values``: equation node -> ``(prefix, key)``: the saved step value shown on it
      (``FusedRNNLayer.step_values``), written after ``prefix``.
    """

    nodes: dict[str, tuple[str, str]]
    edges: tuple[tuple[str, str], ...]
    takes: dict[str, tuple[str, ...]]
    columns: tuple[tuple[str, ...], ...] = ()
    values: dict[str, tuple[str, str]] | None = None


@dataclass(frozen=True)
class CellDescription:
    """One built-in cell: its gates, its state, its textbook step, its kernels and its equations.

    - ``mode``: the name used by the layers and kernels (``"lstm"``, ``"gru"``, ``"rnn_tanh"``, ...).
    - ``gates``: gate names in the order their row blocks are stacked in ``weight_ih``/``weight_hh``.
    - ``state``: names of the state tensors; the first is the output ``h_t`` (LSTM: ``("h", "c")``).
    - ``step``: the textbook step ``step(x_t, state, W_ih, W_hh, b_ih, b_hh) -> state`` written
      with Tensor ops; the weights and biases come as tuples of gate blocks.
    - ``kernels``: the compiled kernels (in ``minigrad/kernels/<cell>.py``, each next to its NumPy
      reference) as the fused layer calls them (``FusedKernels``).
    - ``equations``: the textbook equations of one step, one string each, in the order they are
      computed (``docs/rnn-lstm-gru.md`` prints them);
    - ``drawing``: the equations a drawing expands a fused step into (``StepDrawing``).

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
    kernels: FusedKernels
    equations: tuple[str, ...]
    drawing: StepDrawing

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
