"""Per-time-step contributions to the gradient of a shared weight.

A weight used at every step gets one gradient, the sum over steps (docs/bptt.md)::

    dL/dW_hh = sum_t dL/da_t h_{t-1}^T

``grad_contributions`` returns the terms of that sum. The rule: the contribution of step t is the
gradient that flows into the weight from the nodes in step t's scope. Between those nodes and
the weight there may be nodes outside every step (the reference layers split each weight into
gate blocks once per layer); their backward is linear in the gradient they receive, so each
step's share is pushed through them separately.

A fused layer is one node for all steps. Its per-step terms are recomputed in NumPy from its
saved per-step values and dL/dh_t (``fused_pieces``), and checked against the node's own sum.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from minigrad.autograd import Function
from minigrad.tensor import Tensor
from minigrad.viz.explorer.record import BackwardTrace, _as_input_grad, trace_backward
from minigrad.viz.explorer.steps import CellKey, cell_of, fused_cells, is_fused

OUTSIDE = None  # the colour of gradient that comes from no time step (e.g. the loss, a head after the loop)


@dataclass
class FusedPieces:
    """A fused layer's gradients split by step: ``inputs[t][k]`` is step t's share of input k's gradient."""

    inputs: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)
    dc: dict[int, np.ndarray] = field(default_factory=dict)  # LSTM: dL/dc_t (total)


def _sigmoid_grad(s: np.ndarray) -> np.ndarray:
    return s * (1 - s)


def fused_pieces(fn: Function, out_grads: list[np.ndarray | None]) -> FusedPieces:
    """Each step's term of a fused layer's weight gradients, recomputed from its saved per-step values.

    With ``dG_t`` the gradient of step t's gate pre-activations (``(B, G)``)::

        dW_ih += dG_t^T x_t      dW_hh += dG_t^T h_{t-1}      db_ih += sum_b dG_t      db_hh likewise

    (GRU: the hidden side of the n block is ``r_t * dn_t``). ``dG_t`` follows from dL/dh_t (the
    layer's ``step_grad_h``) and, for the LSTM, dL/dc_t carried back from the last step::

        dc_t = dc_{t+1} * f_{t+1} + dh_t * o_t * (1 - tanh(c_t)^2)
        di, df, dg, do = dc_t * g_t, dc_t * c_{t-1}, dc_t * i_t, dh_t * tanh(c_t)   (times the gates' slopes)

    ``x`` gets its rows (row t is step t's alone); ``h_0``, ``c_0`` belong to the first step.
    """
    # TODO(merge): use per-step gradient pieces if the fused layer's declared interface offers them.
    pieces = FusedPieces()
    mode = fn.mode
    forward_steps = [key[1] for key in fused_cells(fn)]
    lengths = fn.lengths
    grad_cn = out_grads[2] if mode == "lstm" and len(out_grads) > 2 else None
    grad_cn = None if grad_cn is None else fn.plain_state(grad_cn)
    carry_c = None
    for t in reversed(forward_steps):
        v = fn.step_values(t)
        dh = fn.step_grad_h(t)
        B = v["h"].shape[0]
        active = np.ones((B, 1), bool) if lengths is None else (t < np.asarray(lengths))[:, None]
        if mode == "lstm":
            if carry_c is None:
                carry_c = np.zeros_like(v["c"]) if grad_cn is None else np.array(grad_cn)
            i, f, g, o, c, c_prev = v["i"], v["f"], v["g"], v["o"], v["c"], v["c_prev"]
            tc = np.tanh(c)
            dc = carry_c + dh * o * (1 - tc * tc)
            dc = np.where(active, dc, carry_c)
            pieces.dc[t] = dc
            dgx = np.concatenate([dc * g * _sigmoid_grad(i), dc * c_prev * _sigmoid_grad(f), dc * i * (1 - g * g),
                                  dh * tc * _sigmoid_grad(o)], axis=1)
            carry_c = np.where(active, dc * f, carry_c)
            dgh = dgx
        elif mode == "gru":
            r, z, n, hn, h_prev = v["r"], v["z"], v["n"], v["hn"], v["h_prev"]
            dn = dh * (1 - z) * (1 - n * n)
            dz = dh * (h_prev - n) * _sigmoid_grad(z)
            dr = dn * hn * _sigmoid_grad(r)
            dgx = np.concatenate([dr, dz, dn], axis=1)
            dgh = np.concatenate([dr, dz, dn * r], axis=1)
        else:
            slope = (1 - v["h"] ** 2) if mode == "rnn_tanh" else (v["h"] > 0).astype(v["h"].dtype)
            dgx = dgh = dh * slope
        dgx, dgh = dgx * active, dgh * active
        pieces.inputs[t] = {3: dgx.T @ v["x_t"], 4: dgh.T @ v["h_prev"], 5: dgx.sum(axis=0), 6: dgh.sum(axis=0)}
    return pieces


