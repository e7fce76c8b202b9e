"""Backpropagation through time, by hand, next to autograd.

Read this file top to bottom. It trains nothing: it computes the gradients of a small vanilla
RNN twice - once with the BPTT equations written out in NumPy, once with minigrad's autograd -
and shows that they are the same numbers. The equations are the ones of docs/bptt.md.

The model (one sequence x_1 .. x_T, column vectors, PyTorch's parameter names)::

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        pre-activation
    h_t = tanh(a_t)                                    hidden state
    y_t = W_hy h_t + b_y                               output
    L   = sum_t 1/2 ||y_t - target_t||^2               loss

BPTT is the chain rule on the *unrolled* graph. h_t influences the loss in two ways: directly,
through y_t, and through h_{t+1} (which depends on h_t). So, going backwards from t = T::

    dL/dy_t = y_t - target_t
    dL/dh_t = (dy_t/dh_t)^T dL/dy_t + (dh_{t+1}/dh_t)^T dL/dh_{t+1}
            = W_hy^T dL/dy_t         + W_hh^T dL/da_{t+1}        (the second term is 0 at t = T)
    dL/da_t = dL/dh_t * (1 - h_t^2)                              (tanh' = 1 - tanh^2, elementwise)

The weights are shared by all time steps, so their gradients are sums over time::

    dL/dW_hy = sum_t dL/dy_t h_t^T          dL/db_y  = sum_t dL/dy_t
    dL/dW_ih = sum_t dL/da_t x_t^T          dL/db_ih = sum_t dL/da_t
    dL/dW_hh = sum_t dL/da_t h_{t-1}^T      dL/db_hh = sum_t dL/da_t
    dL/dh_0  = W_hh^T dL/da_1

Autograd does exactly this without being told: the forward pass records one node per op per time
step, and ``loss.backward()`` walks that unrolled graph backwards, adding up the contributions of
every use of a shared weight (that is where the sums over t come from).

    python examples/bptt_by_hand.py [--seq-len T] [--seed S]

Last line of stdout: JSON with ``max_abs_diff`` (hand vs autograd over every gradient, < 1e-8).
"""

from __future__ import annotations

import argparse
import contextlib
import json

import numpy as np

import minigrad as mg


def minigrad_only(**options):
    """Options only minigrad understands (``impl=``: fused kernels or the textbook reference); they are
    left out when this script runs on PyTorch (``import torch as mg``)."""
    return options if mg.__name__ == "minigrad" else {}


def step_scope(name: str):
    """minigrad-only: ``mg.scope`` names the ops of one time step (one cluster in a drawing); on PyTorch
    it is left out."""
    return mg.scope(name) if mg.__name__ == "minigrad" else contextlib.nullcontext()

INPUT, HIDDEN, OUTPUT = 3, 5, 2


