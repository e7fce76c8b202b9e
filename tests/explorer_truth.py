"""Independent truths for the explorer tests: h_t and dL/dh_t of a stacked LSTM from a hand-written loop."""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad.autograd import Recorder, recording
from minigrad.nn.recurrent import lstm_step


def lstm_truth(lstm: mg.nn.LSTM, x: np.ndarray, loss_of, with_c: bool = False) -> dict[tuple[int, int], tuple]:
    """``(layer, t) -> (||h_t||, ||dL/dh_t||)`` (t from 0), from a loop over lstm_step with retain_grad.

    ``with_c`` adds ``||c_t||, ||dL/dc_t||``.
    """
    T, B, _ = x.shape
    layer_input = [mg.tensor(x[t]) for t in range(T)]
    hs: dict[tuple[int, int], mg.Tensor] = {}
    cs: dict[tuple[int, int], mg.Tensor] = {}
    for layer in range(lstm.num_layers):
        w = {n: mg.tensor(getattr(lstm, f"{n}_l{layer}").detach().numpy().copy(), requires_grad=True) for n in
             ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        blocks = {n: v.chunk(4, 0) for n, v in w.items()}
        h = mg.zeros(B, lstm.hidden_size, dtype=x.dtype)
        c = mg.zeros(B, lstm.hidden_size, dtype=x.dtype)
        outs = []
        for t in range(T):
            h, c = lstm_step(layer_input[t], h, c, blocks["weight_ih"], blocks["weight_hh"], blocks["bias_ih"],
                             blocks["bias_hh"])
            h.retain_grad()
            c.retain_grad()
            hs[(layer, t)] = h
            cs[(layer, t)] = c
            outs.append(h)
        layer_input = outs
    loss_of(mg.stack(layer_input, 0)).backward()
    def n(a: mg.Tensor) -> float:
        return float(np.linalg.norm(a.detach().numpy()))

    return {k: (n(h), n(h.grad)) + ((n(cs[k]), n(cs[k].grad)) if with_c else ()) for k, h in hs.items()}


class EngineValues(Recorder):
    """Every node's outputs and output gradients as the engine reports them (the ops view's truth)."""

    def __init__(self) -> None:
        self.outputs: dict = {}
        self.grads: dict = {}

    def on_forward(self, fn, outputs) -> None:
        self.outputs[fn] = [np.array(o) for o in outputs]

    def on_backward(self, fn, grads) -> None:
        self.grads[fn] = [None if g is None else np.array(g) for g in grads]


def summary(arrays) -> float:
    arrays = [a for a in arrays if a is not None]
    if len(arrays) == 1 and arrays[0].size == 1:
        return float(arrays[0].reshape(()))
    return float(np.sqrt(sum((a.astype(np.float64) ** 2).sum() for a in arrays)))


def engine_values(build):
    """Run ``build()`` -> loss under a recorder, then backward(retain_graph=True); returns (loss, EngineValues)."""
    rec = EngineValues()
    with mg.viz.record() as drawing, recording(_Both(rec, drawing)):  # ours, and what the explorer reads
        loss = build()
        loss.backward(retain_graph=True)
    return loss, rec


class _Both(Recorder):
    """Tells two recorders everything (the engine has one recorder slot)."""

    def __init__(self, *recorders: Recorder) -> None:
        self.recorders = recorders

    def on_forward(self, fn, outputs):
        for r in self.recorders:
            r.on_forward(fn, outputs)

    def on_backward(self, fn, grads):
        for r in self.recorders:
            r.on_backward(fn, grads)
