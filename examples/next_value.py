"""Forecast the next value of a noisy periodic series with an LSTM.

The series is two sines plus noise::

    s_t = sin(2 pi t / 25) + 0.5 sin(2 pi t / 9) + noise,   noise ~ N(0, 0.1^2)

Every window of ``--seq-len`` consecutive values is an input sequence; the value right after it is
the target. The first 80% of the series trains, the last 20% tests (windows never straddle the
split). Model: ``mg.nn.LSTM(1, hidden, batch_first=True)``, then ``mg.nn.Linear(hidden, 1)`` on
the last hidden state; loss MSE; ``mg.optim.Adam(lr=0.01)``.

The baseline is the naive forecast "tomorrow = today" (the last value of the window). A model
that has learnt the periods beats it by far; the noise itself (variance 0.01) is the floor no
forecast can go below. With ``--plot``, a plot of prediction vs truth on the test part is saved to
``out/next_value.png`` (needs matplotlib: ``pip install 'minigrad[plots]'``).

    python examples/next_value.py [--steps N] [--seed S] [--seq-len W] [--plot]

Last line of stdout: JSON with ``test_mse``, ``baseline_mse`` (and ``noise_var``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

import minigrad as mg


def minigrad_only(**options):
    """Options only minigrad understands (``impl=``: fused kernels or the textbook reference); they are
    left out when this script runs on PyTorch (``import torch as mg``)."""
    return options if mg.__name__ == "minigrad" else {}

NOISE = 0.1


def make_series(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (np.sin(2 * np.pi * t / 25) + 0.5 * np.sin(2 * np.pi * t / 9) + rng.normal(0, NOISE, n)).astype(np.float32)


def windows(series: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, width, 1) inputs and (N, 1) next values."""
    idx = np.arange(len(series) - width)[:, None] + np.arange(width)
    return series[idx][:, :, None], series[width:][:, None]


class Forecaster(mg.nn.Module):
    def __init__(self, hidden: int, impl: str) -> None:
        super().__init__()
        self.lstm = mg.nn.LSTM(1, hidden, batch_first=True, **minigrad_only(impl=impl))
        self.head = mg.nn.Linear(hidden, 1)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        _, (h_n, _) = self.lstm(x)     # h_n: (1, batch, hidden), the state after the last value
        return self.head(h_n[0])       # (batch, 1)


def load_pyplot(ap: argparse.ArgumentParser):
    """matplotlib's pyplot (drawing to files only), or a clear command-line error when it is missing.

    Checked before training, so that a missing package does not cost the training run."""
    try:
        import matplotlib
    except ImportError:
        ap.error("--plot needs matplotlib, which minigrad does not install by default: "
                 "pip install 'minigrad[plots]' (or pip install matplotlib)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def main() -> None:
    ap = argparse.ArgumentParser(description="LSTM forecasting of a noisy periodic series.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--steps", type=int, default=600, help="training steps (batches)")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    ap.add_argument("--length", type=int, default=2000, help="length of the series")
    ap.add_argument("--seq-len", type=int, default=30, help="values per input sequence (time steps)")
    ap.add_argument("--hidden", type=int, default=32, help="LSTM hidden size")
    ap.add_argument("--batch", type=int, default=32, help="sequences per training step")
    ap.add_argument("--lr", type=float, default=0.01, help="Adam learning rate")
    ap.add_argument("--impl", choices=["fused", "reference"], default="fused", help="LSTM implementation")
    ap.add_argument("--plot", action="store_true", help="save a plot of the test forecast (needs matplotlib)")
    ap.add_argument("--out", default="out", help="directory for the plot")
    args = ap.parse_args()
    plt = load_pyplot(ap) if args.plot else None

    mg.manual_seed(args.seed)
    series = make_series(args.length, args.seed)
    split = int(0.8 * len(series))
    x_train, y_train = windows(series[:split], args.seq_len)
    x_test, y_test = windows(series[split:], args.seq_len)

    model = Forecaster(args.hidden, args.impl)
    opt = mg.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = mg.nn.MSELoss()
    rng = np.random.default_rng(args.seed)
    bar = tqdm(range(args.steps), desc="training")
    for step in bar:
        i = rng.integers(0, len(x_train), args.batch)
        loss = loss_fn(model(mg.tensor(x_train[i])), mg.tensor(y_train[i]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 0:
            bar.set_postfix(mse=f"{loss.item():.4f}")
    bar.close()

    with mg.no_grad():
        pred = model(mg.tensor(x_test)).numpy()
    test_mse = float(np.mean((pred - y_test) ** 2))
    baseline = float(np.mean((x_test[:, -1] - y_test) ** 2))     # "tomorrow = today"
    print(f"test windows: {len(y_test)}")
    print(f"  LSTM forecast        MSE = {test_mse:.4f}")
    print(f"  naive last value     MSE = {baseline:.4f}")
    print(f"  noise variance (floor)   = {NOISE ** 2:.4f}")

    if plt is not None:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        n = min(200, len(y_test))
        fig, ax = plt.subplots(figsize=(10, 3.5))
        ax.plot(y_test[:n, 0], label="truth", color="black", lw=1)
        ax.plot(pred[:n, 0], label=f"LSTM (MSE {test_mse:.3f})", color="tab:blue")
        ax.plot(x_test[:n, -1, 0], label=f"last value (MSE {baseline:.3f})", color="tab:orange", lw=0.8, ls="--")
        ax.set_xlabel("test step")
        ax.legend(loc="upper right")
        fig.tight_layout()
        fig.savefig(out / "next_value.png", dpi=120)
        print(f"plot written to {out / 'next_value.png'}")

    print(json.dumps({"test_mse": test_mse, "baseline_mse": baseline, "noise_var": NOISE ** 2, "steps": args.steps}))


if __name__ == "__main__":
    main()
