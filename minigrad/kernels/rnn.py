"""Numba kernels of the fused recurrent layers: LSTM, GRU and the Elman RNN (tanh / relu).

What a fused layer does (``minigrad/nn/fused_rnn.py`` drives these kernels):

1. One big matmul projects the inputs of *all* time steps at once: ``gates = X @ W_ih^T``
   with ``X`` of shape ``(T*B, I)``. That is the part of the work that needs no recurrence.
2. Then, step by step, ``rec = h_{t-1} @ W_hh^T`` (a BLAS matmul from Python) and ONE kernel
   call that does all the pointwise work of the step: bias, gate nonlinearities, new state.
3. Backward walks the steps in reverse: one kernel call per step turns ``dL/dh_t`` into the
   gradients of the gate pre-activations (``dgates``), then ``dgates_t @ W_hh`` carries the
   gradient to ``h_{t-1}``. The weight gradients are afterwards ONE matmul over all steps.
   (The LSTM kernels write ``dgates`` over ``gates`` in place: ``lstm_step_backward``.)

For tiny layers (``B * H`` small, e.g. one sequence of 1000 steps) the Python loop around the
steps costs more than the maths, so every mode also has a ``*_sequence_*`` kernel that runs the
whole time loop, small matmuls included, inside Numba. The LSTM's ``*_sequence_*_parallel``
kernels do the same with every step split across threads by blocks of hidden units; the
``*_sequence_*_rows`` kernels split the batch by blocks of rows instead, and read ``W_hh`` from the
packed panels that ``packed_weight`` makes once per sequence.

Array layout (all C-contiguous, one dtype: float32 or float64):

- ``gates``  ``(T, B, G*H)``: on entry the input projection; the forward writes the *activated*
  gates of each step there (LSTM ``i, f, g, o``; GRU ``r, z, n``), which backward reads.
- ``h_all``  ``(T+1, B, H)``: the hidden state *between* steps, in time order. Going forward,
  step ``t`` reads ``h_all[t]`` and writes ``h_all[t+1]``; with ``reverse`` it reads
  ``h_all[t+1]`` and writes ``h_all[t]``. Kernels take these two indices as ``tp`` (previous)
  and ``tn`` (new). The layer output is then the contiguous view ``h_all[1:]`` (or ``[:-1]``).
  ``c_all`` (LSTM cell state) is laid out the same way.
- ``out``    ``(T, B, H)`` with variable lengths (padded steps output 0 but carry the state
  on); otherwise ``(T, B, 0)`` and the output is that view of ``h_all``. (Never the same
  values through two aliased arrays: LLVM's runtime overlap check would send the loop to its
  scalar version.)
- ``lengths`` ``(B,)`` int64: step ``t`` is *active* for sequence ``b`` iff ``t < lengths[b]``.
  An inactive step copies the state through and its gate gradients are 0.

Backward bookkeeping, the same for every mode: the gradient reaching the state after a step is
``rec + carry_h`` where ``rec = dgates_{next} @ W_hh`` (the path through the next step's matmul)
and ``carry_h`` is whatever reaches it directly (GRU's ``z * dh``; a whole ``dh`` across an
inactive step). ``dh_all[t]`` keeps the total ``dL/dh_t`` for inspection.

Each kernel has a NumPy reference of the same name ending in ``_ref`` (same arguments, same
in-place results) used by ``tests/kernels/test_rnn_kernels.py``.

The kernels of each cell, each next to its NumPy reference, are in ``lstm.py``, ``gru.py`` and
``elman.py``; what they share (fast ``sigmoid``/``tanh``, small matmuls, step helpers) in
``rnn_common.py``. This module gathers them under one name and builds example arguments.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.kernels.elman import (  # noqa: F401
    rnn_sequence_backward,
    rnn_sequence_backward_ref,
    rnn_sequence_backward_rows,
    rnn_sequence_backward_rows_ref,
    rnn_sequence_forward,
    rnn_sequence_forward_ref,
    rnn_sequence_forward_rows,
    rnn_sequence_forward_rows_ref,
    rnn_step_backward,
    rnn_step_backward_ref,
    rnn_step_forward,
    rnn_step_forward_ref,
)
from minigrad.kernels.gru import (  # noqa: F401
    gru_sequence_backward,
    gru_sequence_backward_ref,
    gru_sequence_backward_rows,
    gru_sequence_backward_rows_ref,
    gru_sequence_forward,
    gru_sequence_forward_ref,
    gru_sequence_forward_rows,
    gru_sequence_forward_rows_ref,
    gru_step_backward,
    gru_step_backward_ref,
    gru_step_forward,
    gru_step_forward_ref,
)
from minigrad.kernels.lstm import (  # noqa: F401
    lstm_sequence_backward,
    lstm_sequence_backward_parallel,
    lstm_sequence_backward_parallel_ref,
    lstm_sequence_backward_ref,
    lstm_sequence_backward_rows,
    lstm_sequence_backward_rows_ref,
    lstm_sequence_forward,
    lstm_sequence_forward_parallel,
    lstm_sequence_forward_parallel_ref,
    lstm_sequence_forward_ref,
    lstm_sequence_forward_rows,
    lstm_sequence_forward_rows_ref,
    lstm_step_backward,
    lstm_step_backward_ref,
    lstm_step_forward,
    lstm_step_forward_ref,
    row_blocks,
    unit_blocks,
)
from minigrad.kernels.rnn_common import (  # noqa: F401
    EXP_CLAMP,
    LN2_HI,
    LN2_LO,
    LOG2E,
    _exp_neg,
    _indices,
    packed_weight,
    packed_weight_ref,
    sigmoid_ref,
    sigmoid_tanh,
    sigmoid_tanh_ref,
    unpacked_weight,
)

# ============================================================================================
# Example inputs: warmup (compile for a dtype) and tests build their arguments here
# ============================================================================================


def example_args(name: str, dtype: Any, n_time: int = 2, batch: int = 2, hidden: int = 2, *,
                 reverse: bool = False, lengths: Any = None, t: int | None = None, relu: bool = False,
                 seed: int = 0, unit_block: int = 2) -> tuple:
    """Valid arguments (fresh C-contiguous arrays) for the kernel ``name``, in its argument order.

    Gate activations are drawn in their ranges ((0, 1) for sigmoid gates, (-1, 1) for tanh ones)
    so the backward kernels see plausible values. ``t`` picks the step of ``*_step_*`` kernels;
    ``unit_block`` the blocks of hidden units of the ``*_parallel`` kernels (2: even tiny test
    layers are split across threads).

    Example::

        >>> args = example_args("lstm_step_forward", np.float32, n_time=3, batch=2, hidden=4)
        >>> lstm_step_forward_ref(*args)
    """
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    if name == "sigmoid_tanh":
        x = rng.uniform(-30, 30, size=7).astype(dtype)
        return x, np.zeros(7, dtype), np.zeros(7, dtype)
    if name == "packed_weight":  # a (4 * hidden, hidden) W_hh as stored, for the forward kernels
        return rng.uniform(-0.5, 0.5, size=(4 * hidden, hidden)).astype(dtype), True, 2
    mode = name.split("_")[0]
    from minigrad.nn.cells import describe  # the gate count is the cell's (imported late: cells import kernels)

    G = describe("rnn_tanh" if mode == "rnn" else mode).num_gates * hidden
    T, B, H = n_time, batch, hidden

    def rand(*shape: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
        return rng.uniform(low, high, size=shape).astype(dtype)

    out = np.zeros((T, B, H if lengths is not None else 0), dtype)  # separate output only when padded
    lengths = np.full(B, T, np.int64) if lengths is None else np.asarray(lengths, np.int64)
    if t is None:
        t = T - 1 if not reverse else 0
    tp, tn = _indices(t, reverse)
    backward = "backward" in name
    gates = rand(T, B, G, low=0.05, high=0.95) if backward else rand(T, B, G, low=-3, high=3)
    if backward and mode == "lstm":
        gates[:, :, 2 * H:3 * H] = rand(T, B, H, low=-0.95, high=0.95)
    if backward and mode == "gru":
        gates[:, :, 2 * H:] = rand(T, B, H, low=-0.95, high=0.95)
    h_all, c_all = rand(T + 1, B, H), rand(T + 1, B, H, low=-2, high=2)
    bias, bias_hn = rand(G), rand(H)
    rec, carry_h, carry_c = rand(B, G if not backward else H), rand(B, H), rand(B, H)
    w_hh = rand(G, H, low=-0.5, high=0.5)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    packed_t, packed = packed_weight_ref(w_hh, True, 2), packed_weight_ref(w_hh, False, 2)  # the row kernels'
    grad_out, dh_all = rand(T, B, H), np.zeros((T, B, H), dtype)
    dgates, dgh, hn = np.zeros((T, B, G), dtype), np.zeros((T, B, G), dtype), rand(T, B, H)
    table = {
        "lstm_step_forward": (gates, rec, bias, h_all, c_all, out, lengths, t, tp, tn),
        "lstm_step_backward": (gates, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all, t, tp, tn),
        "lstm_sequence_forward": (gates, w_hh_t, bias, h_all, c_all, out, lengths, reverse,
                                  np.zeros((B, G), dtype)),
        "lstm_sequence_backward": (gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all,
                                   reverse),
        "lstm_sequence_forward_parallel": (gates, w_hh, bias, h_all, c_all, out, lengths, reverse,
                                           np.zeros((B, G), dtype), unit_blocks(H, unit_block)),
        "lstm_sequence_backward_parallel": (gates, w_hh, c_all, lengths, grad_out, rec, carry_h, carry_c,
                                            dh_all, reverse, unit_blocks(H, unit_block), True),
        "lstm_sequence_forward_rows": (gates, *packed_t, bias, h_all, c_all, out, lengths, reverse,
                                       np.zeros((B, G), dtype), row_blocks(B, 2)),
        "lstm_sequence_backward_rows": (gates, *packed, c_all, lengths, grad_out, rec, carry_h, carry_c, dh_all,
                                        reverse, row_blocks(B, 2)),
        "gru_step_forward": (gates, rec, bias, bias_hn, h_all, hn, out, lengths, t, tp, tn),
        "gru_step_backward": (gates, hn, h_all, lengths, grad_out, rec, carry_h, dgates, dgh, dh_all,
                              t, tp, tn),
        "gru_sequence_forward": (gates, w_hh_t, bias, bias_hn, h_all, hn, out, lengths, reverse,
                                 np.zeros((B, G), dtype)),
        "gru_sequence_backward": (gates, w_hh, hn, h_all, lengths, grad_out, rec, carry_h, dgates, dgh,
                                  dh_all, reverse),
        "gru_sequence_forward_rows": (gates, *packed_t, bias, bias_hn, h_all, hn, out, lengths, reverse,
                                      np.zeros((B, G), dtype), row_blocks(B, 2)),
        "gru_sequence_backward_rows": (gates, *packed, hn, h_all, lengths, grad_out, rec, carry_h, dgates, dgh,
                                       dh_all, reverse, row_blocks(B, 2)),
        "rnn_step_forward": (gates, rec, bias, h_all, out, lengths, t, tp, tn, relu),
        "rnn_step_backward": (h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, t, tn, relu),
        "rnn_sequence_forward": (gates, w_hh_t, bias, h_all, out, lengths, reverse, np.zeros((B, G), dtype),
                                 relu),
        "rnn_sequence_backward": (w_hh, h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, reverse,
                                  relu),
        "rnn_sequence_forward_rows": (gates, *packed_t, bias, h_all, out, lengths, reverse, np.zeros((B, G), dtype),
                                      relu, row_blocks(B, 2)),
        "rnn_sequence_backward_rows": (*packed, h_all, lengths, grad_out, rec, carry_h, dgates, dh_all, reverse,
                                       relu, row_blocks(B, 2)),
    }
    return table[name]


def _register_warmups() -> None:
    """Give every kernel of this module a warmup(dtype) that calls it once on tiny arrays."""
    for name, k in list(globals().items()):
        if getattr(k, "py_func", None) is not None and hasattr(k, "warmup_fn") and k.warmup_fn is None:
            def warm(dtype: Any, _k: Any = k, _name: str = name) -> None:
                _k(*example_args(_name, dtype))
            k.warmup_fn = warm


_register_warmups()