def _fused_sends(fn: Function, trace: BackwardTrace) -> list[tuple[CellKey, tuple]]:
    """A fused layer's input gradients split by step (the weights recomputed, x by rows, h_0/c_0 to the first)."""
    sent = trace.in_grads[fn]
    pieces = fused_pieces(fn, trace.out_grads[fn])
    cells = {key[1]: key for key in fused_cells(fn)}
    first = fused_cells(fn)[0][1]
    out = []
    for t, by_input in pieces.inputs.items():
        grads: list[np.ndarray | None] = [None] * len(sent)
        if sent[0] is not None:  # x's row t (in x's own layout: a batch-first x is (B, T, I))
            grads[0] = np.zeros(sent[0].shape, sent[0].dtype)  # C order: time_major gives a view to write into
            fn.time_major(grads[0])[t] = fn.time_major(sent[0])[t]
        for k in (1, 2):
            if t == first and k < len(sent):
                grads[k] = sent[k]
        for k, g in by_input.items():
            if sent[k] is not None:
                grads[k] = g.astype(sent[k].dtype, copy=False)
        out.append((cells[t], tuple(grads)))
    for k in (3, 4, 5, 6):  # the terms must add up to what the node itself computed
        if sent[k] is None:
            continue
        total = sum(g[k] for _, g in out)
        scale = max(float(np.abs(sent[k]).max()), 1e-30)
        tol = 1e-9 if sent[k].dtype == np.float64 else 1e-3
        if float(np.abs(total - sent[k]).max()) > tol * scale:
            raise RuntimeError(f"internal: {fn.name}: per-step gradient terms of input {k} do not add up to the "
                               "layer's gradient")
    return out


def _recolour(fn: Function, trace: BackwardTrace, incoming: dict) -> list[tuple[CellKey | None, tuple]]:
    """What ``fn`` sends to its inputs, split by colour: the cell (layer path, step) a gradient comes from."""
    key = cell_of(fn)
    if key is not None:  # inside a time step: all of it is that step's
        return [(key, trace.in_grads[fn])]
    if is_fused(fn):
        return _fused_sends(fn, trace)
    colours = incoming.get(fn, {})
    if len(colours) <= 1:
        colour = next(iter(colours), OUTSIDE)
        return [(colour, trace.in_grads[fn])]
    # Several steps' gradients meet here (e.g. the split of a weight into gate blocks): backward is
    # linear in the gradient it receives, so run it once per step's share.
    total = trace.out_grads[fn]
    out = []
    for colour, slots in colours.items():
        grads = [s if s is not None else (None if tot is None else np.zeros_like(tot)) for s, tot in zip(slots, total)]
        sent = fn.backward(*grads)
        sent = sent if isinstance(sent, tuple) else (sent,)
        out.append((colour, tuple(_as_input_grad(s, m) for s, m in zip(sent, fn.input_meta))))
    return out


def _reaches(trace: BackwardTrace, targets: dict[int, Tensor]) -> dict[Function, bool]:
    """Which nodes send gradient (directly or not) into one of ``targets``. The engine lists consumers first."""
    reaches: dict[Function, bool] = {}
    for fn in reversed(trace.order):
        reaches[fn] = any((type(edge) is tuple and reaches.get(edge[0], False))
                          or (edge is not None and type(edge) is not tuple and id(edge) in targets)
                          for edge in fn.next_functions)
    return reaches


