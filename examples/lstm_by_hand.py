"""One LSTM step by hand: the 2-input / 3-unit worked example, gate by gate.

A popular Chinese article on RNNs ("循环神经网络：序列数据的记忆大师", section 4) works one LSTM step
through by hand: input x_1 = [0.5, 1.0], h_0 = c_0 = 0, and these weights acting on x
(with h_0 = 0 the recurrent weights never matter in the first step)::

    W_f = [[ 0.1, -0.3], [-0.2,  0.4], [ 0.5, -0.1]]   b_f = [ 0.2,  0.1, -0.3]
    W_i = [[-0.2,  0.3], [ 0.4, -0.1], [-0.3,  0.2]]   b_i = [-0.1,  0.2,  0.4]
    W_c = [[ 0.2,  0.1], [-0.3,  0.4], [ 0.1, -0.2]]   b_c = [ 0.3, -0.2,  0.1]
    W_o = [[-0.4,  0.2], [ 0.3, -0.1], [ 0.1,  0.5]]   b_o = [-0.2,  0.3, -0.4]

The equations (PyTorch's LSTM, gate order i, f, g, o; g is the article's c~)::

    i_t = sigmoid(W_i x_t + U_i h_{t-1} + b_i)        input gate
    f_t = sigmoid(W_f x_t + U_f h_{t-1} + b_f)        forget gate
    g_t = tanh(W_c x_t + U_c h_{t-1} + b_c)           candidate memory (c~_t)
    o_t = sigmoid(W_o x_t + U_o h_{t-1} + b_o)        output gate
    c_t = f_t * c_{t-1} + i_t * g_t                   new long-term memory
    h_t = o_t * tanh(c_t)                             new short-term memory

The article's printed results contain arithmetic slips: its products mix up the two inputs
(e.g. it writes -0.3 x 0.5 where the formula gives -0.3 x 1.0) and some sigmoids are off. The
first forget-gate row is sigmoid(0.1*0.5 - 0.3*1.0 + 0.2) = sigmoid(-0.05) = 0.4875, not 0.38.
This script computes every number three ways - plain NumPy, minigrad ops written as the
equations, and ``mg.nn.LSTMCell`` with the weights packed in PyTorch's layout - and prints them
next to the article's values, flagging the ones that are wrong.

    python examples/lstm_by_hand.py

Last line of stdout: JSON with ``max_abs_diff`` (minigrad vs NumPy, < 1e-6), ``h1``, ``c1`` and
``article_errors`` (how many of the article's 18 printed numbers are off by more than 0.01).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import minigrad as mg


def minigrad_only(**options):
    """Options only minigrad understands (``impl=``: fused kernels or the textbook reference); they are
    left out when this script runs on PyTorch (``import torch as mg``)."""
    return options if mg.__name__ == "minigrad" else {}

# ---- the article's example ---------------------------------------------------------------------
x1 = np.array([0.5, 1.0])
W = {  # each acts on x_t (3 units x 2 inputs)
    "f": np.array([[0.1, -0.3], [-0.2, 0.4], [0.5, -0.1]]),
    "i": np.array([[-0.2, 0.3], [0.4, -0.1], [-0.3, 0.2]]),
    "c": np.array([[0.2, 0.1], [-0.3, 0.4], [0.1, -0.2]]),
    "o": np.array([[-0.4, 0.2], [0.3, -0.1], [0.1, 0.5]]),
}
b = {
    "f": np.array([0.2, 0.1, -0.3]),
    "i": np.array([-0.1, 0.2, 0.4]),
    "c": np.array([0.3, -0.2, 0.1]),
    "o": np.array([-0.2, 0.3, -0.4]),
}
# What the article prints for each quantity (two decimals).
ARTICLE = {
    "f_1": [0.38, 0.59, 0.31],
    "i_1": [0.42, 0.47, 0.62],
    "g_1 (c~_1)": [0.53, 0.28, -0.10],
    "c_1": [0.22, 0.13, -0.06],
    "o_1": [0.42, 0.57, 0.38],
    "h_1": [0.09, 0.07, -0.02],
}


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def lstm_step_numpy(x: np.ndarray, h_prev: np.ndarray, c_prev: np.ndarray) -> dict[str, np.ndarray]:
    """The six equations in plain NumPy (recurrent weights U are zero here: h_0 = 0 anyway)."""
    i = sigmoid(W["i"] @ x + b["i"])
    f = sigmoid(W["f"] @ x + b["f"])
    g = np.tanh(W["c"] @ x + b["c"])
    o = sigmoid(W["o"] @ x + b["o"])
    c = f * c_prev + i * g              # c_t = f_t * c_{t-1} + i_t * g_t
    h = o * np.tanh(c)                  # h_t = o_t * tanh(c_t)
    return {"f_1": f, "i_1": i, "g_1 (c~_1)": g, "c_1": c, "o_1": o, "h_1": h}


def lstm_step_minigrad(x: mg.Tensor, h_prev: mg.Tensor, c_prev: mg.Tensor) -> dict[str, mg.Tensor]:
    """The same equations with minigrad Tensors: every line records nodes of the autograd graph."""
    Wt = {k: mg.tensor(v, dtype=mg.float64) for k, v in W.items()}
    bt = {k: mg.tensor(v, dtype=mg.float64) for k, v in b.items()}
    i = (Wt["i"] @ x + bt["i"]).sigmoid()
    f = (Wt["f"] @ x + bt["f"]).sigmoid()
    g = (Wt["c"] @ x + bt["c"]).tanh()
    o = (Wt["o"] @ x + bt["o"]).sigmoid()
    c = f * c_prev + i * g
    h = o * c.tanh()
    return {"f_1": f, "i_1": i, "g_1 (c~_1)": g, "c_1": c, "o_1": o, "h_1": h}


def lstm_cell_minigrad(impl: str) -> tuple[np.ndarray, np.ndarray]:
    """``mg.nn.LSTMCell`` with the article's weights in PyTorch's layout.

    PyTorch stacks the four gates' input weights into one (4*hidden, input) matrix in the order
    i, f, g, o; the recurrent weights (weight_hh) and bias_hh are zero here.
    """
    cell = mg.nn.LSTMCell(2, 3, dtype=mg.float64, **minigrad_only(impl=impl))
    cell.weight_ih.data[...] = mg.tensor(np.vstack([W["i"], W["f"], W["c"], W["o"]]))
    cell.bias_ih.data[...] = mg.tensor(np.concatenate([b["i"], b["f"], b["c"], b["o"]]))
    cell.weight_hh.data[...] = 0.0
    cell.bias_hh.data[...] = 0.0
    h0 = mg.zeros(3, dtype=mg.float64)
    with mg.no_grad():                                   # forward only: no graph needed
        h, c = cell(mg.tensor(x1, dtype=mg.float64), (h0, h0))  # unbatched input: shape (2,)
    return h.numpy(), c.numpy()


def main() -> None:
    # No options: one fixed step with fixed weights is the whole example (``--help`` says so).
    ap = argparse.ArgumentParser(description="One LSTM step of the article's example, gate by gate.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.parse_args()

    ref = lstm_step_numpy(x1, np.zeros(3), np.zeros(3))
    zero = mg.zeros(3, dtype=mg.float64)
    ours = {k: v.numpy() for k, v in lstm_step_minigrad(mg.tensor(x1, dtype=mg.float64), zero, zero).items()}

    print("One LSTM step, x_1 = [0.5, 1.0], h_0 = c_0 = 0 (values for the 3 units)\n")
    print(f"{'quantity':<12} {'unit':>4} {'pre-activation':>15} {'NumPy':>10} {'minigrad':>10} {'article':>8}")
    pre = {"f_1": "f", "i_1": "i", "g_1 (c~_1)": "c", "o_1": "o"}
    errors = 0
    for name, article_vals in ARTICLE.items():
        for k in range(3):
            z = f"{(W[pre[name]] @ x1 + b[pre[name]])[k]:+.4f}" if name in pre else ""
            wrong = abs(article_vals[k] - ref[name][k]) > 0.01
            errors += wrong
            flag = "  <- article is wrong" if wrong else ""
            print(f"{name:<12} {k + 1:>4} {z:>15} {ref[name][k]:>10.4f} {ours[name][k]:>10.4f} "
                  f"{article_vals[k]:>8.2f}{flag}")
    print()
    print("For example the first forget-gate row: sigmoid(0.1*0.5 + (-0.3)*1.0 + 0.2) = sigmoid(-0.05) "
          f"= {ref['f_1'][0]:.4f}; the article prints 0.38.")

    diffs = [np.max(np.abs(ours[k] - ref[k])) for k in ref]
    for impl in ("reference", "fused"):
        h, c = lstm_cell_minigrad(impl)
        d = max(np.max(np.abs(h - ref["h_1"])), np.max(np.abs(c - ref["c_1"])))
        diffs.append(d)
        print(f"mg.nn.LSTMCell(impl={impl!r}): h_1 = {np.round(h, 4).tolist()}, c_1 = {np.round(c, 4).tolist()}, "
              f"max |diff| vs NumPy = {d:.2e}")

    result = {
        "max_abs_diff": float(max(diffs)),
        "h1": [round(float(v), 6) for v in ref["h_1"]],
        "c1": [round(float(v), 6) for v in ref["c_1"]],
        "article_errors": int(errors),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
