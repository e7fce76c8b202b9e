"""Recurrent layers — RNN, LSTM, GRU and their one-step cells — with PyTorch's interface.

Every layer can run in two ways, chosen with ``impl`` (a constructor keyword, also an attribute):

- ``impl='reference'`` writes every time step with primitive Tensor ops, exactly as the textbook
  equations below (and in docs/rnn-lstm-gru.md). Autograd then *is* backpropagation through time:
  the graph holds every ``@``, ``+``, ``sigmoid`` of every step, and ``loss.backward()`` walks it
  back from the last step to the first. Slow, but you can read it, draw it and check it.
- ``impl='fused'`` (the default) runs the same maths in Numba kernels (``minigrad.nn.fused_rnn``)
  with a hand-written BPTT. Same numbers, same parameters, one node per time step.

Both open the same scopes, so every node knows where it belongs: ``"lstm/l0/t3"`` is layer 0,
time step 3 of an LSTM (``"lstm/l0_reverse/t3"`` the backward direction of a bidirectional one).

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

import contextlib
import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import minigrad as mg
from minigrad.autograd import scope
from minigrad.dtypes import get_default_dtype, to_dtype
from minigrad.errors import ShapeError
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.nn.utils.rnn import (
    GatherRows,
    PackedSequence,
    ScatterRows,
    _lengths_from_batch_sizes,
    _row_index,
)
from minigrad.random import rng
from minigrad.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
           "rnn_step", "lstm_step", "gru_step", "reference_rnn_layer"]

IMPLS = ("fused", "reference")
# How many gate blocks are stacked in weight_ih / weight_hh for each mode.
NUM_GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


# ================================================================================================
# The textbook: one time step of each cell, written with primitive Tensor ops
# ================================================================================================


def rnn_step(x_t: Tensor, h_prev: Tensor, W_ih: Tensor, W_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
             nonlinearity: str = "tanh") -> Tensor:
    """One step of an Elman RNN: ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)``.

    Example::

        >>> import minigrad as mg
        >>> W_ih, W_hh, b = mg.ones(2, 3), mg.ones(2, 2), mg.zeros(2)
        >>> rnn_step(mg.zeros(1, 3), mg.zeros(1, 2), W_ih, W_hh, b, b).tolist()
        [[0.0, 0.0]]
    """
    if nonlinearity == "tanh":
        h_t = (x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).tanh()
    else:  # 'relu'
        h_t = (x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).relu()
    return h_t


def lstm_step(x_t: Tensor, h_prev: Tensor, c_prev: Tensor, W_ih: tuple[Tensor, ...],
              W_hh: tuple[Tensor, ...], b_ih: tuple[Tensor, ...], b_hh: tuple[Tensor, ...],
              W_hr: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step. ``W_ih`` etc. are the four gate blocks in PyTorch's order (i, f, g, o).

    ``W_hr`` is the optional projection of ``LSTM(proj_size=...)``: ``h_t = (o_t * tanh(c_t)) @ W_hr.T``.

    Example::

        >>> import minigrad as mg
        >>> W = [mg.zeros(1, 1)] * 4; b = [mg.zeros(1)] * 4
        >>> h, c = lstm_step(mg.ones(1, 1), mg.zeros(1, 1), mg.ones(1, 1), W, W, b, b)
        >>> round(c.item(), 4), round(h.item(), 4)          # f = 0.5 keeps half of c; g = 0
        (0.5, 0.2311)
    """
    W_ii, W_if, W_ig, W_io = W_ih
    W_hi, W_hf, W_hg, W_ho = W_hh
    b_ii, b_if, b_ig, b_io = b_ih
    b_hi, b_hf, b_hg, b_ho = b_hh

    i_t = (x_t @ W_ii.T + b_ii + h_prev @ W_hi.T + b_hi).sigmoid()  # input gate: how much of g_t to write
    f_t = (x_t @ W_if.T + b_if + h_prev @ W_hf.T + b_hf).sigmoid()  # forget gate: how much of c to keep
    g_t = (x_t @ W_ig.T + b_ig + h_prev @ W_hg.T + b_hg).tanh()     # candidate cell values
    o_t = (x_t @ W_io.T + b_io + h_prev @ W_ho.T + b_ho).sigmoid()  # output gate: how much of c to show

    c_t = f_t * c_prev + i_t * g_t  # c_t = f_t * c_{t-1} + i_t * g_t: a sum, so gradients flow along c
    h_t = o_t * c_t.tanh()          # h_t = o_t * tanh(c_t)
    if W_hr is not None:
        h_t = h_t @ W_hr.T          # projection (proj_size > 0): h_t = (o_t * tanh(c_t)) @ W_hr.T
    return h_t, c_t


