"""A character-level RNN trained by hand in NumPy, with every gradient checked against minigrad.

The structure follows Andrej Karpathy's min-char-rnn (2015): a vanilla RNN reads a text one
character at a time and learns to predict the next one. Column vectors, one-hot inputs x_t::

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)
    y_t = W_hy h_t + b_y                        (unnormalised log-probabilities of the next char)
    p_t = softmax(y_t)
    L   = - sum_t log p_t[target_t]             (summed over one window of --seq-len chars)

``loss_and_gradients`` runs the forward pass and then backpropagation through time by hand, the
equations of docs/bptt.md written out in NumPy. ``autograd_gradients`` computes the same loss with
minigrad tensors and lets ``loss.backward()`` do the work. At every training step (or every
``--check-every``) the two sets of gradients, including dL/dh_0, must agree to 1e-9, else the
script stops with an AssertionError naming the gradient. Then the hand-made gradients are clipped
to [-5, 5] and applied with Adagrad, as in the original.

Training is truncated BPTT: the text is read in consecutive windows, the last hidden state of a
window is the first state of the next one (as plain numbers: no gradient crosses the cut), and
the state is reset to zero when the text starts over.

    python examples/min_char_rnn.py [--steps N] [--hidden H] [--seq-len T] ...

Last line of stdout: JSON with ``steps``, ``checked`` (how many steps were compared with
autograd), ``max_grad_diff`` (the largest |hand - autograd| seen), ``initial_loss`` (a uniform guess),
``smooth_loss`` (min-char-rnn's slow running average) and ``recent_loss`` (the mean over the last
``--print-every`` steps), all in nats per window.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import minigrad as mg

DEFAULT_TEXT = Path(__file__).resolve().parent / "data" / "python_docs.txt"
PARAM_NAMES = ("W_xh", "W_hh", "W_hy", "b_h", "b_y")
TOLERANCE = 1e-9


def init_params(vocab_size: int, hidden: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Small random weights (std 0.01) and zero biases, as in min-char-rnn."""
    return {
        "W_xh": rng.normal(0, 0.01, (hidden, vocab_size)),
        "W_hh": rng.normal(0, 0.01, (hidden, hidden)),
        "W_hy": rng.normal(0, 0.01, (vocab_size, hidden)),
        "b_h": np.zeros((hidden, 1)),
        "b_y": np.zeros((vocab_size, 1)),
    }


def one_hot(index: int, size: int) -> np.ndarray:
    x = np.zeros((size, 1))
    x[index] = 1.0
    return x


