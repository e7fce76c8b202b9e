"""Fused recurrent layers: a whole RNN/LSTM/GRU layer as ONE graph node, run by Numba kernels.

The reference path (``minigrad.nn.recurrent.reference_rnn_layer``) builds every step from
primitive ops: a dozen nodes per step, each with its own Python overhead and temporary arrays.
Here the layer is one ``Function`` whose forward and backward are the textbook BPTT loops:

forward::

    gates = X @ W_ih^T                        # all time steps at once: (T*B, I) @ (I, G*H)
    for t in steps:                           # t = 0..T-1, or T-1..0 with reverse=True
        rec = h_{t-1} @ W_hh^T                # matmul2d, into a preallocated buffer
        kernel: gates_t, h_t (, c_t)          # bias + gate nonlinearities + new state, one pass

backward (reverse time)::

    for t in reversed(steps):
        kernel: dL/dh_t -> dgates_t           # one pointwise pass (the chain rule of the step)
        rec = dgates_t @ W_hh                 # carries dL/dh to h_{t-1}
    dW_ih = dG^T X,  dW_hh = dG^T H_prev,  db = sum(dG),  dX = dG @ W_ih     # ONE matmul each

A call of one step (a cell stepped in Python) leaves its ``dW_ih`` and ``dW_hh`` to the engine,
which sums them over the loop's steps as one product too (``autograd/stacked_products.py``).

Which loop runs is decided in one place, ``plan(mode, dtype, batch, hidden)`` (``nn/rnn_plan.py``),
which names a ``Strategy``: the per-step loop above (``PER_STEP``), the whole time loop inside one
compiled kernel (``SEQUENCE``: for small layers the Python loop costs more than the maths), or the
whole loop with every step split across threads by blocks of hidden units (``PARALLEL_UNITS``, the
LSTM: unit ``j`` needs only its own gate columns), or with the batch split across threads by rows
(``PARALLEL_ROWS``, every cell: each row is a sequence of its own). The kernels come from the
cell's description (``minigrad/nn/cells/``); the layer itself never asks which cell it runs.
``docs/performance.md`` records the measurements behind the plan's thresholds. A call of one step
(a cell) may pass ``x`` as ``(B, I)``. A one-layer module passes its arguments as the user gave
them, whenever that costs no copy: ``x`` batch-first ``(B, T, I)`` when ``B`` or ``T`` is 1 (its
rows lie in time-major order already), the states stacked as ``(1, B, H)``; the outputs then come
back in the same layouts, with no transpose, index or stack nodes around the layer. A module
call that records nothing (under ``no_grad``) runs its stacked layers' forwards on arrays, with no
node at all (``fused_layers_without_graph``).

The per-step structure stays visible for drawings and BPTT inspection: ``step_scope(t)``,
``step_values(t)`` (the saved ``x_t, h_prev, h`` and the gates) and ``step_grad_h(t)``
(``dL/dh_t`` after ``backward(retain_graph=True)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from minigrad._allocator import allocators_for, contiguous_aligned, empty_aligned, zeros_aligned
from minigrad._quiet import IGNORE_ALL, NUMPY_ERRORS
from minigrad.autograd import Function, scope
from minigrad.autograd.stacked_products import rows_product, transposed_product
from minigrad.errors import ShapeError
from minigrad.kernels.bias_rows import sum_rows
from minigrad.kernels.gemm import tile_shape
from minigrad.kernels.lstm import row_blocks, unit_blocks
from minigrad.kernels.products import matmul2d, num_threads
from minigrad.kernels.rnn_common import _indices as step_indices  # the one (tp, tn) rule
from minigrad.kernels.rnn_common import packed_weight
from minigrad.kernels.transpose import contiguous_transpose
from minigrad.nn.cells import BUILTIN_CELLS
from minigrad.nn.cells.description import LayerArrays
from minigrad.nn.fused_layer_parts import (
    LAYER_DTYPES,
    full_lengths,
    gate_gradients_buffer,
    layer_biases,
    refuse_spent_gates,
)
from minigrad.nn.rnn_plan import UNIT_BLOCK, Strategy, plan
from minigrad.tensor import Tensor


def _unit_blocks(hidden: int, dtype: Any) -> np.ndarray:
    """The blocks of ``PARALLEL_UNITS``: about ``UNIT_BLOCK`` units, whole tiles of this CPU, even per thread."""
    return unit_blocks(hidden, UNIT_BLOCK, tile_cols=tile_shape(dtype)[1], threads=num_threads())


class FusedRNNLayer(Function):
    """One recurrent layer in one direction, as one node of the graph.

    Inputs ``(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)`` (``c0`` and the biases may
    be None); outputs ``(output, h_n, c_n)`` for LSTM, ``(output, h_n)`` otherwise. Use
    ``fused_rnn_layer``, not this class directly.

    Example::

        >>> import minigrad as mg
        >>> x = mg.randn(5, 2, 3)
        >>> w_ih, w_hh = mg.randn(8, 3, requires_grad=True), mg.randn(8, 2, requires_grad=True)
        >>> out, h, c = fused_rnn_layer("lstm", x, mg.zeros(2, 2), mg.zeros(2, 2), w_ih, w_hh, None, None,
        ...                             layer_scope="l0")
        >>> node = out.grad_fn
        >>> node.name, node.num_steps, node.step_scope(3), sorted(node.step_values(3))[:3]
        ('lstm_layer', 5, 'l0/t4', ['c', 'c_prev', 'f'])
    """

    name = "rnn_layer"
    # The declared step interface that drawings and recordings read: what each input and output
    # is, param_names (role -> the parameter's name in its module, when the layer gave them),
    # num_steps, step_scope(t), step_values(t), step_grad_h(t), time_major(a) and plain_state(a) (x,
    # output and the states, or their gradients, in the layouts the steps use), and step_grad_sink
    # (set by a recording: called after backward with dL/dh_t of every step).
    declares_steps = True
    input_roles = ("x", "h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
    output_roles = ("output", "h_n", "c_n")

    # What a new node starts from (class attributes: a node made per cell call sets only what differs).
    num_steps = 0
    hidden_size = 0
    strategy = Strategy.PER_STEP  # decided once in forward by plan(); backward follows it
    _dh_all: np.ndarray | None = None
    step_grad_sink: Callable[[FusedRNNLayer, np.ndarray], None] | None = None
    _gates_spent = False  # True once backward has turned the saved gates into gradients
    _buffers: tuple = ()  # (gates, h_all, c_all, hn): what forward computed, for backward

    def __init__(self, mode: str, reverse: bool = False, lengths: np.ndarray | None = None,
                 param_names: dict[str, str] | None = None, batch_first: bool = False) -> None:
        self.param_names = dict(param_names) if param_names else {}
        self.mode = mode
        self.batch_first = batch_first  # x is (B, T, I) with B or T equal to 1 (see the module docstring)
        self.cell = BUILTIN_CELLS[mode]
        self.name = f"{mode}_layer"  # "lstm_layer", "gru_layer", "rnn_tanh_layer", ...
        self.reverse = bool(reverse)
        self.lengths = lengths  # (B,) int64, or None when every sequence has all T steps

    # -- where step t lives ------------------------------------------------------------------
    @property
    def layer_scope(self) -> str:
        """The scope of the layer, e.g. ``"lstm/l0"``; step index ``t`` is ``f"{layer_scope}/t{t + 1}"``."""
        return self.scope

    def step_scope(self, t: int) -> str:
        """The scope name of step index ``t`` (from 0): ``t{t + 1}``, since time counts t = 1..T as in the
        equations, h_0 being the initial state (the same name the reference path gives that step)."""
        t = self._check_step(t) + 1
        return f"{self.layer_scope}/t{t}" if self.layer_scope else f"t{t}"

    def time_major(self, a: np.ndarray) -> np.ndarray:
        """``x`` or ``output`` (values or gradient) as ``(T, B, F)``, whatever layout the call used: row
        ``t`` is step ``t``'s. A view when ``a`` is contiguous (every layout used is in time-major order)."""
        return a.reshape(self.num_steps, self._batch_size, a.shape[-1])

    def plain_state(self, a: np.ndarray) -> np.ndarray:
        """``h0``, ``c0``, ``h_n`` or ``c_n`` (values or gradient) as ``(B, H)``, also when stacked ``(1, B, H)``."""
        return a.reshape(self._batch_size, a.shape[-1])

    def _check_step(self, t: int) -> int:
        if not -self.num_steps <= t < self.num_steps:
            raise IndexError(f"{self.name}: step {t} out of range for {self.num_steps} steps")
        return t % self.num_steps

    def _steps(self) -> range:
        """Time indices in the order the forward pass visits them."""
        T = self.num_steps
        return range(T - 1, -1, -1) if self.reverse else range(T)

    def _neighbours(self, t: int) -> tuple[int, int]:
        """``(tp, tn)``: the indices in ``h_all``/``c_all`` of the state step ``t`` reads and the one it writes."""
        return step_indices(t, self.reverse)

    # -- forward -----------------------------------------------------------------------------
    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):  # type: ignore[override]
        self._inputs = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)  # for backward_create_graph only (no copies)
        self.x_shape = x.shape
        if x.ndim == 2:  # one step of (B, I) (a cell): no unsqueeze node on the cell's path
            (B, I), T = x.shape, 1
            x2d = x if x.flags.c_contiguous else np.ascontiguousarray(x)  # read once: no need to align it
        else:
            T, B, I = x.shape
            if self.batch_first:  # (B, T, I) with B or T equal to 1: the rows of (T, B, I), in order
                T, B = B, T
            x2d = contiguous_aligned(x).reshape(T * B, I)
        self.stacked_state = h0.ndim == 3  # a module's (1, B, H): h_n and c_n come back stacked too
        H = w_hh.shape[1]
        G = w_ih.shape[0]
        self.num_steps, self.hidden_size, self._batch_size = T, H, B
        dtype = x.dtype
        kernels = self.cell.kernels
        self.strategy = plan(self.mode, dtype, B, H, steps=T)
        alloc = _allocators(T, 2 * B * G * dtype.itemsize)[0]  # (gates and h_all are the largest)

        # 1. The input projection of every step at once: one (T*B, I) @ (I, G*H) matmul.
        gates = alloc((T, B, G), dtype)
        matmul2d(x2d, w_ih.T, out=gates.reshape(T * B, G))

        # 2. State buffers in time order; h_all[t] / h_all[t+1] hold the state before / after step t
        #    (the other way round with reverse). The output is then a contiguous view of h_all.
        first, last = (T, 0) if self.reverse else (0, T)
        h_all = alloc((T + 1, B, H), dtype)
        h_all[first] = h0  # (a stacked (1, B, H) fits the (B, H) slot as it is)
        if self.lengths is None:  # the kernels write h_all only; `out` is given to them empty
            out, out_arg = (h_all[:-1] if self.reverse else h_all[1:]), np.empty((T, B, 0), dtype)
        else:  # padded steps output 0 but carry the state: a separate output array
            out = out_arg = alloc((T, B, H), dtype)
        lengths = self.lengths if self.lengths is not None else full_lengths(B, T)
        a = LayerArrays(gates, h_all, lengths, alloc((B, G), dtype), self.reverse, out=out_arg)
        a.bias, a.bias_hn = layer_biases(b_ih, b_hh, G, H, dtype, hidden_n=kernels.hidden_n)
        if kernels.cell_state:
            a.c_all = alloc((T + 1, B, H), dtype)
            a.c_all[first] = c0
        if kernels.hidden_n:
            a.hn = alloc((T, B, H), dtype)

        # 3. The time loop.
        if self.strategy is Strategy.PARALLEL_UNITS:
            kernels.parallel_forward(a, np.ascontiguousarray(w_hh), _unit_blocks(H, dtype))
        elif self.strategy is Strategy.PARALLEL_ROWS:  # W_hh^T packed once, then the threads' blocks of rows
            rows = row_blocks(B, num_threads())
            kernels.rows_forward(a, packed_weight(np.ascontiguousarray(w_hh), True, len(rows) - 1), rows)
        elif self.strategy is Strategy.SEQUENCE:
            kernels.sequence_forward(a, contiguous_transpose(w_hh))
        else:
            # Rule: the step product gets a contiguous W_hh^T (one copy per sequence) once a batch has two
            # rows and the sequence two steps; a transposed view costs it more per step (docs/performance.md).
            w_hh_t = contiguous_transpose(w_hh) if B > 1 and T > 1 else w_hh.T
            for t in self._steps():
                tp, tn = self._neighbours(t)
                matmul2d(h_all[tp], w_hh_t, out=a.rec)  # rec = h_{t-1} @ W_hh^T
                kernels.step_forward(a, t, tp, tn)

        if len(self.x_shape) == 2:
            out = out[0]  # a one-step call gives its output as (B, H), as its input
        elif self.batch_first:
            out = out.reshape(*self.x_shape[:2], H)  # in x's layout: a view, the memory order is the same
        h_n = h_all[last][None] if self.stacked_state else h_all[last]
        # Saved, and so versioned (saved_tensors refuses them once changed in place): the inputs backward
        # reads, and the two outputs that show h_all's memory, since `out.mul_(2)` would change what
        # backward reads. The layer's own buffers are kept as they are.
        self.save_for_backward(x2d, w_ih, w_hh, out, h_n)
        self._buffers = (gates, h_all, a.c_all, a.hn)
        if kernels.cell_state:
            c_n = a.c_all[last].copy()  # a copy: c_all is reused once the graph is freed
            return out, h_n, c_n[None] if self.stacked_state else c_n
        return out, h_n

    # -- higher-order gradients ---------------------------------------------------------------
    def backward_create_graph(self, *grads: Tensor | None) -> tuple[Tensor | None, ...]:
        """The backward under ``create_graph=True``: the kernels' NumPy backward cannot build a
        graph, so the layer is recomputed with its reference steps (the same equations in Tensor
        ops, ``reference_rnn_layer``) and those are differentiated, graph and all.
        """
        from minigrad.autograd import enable_grad
        from minigrad.nn.recurrent_shared import _gradients_through_recomputed, reference_rnn_layer

        _ = self.saved_tensors  # the backward-twice and modified-in-place checks
        inputs = [None if a is None else self.input_tensor(i, a) for i, a in enumerate(self._inputs)]
        T, B, I = self.num_steps, self._batch_size, self.x_shape[-1]
        with enable_grad():
            # In the time-major layout the reference steps read: (T, B, I) and (B, H) states.
            x, h0, c0 = (None if t is None else t.reshape(shape)
                         for t, shape in zip(inputs[:3], ((T, B, I), (B, -1), (B, -1))))
            outputs = reference_rnn_layer(self.mode, x, h0, c0, *inputs[3:], reverse=self.reverse,
                                          lengths=self.lengths)
            outputs = tuple(o if o is None or g is None else o.reshape(g.shape) for o, g in zip(outputs, grads))
        return _gradients_through_recomputed(self, inputs, outputs, grads)

    # -- backward ----------------------------------------------------------------------------
    def backward(self, grad_out, grad_hn, grad_cn=None):  # type: ignore[override]
        x2d, w_ih, w_hh, _, _ = self.saved_tensors
        gates, h_all, c_all, hn = self._buffers
        refuse_spent_gates(self)
        T, B, G = gates.shape
        H = self.hidden_size
        dtype = gates.dtype
        kernels = self.cell.kernels
        alloc, alloc_zeros = _allocators(T, 2 * B * G * dtype.itemsize)
        lengths = self.lengths if self.lengths is not None else full_lengths(B, T)
        a = LayerArrays(gates, h_all, lengths, alloc_zeros((B, H), dtype), self.reverse, c_all=c_all, hn=hn)
        # A copy, when one is needed (a batch_first layer's gradient arrives transposed), in recycled memory.
        grad_out = None if grad_out is None else grad_out.astype(dtype, copy=False)
        a.grad_out = np.empty((T, B, 0), dtype) if grad_out is None else contiguous_aligned(grad_out).reshape(T, B, H)

        # Gradients reaching the state after the last step: from h_n / c_n.
        a.carry_h = alloc_zeros((B, H), dtype)
        if grad_hn is not None:
            a.carry_h[...] = grad_hn
        if kernels.cell_state:
            a.carry_c = alloc_zeros((B, H), dtype)
            if grad_cn is not None:
                a.carry_c[...] = grad_cn
        a.dgates = gate_gradients_buffer(self, kernels.in_place_backward, gates, alloc)  # (GRU: the hidden side)
        a.dgx = alloc((T, B, G), dtype) if kernels.hidden_n else a.dgates  # GRU: the input side
        a.dh_all = self._dh_all if self._dh_all is not None else alloc((T, B, H), dtype)
        need_h0 = self.needs_input_grad[1]

        if self.strategy is Strategy.PARALLEL_UNITS:
            kernels.parallel_backward(a, np.ascontiguousarray(w_hh), _unit_blocks(H, dtype), need_h0)
        elif self.strategy is Strategy.PARALLEL_ROWS:
            rows = row_blocks(B, num_threads())
            kernels.rows_backward(a, packed_weight(np.ascontiguousarray(w_hh), False, len(rows) - 1), rows)
        elif self.strategy is Strategy.SEQUENCE:
            kernels.sequence_backward(a, np.ascontiguousarray(w_hh))
        else:
            for k, t in enumerate(reversed(self._steps())):
                tp, tn = self._neighbours(t)
                kernels.step_backward(a, t, tp, tn)
                if k < T - 1 or need_h0:  # after the first step, only dL/dh_0 would need it
                    matmul2d(a.dgates[t], w_hh, out=a.rec)  # dL/dh_{t-1} (through the matmul)
        self._dh_all = a.dh_all
        if self.step_grad_sink is not None:
            self.step_grad_sink(self, a.dh_all)
        grads = self._non_recurrent_gradients(a, x2d, w_ih)
        return grads

    def _non_recurrent_gradients(self, a: LayerArrays, x2d: np.ndarray, w_ih: np.ndarray) -> tuple:
        """Everything that is not recurrent: one matmul over all T*B rows each."""
        T, B, G = a.dgates.shape
        H = self.hidden_size
        needs = self.needs_input_grad
        dG = a.dgates.reshape(T * B, G)
        dGx = a.dgx.reshape(T * B, G)
        h_prev = (a.h_all[1:] if self.reverse else a.h_all[:-1]).reshape(T * B, H)  # the state each step read
        dx = matmul2d(dGx, w_ih).reshape(self.x_shape) if needs[0] else None
        dh0 = a.rec + a.carry_h if needs[1] else None
        dc0 = a.carry_c if a.carry_c is not None and needs[2] else None
        if self.stacked_state:  # the states' gradients in their (1, B, H) layout
            dh0, dc0 = (None if g is None else g[None] for g in (dh0, dc0))
        # The weight gradients, sums over steps of dG_t^T x_t and dG_t^T h_{t-1}: one product over all T*B
        # rows each. A call of one step (a cell stepped in Python) hands them to the engine unmultiplied
        # where that pays (rows_product): the engine stacks them with the loop's other steps and multiplies
        # once (stacked_products.py). A sequence's call has its steps' rows together already.
        product = rows_product if T == 1 else transposed_product  # (a.T @ b now)
        dw_ih = product(dGx, x2d) if needs[3] else None
        dw_hh = product(dG, h_prev) if needs[4] else None
        db_ih = sum_rows(dGx) if needs[5] else None
        db_hh = None
        if needs[6]:  # the same as db_ih except where the hidden side differs (GRU's n block)
            # (a copy, not the same array: a hook that edits one gradient in place must not edit the other)
            db_hh = db_ih.copy() if db_ih is not None and a.dgx is a.dgates else sum_rows(dG)
        return dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh

    def release(self) -> None:
        self._dh_all = None  # with the saved arrays, its buffer is free for the next call (empty_aligned)
        self._buffers = ()
        super().release()

    # -- inspection ----------------------------------------------------------------------------
    def step_values(self, t: int) -> dict[str, np.ndarray]:
        """Copies of the saved values of step ``t`` (``(B, ...)`` arrays), for drawings of the equations.

        ``x_t, h_prev, h`` always; LSTM adds ``c_prev, i, f, g, o, c``; GRU ``r, z, n`` and
        ``hn = W_hn h_prev + b_hn``. For a padded step (``t >= lengths[b]``) row ``b`` holds the
        carried state and zero gates. Available until the graph is released.
        """
        t = self._check_step(t)
        (x2d, *_), (gates, h_all, c_all, hn) = self._saved_or_raise("step_values")
        T, B, _ = gates.shape
        tp, tn = self._neighbours(t)
        H = self.hidden_size
        values = {"x_t": x2d.reshape(T, B, -1)[t], "h_prev": h_all[tp], "h": h_all[tn]}
        if self.cell.num_gates > 1:  # the activated gates, named by the cell's description
            values.update({name: gates[t, :, k * H:(k + 1) * H] for k, name in enumerate(self.cell.gates)})
        if c_all is not None:
            values.update(c_prev=c_all[tp], c=c_all[tn])
        if hn is not None:
            values.update(hn=hn[t])
        return {k: v.copy() for k, v in values.items()}

    def step_grad_h(self, t: int) -> np.ndarray | None:
        """``dL/dh_t`` (everything reaching ``h_t``, the future included) after ``backward(retain_graph=True)``.

        None before backward, or once the graph was released (backward without retain_graph).
        """
        t = self._check_step(t)
        return None if self._dh_all is None else self._dh_all[t].copy()

    def _saved_or_raise(self, what: str) -> tuple[tuple, tuple]:
        """``(saved inputs, the layer's own buffers)``, while the graph keeps them."""
        if self.released:
            raise RuntimeError(
                f"{self.name}.{what}: the saved values of this layer were freed by backward(); call "
                "backward(retain_graph=True) to keep them for inspection"
            )
        return self._saved, self._buffers