def gru_step(x_t: Tensor, h_prev: Tensor, W_ih: tuple[Tensor, ...], W_hh: tuple[Tensor, ...],
             b_ih: tuple[Tensor, ...], b_hh: tuple[Tensor, ...]) -> Tensor:
    """One GRU step in PyTorch's form (gate blocks in the order r, z, n).

    Two differences from many textbooks: the reset gate multiplies ``h_{t-1} @ W_hn.T + b_hn``
    *after* the matmul (textbook: ``U (r * h)``), and ``z_t`` weighs the *old* state (textbook:
    ``h_t = (1 - z_t) * h_{t-1} + z_t * h~_t``, the roles of z and 1 - z swapped).

    Example::

        >>> import minigrad as mg
        >>> W = [mg.zeros(1, 1)] * 3; b = [mg.zeros(1)] * 3
        >>> gru_step(mg.ones(1, 1), mg.ones(1, 1), W, W, b, b).item()  # z = 0.5, n = 0
        0.5
    """
    W_ir, W_iz, W_in = W_ih
    W_hr, W_hz, W_hn = W_hh
    b_ir, b_iz, b_in = b_ih
    b_hr, b_hz, b_hn = b_hh

    r_t = (x_t @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr).sigmoid()          # reset gate
    z_t = (x_t @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz).sigmoid()          # update gate
    n_t = (x_t @ W_in.T + b_in + r_t * (h_prev @ W_hn.T + b_hn)).tanh()     # candidate state
    h_t = (1 - z_t) * n_t + z_t * h_prev                                    # z_t = share of the old state kept
    return h_t


# ================================================================================================
# One layer, one direction, all time steps: the reference implementation
# ================================================================================================


def _gate_blocks(weight: Tensor | None, n_gates: int, rows: int, dtype: np.dtype) -> tuple[Tensor, ...]:
    """Split a stacked ``(n_gates*H, ...)`` weight or bias into its gate blocks.

    A missing bias (``bias=False``) becomes constant zeros, so the equations keep one form.
    """
    if weight is None:
        weight = Tensor(np.zeros(rows, dtype=dtype))
    return weight.chunk(n_gates, 0) if n_gates > 1 else (weight,)