def split_by_cells(trace: BackwardTrace, leaves: list[Tensor]) -> dict[int, dict[CellKey | None, np.ndarray]]:
    """Each leaf's gradient split by the cell (layer path, step) it comes from: ``id(leaf) -> {cell: array}``.

    Key None: from outside every step. One pass over the graph for all leaves: the colour of a
    gradient does not depend on where it goes.
    """
    targets = {id(t): t for t in leaves}
    reaches = _reaches(trace, targets)
    # Only a node outside every step mixes the colours it receives; the others recolour everything.
    mixes = {fn: cell_of(fn) is None and not is_fused(fn) for fn in trace.order}
    incoming: dict[Function, dict[CellKey | None, list]] = {}
    result: dict[int, dict[CellKey | None, np.ndarray]] = {i: {} for i in targets}
    for fn in trace.order:
        if not reaches[fn] or fn not in trace.in_grads:
            continue
        for colour, sent in _recolour(fn, trace, incoming):
            for edge, g in zip(fn.next_functions, sent):
                if g is None or edge is None:
                    continue
                if type(edge) is tuple:
                    parent, index = edge
                    if reaches.get(parent) and mixes.get(parent):
                        slots = incoming.setdefault(parent, {}).setdefault(colour, [None] * len(parent.outputs))
                        slots[index] = g if slots[index] is None else slots[index] + g
                elif id(edge) in targets:
                    parts = result[id(edge)]
                    parts[colour] = parts[colour] + g if colour in parts else np.array(g)
    return result


def split_by_cell(trace: BackwardTrace, param: Tensor) -> dict[CellKey | None, np.ndarray]:
    """``param``'s gradient split by the cell (layer path, step) it comes from (key None: outside every step)."""
    return split_by_cells(trace, [param])[id(param)]


def num_steps(trace: BackwardTrace) -> int:
    """T: the number of time steps of the graph (the largest step index + 1)."""
    T = 0
    for fn in trace.order:
        key = cell_of(fn)
        if key is not None:
            T = max(T, key[1] + 1)
        elif is_fused(fn):
            T = max(T, max(k[1] for k in fused_cells(fn)) + 1)
    return T


def contributions_from_trace(trace: BackwardTrace, param: Tensor, who: str = "grad_contributions"
                             ) -> list[np.ndarray]:
    """One array per step t = 1..T (index 0 is t = 1), summing to the parameter's gradient."""
    parts = split_by_cell(trace, param)
    if not parts:
        raise ValueError(f"{who}: the parameter (shape {param.shape}) gets no gradient from root; is it used "
                         "to compute it, and does it require grad?")
    outside = parts.pop(OUTSIDE, None)
    if outside is not None and np.any(outside != 0):
        raise ValueError(f"{who}: part of the parameter's gradient (norm {np.linalg.norm(outside):.4g}) comes from "
                         "nodes outside every time-step scope, so it belongs to no step; split by step only "
                         "parameters used inside the steps (open one mg.scope(f't{t}') per step in your loop)")
    by_step = [np.zeros(param.shape, dtype=param.dtype) for _ in range(num_steps(trace))]
    for (_, t), g in parts.items():
        by_step[t] += g
    return by_step


def grad_contributions(root: Tensor, param: Tensor) -> list[np.ndarray]:
    """How much each time step adds to ``param``'s gradient: one array per step t = 1..T.

    They sum to the gradient that ``root.backward()`` gives ``param`` (the sum over time of
    BPTT). Works for the fused and reference layers and for cells in your own loop with one
    ``mg.scope(f"t{t}")`` per step. Nothing is changed: no ``.grad`` is touched, and the graph
    stays for your own ``backward()``.

    Example::

        >>> import minigrad as mg
        >>> rnn = mg.nn.RNN(2, 3, dtype=mg.float64)
        >>> out, _ = rnn(mg.randn(4, 1, 2, dtype=mg.float64))
        >>> loss = out[-1].sum()
        >>> parts = mg.viz.grad_contributions(loss, rnn.weight_hh_l0)
        >>> len(parts), parts[0].shape
        (4, (3, 3))
        >>> loss.backward()
        >>> bool(abs(sum(parts) - rnn.weight_hh_l0.grad.numpy()).max() < 1e-12)
        True
    """
    if not isinstance(param, Tensor):
        raise TypeError(f"grad_contributions: param must be a Tensor (a parameter), got {type(param).__name__}")
    if param.grad_fn is not None:
        raise ValueError("grad_contributions: param must be a leaf tensor (a parameter), not the result of an op")
    return contributions_from_trace(trace_backward(root, "grad_contributions"), param)
