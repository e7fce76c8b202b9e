"""PyTorch parity fixtures for mg.nn: layers (nn_layers.npz) and losses (nn_losses.npz).

Each case is a dict of float64/int64 input arrays (seeded NumPy), keyword options, and
PyTorch's outputs and gradients. Keys are ``<case>__<array>``. The same ``torch_*`` functions
run the live parity tests, so fixture and live tests check exactly the same thing.

    .venv/bin/python tests/make_fixtures.py nn
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# ------------------------------------------------------------------------------------------------
# Loss cases: name -> (function name, input maker, options)
# ------------------------------------------------------------------------------------------------

REDUCTIONS = ("mean", "sum", "none")


def _ce_inputs(rng: np.random.Generator, shape: tuple, *, ignore: int | None = None, weight: bool = False,
               scale: float = 2.0) -> dict[str, np.ndarray]:
    n_cls = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else shape[:1] + shape[2:]
    target = rng.integers(0, n_cls, size=tshape).astype(np.int64)
    if ignore is not None and target.ndim:
        target.reshape(-1)[::3] = ignore  # every third target is padding
    d = {"input": rng.standard_normal(shape) * scale, "target": target}
    if weight:
        d["weight"] = rng.random(n_cls) + 0.5
    return d


def _pair_inputs(rng: np.random.Generator, shape: tuple, *, probs: bool = False) -> dict[str, np.ndarray]:
    x = rng.standard_normal(shape) * 3
    y = rng.random(shape) if probs else rng.standard_normal(shape)
    if not probs:
        y.reshape(-1)[0] = x.reshape(-1)[0]  # an exact tie: the kink of |x - y|
    return {"input": x, "target": y}


def loss_cases() -> dict[str, tuple[str, dict[str, np.ndarray], dict[str, Any]]]:
    """Every loss case: ``name -> (function, arrays, options)``. Deterministic (seeded)."""
    rng = np.random.default_rng(20240601)
    cases: dict[str, tuple[str, dict[str, np.ndarray], dict[str, Any]]] = {}
    for red in REDUCTIONS:
        opt = {"reduction": red}
        cases[f"ce_2d_{red}"] = ("cross_entropy", _ce_inputs(rng, (6, 5)), opt)
        cases[f"ce_2d_weight_{red}"] = ("cross_entropy", _ce_inputs(rng, (6, 5), weight=True), opt)
        cases[f"ce_2d_ignore_{red}"] = ("cross_entropy", _ce_inputs(rng, (6, 5), ignore=-100), opt)
        cases[f"ce_2d_ignore2_weight_{red}"] = ("cross_entropy", _ce_inputs(rng, (6, 5), ignore=2, weight=True),
                                                {**opt, "ignore_index": 2})
        cases[f"ce_2d_smooth_{red}"] = ("cross_entropy", _ce_inputs(rng, (6, 5), ignore=-100, weight=True),
                                        {**opt, "label_smoothing": 0.2})
        cases[f"ce_3d_{red}"] = ("cross_entropy", _ce_inputs(rng, (3, 4, 5), ignore=-100, weight=True),
                                 {**opt, "label_smoothing": 0.1})
        cases[f"ce_unbatched_{red}"] = ("cross_entropy", _ce_inputs(rng, (5,)), opt)
        probs = _ce_inputs(rng, (4, 5), weight=True)
        p = rng.random((4, 5))
        probs["target"] = p / p.sum(axis=1, keepdims=True)
        cases[f"ce_probs_{red}"] = ("cross_entropy", probs, {**opt, "label_smoothing": 0.1})
        cases[f"bce_{red}"] = ("binary_cross_entropy_with_logits", _pair_inputs(rng, (4, 3), probs=True), opt)
        bce_w = _pair_inputs(rng, (4, 3), probs=True)
        bce_w["weight"] = rng.random((4, 1)) + 0.5
        bce_w["pos_weight"] = rng.random(3) * 3
        cases[f"bce_weight_posweight_{red}"] = ("binary_cross_entropy_with_logits", bce_w, opt)
        cases[f"mse_{red}"] = ("mse_loss", _pair_inputs(rng, (4, 3)), opt)
        cases[f"l1_{red}"] = ("l1_loss", _pair_inputs(rng, (4, 3)), opt)
    cases["ce_4d_mean"] = ("cross_entropy", _ce_inputs(rng, (2, 3, 2, 2), ignore=-100), {"reduction": "mean"})
    cases["ce_extreme_mean"] = ("cross_entropy", _ce_inputs(rng, (4, 3), scale=1000.0), {"reduction": "mean"})
    bce_x = _pair_inputs(rng, (6,), probs=True)
    bce_x["input"] = np.array([1000.0, -1000.0, 50.0, -50.0, 0.0, 1e-3])
    cases["bce_extreme_sum"] = ("binary_cross_entropy_with_logits", bce_x, {"reduction": "sum"})
    for case in cases.values():  # every case names its reduction explicitly
        case[2].setdefault("reduction", "mean")
    return cases


def upstream_grad(name: str, out_shape: tuple) -> np.ndarray:
    """A fixed, non-trivial upstream gradient so that 'none' reductions are tested per element."""
    seed = sum(map(ord, name))
    return np.random.default_rng(seed).standard_normal(out_shape)


def torch_loss(torch: Any, fn: str, arrays: dict[str, np.ndarray], opts: dict[str, Any]) -> dict[str, np.ndarray]:
    """PyTorch's output and input/target gradients for one loss case."""
    tf = torch.nn.functional
    x = torch.tensor(arrays["input"], requires_grad=True)
    tgt_float = arrays["target"].dtype.kind == "f"
    t = torch.tensor(arrays["target"], requires_grad=tgt_float and fn != "cross_entropy")
    kw = dict(opts)
    for k in ("weight", "pos_weight"):
        if k in arrays:
            kw[k] = torch.tensor(arrays[k])
    out = getattr(tf, fn)(x, t, **kw)
    g = upstream_grad(fn + str(sorted(opts.items())), tuple(out.shape))
    out.backward(torch.tensor(g))
    res = {"out": out.detach().numpy(), "gout": g, "grad_input": x.grad.numpy()}
    if t.grad is not None:
        res["grad_target"] = t.grad.numpy()
    return res