def reference_rnn_layer(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None, weight_ih: Tensor,
                        weight_hh: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None, *,
                        reverse: bool = False, lengths: np.ndarray | None = None, layer_scope: str = "",
                        weight_hr: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run one layer in one direction over a time-major batch, step by step with textbook ops.

    Same signature and results as ``minigrad.nn.fused_rnn.fused_rnn_layer``:

    - ``x`` ``(T, B, I)``, ``h0`` ``(B, H)``, ``c0`` ``(B, H)`` for ``mode='lstm'`` (else None);
    - returns ``(output (T, B, H), h_n (B, H), c_n or None)``;
    - ``reverse=True`` walks ``t = T-1, ..., 0`` (the backward half of a bidirectional layer);
    - ``lengths`` (``(B,)`` ints) for variable-length batches: step ``t`` is *active* for sequence
      ``b`` iff ``t < lengths[b]``. An inactive step leaves the state unchanged and outputs 0, so
      ``h_n`` is each sequence's state after its own last step (for ``reverse``: after ``t = 0``,
      having started at its own last step).

    Every step runs inside ``scope(layer_scope)`` and ``scope(f"t{t}")``.

    Example::

        >>> import minigrad as mg
        >>> W_ih, W_hh = mg.randn(8, 3), mg.randn(8, 2)
        >>> out, h, c = reference_rnn_layer("lstm", mg.randn(5, 4, 3), mg.zeros(4, 2), mg.zeros(4, 2),
        ...                                 W_ih, W_hh, None, None, layer_scope="l0")
        >>> out.shape, h.shape, c.shape
        ((5, 4, 2), (4, 2), (4, 2))
    """
    n_time = x.shape[0]
    n_gates = NUM_GATES[mode]
    rows, dtype = weight_ih.shape[0], weight_ih.dtype
    active = None if lengths is None else np.arange(n_time)[:, None] < np.asarray(lengths)[None, :]  # (T, B)
    with scope(layer_scope) if layer_scope else contextlib.nullcontext():
        # Split the stacked weights into gate blocks once per layer, not once per step.
        W_ih = _gate_blocks(weight_ih, n_gates, rows, dtype)
        W_hh = _gate_blocks(weight_hh, n_gates, rows, dtype)
        b_ih = _gate_blocks(bias_ih, n_gates, rows, dtype)
        b_hh = _gate_blocks(bias_hh, n_gates, rows, dtype)
        zero = Tensor(np.zeros((), dtype=dtype))
        h, c = h0, c0
        outputs: list[Tensor | None] = [None] * n_time
        for t in (range(n_time - 1, -1, -1) if reverse else range(n_time)):
            with scope(f"t{t}"):
                x_t = x[t]
                if mode == "lstm":
                    h_t, c_t = lstm_step(x_t, h, c, W_ih, W_hh, b_ih, b_hh, weight_hr)
                elif mode == "gru":
                    h_t, c_t = gru_step(x_t, h, W_ih, W_hh, b_ih, b_hh), None
                else:
                    h_t, c_t = rnn_step(x_t, h, *W_ih, *W_hh, *b_ih, *b_hh, mode[4:]), None
                if active is None or active[t].all():
                    h, c, outputs[t] = h_t, c_t, h_t
                else:
                    # Steps past a sequence's end (t >= its length) keep its state and output zeros.
                    m = Tensor(active[t][:, None])
                    outputs[t] = mg.where(m, h_t, zero)
                    h = mg.where(m, h_t, h)
                    c = mg.where(m, c_t, c) if c is not None else None
        output = mg.stack(outputs, 0)
    return output, h, c


def _fused_layer(*args: Any, weight_hr: Tensor | None = None, **kwargs: Any) -> tuple[Tensor, Tensor, Tensor | None]:
    """The Numba implementation (imported on first use, so ``import minigrad`` compiles nothing)."""
    from minigrad.nn.fused_rnn import fused_rnn_layer

    return fused_rnn_layer(*args, **kwargs)


def _check_impl(impl: Any, who: str) -> str:
    if impl not in IMPLS:
        raise ValueError(f"{who}: impl must be 'fused' or 'reference', got {impl!r}")
    return impl


def _init_dtype(dtype: Any, device: Any, who: str) -> np.dtype:
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ValueError(f"{who}: minigrad runs on the CPU only, got device={device!r}")
    dt = get_default_dtype() if dtype is None else to_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{who}: parameters must have a floating dtype, got {dt}")
    return dt


def _dropout(x: Tensor, p: float) -> Tensor:
    """Inverted dropout between stacked layers: zero each element with probability p, scale by 1/(1-p)."""
    keep = rng().random(x.shape) >= p
    mask = keep.astype(x.dtype) / (1.0 - p) if p < 1 else np.zeros(x.shape, dtype=x.dtype)
    return x * Tensor(mask)


def _shape(t: Any) -> str:
    return str(tuple(t.shape)) if hasattr(t, "shape") else type(t).__name__


# ================================================================================================
# RNN, LSTM, GRU: stacked, optionally bidirectional layers over whole sequences
# ================================================================================================


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, argument checks, stacking, directions, packing.

    ``mode`` is PyTorch's: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'. Use the subclasses.
    """

    _scope_name = "rnn"  # the top-level scope of every node this layer makes

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device: Any = None, dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__()
        who = type(self).__name__
        if mode not in ("RNN_TANH", "RNN_RELU", "LSTM", "GRU"):
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{who}: dropout should be a number in range [0, 1] representing the probability of an "
                             f"element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=3)
        for arg, value in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional)):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{who}: {arg} should be of type bool, got: {type(value).__name__}")
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers),
                           ("proj_size", proj_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{who}: {arg} should be of type int, got: {type(value).__name__}")
        if input_size <= 0:
            raise ValueError(f"{who}: input_size must be greater than zero, got {input_size}")
        if hidden_size <= 0:
            raise ValueError(f"{who}: hidden_size must be greater than zero, got {hidden_size}")
        if num_layers <= 0:
            raise ValueError(f"{who}: num_layers must be greater than zero, got {num_layers}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size has to be smaller than hidden_size (got {proj_size} >= {hidden_size})")
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = int(proj_size)
        self.impl = _check_impl(impl, who)
        dtype = _init_dtype(dtype, device, who)

        gate_size = NUM_GATES[mode.lower()] * hidden_size
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

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            p._array = rng().uniform(-bound, bound, size=p.shape).astype(p.dtype)

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

    # ------------------------------------------------------------------ argument checks
    def _check_input(self, x: Tensor, expected_ndim: tuple[int, ...], what: str = "input") -> None:
        who = type(self).__name__
        if not isinstance(x, Tensor):
            raise TypeError(f"{who}: {what} must be a Tensor or a PackedSequence, got {type(x).__name__} "
                            "(wrap arrays with mg.tensor(...))")
        if x.ndim not in expected_ndim:
            want = " or ".join(f"{n}-D" for n in expected_ndim)
            raise ShapeError(f"{who}: expected {what} to be {want}, got {x.ndim}-D {what} of shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{who}: expected input of size {self.input_size} in the last dimension, "
                             f"got shape {x.shape}")
        if x.ndim == 3 and x.shape[1 if self.batch_first else 0] == 0 or x.ndim == 2 and x.shape[0] == 0:
            raise ShapeError(f"{who}: the input has 0 time steps (shape {x.shape}); expected at least one, "
                             "as PyTorch does")
        weight = self.weight_ih_l0
        if x.dtype.kind != "f":
            raise TypeError(f"{who}: {what} must be a floating tensor, got {x.dtype}; convert it with "
                            f".to(mg.{weight.dtype}) (class indices go through an Embedding first)")
        if x.dtype != weight.dtype:
            raise ValueError(f"{who}: input dtype ({x.dtype}) does not match weight dtype ({weight.dtype}). "
                             f"Convert input: input.to(mg.{weight.dtype}), or convert model: "
                             f"model.to(mg.{x.dtype})")

    def _initial_state(self, hx: Any, batch: int, is_batched: bool, dtype: np.dtype,
                       permutation: np.ndarray | None) -> tuple[Tensor, Tensor | None]:
        """Check ``hx`` (or make zeros) and return it as ``(L*D, B, H)`` tensors in the working batch order."""
        who = type(self).__name__
        lstm = self.mode == "LSTM"
        n = self.num_layers * (2 if self.bidirectional else 1)
        h_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            h0 = Tensor(np.zeros((n, batch, h_size), dtype=dtype))
            c0 = Tensor(np.zeros((n, batch, self.hidden_size), dtype=dtype)) if lstm else None
            return h0, c0
        if lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                got = f"a tuple of {len(hx)}" if isinstance(hx, (tuple, list)) else type(hx).__name__
                raise TypeError(f"LSTM: hx must be a tuple (h_0, c_0) of two Tensors, got {got}")
            named = [("h_0", hx[0], h_size), ("c_0", hx[1], self.hidden_size)]
        else:
            if not isinstance(hx, Tensor):
                raise TypeError(f"{who}: hx must be a Tensor of shape ({n}, {batch}, {h_size}), "
                                f"got {type(hx).__name__}")
            named = [("hx", hx, h_size)]
        states = []
        for what, t, size in named:
            if not isinstance(t, Tensor):
                raise TypeError(f"{who}: {what} must be a Tensor, got {type(t).__name__}")
            expected = (n, batch, size) if is_batched else (n, size)
            if t.ndim != len(expected):
                kind = "batched 3-D" if is_batched else "unbatched 2-D"
                raise ShapeError(f"{who}: for {kind} input, {what} should also be {len(expected)}-D: "
                                 f"expected shape {expected}, got {t.shape}")
            if t.shape != expected:
                raise ShapeError(f"{who}: expected {what} of shape {expected}, got {t.shape}")
            if t.dtype != dtype:
                raise ValueError(f"{who}: {what} dtype ({t.dtype}) does not match input dtype ({dtype})")
            if not is_batched:
                t = t.unsqueeze(1)
            if permutation is not None:  # the user's batch order -> the sorted order of the packed input
                t = t[:, permutation]
            states.append(t)
        return states[0], (states[1] if lstm else None)

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
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        lengths = permutation = None
        is_batched = True
        if packed:
            self._check_input(input.data, (2,), "the data of a PackedSequence")
            batch_sizes = np.asarray(input.batch_sizes._array, dtype=np.int64)
            lengths = _lengths_from_batch_sizes(batch_sizes)  # in sorted order, longest first
            n_batch = int(batch_sizes[0])
            # Unpack into a zero-padded time-major rectangle (T, B, I), keeping the sorted order.
            index = _row_index(batch_sizes, np.arange(n_batch), n_batch, len(batch_sizes), False)
            x = ScatterRows.apply(input.data, index=index, out_shape=(len(batch_sizes), n_batch),
                                  padding_value=0.0)
            if input.sorted_indices is not None:
                permutation = np.asarray(input.sorted_indices._array, dtype=np.int64)
        else:
            self._check_input(input, (3, 2))
            is_batched = input.ndim == 3
            if not is_batched:
                x = input.unsqueeze(1)  # (T, I) -> (T, 1, I); batch_first does not apply
            elif self.batch_first:
                x = input.transpose(0, 1)
            else:
                x = input
        h0, c0 = self._initial_state(hx, x.shape[1], is_batched, x.dtype, permutation)

        mode = self.mode.lower()
        directions = 2 if self.bidirectional else 1
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        layer_input = x
        with scope(self._scope_name):
            for layer in range(self.num_layers):
                if layer > 0 and self.dropout > 0 and self.training:
                    layer_input = _dropout(layer_input, self.dropout)  # between layers, never after the last
                outputs = []
                for direction in range(directions):
                    k = layer * directions + direction
                    names = self._all_weights[k]
                    params = [getattr(self, name) for name in names]
                    w_ih, w_hh = params[0], params[1]
                    b_ih, b_hh = (params[2], params[3]) if self.bias else (None, None)
                    w_hr = params[-1] if self.proj_size > 0 else None
                    # The fused kernels have no projection: LSTM(proj_size>0) uses the reference path.
                    layer_fn: Callable = (_fused_layer if self.impl == "fused" and w_hr is None
                                          else reference_rnn_layer)
                    out, h, c = layer_fn(mode, layer_input, h0[k], c0[k] if lstm else None, w_ih, w_hh, b_ih,
                                         b_hh, reverse=direction == 1, lengths=lengths,
                                         layer_scope=f"l{layer}" + ("_reverse" if direction else ""),
                                         weight_hr=w_hr)
                    outputs.append(out)
                    h_n.append(h)
                    c_n.append(c)
                layer_input = outputs[0] if directions == 1 else mg.cat(outputs, 2)
            output = layer_input
            h_out = mg.stack(h_n, 0)
            c_out = mg.stack(c_n, 0) if lstm else None

        if packed:
            n_time, n_batch = output.shape[:2]
            index = _row_index(batch_sizes, np.arange(n_batch), n_batch, n_time, False)
            output = PackedSequence(GatherRows.apply(output, index=index), input.batch_sizes,
                                    input.sorted_indices, input.unsorted_indices)
            if input.unsorted_indices is not None:  # back to the user's batch order
                unsort = np.asarray(input.unsorted_indices._array, dtype=np.int64)
                h_out = h_out[:, unsort]
                c_out = c_out[:, unsort] if lstm else None
        elif not is_batched:
            output, h_out = output.squeeze(1), h_out.squeeze(1)
            c_out = c_out.squeeze(1) if lstm else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_out, c_out)) if lstm else (output, h_out)


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

    Arguments as ``torch.nn.LSTM`` (including ``proj_size``, computed by the reference path);
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


