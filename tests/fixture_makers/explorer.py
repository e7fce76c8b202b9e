"""PyTorch parity fixture for mg.viz.grad_contributions: a shared weight's gradient split by time step.

PyTorch sums the steps inside ``nn.LSTM``; here its per-step terms come from the same LSTM written
step by step with a fresh leaf copy of every weight at every step (``torch_contributions``): copy
t's gradient is step t's term. File: ``explorer_contributions.npz`` (a few KiB).

    .venv/bin/python tests/make_fixtures.py explorer
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

T, B, I, H = 4, 2, 2, 3
NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def inputs() -> dict[str, np.ndarray]:
    """Seeded float64 weights, input sequence and loss weighting."""
    rng = np.random.default_rng(1907)
    shapes = {"weight_ih": (4 * H, I), "weight_hh": (4 * H, H), "bias_ih": (4 * H,), "bias_hh": (4 * H,)}
    arrays = {name: rng.uniform(-0.6, 0.6, shape) for name, shape in shapes.items()}
    arrays["x"] = rng.standard_normal((T, B, I))
    arrays["head"] = rng.standard_normal((T, B, H))
    return arrays


def torch_contributions(torch, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``name -> (T, *shape)``: step t's term of each weight's gradient, for loss = sum(tanh(out * head))."""
    copies = {n: [torch.tensor(arrays[n], requires_grad=True) for _ in range(T)] for n in NAMES}
    h = torch.zeros(B, H, dtype=torch.float64)
    c = torch.zeros(B, H, dtype=torch.float64)
    outs = []
    for t in range(T):
        gates = (torch.tensor(arrays["x"][t]) @ copies["weight_ih"][t].T + copies["bias_ih"][t]
                 + h @ copies["weight_hh"][t].T + copies["bias_hh"][t])
        i, f, g, o = gates.chunk(4, 1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outs.append(h)
    torch.tanh(torch.stack(outs) * torch.tensor(arrays["head"])).sum().backward()
    return {n: np.stack([copy.grad.numpy() for copy in copies[n]]) for n in NAMES}


def make(fixtures_dir: Path) -> list[Path]:
    import torch

    arrays = inputs()
    terms = torch_contributions(torch, arrays)
    path = fixtures_dir / "explorer_contributions.npz"
    np.savez_compressed(path, **arrays, **{f"terms__{n}": v for n, v in terms.items()})
    return [path]
