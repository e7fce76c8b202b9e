"""Recurrent layers — RNN, LSTM, GRU and their one-step cells — with PyTorch's interface.

Every layer can run in two ways, chosen with ``impl`` (a constructor keyword, also an attribute):

- ``impl='reference'`` writes every time step with primitive Tensor ops, exactly as the textbook
  equations below (and in docs/rnn-lstm-gru.md). Autograd then *is* backpropagation through time:
  the graph holds every ``@``, ``+``, ``sigmoid`` of every step, and ``loss.backward()`` walks it
  back from the last step to the first. Slow, but you can read it, draw it and check it.
- ``impl='fused'`` (the default) runs the same maths in Numba kernels (``minigrad.nn.fused_rnn``)
  with a hand-written BPTT. Same numbers, same parameters; one graph node per layer and direction,
  which declares its time steps (their scopes and saved values) for drawings and inspection.

Both open the same scopes, so every node knows where it belongs: ``"lstm/l0/t3"`` is layer 0,
time step 3 of an LSTM (``"lstm/l0_reverse/t3"`` the backward direction of a bidirectional one).

Each cell is described once, in its own file of ``minigrad/nn/cells/`` (its gates, the textbook
step below, its kernels). The layer machinery (stacking, directions, ``batch_first``, packed
sequences, dropout between layers, ``hx``) is written once in ``minigrad/nn/sequence.py``, for the
built-in cells and for any cell of your own (``mg.nn.Recurrent``).
The one-step cells (``RNNCell``, ``LSTMCell``, ``GRUCell``) are in ``recurrent_cells.py``, and what
layers and cells share (the textbook step ``BuiltinStep``, ``reference_rnn_layer``) in
``recurrent_shared.py``; this module re-exports both, so ``minigrad.nn.recurrent.LSTMCell`` works.

The equations, in the code's notation (``x_t`` is a row-per-sequence batch ``(B, input_size)``,
``h_prev`` is ``h_{t-1}``; ``W_ii`` is the input->input-gate block of ``weight_ih``, ``W_hi`` the
hidden->input-gate block of ``weight_hh``, and so on)::

    RNN   h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)         (or relu)

    LSTM  i_t = sigmoid(x_t @ W_ii.T + b_ii + h_{t-1} @ W_hi.T + b_hi)       input gate
          f_t = sigmoid(x_t @ W_if.T + b_if + h_{t-1} @ W_hf.T + b_hf)       forget gate
          g_t = tanh(x_t @ W_ig.T + b_ig + h_{t-1} @ W_hg.T + b_hg)          candidate cell
          o_t = sigmoid(x_t @ W_io.T + b_io + h_{t-1} @ W_ho.T + b_ho)       output gate
          c_t = f_t * c_{t-1} + i_t * g_t
          h_t = o_t * tanh(c_t)

    GRU   r_t = sigmoid(x_t @ W_ir.T + b_ir + h_{t-1} @ W_hr.T + b_hr)       reset gate
          z_t = sigmoid(x_t @ W_iz.T + b_iz + h_{t-1} @ W_hz.T + b_hz)       update gate
          n_t = tanh(x_t @ W_in.T + b_in + r_t * (h_{t-1} @ W_hn.T + b_hn))  candidate
          h_t = (1 - z_t) * n_t + z_t * h_{t-1}

Weight layout is PyTorch's: the gate blocks are stacked along the rows, LSTM in the order
i, f, g, o (``weight_ih_l0`` is ``(4*hidden_size, input_size)``), GRU in the order r, z, n.

Example::

    >>> import minigrad as mg
    >>> lstm = mg.nn.LSTM(input_size=3, hidden_size=4, num_layers=2, batch_first=True)
    >>> out, (h_n, c_n) = lstm(mg.randn(5, 7, 3))            # batch 5, 7 time steps
    >>> out.shape, h_n.shape, c_n.shape
    ((5, 7, 4), (2, 5, 4), (2, 5, 4))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import is_anomaly_enabled, is_grad_enabled, scope
from minigrad.errors import ShapeError
from minigrad.nn.cells import BUILTIN_CELLS, CellDescription, describe, gru_step, lstm_step, rnn_step
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.nn.recurrent_cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from minigrad.nn.recurrent_shared import (
    BuiltinStep,
    _check_impl,
    _fused_layer,
    _fused_rnn,
    _init_dtype,
    _uniform_reset,
    reference_rnn_layer,
)
from minigrad.nn.sequence import (
    SequenceBatch,
    State,
    check_bool,
    check_int,
    check_sequence_input,
    check_stacking,
    run_direction,
    run_stack,
    stack_states,
    unstack_states,
)
from minigrad.nn.utils.rnn import PackedSequence
from minigrad.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
           "rnn_step", "lstm_step", "gru_step", "reference_rnn_layer"]


# ================================================================================================
# RNN, LSTM, GRU: stacked, optionally bidirectional layers over whole sequences
# ================================================================================================


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, argument checks, and the layer machinery.

    ``mode`` is PyTorch's: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'. Use the subclasses.
    """

    _scope_name = "rnn"  # the top-level scope of every node this layer makes

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__()
        who = type(self).__name__
        if not isinstance(mode, str) or mode.lower() not in BUILTIN_CELLS:  # any described cell
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        num_layers, dropout, batch_first, bidirectional = check_stacking(who, num_layers, dropout, batch_first,
                                                                         bidirectional)
        self.bias = check_bool(who, "bias", bias)
        self.input_size = check_int(who, "input_size", input_size)
        self.hidden_size = check_int(who, "hidden_size", hidden_size)
        proj_size = check_int(who, "proj_size", proj_size, minimum=0)
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size (got {proj_size} >= {hidden_size})")
        self.mode = mode
        self.num_layers = num_layers
        self.batch_first = batch_first
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.impl = _check_impl(impl, who)
        dtype = _init_dtype(dtype, device, who)

        gate_size = self.cell.num_gates * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = {f"weight_ih_l{layer}{suffix}": (gate_size, layer_input),
                          f"weight_hh_l{layer}{suffix}": (gate_size, real_hidden)}
                if bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gate_size,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gate_size,)
                if proj_size > 0:
                    shapes[f"weight_hr_l{layer}{suffix}"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(np.empty(shape, dtype=dtype)))
                self._flat_weights_names.extend(shapes)
                self._all_weights.append(list(shapes))
        self.reset_parameters()

    @property
    def cell(self) -> CellDescription:
        """The description of this layer's cell (``minigrad/nn/cells/``): gates, textbook step, kernels."""
        return describe(self.mode)

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        _uniform_reset(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """No-op, for PyTorch compatibility (cuDNN's weight flattening has no meaning on the CPU)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped per layer and direction, as PyTorch's ``all_weights``."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        if self.impl != "fused":
            s += f", impl={self.impl!r}"
        return s

    # ------------------------------------------------------------------ the initial state
    def _initial_states(self, hx: Any, batch: SequenceBatch) -> list[State]:
        """Check ``hx`` (or make zeros) and return one state per layer and direction, ``(B, H)`` each."""
        n = self.num_layers * (2 if self.bidirectional else 1)
        n_batch, dtype = batch.x.shape[1], batch.x.dtype
        if hx is None:
            return [tuple(Tensor(np.zeros((n_batch, size), dtype=dtype)) for size in self._state_sizes())
                    for _ in range(n)]
        stacked = self._checked_hx(hx, n_batch, batch.is_batched, dtype)
        return unstack_states(tuple(batch.user_to_working(t) for t in stacked), n)

    def _state_sizes(self) -> tuple[int, ...]:
        """The size of each state component: ``(H,)``, or ``(H_out, H)`` for an LSTM (its h and c)."""
        h_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (h_size, self.hidden_size) if self.cell.has_cell_state else (h_size,)

    def _checked_hx(self, hx: Any, n_batch: int, is_batched: bool, dtype: np.dtype) -> list[Tensor]:
        """The user's ``hx`` as a list of its stacked ``(L*D, B, H)`` components, checked."""
        who = type(self).__name__
        lstm = self.cell.has_cell_state
        n = self.num_layers * (2 if self.bidirectional else 1)
        h_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        if lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                got = f"a tuple of {len(hx)}" if isinstance(hx, (tuple, list)) else type(hx).__name__
                raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0) of two Tensors, got {got}")
            named = [("h_0", hx[0], h_size), ("c_0", hx[1], self.hidden_size)]
        else:
            if not isinstance(hx, Tensor):
                raise TypeError(f"{who}: hx must be a Tensor of shape ({n}, {n_batch}, {h_size}), "
                                f"got {type(hx).__name__}")
            named = [("hx", hx, h_size)]
        for what, t, size in named:
            if not isinstance(t, Tensor):
                raise TypeError(f"{who}: {what} must be a Tensor, got {type(t).__name__}")
            expected = (n, n_batch, size) if is_batched else (n, size)
            if t.ndim != len(expected):
                kind = "batched 3-D" if is_batched else "unbatched 2-D"
                raise ShapeError(f"{who}: for {kind} input, {what} should also be {len(expected)}-D: "
                                 f"expected shape {expected}, got {t.shape}")
            if t.shape != expected:
                raise ShapeError(f"{who}: expected {what} of shape {expected}, got {t.shape}")
            if t.dtype != dtype:
                raise ValueError(f"{who}: {what} dtype ({t.dtype}) does not match input dtype ({dtype})")
        return [t for _, t, _ in named]

    # ------------------------------------------------------------------ one layer, one direction
    def _run_layer(self, k: int, x: Tensor, state: State, **options: Any) -> tuple[Tensor, State]:
        """Layer and direction ``k`` over ``x``: the fused kernels, or the textbook step of the cell."""
        names = self._all_weights[k]
        params = [getattr(self, name) for name in names]
        w_ih, w_hh = params[0], params[1]
        b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
        w_hr = params[-1] if self.proj_size > 0 else None
        cell = self.cell
        if self.impl == "fused" and w_hr is None:
            c0 = state[1] if cell.has_cell_state else None
            roles = dict(zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), names))
            out, h, c = _fused_layer(cell.mode, x, state[0], c0, w_ih, w_hh, b_ih, b_hh, param_names=roles,
                                     **options)
            return out, ((h, c) if cell.has_cell_state else (h,))
        if self.impl == "fused":  # LSTM(proj_size>0): its own fused node, unless a packed batch needs the steps
            from minigrad.nn import fused_projected_lstm as projected  # (the Numba path: imported on first use)

            if projected.can_run(x, options["lengths"]):
                with scope(options["layer_scope"]):
                    out, h, c = projected.fused_projected_lstm_layer(x, state[0], state[1], w_ih, w_hh, b_ih, b_hh,
                                                                     w_hr, reverse=options["reverse"])
                return out, (h, c)
        with scope(options.pop("layer_scope")):
            step = BuiltinStep(self.cell, w_ih, w_hh, b_ih, b_hh, w_hr)
            return run_direction(step, x, state, **options)

    # ------------------------------------------------------------------ forward
    def forward(self, input: Tensor | PackedSequence, hx: Any = None) -> tuple[Any, Any]:
        """Run all layers over the whole sequence.

        ``input``: ``(T, B, input_size)`` (``(B, T, input_size)`` with batch_first), unbatched
        ``(T, input_size)``, or a PackedSequence. ``hx``: ``(num_layers * num_directions, B, H)``
        (LSTM: a tuple ``(h_0, c_0)``), zeros when None. Returns ``(output, h_n)`` (LSTM:
        ``(output, (h_n, c_n))``); ``output`` is ``(T, B, num_directions * H)`` or a PackedSequence.
        """
        who = type(self).__name__
        _check_impl(self.impl, who)
        check_sequence_input(who, input, self.input_size, self.batch_first, self.weight_ih_l0.dtype)
        if self._fused_in_time_order(input):
            if not (is_grad_enabled() or is_anomaly_enabled() or self._drops_out_between_layers()):
                return self._forward_without_graph(input, hx)
            if self.num_layers == 1 and not self.bidirectional:
                return self._forward_one_node(input, hx)
        batch = SequenceBatch.of(input, self.batch_first)
        with scope(self._scope_name):
            output, finals = run_stack(self._run_layer, batch.x, self._initial_states(hx, batch),
                                       num_layers=self.num_layers, bidirectional=self.bidirectional,
                                       dropout=self.dropout, training=self.training, lengths=batch.lengths)
            final = tuple(batch.working_to_user(s) for s in stack_states(finals))
        return batch.restore(output), (final if self.cell.has_cell_state else final[0])

    def _fused_in_time_order(self, input: Any) -> bool:
        """Whether the fused layers can take the user's input as it is.

        That is: no projection, and a 3-D input whose rows lie in time-major order (time-major, or
        batch-first with one sequence or one step, as a decoder stepping one token at a time passes
        it). One such layer in one direction is then one node on the user's tensors
        (``_forward_one_node``), and a call that records nothing runs on arrays, in both directions
        too (``_forward_without_graph``); the general path would add nodes around each layer to
        transpose the input and output and to pick and stack the states.
        """
        if self.impl != "fused" or self.proj_size > 0:
            return False
        if type(input) is not Tensor or input.ndim != 3:  # (not a PackedSequence, nor unbatched)
            return False
        return not self.batch_first or 1 in input._array.shape[:2]

    def _drops_out_between_layers(self) -> bool:
        """Whether this call applies dropout to the outputs of all layers but the last (PyTorch's rule)."""
        return self.training and self.dropout > 0 and self.num_layers > 1

    def _forward_one_node(self, input: Tensor, hx: Any) -> tuple[Any, Any]:
        """``forward`` as one ``FusedRNNLayer`` node on the input and the stacked ``(1, B, H)`` states."""
        states = self._stacked_states(input, hx)
        with scope(self._scope_name):
            output, final = self._run_layer(0, input, tuple(states), reverse=False, lengths=None, layer_scope="l0",
                                            batch_first=self.batch_first)
        return output, (final if self.cell.has_cell_state else final[0])

    def _forward_without_graph(self, input: Tensor, hx: Any) -> tuple[Any, Any]:
        """``forward`` when nothing is recorded: the layers run one after another on arrays.

        Under ``no_grad`` (and with no dropout between layers) the graph's nodes would be made and
        dropped at once, so ``fused_layers_without_graph`` calls each layer's forward on arrays.
        """
        states = [t._array for t in self._stacked_states(input, hx)]
        layers = []
        for names in self._all_weights:
            w_ih, w_hh, *biases = [getattr(self, name)._array for name in names]
            layers.append((w_ih, w_hh, *(biases or (None, None))))
        c0 = states[1] if self.cell.has_cell_state else None
        out, h_n, c_n = _fused_rnn().fused_layers_without_graph(self.cell.mode, input._array, states[0], c0,
                                                                layers, batch_first=self.batch_first,
                                                                bidirectional=self.bidirectional)
        return Tensor(out), ((Tensor(h_n), Tensor(c_n)) if c_n is not None else Tensor(h_n))

    def _stacked_states(self, input: Tensor, hx: Any) -> list[Tensor]:
        """``hx`` checked (zeros when None) as its stacked ``(L * D, B, H)`` components, for a time-ordered input."""
        n_batch, dtype = input._array.shape[0 if self.batch_first else 1], input._array.dtype
        if hx is None:
            n = self.num_layers * (2 if self.bidirectional else 1)
            return [Tensor(np.zeros((n, n_batch, size), dtype)) for size in self._state_sizes()]
        return self._checked_hx(hx, n_batch, True, dtype)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)`` (or relu), stacked.

    Arguments as ``torch.nn.RNN``; ``impl='fused'|'reference'`` picks the implementation.

    Example::

        >>> import minigrad as mg
        >>> rnn = mg.nn.RNN(10, 20, 2)
        >>> output, h_n = rnn(mg.randn(5, 3, 10), mg.randn(2, 3, 20))
        >>> output.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    _scope_name = "rnn"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, *, impl: str = "fused") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype, impl=impl)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, stacked; gates in PyTorch's order i, f, g, o.

    Arguments as ``torch.nn.LSTM`` (including ``proj_size``: ``nn/fused_projected_lstm.py``);
    ``impl='fused'|'reference'`` picks the implementation. ``forward(x, (h_0, c_0))`` returns
    ``(output, (h_n, c_n))``.

    Example::

        >>> import minigrad as mg
        >>> lstm = mg.nn.LSTM(10, 20, 2, impl="reference")
        >>> output, (h_n, c_n) = lstm(mg.randn(5, 3, 10))
        >>> output.shape, h_n.grad_fn.scope                # every node is tagged with its scope
        ((5, 3, 20), 'lstm')
    """

    _scope_name = "lstm"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device: Any = None, dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype, impl=impl)


class GRU(RNNBase):
    """Gated recurrent unit, stacked; gates in PyTorch's order r, z, n (reset applied after the matmul).

    Arguments as ``torch.nn.GRU``; ``impl='fused'|'reference'`` picks the implementation.

    Example::

        >>> import minigrad as mg
        >>> gru = mg.nn.GRU(10, 20, bidirectional=True, batch_first=True)
        >>> output, h_n = gru(mg.randn(3, 5, 10))
        >>> output.shape, h_n.shape
        ((3, 5, 40), (2, 3, 20))
    """

    _scope_name = "gru"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: Any = None, dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype, impl=impl)