def _allocators(steps: int, largest: int) -> tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]:
    """How a layer of ``steps`` steps makes its working arrays, the largest of ``largest`` bytes: ``(empty, zeros)``.

    Rule: a loop over steps streams through its buffers, which start on a cache line
    (``empty_aligned``). One step (a cell) reads each array once: ``empty``'s rule (NumPy's own
    arrays, or recycled memory once they are big), decided once for all of them.
    """
    return (empty_aligned, zeros_aligned) if steps > 1 else allocators_for(largest)


def _check_inputs(mode: str, x: np.ndarray, h0: np.ndarray, c0: np.ndarray | None, weight_ih: np.ndarray,
                  weight_hh: np.ndarray, bias_ih: np.ndarray | None, bias_hh: np.ndarray | None, lengths: Any,
                  batch_first: bool = False) -> np.ndarray | None:
    """Clear errors for bad arguments (the Tensors' arrays); returns ``lengths`` as int64 (or None if all are full).

    Rule: it runs on every call (a cell's is one step long), so it reads shapes and dtypes
    directly and builds a message only when it raises.
    """
    if mode not in BUILTIN_CELLS:
        raise ValueError(f"fused_rnn_layer: mode must be one of {tuple(BUILTIN_CELLS)}, got {mode!r}")
    who = f"fused_rnn_layer({mode!r})"
    xa, wa = x, weight_hh
    if xa.ndim not in (2, 3):
        raise ShapeError(f"{who}: x must be time-major (T, B, I), or (B, I) for one step, got shape {x.shape}")
    T, B, I = xa.shape if xa.ndim == 3 else (1, *xa.shape)
    if batch_first and xa.ndim == 3:
        B, T = T, B
        if B > 1 and T > 1:
            raise ShapeError(f"{who}: a batch-first x runs here only when B or T is 1, got shape {x.shape}; "
                             "pass it time-major, (T, B, I)")
    cell = BUILTIN_CELLS[mode]
    G = cell.num_gates
    lstm = cell.has_cell_state  # the cells with a second state tensor c
    if wa.ndim != 2 or wa.shape[0] != G * wa.shape[1]:
        raise ShapeError(f"{who}: weight_hh must be ({G}*H, H), got shape {weight_hh.shape}")
    H = wa.shape[1]
    if lstm and c0 is None:
        raise ValueError(f"{who}: c0 is required for an LSTM layer (pass zeros for a fresh state)")
    if not lstm and c0 is not None:
        raise ValueError(f"{who}: c0 is only for mode 'lstm'; pass None")
    state = (1, B, H) if h0.ndim == 3 else (B, H)  # a one-layer module's stacked state, or the plain one
    expected = (("weight_ih", weight_ih, (G * H, I)), ("h0", h0, state), ("c0", c0, state),
                ("bias_ih", bias_ih, (G * H,)), ("bias_hh", bias_hh, (G * H,)))
    dtype = xa.dtype
    same_dtype = dtype in LAYER_DTYPES and wa.dtype == dtype
    for name, t, shape in expected:
        if t is not None:
            if t.shape != shape:
                raise ShapeError(f"{who}: {name} must have shape {shape} (T={T}, B={B}, I={I}, H={H}), "
                                 f"got {t.shape}")
            same_dtype = same_dtype and t.dtype == dtype
    if not same_dtype:
        tensors = (("x", x), ("weight_ih", weight_ih), ("weight_hh", weight_hh), ("h0", h0), ("c0", c0),
                   ("bias_ih", bias_ih), ("bias_hh", bias_hh))
        raise TypeError(f"{who}: all tensors must share one dtype, float32 or float64; got "
                        + ", ".join(f"{n} {t.dtype}" for n, t in tensors if t is not None))
    if lengths is None:
        return None
    lengths = np.asarray(lengths._array if isinstance(lengths, Tensor) else lengths)
    if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
        raise ShapeError(f"{who}: lengths must be {B} integers (one per sequence), got {lengths.dtype} "
                         f"array of shape {lengths.shape}")
    if B and (lengths.min() < 0 or lengths.max() > T):
        raise ValueError(f"{who}: lengths must lie in [0, T={T}], got min {lengths.min()} max {lengths.max()}")
    if (lengths == T).all():
        return None
    return lengths.astype(np.int64)


