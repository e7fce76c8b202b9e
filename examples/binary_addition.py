"""An RNN learns binary addition, one bit per time step, keeping the carry in its hidden state.

Two 8-bit numbers are fed least significant bit first: at step t the input is (a_t, b_t) and the
target is the t-th bit of a + b. A 9th step with input (0, 0) outputs the final carry, so all
9-bit sums are representable. The sum bit depends on a_t, b_t *and the carry from step t-1* -
something the network has to remember, so it must learn to keep it in h_t::

    s_t     = a_t XOR b_t XOR carry_{t-1}
    carry_t = majority(a_t, b_t, carry_{t-1})

Model: ``mg.nn.RNN(2, hidden)`` (tanh) -> ``mg.nn.Linear(hidden, 1)``, loss
``BCEWithLogitsLoss``, Adam. 1,000 pairs are held out (never trained on); ``accuracy`` is the
fraction of them whose 9 sum bits are all right. After training, the script prints h_t next to
the carry bit for one example and how well the hidden state tracks the carry on the held-out
pairs (the correlation of the most carry-like hidden unit, and the accuracy of reading the
carry off h_t with one threshold).

    python examples/binary_addition.py [--steps N] [--seed S] [--hidden H]

Last line of stdout: JSON with ``accuracy`` (1.0 with the defaults), ``bit_accuracy``,
``carry_corr`` and ``final_loss``.
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

BITS = 8
STEPS = BITS + 1  # one more step for the final carry


def to_bits(n: np.ndarray, width: int) -> np.ndarray:
    """Integers -> (len(n), width) bits, least significant first."""
    return (n[:, None] >> np.arange(width)) & 1


def make_batch(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (batch, 9, 2), target sum bits (batch, 9, 1) and carry bits (batch, 9), LSB first."""
    x = np.zeros((len(a), STEPS, 2), dtype=np.float32)
    x[:, :BITS, 0] = to_bits(a, BITS)
    x[:, :BITS, 1] = to_bits(b, BITS)
    y = to_bits(a + b, STEPS).astype(np.float32)[:, :, None]
    # carry_t = 1 when the sum of the low t+1 bits overflows t+1 bits
    low = (1 << np.arange(1, STEPS + 1))
    carry = (((a[:, None] % low) + (b[:, None] % low)) >= low).astype(np.float32)
    return x, y, carry


class Adder(mg.nn.Module):
    def __init__(self, hidden: int, impl: str) -> None:
        super().__init__()
        self.rnn = mg.nn.RNN(2, hidden, batch_first=True, **minigrad_only(impl=impl))
        self.out = mg.nn.Linear(hidden, 1)

    def forward(self, x: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        h, _ = self.rnn(x)        # h: (batch, 9, hidden) - every h_t
        return self.out(h), h     # logits of the sum bits, and the hidden states


def split_pairs(seed: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    """All 65,536 (a, b) pairs, shuffled: n_test held out, the rest for training."""
    rng = np.random.default_rng(seed)
    pairs = np.stack(np.meshgrid(np.arange(256), np.arange(256), indexing="ij"), -1).reshape(-1, 2)
    rng.shuffle(pairs)
    return pairs[n_test:], pairs[:n_test]


def evaluate(model: Adder, pairs: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
    x, y, carry = make_batch(pairs[:, 0], pairs[:, 1])
    with mg.no_grad():
        logits, h = model(mg.tensor(x))
    pred = logits.numpy() > 0
    correct = pred == (y > 0.5)
    return float(correct.all(axis=(1, 2)).mean()), float(correct.mean()), h.numpy(), carry, pred


def main() -> None:
    ap = argparse.ArgumentParser(description="An RNN learns to add two 8-bit numbers bit by bit.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--steps", type=int, default=1500, help="training steps (batches)")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    ap.add_argument("--hidden", type=int, default=16, help="RNN hidden size")
    ap.add_argument("--batch", type=int, default=64, help="sums per training step")
    ap.add_argument("--lr", type=float, default=0.01, help="Adam learning rate")
    ap.add_argument("--impl", choices=["fused", "reference"], default="fused", help="RNN implementation")
    args = ap.parse_args()

    mg.manual_seed(args.seed)
    train, test = split_pairs(args.seed, 1000)
    rng = np.random.default_rng(args.seed + 1)
    model = Adder(args.hidden, args.impl)
    opt = mg.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = mg.nn.BCEWithLogitsLoss()

    bar = tqdm(range(args.steps), desc="training")
    loss_avg = None
    for step in bar:
        batch = train[rng.integers(0, len(train), args.batch)]
        x, y, _ = make_batch(batch[:, 0], batch[:, 1])
        logits, _ = model(mg.tensor(x))
        loss = loss_fn(logits, mg.tensor(y))
        opt.zero_grad()
        loss.backward()                       # BPTT through the 9 steps
        opt.step()
        loss_avg = loss.item() if loss_avg is None else 0.95 * loss_avg + 0.05 * loss.item()
        if step % 25 == 0:
            bar.set_postfix(loss=f"{loss_avg:.4f}")
    bar.close()

    acc, bit_acc, h, carry, pred = evaluate(model, test)
    print(f"held-out pairs: {len(test)}, all 9 bits right: {acc:.4f}, bits right: {bit_acc:.4f}")

    # Which hidden unit tracks the carry best? Correlate every unit with carry_t over all held-out steps.
    H = h.reshape(-1, h.shape[-1])
    C = carry.reshape(-1)
    corr = np.array([np.corrcoef(H[:, k], C)[0, 1] if H[:, k].std() > 0 else 0.0 for k in range(H.shape[1])])
    k = int(np.nanargmax(np.abs(corr)))
    sign = np.sign(corr[k])
    # Read the carry off that one unit with one threshold (midpoint between the two class means).
    thr = 0.5 * (H[C == 1, k].mean() + H[C == 0, k].mean())
    probe_acc = float(((sign * (H[:, k] - thr) > 0) == (C == 1)).mean())

    a, b = int(test[0, 0]), int(test[0, 1])
    print(f"\nOne held-out example: {a} + {b} = {a + b}  (bits least significant first)")
    print(f"{'t':>2} {'a_t':>3} {'b_t':>3} {'carry_t':>7} {'sum bit':>7} {'predicted':>9} {f'h_t[{k}]':>8}")
    for t in range(STEPS):
        at, bt = (a >> t) & 1 if t < BITS else 0, (b >> t) & 1 if t < BITS else 0
        print(f"{t:>2} {at:>3} {bt:>3} {int(carry[0, t]):>7} {((a + b) >> t) & 1:>7} {int(pred[0, t, 0]):>9} "
              f"{h[0, t, k]:>8.3f}")
    print(f"\nHidden unit {k} is the carry detector: correlation with carry_t = {corr[k]:+.3f} over "
          f"{len(C):,} held-out steps; thresholding it at {thr:+.3f} gives the carry right {probe_acc:.1%} "
          "of the time.")

    print(json.dumps({"accuracy": acc, "bit_accuracy": bit_acc, "carry_corr": float(abs(corr[k])),
                      "carry_probe_accuracy": probe_acc, "final_loss": loss_avg, "steps": args.steps}))


if __name__ == "__main__":
    main()