# ------------------------------------------------------------------------------------------------
# Layer cases
# ------------------------------------------------------------------------------------------------


def layer_cases() -> dict[str, dict[str, np.ndarray]]:
    """Inputs (and parameters) for each layer case. Deterministic (seeded)."""
    rng = np.random.default_rng(7)
    return {
        "linear": {"weight": rng.standard_normal((3, 4)), "bias": rng.standard_normal(3),
                   "input": rng.standard_normal((2, 5, 4))},
        "linear_nobias": {"weight": rng.standard_normal((3, 4)), "input": rng.standard_normal((6, 4))},
        "linear_1d": {"weight": rng.standard_normal((3, 4)), "bias": rng.standard_normal(3),
                      "input": rng.standard_normal(4)},
        "embedding": {"weight": rng.standard_normal((7, 3)), "input": np.array([[1, 0, 6, 1], [3, 1, 0, 5]])},
        "embedding_pad": {"weight": rng.standard_normal((7, 3)), "input": np.array([[1, 0, 6, 1], [3, 1, 0, 5]]),
                          "padding_idx": np.array(0)},
        "embedding_negpad": {"weight": rng.standard_normal((7, 3)), "input": np.array([2, 6, 6, 4]),
                             "padding_idx": np.array(-1)},
        "tanh": {"input": rng.standard_normal((3, 4)) * 2},
        "sigmoid": {"input": rng.standard_normal((3, 4)) * 2},
        "relu": {"input": rng.standard_normal((3, 4))},
        "softmax": {"input": rng.standard_normal((3, 4, 2)), "dim": np.array(1)},
        "log_softmax": {"input": rng.standard_normal((3, 4)) * 3, "dim": np.array(-1)},
        "flatten": {"input": rng.standard_normal((2, 3, 2, 2))},
    }


def torch_layer(torch: Any, name: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PyTorch's output and gradients (input and parameters) for one layer case."""
    nn = torch.nn
    x = torch.tensor(arrays["input"])
    if x.is_floating_point():
        x.requires_grad_(True)
    kind = name.split("_")[0] if name.startswith(("linear", "embedding")) else name
    if kind == "linear":
        w = arrays["weight"]
        layer = nn.Linear(w.shape[1], w.shape[0], bias="bias" in arrays).double()
    elif kind == "embedding":
        w = arrays["weight"]
        pad = int(arrays["padding_idx"]) if "padding_idx" in arrays else None
        layer = nn.Embedding(w.shape[0], w.shape[1], padding_idx=pad).double()
    elif kind in ("softmax", "log_softmax"):
        layer = (nn.Softmax if kind == "softmax" else nn.LogSoftmax)(dim=int(arrays["dim"]))
    else:
        layer = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "flatten": nn.Flatten}[kind]()
    with torch.no_grad():
        for pname, p in layer.named_parameters():
            p.copy_(torch.tensor(arrays[pname]))
    out = layer(x)
    g = upstream_grad(name, tuple(out.shape))
    out.backward(torch.tensor(g))
    res = {"out": out.detach().numpy(), "gout": g}
    if x.requires_grad:
        res["grad_input"] = x.grad.numpy()
    for pname, p in layer.named_parameters():
        res[f"grad_{pname}"] = p.grad.numpy()
    return res


# ------------------------------------------------------------------------------------------------


def _flatten(cases: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {f"{case}__{k}": np.asarray(v) for case, arrays in cases.items() for k, v in arrays.items()}


def make(fixtures_dir: Path) -> list[Path]:
    import torch

    torch.manual_seed(0)
    losses = {}
    for name, (fn, arrays, opts) in loss_cases().items():
        losses[name] = {**arrays, **torch_loss(torch, fn, arrays, opts)}
    layers = {}
    for name, arrays in layer_cases().items():
        layers[name] = {**arrays, **torch_layer(torch, name, arrays)}
    paths = [fixtures_dir / "nn_losses.npz", fixtures_dir / "nn_layers.npz"]
    np.savez_compressed(paths[0], **_flatten(losses))
    np.savez_compressed(paths[1], **_flatten(layers))
    return paths


def split_fixture(flat: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Inverse of ``_flatten``: ``{case: {array: value}}``."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for key, value in flat.items():
        case, _, name = key.partition("__")
        out.setdefault(case, {})[name] = value
    return out
