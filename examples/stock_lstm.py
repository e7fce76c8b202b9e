"""The two-company stock example: a single LSTM unit remembers day 1 to predict day 5.

From Josh Starmer's *Long Short-Term Memory (LSTM), Clearly Explained* (StatQuest video, 2022),
retold in the LSTM chapter of many courses. Companies A and B have the same prices on days 2-4
and differ on days 1 and 5::

    day      1     2     3     4     5 (to predict)
    A        0    0.5  0.25    1     0
    B        1    0.5  0.25    1     1

so predicting day 5 means *remembering day 1* across three steps. One LSTM unit with hand-set
weights does it. Each gate has a weight on the short-term memory h (hidden state), a weight on
the input x and a bias:

    gate                         h weight  x weight   bias
    forget  f (% to remember)      2.70      1.63     1.62
    input   i (% of potential)     2.00      1.65     0.62
    candidate g (potential memory) 1.41      0.94    -0.32
    output  o                      4.38     -0.19     0.59

In PyTorch's layout (gate rows i, f, g, o) the h weights are ``weight_hh``, the x weights
``weight_ih``, the biases ``bias_ih``, and ``bias_hh`` = 0. Part 1 runs both companies through the
unrolled LSTM and prints the long-term memory c (cell state) and short-term memory h day by day:
day 1 of A gives c = -0.20, h = -0.13, and the final h is 0.0 for A and 0.97 for B, as in the
video. Part 2 trains a *fresh* single-unit LSTM from random weights on the same two sequences
(Adam, MSE on h after day 4) until it predicts day 5 correctly.

    python examples/stock_lstm.py [--steps N] [--seed S]

Last line of stdout: JSON with ``trained_A`` and ``trained_B`` (the trained predictions; within
0.05 of 0 and 1), ``handset_A``, ``handset_B`` and ``train_steps``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from tqdm import tqdm

import minigrad as mg


def minigrad_only(**options):
    """Options only minigrad understands (``impl=``: fused kernels or the textbook reference); they are
    left out when this script runs on PyTorch (``import torch as mg``)."""
    return options if mg.__name__ == "minigrad" else {}

COMPANIES = {"A": [0.0, 0.5, 0.25, 1.0], "B": [1.0, 0.5, 0.25, 1.0]}
TARGETS = {"A": 0.0, "B": 1.0}

# (h weight, x weight, bias) per gate, as in the video.
HANDSET = {"forget": (2.70, 1.63, 1.62), "input": (2.00, 1.65, 0.62),
           "candidate": (1.41, 0.94, -0.32), "output": (4.38, -0.19, 0.59)}
PYTORCH_ORDER = ["input", "forget", "candidate", "output"]  # rows i, f, g, o


def handset_cell() -> mg.nn.LSTMCell:
    cell = mg.nn.LSTMCell(1, 1, dtype=mg.float64, **minigrad_only(impl="reference"))
    cell.weight_hh.data[:, 0] = mg.tensor([HANDSET[g][0] for g in PYTORCH_ORDER], dtype=mg.float64)
    cell.weight_ih.data[:, 0] = mg.tensor([HANDSET[g][1] for g in PYTORCH_ORDER], dtype=mg.float64)
    cell.bias_ih.data[:] = mg.tensor([HANDSET[g][2] for g in PYTORCH_ORDER], dtype=mg.float64)
    cell.bias_hh.data[:] = 0.0
    return cell


def run_handset(impl: str) -> dict[str, float]:
    """Part 1: unroll the hand-set LSTM over days 1-4 for each company, printing c and h."""
    cell = handset_cell()
    finals = {}
    with mg.no_grad():
        for name, prices in COMPANIES.items():
            print(f"Company {name}: prices {prices}, day 5 should be {TARGETS[name]:g}")
            print(f"  {'day':>3} {'input':>6} {'long-term c':>12} {'short-term h':>13}")
            h = c = mg.zeros(1, 1, dtype=mg.float64)            # both memories start at 0
            for day, x in enumerate(prices, start=1):
                h, c = cell(mg.tensor([[x]], dtype=mg.float64), (h, c))
                print(f"  {day:>3} {x:>6.2f} {c.item():>12.4f} {h.item():>13.4f}")
            finals[name] = h.item()
            print(f"  prediction for day 5 (final h): {h.item():.2f}\n")
        # The same weights in the full layer give the same final h (the layer unrolls the cell for us).
        lstm = mg.nn.LSTM(1, 1, batch_first=True, dtype=mg.float64, **minigrad_only(impl=impl))
        for src, dst in [("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"), ("bias_ih", "bias_ih_l0"),
                         ("bias_hh", "bias_hh_l0")]:
            getattr(lstm, dst).data[...] = getattr(cell, src).data
        x = mg.tensor([[[p] for p in COMPANIES["A"]], [[p] for p in COMPANIES["B"]]], dtype=mg.float64)
        _, (h_n, _) = lstm(x)                                       # x: (batch 2, 4 days, 1)
        print(f"mg.nn.LSTM with the same weights, both companies as one batch: h_n = "
              f"{np.round(h_n.numpy().ravel(), 4).tolist()}\n")
    return finals


def train_fresh(steps: int, seed: int, lr: float, tol: float, impl: str) -> tuple[dict[str, float], int]:
    """Part 2: a fresh LSTM(1, 1) from random weights learns the same thing."""
    mg.manual_seed(seed)
    lstm = mg.nn.LSTM(input_size=1, hidden_size=1, batch_first=True, **minigrad_only(impl=impl))
    opt = mg.optim.Adam(lstm.parameters(), lr=lr)
    x = mg.tensor([[[p] for p in COMPANIES[n]] for n in COMPANIES])   # (batch 2, 4 days, 1)
    y = mg.tensor([[TARGETS[n]] for n in COMPANIES])                   # (2, 1)
    bar = tqdm(range(1, steps + 1), desc="training a fresh LSTM(1, 1)", leave=False)
    step = 0
    for step in bar:
        _, (h_n, _) = lstm(x)                 # h_n: (num_layers=1, batch=2, 1) - the day-5 prediction
        pred = h_n[0]
        err = np.abs(pred.detach().numpy() - y.numpy()).max()
        if err < tol:                         # both predictions right: stop before changing the weights
            break
        loss = mg.nn.functional.mse_loss(pred, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.5f}", max_err=f"{err:.3f}")
    bar.close()
    with mg.no_grad():
        _, (h_n, _) = lstm(x)
    preds = dict(zip(COMPANIES, h_n.numpy().ravel().tolist()))
    print(f"Fresh LSTM(1, 1) after {step} Adam steps (lr={lr}): "
          + ", ".join(f"{n}: {v:.3f} (target {TARGETS[n]:g})" for n, v in preds.items()))
    for name, p in lstm.named_parameters():
        print(f"  {name:<13} " + " ".join(f"{v:7.2f}" for v in p.detach().numpy().ravel()))
    return preds, step


def main() -> None:
    ap = argparse.ArgumentParser(description="A single LSTM unit remembers day 1 to predict day 5.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000, help="maximum training steps (Adam) for the fresh LSTM")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    ap.add_argument("--lr", type=float, default=0.05, help="Adam learning rate")
    ap.add_argument("--impl", choices=["fused", "reference"], default="fused", help="LSTM implementation")
    ap.add_argument("--tol", type=float, default=0.03, help="stop once both predictions are this close")
    args = ap.parse_args()

    handset = run_handset(args.impl)
    trained, used = train_fresh(args.steps, args.seed, args.lr, args.tol, args.impl)
    print(json.dumps({"trained_A": trained["A"], "trained_B": trained["B"], "handset_A": handset["A"],
                      "handset_B": handset["B"], "train_steps": used}))


if __name__ == "__main__":
    main()