def fused_rnn_layer(mode: str, x: Tensor, h0: Tensor, c0: Tensor | None,
                    weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None, bias_hh: Tensor | None,
                    *, reverse: bool = False, lengths: np.ndarray | None = None,
                    layer_scope: str = "", param_names: dict[str, str] | None = None,
                    batch_first: bool = False) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run one recurrent layer in one direction with the fused Numba kernels.

    ``mode`` is ``'lstm'``, ``'gru'``, ``'rnn_tanh'`` or ``'rnn_relu'``; ``x`` is time-major
    ``(T, B, I)``, or ``(B, I)`` for one step (then the output is ``(B, H)``), or with
    ``batch_first=True`` ``(B, T, I)`` where ``B`` or ``T`` is 1 (the output is then ``(B, T, H)``);
    ``h0``/``c0`` are ``(B, H)``, or ``(1, B, H)`` as a one-layer module stacks them (then so are
    ``h_n``/``c_n``); ``c0`` only for LSTM, else None. PyTorch's
    equations and gate order (LSTM ``i, f, g, o``; GRU ``r, z, n``). ``reverse=True`` walks
    ``t = T-1, ..., 0`` (``output[t]`` is still the state at position ``t``). ``lengths``
    (``(B,)`` ints): step ``t`` is active for sequence ``b`` iff ``t < lengths[b]``; inactive
    steps carry the state on and output 0 (PyTorch's packed sequences). ``layer_scope`` names
    the layer under the current scope (e.g. ``"l0"`` inside ``scope("lstm")`` gives ``"lstm/l0"``,
    and step index ``t`` is ``"lstm/l0/t{t + 1}"``). ``param_names`` (e.g. ``{"weight_ih": "weight_ih_l0"}``)
    is declared on the node for drawings.

    Returns ``(output (T, B, H), h_n (B, H), c_n (B, H) or None)``; the whole layer is ONE graph
    node (``output.grad_fn``, a ``FusedRNNLayer``).

    Example::

        >>> import minigrad as mg
        >>> x, h0 = mg.randn(7, 3, 4), mg.zeros(3, 5)
        >>> w_ih = mg.randn(15, 4, requires_grad=True)
        >>> w_hh = mg.randn(15, 5, requires_grad=True)
        >>> out, h_n, c_n = fused_rnn_layer("gru", x, h0, None, w_ih, w_hh, None, None)
        >>> out.shape, h_n.shape, c_n
        ((7, 3, 5), (3, 5), None)
        >>> out.sum().backward(); w_hh.grad.shape
        (15, 5)
    """
    inputs = (x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)
    lengths = _check_inputs(mode, *[None if t is None else t._array for t in inputs], lengths, batch_first)
    options = {"mode": mode, "reverse": reverse, "lengths": lengths, "param_names": param_names,
               "batch_first": batch_first}
    if layer_scope:
        with scope(layer_scope):
            outs = FusedRNNLayer.apply(*inputs, **options)
    else:  # (a cell: its caller's scope)
        outs = FusedRNNLayer.apply(*inputs, **options)
    if len(outs) == 3:  # (an LSTM)
        return outs
    return outs[0], outs[1], None


def fused_layers_without_graph(mode: str, x: np.ndarray, h0: np.ndarray, c0: np.ndarray | None,
                               layers: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]],
                               batch_first: bool = False,
                               bidirectional: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Stacked layers on arrays, for a call that records nothing (under ``no_grad``).

    Such a call would make each layer's node only to drop it; here each layer's forward
    (``FusedRNNLayer.forward``: the same checks, plan and kernels) runs on arrays directly, its
    output the next layer's input, as a sampling loop or an evaluation pass wants. ``layers`` holds
    each layer's ``(weight_ih, weight_hh, bias_ih, bias_hh)`` arrays, with ``bidirectional`` the
    forward and the reverse direction of each layer in turn (PyTorch's order, ``l0``,
    ``l0_reverse``, ``l1``, ...), whose outputs are joined along the features; ``x`` is time-major
    ``(T, B, I)`` or, with ``batch_first``, ``(B, T, I)`` where ``B`` or ``T`` is 1; ``h0``/``c0``
    are stacked ``(L * D, B, H)``. Returns ``(output, h_n, c_n)`` in the same layouts (``c_n`` None
    but for an LSTM).

    Example::

        >>> import minigrad as mg
        >>> gru = mg.nn.GRU(3, 4, num_layers=2)
        >>> layers = [tuple(p._array for p in group) for group in gru.all_weights]
        >>> x, h0 = mg.randn(5, 2, 3), mg.zeros(2, 2, 4)
        >>> out, h_n, _ = fused_layers_without_graph("gru", x._array, h0._array, None, layers)
        >>> with mg.no_grad():
        ...     expected, expected_h_n = gru(x, h0)
        >>> bool(np.allclose(out, expected._array)), h_n.shape
        (True, (2, 2, 4))
    """
    finals_h, finals_c = [], []
    directions = 2 if bidirectional else 1
    token = NUMPY_ERRORS.set(IGNORE_ALL)  # as in Function.apply: an op's arithmetic never warns
    try:
        for first in range(0, len(layers), directions):
            outputs = []
            for k in range(first, first + directions):
                w_ih, w_hh, b_ih, b_hh = layers[k]
                h0_k, c0_k = h0[k:k + 1], None if c0 is None else c0[k:k + 1]
                _check_inputs(mode, x, h0_k, c0_k, w_ih, w_hh, b_ih, b_hh, None, batch_first)
                layer = FusedRNNLayer(mode, reverse=k > first, batch_first=batch_first)
                outs = layer.forward(x, h0_k, c0_k, w_ih, w_hh, b_ih, b_hh)
                outputs.append(outs[0])
                finals_h.append(outs[1])
                if c0 is not None:
                    finals_c.append(outs[2])
            x = outputs[0] if directions == 1 else np.concatenate(outputs, axis=-1)
    finally:
        NUMPY_ERRORS.reset(token)
    h_n = finals_h[0] if len(finals_h) == 1 else np.concatenate(finals_h)
    c_n = None if c0 is None else finals_c[0] if len(finals_c) == 1 else np.concatenate(finals_c)
    return x, h_n, c_n