# ================================================================================================
# Cells: one time step; you write the loop
# ================================================================================================


class RNNCellBase(Module):
    """What RNNCell, LSTMCell and GRUCell share: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``."""

    _scope_name = "rnn_cell"
    _mode = "rnn_tanh"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device: Any = None,
                 dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__()
        who = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"{who}: {arg} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{who}: {arg} must be greater than zero, got {value}")
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"{who}: bias should be of type bool, got: {type(bias).__name__}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        self.impl = _check_impl(impl, who)
        dtype = _init_dtype(dtype, device, who)
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(np.empty((gates, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((gates, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(gates, dtype=dtype))
            self.bias_hh = Parameter(np.empty(gates, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            p._array = rng().uniform(-bound, bound, size=p.shape).astype(p.dtype)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        if self.impl != "fused":
            s += f", impl={self.impl!r}"
        return s

    def _check(self, input: Any, states: list[tuple[str, Any]]) -> tuple[Tensor, list[Tensor | None], bool]:
        """Check input and state shapes; return the input as ``(B, I)``, the states as ``(B, H)``."""
        who = type(self).__name__
        if not isinstance(input, Tensor):
            raise TypeError(f"{who}: input must be a Tensor, got {type(input).__name__} (wrap arrays with "
                            "mg.tensor(...))")
        if input.ndim not in (1, 2):
            raise ShapeError(f"{who}: expected input to be 1-D (unbatched) or 2-D (batched), got {input.ndim}-D "
                             f"input of shape {input.shape}")
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"{who}: expected input of size {self.input_size} in the last dimension, "
                             f"got shape {input.shape}")
        if input.dtype != self.weight_ih.dtype:
            raise ValueError(f"{who}: input dtype ({input.dtype}) does not match weight dtype "
                             f"({self.weight_ih.dtype})")
        is_batched = input.ndim == 2
        x = input if is_batched else input.unsqueeze(0)
        expected = (x.shape[0], self.hidden_size) if is_batched else (self.hidden_size,)
        out: list[Tensor | None] = []
        for what, t in states:
            if t is None:
                out.append(None)
                continue
            if not isinstance(t, Tensor):
                raise TypeError(f"{who}: {what} must be a Tensor, got {type(t).__name__}")
            if t.shape != expected:
                raise ShapeError(f"{who}: expected {what} of shape {expected} for input of shape {input.shape}, "
                                 f"got {t.shape}")
            if t.dtype != input.dtype:
                raise ValueError(f"{who}: {what} dtype ({t.dtype}) does not match input dtype ({input.dtype})")
            out.append(t if is_batched else t.unsqueeze(0))
        return x, out, is_batched

    def _step(self, x: Tensor, h: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """One step on ``(B, I)`` input and ``(B, H)`` states, inside this cell's scope."""
        with scope(self._scope_name):
            if self.impl == "fused":
                # The fused layer over a sequence of length 1 (no per-step scope for a cell).
                _, h_t, c_t = _fused_layer(self._mode, x.unsqueeze(0), h, c, self.weight_ih, self.weight_hh,
                                           self.bias_ih, self.bias_hh)
                return h_t, c_t
            _, h_t, c_t = _reference_cell(self._mode, x, h, c, self.weight_ih, self.weight_hh, self.bias_ih,
                                          self.bias_hh)
            return h_t, c_t

    def _zeros(self, x: Tensor) -> Tensor:
        return Tensor(np.zeros((x.shape[0], self.hidden_size), dtype=x.dtype))


def _reference_cell(mode: str, x: Tensor, h: Tensor, c: Tensor | None, weight_ih: Tensor, weight_hh: Tensor,
                    bias_ih: Tensor | None, bias_hh: Tensor | None) -> tuple[None, Tensor, Tensor | None]:
    """One textbook step for a cell (no time-step scope: the caller's loop owns the time)."""
    n_gates = NUM_GATES[mode]
    rows, dtype = weight_ih.shape[0], weight_ih.dtype
    W_ih = _gate_blocks(weight_ih, n_gates, rows, dtype)
    W_hh = _gate_blocks(weight_hh, n_gates, rows, dtype)
    b_ih = _gate_blocks(bias_ih, n_gates, rows, dtype)
    b_hh = _gate_blocks(bias_hh, n_gates, rows, dtype)
    if mode == "lstm":
        h_t, c_t = lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh)
        return None, h_t, c_t
    if mode == "gru":
        return None, gru_step(x, h, W_ih, W_hh, b_ih, b_hh), None
    return None, rnn_step(x, h, *W_ih, *W_hh, *b_ih, *b_hh, mode[4:]), None


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: ``h' = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)`` (or relu).

    Example::

        >>> import minigrad as mg
        >>> cell = mg.nn.RNNCell(10, 20)
        >>> h = None
        >>> for x_t in mg.randn(6, 3, 10):                  # 6 steps, batch 3
        ...     h = cell(x_t, h)
        >>> h.shape
        (3, 20)
    """

    _scope_name = "rnn_cell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: Any = None, *, impl: str = "fused") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype, impl=impl)
        self.nonlinearity = nonlinearity

    @property
    def _mode(self) -> str:  # type: ignore[override]
        return "rnn_" + self.nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """``input`` ``(B, input_size)`` or ``(input_size,)``; ``hx`` like it with hidden_size (zeros if None)."""
        _check_impl(self.impl, type(self).__name__)
        x, (h,), is_batched = self._check(input, [("hx", hx)])
        h_t, _ = self._step(x, h if h is not None else self._zeros(x), None)
        return h_t if is_batched else h_t.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): returns ``(h_1, c_1)``.

    Example::

        >>> import minigrad as mg
        >>> cell = mg.nn.LSTMCell(10, 20)
        >>> h, c = cell(mg.randn(3, 10))
        >>> h.shape, c.shape
        ((3, 20), (3, 20))
    """

    _scope_name = "lstm_cell"
    _mode = "lstm"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype, impl=impl)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """``input`` ``(B, input_size)`` or ``(input_size,)``; ``hx`` a tuple ``(h_0, c_0)`` (zeros if None)."""
        _check_impl(self.impl, type(self).__name__)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            got = f"a tuple of {len(hx)}" if isinstance(hx, (tuple, list)) else type(hx).__name__
            raise TypeError(f"LSTMCell: hx must be a tuple (h_0, c_0) of two Tensors, got {got}")
        h0, c0 = hx if hx is not None else (None, None)
        x, (h, c), is_batched = self._check(input, [("h_0", h0), ("c_0", c0)])
        h_t, c_t = self._step(x, h if h is not None else self._zeros(x), c if c is not None else self._zeros(x))
        return (h_t, c_t) if is_batched else (h_t.squeeze(0), c_t.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; PyTorch's placement of r).

    Example::

        >>> import minigrad as mg
        >>> cell = mg.nn.GRUCell(10, 20)
        >>> cell(mg.randn(10)).shape                        # unbatched
        (20,)
    """

    _scope_name = "gru_cell"
    _mode = "gru"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: Any = None, *, impl: str = "fused") -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype, impl=impl)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """``input`` ``(B, input_size)`` or ``(input_size,)``; ``hx`` like it with hidden_size (zeros if None)."""
        _check_impl(self.impl, type(self).__name__)
        x, (h,), is_batched = self._check(input, [("hx", hx)])
        h_t, _ = self._step(x, h if h is not None else self._zeros(x), None)
        return h_t if is_batched else h_t.squeeze(0)