# ------------------------------------------------------------------------------------------------
# 1. The data and the weights (float64, so the two computations agree to ~1e-15)
# ------------------------------------------------------------------------------------------------
def make_problem(T: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    params = {
        "W_ih": rng.normal(0, 0.5, (HIDDEN, INPUT)),
        "W_hh": rng.normal(0, 0.5, (HIDDEN, HIDDEN)),
        "b_ih": rng.normal(0, 0.1, HIDDEN),
        "b_hh": rng.normal(0, 0.1, HIDDEN),
        "W_hy": rng.normal(0, 0.5, (OUTPUT, HIDDEN)),
        "b_y": rng.normal(0, 0.1, OUTPUT),
    }
    xs = rng.normal(size=(T, INPUT))        # x_1 .. x_T (row t-1 is x_t)
    targets = rng.normal(size=(T, OUTPUT))
    h0 = rng.normal(0, 0.5, HIDDEN)
    return params, xs, targets, h0


# ------------------------------------------------------------------------------------------------
# 2. BPTT by hand, in NumPy
# ------------------------------------------------------------------------------------------------
def bptt_numpy(p: dict[str, np.ndarray], xs: np.ndarray, targets: np.ndarray, h0: np.ndarray):
    T = len(xs)
    # Forward: keep every h_t - the backward pass needs them (this is BPTT's memory cost).
    h = [h0]                                                  # h[t] is h_t; h[0] = h_0
    y = [None]                                                # y[t] is y_t (y[0] unused)
    for t in range(1, T + 1):
        a_t = p["W_ih"] @ xs[t - 1] + p["b_ih"] + p["W_hh"] @ h[t - 1] + p["b_hh"]
        h.append(np.tanh(a_t))                                # h_t = tanh(a_t)
        y.append(p["W_hy"] @ h[t] + p["b_y"])                 # y_t = W_hy h_t + b_y
    loss = sum(0.5 * np.sum((y[t] - targets[t - 1]) ** 2) for t in range(1, T + 1))

    # Backward, from t = T down to t = 1.
    grads = {k: np.zeros_like(v) for k, v in p.items()}
    dL_dh = [None] * (T + 1)                                  # dL/dh_t, kept to compare with autograd
    dL_da_next = np.zeros(HIDDEN)                             # dL/da_{T+1} = 0: nothing after the last step
    for t in range(T, 0, -1):
        dL_dy = y[t] - targets[t - 1]                         # dL/dy_t = y_t - target_t
        # dL/dh_t = (dy_t/dh_t)^T dL/dy_t + (dh_{t+1}/dh_t)^T dL/dh_{t+1}
        dL_dh[t] = p["W_hy"].T @ dL_dy + p["W_hh"].T @ dL_da_next
        dL_da = dL_dh[t] * (1.0 - h[t] ** 2)                  # dL/da_t = dL/dh_t * (1 - h_t^2)
        # Shared weights: add this step's contribution to the sum over t.
        grads["W_hy"] += np.outer(dL_dy, h[t])                # dL/dW_hy += dL/dy_t h_t^T
        grads["b_y"] += dL_dy
        grads["W_ih"] += np.outer(dL_da, xs[t - 1])           # dL/dW_ih += dL/da_t x_t^T
        grads["W_hh"] += np.outer(dL_da, h[t - 1])            # dL/dW_hh += dL/da_t h_{t-1}^T
        grads["b_ih"] += dL_da
        grads["b_hh"] += dL_da
        dL_da_next = dL_da
    dL_dh[0] = p["W_hh"].T @ dL_da_next                       # dL/dh_0 = W_hh^T dL/da_1
    return loss, grads, dL_dh


# ------------------------------------------------------------------------------------------------
# 3. The same model with minigrad Tensors: write only the forward pass, autograd does the rest
# ------------------------------------------------------------------------------------------------
def autograd_loop(p: dict[str, np.ndarray], xs: np.ndarray, targets: np.ndarray, h0: np.ndarray):
    P = {k: mg.tensor(v, requires_grad=True) for k, v in p.items()}   # float64 stays float64
    h = [mg.tensor(h0, requires_grad=True)]
    loss = mg.tensor(0.0, dtype=mg.float64)
    for t in range(1, len(xs) + 1):
        with step_scope(f"t{t}"):                             # one cluster per step in a drawing
            a_t = P["W_ih"] @ mg.tensor(xs[t - 1]) + P["b_ih"] + P["W_hh"] @ h[t - 1] + P["b_hh"]
            h_t = a_t.tanh()
            h_t.retain_grad()                                 # keep dL/dh_t (not a leaf) for the comparison
            h.append(h_t)
            y_t = P["W_hy"] @ h_t + P["b_y"]
            loss = loss + 0.5 * ((y_t - mg.tensor(targets[t - 1])) ** 2).sum()
    loss.backward()                                           # BPTT: the engine walks the unrolled graph
    return loss.item(), {k: v.grad.numpy() for k, v in P.items()}, [ht.grad.numpy() for ht in h]


# ------------------------------------------------------------------------------------------------
# 4. And with the library's layers: mg.nn.RNN (both implementations) + mg.nn.Linear
# ------------------------------------------------------------------------------------------------
def autograd_layers(p: dict[str, np.ndarray], xs: np.ndarray, targets: np.ndarray, h0: np.ndarray, impl: str):
    rnn = mg.nn.RNN(INPUT, HIDDEN, dtype=mg.float64, **minigrad_only(impl=impl))
    head = mg.nn.Linear(HIDDEN, OUTPUT, dtype=mg.float64)
    for name, key in [("weight_ih_l0", "W_ih"), ("weight_hh_l0", "W_hh"), ("bias_ih_l0", "b_ih"),
                      ("bias_hh_l0", "b_hh")]:
        getattr(rnn, name).data[...] = mg.tensor(p[key])
    head.weight.data[...] = mg.tensor(p["W_hy"])
    head.bias.data[...] = mg.tensor(p["b_y"])
    h0_t = mg.tensor(h0[None, :], requires_grad=True)         # (num_layers, hidden) for unbatched input
    out, _ = rnn(mg.tensor(xs), h0_t)                         # out: (T, hidden), every h_t
    loss = 0.5 * ((head(out) - mg.tensor(targets)) ** 2).sum()
    loss.backward()
    grads = {"W_ih": rnn.weight_ih_l0.grad, "W_hh": rnn.weight_hh_l0.grad, "b_ih": rnn.bias_ih_l0.grad,
             "b_hh": rnn.bias_hh_l0.grad, "W_hy": head.weight.grad, "b_y": head.bias.grad}
    return loss.item(), {k: v.numpy() for k, v in grads.items()}, h0_t.grad.numpy()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description="BPTT for a vanilla RNN by hand (NumPy) vs minigrad autograd.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--seq-len", type=int, default=8, help="sequence length T (time steps t = 1..T)")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    args = ap.parse_args()
    T = args.seq_len

    p, xs, targets, h0 = make_problem(T, args.seed)
    loss_np, g_np, dh_np = bptt_numpy(p, xs, targets, h0)
    loss_ag, g_ag, dh_ag = autograd_loop(p, xs, targets, h0)

    diffs = [abs(loss_np - loss_ag)]
    print(f"T = {T} steps, input {INPUT}, hidden {HIDDEN}, output {OUTPUT}; loss = {loss_np:.10f}\n")
    print(f"{'gradient':<10} {'shape':<8} {'max |hand - autograd|':>22}")
    for k in p:
        d = float(np.max(np.abs(g_np[k] - g_ag[k])))
        diffs.append(d)
        print(f"{'dL/d' + k:<10} {str(g_np[k].shape):<8} {d:>22.2e}")

    # Index t of dh_np / dh_ag is h_t: index 0 is the initial state h_0, the steps are t = 1..T.
    print(f"\n{'t':>3} {'||dL/dh_t|| by hand':>20} {'by autograd':>12}   (gradient flowing back through time)")
    for t in range(1, T + 1):
        diffs.append(float(np.max(np.abs(dh_np[t] - dh_ag[t]))))
        print(f"{t:>3} {np.linalg.norm(dh_np[t]):>20.6f} {np.linalg.norm(dh_ag[t]):>12.6f}")
    diffs.append(float(np.max(np.abs(dh_np[0] - dh_ag[0]))))
    print(f"||dL/dh_0|| (the initial state) {np.linalg.norm(dh_np[0]):.6f} by hand, {np.linalg.norm(dh_ag[0]):.6f} "
          "by autograd")

    print()
    for impl in ("reference", "fused"):
        loss_l, g_l, dh0_l = autograd_layers(p, xs, targets, h0, impl)
        d = max([abs(loss_l - loss_np), float(np.max(np.abs(dh0_l - dh_np[0])))]
                + [float(np.max(np.abs(g_np[k] - g_l[k]))) for k in p])
        diffs.append(d)
        print(f"mg.nn.RNN(impl={impl!r}) + mg.nn.Linear: max |hand - autograd| over every gradient = {d:.2e}")

    print(json.dumps({"max_abs_diff": max(diffs), "loss": loss_np, "T": T}))


if __name__ == "__main__":
    main()