def loss_and_gradients(params: dict[str, np.ndarray], inputs: list[int], targets: list[int],
                       h_prev: np.ndarray) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
    """Forward over one window, then BPTT by hand. Returns (loss, gradients, last hidden state).

    The gradients dict holds one entry per parameter plus ``h_0``: dL/dh_0, the gradient that
    truncated BPTT throws away at the window's start.
    """
    W_xh, W_hh, W_hy, b_h, b_y = (params[name] for name in PARAM_NAMES)
    vocab_size = W_xh.shape[1]
    xs, hs, ps = {}, {-1: h_prev}, {}
    loss = 0.0
    for t, (char, target) in enumerate(zip(inputs, targets)):
        xs[t] = one_hot(char, vocab_size)
        hs[t] = np.tanh(W_xh @ xs[t] + W_hh @ hs[t - 1] + b_h)
        y = W_hy @ hs[t] + b_y
        ps[t] = np.exp(y - y.max()) / np.exp(y - y.max()).sum()     # softmax, shifted for safety
        loss -= float(np.log(ps[t][target, 0]))

    grads = {name: np.zeros_like(params[name]) for name in PARAM_NAMES}
    dh_next = np.zeros_like(h_prev)              # dL/dh_t arriving from step t + 1 (none after the last)
    for t in reversed(range(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1.0                    # d(-log softmax)/dy = p - one_hot(target)
        grads["W_hy"] += dy @ hs[t].T
        grads["b_y"] += dy
        dh = W_hy.T @ dy + dh_next               # the two paths into h_t: its output and h_{t+1}
        da = (1.0 - hs[t] ** 2) * dh             # through tanh: tanh' = 1 - h^2
        grads["b_h"] += da
        grads["W_xh"] += da @ xs[t].T
        grads["W_hh"] += da @ hs[t - 1].T
        dh_next = W_hh.T @ da
    grads["h_0"] = dh_next
    return loss, grads, hs[len(inputs) - 1]


def autograd_gradients(params: dict[str, np.ndarray], inputs: list[int], targets: list[int],
                       h_prev: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """The same loss built from minigrad tensors (float64); ``backward()`` computes the gradients."""
    leaves = {name: mg.tensor(params[name], requires_grad=True) for name in PARAM_NAMES}
    h0 = mg.tensor(h_prev, requires_grad=True)
    vocab_size = params["W_xh"].shape[1]
    h, loss = h0, mg.tensor(0.0, dtype=mg.float64)
    for char, target in zip(inputs, targets):
        x = mg.tensor(one_hot(char, vocab_size))
        h = (leaves["W_xh"] @ x + leaves["W_hh"] @ h + leaves["b_h"]).tanh()
        y = leaves["W_hy"] @ h + leaves["b_y"]
        loss = loss - mg.nn.functional.log_softmax(y, dim=0)[target, 0]
    loss.backward()
    grads = {name: leaves[name].grad.numpy() for name in PARAM_NAMES}
    grads["h_0"] = h0.grad.numpy()
    return loss.item(), grads


def check_gradients(hand: dict[str, np.ndarray], auto: dict[str, np.ndarray], iteration: int) -> float:
    """Largest |hand - autograd| over every gradient; AssertionError naming the first that differs."""
    worst = 0.0
    for name, g in hand.items():
        diff = float(np.max(np.abs(g - auto[name])))
        assert diff < TOLERANCE, (f"iteration {iteration}: dL/d{name} by hand and by minigrad's autograd differ "
                                  f"by {diff:.3e} (tolerance {TOLERANCE})")
        worst = max(worst, diff)
    return worst


def sample(params: dict[str, np.ndarray], h: np.ndarray, first: int, length: int,
           rng: np.random.Generator) -> list[int]:
    """Draw ``length`` character indices from the model, starting from state ``h`` and char ``first``."""
    vocab_size = params["W_xh"].shape[1]
    x, out = one_hot(first, vocab_size), []
    for _ in range(length):
        h = np.tanh(params["W_xh"] @ x + params["W_hh"] @ h + params["b_h"])
        y = params["W_hy"] @ h + params["b_y"]
        p = np.exp(y - y.max()).ravel()
        index = int(rng.choice(vocab_size, p=p / p.sum()))
        x = one_hot(index, vocab_size)
        out.append(index)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--text", type=Path, default=DEFAULT_TEXT, help="training text (UTF-8)")
    ap.add_argument("--max-chars", type=int, default=20_000, help="use the first N characters of the text")
    ap.add_argument("--steps", type=int, default=300,
                    help="training steps, one window each (min-char-rnn calls them iterations)")
    ap.add_argument("--hidden", type=int, default=64, help="hidden units")
    ap.add_argument("--seq-len", type=int, default=25, help="window length: characters per BPTT")
    ap.add_argument("--lr", type=float, default=0.1, help="Adagrad learning rate")
    ap.add_argument("--check-every", type=int, default=1,
                    help="compare with minigrad's autograd every N steps (1: every one)")
    ap.add_argument("--print-every", type=int, default=100, help="print the loss and a sample every N steps")
    ap.add_argument("--sample-len", type=int, default=120, help="characters per printed sample")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    args = ap.parse_args()

    text = args.text.read_text(encoding="utf-8")[:args.max_chars]
    chars = sorted(set(text))
    index_of = {c: i for i, c in enumerate(chars)}
    print(f"{len(text)} characters, {len(chars)} distinct; hidden {args.hidden}, windows of {args.seq_len}")

    rng = np.random.default_rng(args.seed)
    params = init_params(len(chars), args.hidden, rng)
    adagrad_memory = {name: np.zeros_like(p) for name, p in params.items()}
    initial_loss = -np.log(1.0 / len(chars)) * args.seq_len     # a uniform guess
    smooth_loss, worst_diff, checked = initial_loss, 0.0, 0
    position, h_prev = 0, np.zeros((args.hidden, 1))
    recent_losses: list[float] = []

    for iteration in range(args.steps):
        if position + args.seq_len + 1 > len(text):          # the text starts over: so does the memory
            position, h_prev = 0, np.zeros((args.hidden, 1))
        window = [index_of[c] for c in text[position:position + args.seq_len + 1]]
        inputs, targets = window[:-1], window[1:]

        loss, grads, h_last = loss_and_gradients(params, inputs, targets, h_prev)
        if iteration % args.check_every == 0:
            auto_loss, auto_grads = autograd_gradients(params, inputs, targets, h_prev)
            assert abs(auto_loss - loss) < TOLERANCE, f"iteration {iteration}: loss {loss} vs autograd {auto_loss}"
            worst_diff = max(worst_diff, check_gradients(grads, auto_grads, iteration))
            checked += 1

        for name in PARAM_NAMES:                                   # Adagrad, with min-char-rnn's clipping
            g = np.clip(grads[name], -5, 5)
            adagrad_memory[name] += g * g
            params[name] -= args.lr * g / np.sqrt(adagrad_memory[name] + 1e-8)

        smooth_loss = 0.999 * smooth_loss + 0.001 * loss
        recent_losses = (recent_losses + [loss])[-args.print_every:]
        if iteration % args.print_every == 0 or iteration == args.steps - 1:
            drawn = sample(params, h_prev, inputs[0], args.sample_len, rng)
            print(f"iteration {iteration}: loss {loss:.2f}, mean of the last {len(recent_losses)} "
                  f"{np.mean(recent_losses):.2f}, smooth loss {smooth_loss:.2f}, "
                  f"max |hand - autograd| so far {worst_diff:.1e}")
            print("  sample: " + repr("".join(chars[i] for i in drawn)))
        position += args.seq_len
        h_prev = h_last                                            # carried as numbers: the cut of truncated BPTT

    print(json.dumps({"steps": args.steps, "checked": checked, "max_grad_diff": worst_diff,
                      "initial_loss": round(float(initial_loss), 4), "smooth_loss": round(float(smooth_loss), 4),
                      "recent_loss": round(float(np.mean(recent_losses)), 4)}))


if __name__ == "__main__":
    main()
