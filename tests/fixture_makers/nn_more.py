"""PyTorch parity fixtures for the newer mg.nn pieces (nn_more.npz): losses, activations, norms.

One runner, ``run_case(lib, ...)``, drives either library (``torch`` or ``minigrad``, whose API is
the same), so fixtures, live parity tests and minigrad's side are the very same code. Keys are
``<case>__<array>``; inputs are seeded float64/int64 arrays.

    .venv/bin/python tests/make_fixtures.py nn_more
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fixture_makers.nn import split_fixture, upstream_grad

__all__ = ["functional_cases", "run_case", "batchnorm_cases", "run_batchnorm", "split_fixture", "make"]

REDUCTIONS = ("mean", "sum", "none")

# Which arrays of a case get gradients (the rest are constants: class weights, targets, ...).
GRAD_ARRAYS = {
    "nll_loss": ("input",),
    "binary_cross_entropy": ("input", "target"),
    "smooth_l1_loss": ("input", "target"),
    "huber_loss": ("input", "target", "weight"),
    "kl_div": ("input", "target"),
    "leaky_relu": ("input",), "elu": ("input",), "gelu": ("input",), "softplus": ("input",),
    "layer_norm": ("input", "weight", "bias"),
    "batch_norm": ("input", "weight", "bias"),
}


def _nll_inputs(rng: np.random.Generator, shape: tuple, ignore: int | None = None, weight: bool = False) -> dict:
    n_cls = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else shape[:1] + shape[2:]
    target = rng.integers(0, n_cls, size=tshape).astype(np.int64)
    if ignore is not None and target.ndim:
        target.reshape(-1)[::3] = ignore
    logits = rng.standard_normal(shape)
    d = {"input": logits - np.log(np.exp(logits).sum(axis=0 if len(shape) == 1 else 1, keepdims=True)),
         "target": target}
    if weight:
        d["weight"] = rng.random(n_cls) + 0.5
    return d


def functional_cases() -> dict[str, tuple[str, dict[str, np.ndarray], dict[str, Any]]]:
    """``name -> (function of nn.functional, arrays, keyword options)``. Deterministic (seeded)."""
    rng = np.random.default_rng(20261202)
    cases: dict[str, tuple[str, dict[str, np.ndarray], dict[str, Any]]] = {}
    for red in REDUCTIONS:
        opt = {"reduction": red}
        cases[f"nll_2d_{red}"] = ("nll_loss", _nll_inputs(rng, (6, 5)), opt)
        cases[f"nll_weight_ignore_{red}"] = ("nll_loss", _nll_inputs(rng, (6, 5), ignore=-100, weight=True), opt)
        cases[f"nll_3d_ignore2_{red}"] = ("nll_loss", _nll_inputs(rng, (3, 4, 5), ignore=2, weight=True),
                                          {**opt, "ignore_index": 2})
        cases[f"nll_unbatched_{red}"] = ("nll_loss", _nll_inputs(rng, (5,)), opt)
        probs = rng.uniform(0.02, 0.98, (4, 3))
        cases[f"bce_{red}"] = ("binary_cross_entropy", {"input": probs, "target": rng.random((4, 3))}, opt)
        edge = np.array([[0.0, 1.0, 1e-30], [0.5, 1 - 1e-9, 0.25]])  # the log clamp at -100
        cases[f"bce_weight_edges_{red}"] = ("binary_cross_entropy",
                                            {"input": edge, "target": np.array([[0.3, 0.6, 1.0], [0.0, 1.0, 0.5]]),
                                             "weight": rng.random(3) + 0.5}, opt)
        d = rng.standard_normal((4, 3)) * 2
        cases[f"smooth_l1_{red}"] = ("smooth_l1_loss", {"input": d, "target": rng.standard_normal((4, 3))},
                                     {**opt, "beta": 0.7})
        cases[f"huber_{red}"] = ("huber_loss", {"input": d, "target": rng.standard_normal((4, 3))},
                                 {**opt, "delta": 1.5})
        cases[f"huber_weight_{red}"] = ("huber_loss", {"input": d, "target": rng.standard_normal((4, 3)),
                                                       "weight": rng.random((4, 3))}, {**opt, "delta": 0.5})
        logq = np.log(rng.dirichlet(np.ones(4), size=3))
        p = rng.dirichlet(np.ones(4), size=3)
        p[0, 0] = 0.0  # 0 log 0 = 0
        cases[f"kl_{red}"] = ("kl_div", {"input": logq, "target": p}, opt)
        cases[f"kl_logtarget_{red}"] = ("kl_div", {"input": logq, "target": np.log(rng.dirichlet(np.ones(4), 3))},
                                        {**opt, "log_target": True})
    cases["smooth_l1_beta0_mean"] = ("smooth_l1_loss", {"input": rng.standard_normal(5),
                                                        "target": rng.standard_normal(5)}, {"beta": 0.0})
    cases["kl_batchmean"] = ("kl_div", {"input": np.log(rng.dirichlet(np.ones(4), 3)),
                                        "target": rng.dirichlet(np.ones(4), 3)}, {"reduction": "batchmean"})
    cases["kl_logtarget_batchmean"] = ("kl_div", {"input": np.log(rng.dirichlet(np.ones(4), 3)),
                                                  "target": np.log(rng.dirichlet(np.ones(4), 3))},
                                       {"reduction": "batchmean", "log_target": True})
    x = rng.standard_normal((4, 6)) * 3
    x[0, :4] = [0.0, -40.0, 40.0, 7.5]  # the kinks and both tails
    cases["leaky_relu"] = ("leaky_relu", {"input": x}, {"negative_slope": 0.2})
    cases["elu"] = ("elu", {"input": x}, {"alpha": 1.3})
    cases["gelu"] = ("gelu", {"input": x}, {})
    cases["gelu_tanh"] = ("gelu", {"input": x}, {"approximate": "tanh"})
    cases["softplus"] = ("softplus", {"input": x}, {"beta": 2.0, "threshold": 5.0})
    cases["layer_norm"] = ("layer_norm", {"input": rng.standard_normal((3, 5)) * 2 + 1, "weight": rng.random(5),
                                          "bias": rng.random(5)}, {"normalized_shape": (5,)})
    cases["layer_norm_2dims"] = ("layer_norm", {"input": rng.standard_normal((2, 3, 4, 5)),
                                                "weight": rng.random((4, 5)), "bias": rng.random((4, 5))},
                                 {"normalized_shape": (4, 5), "eps": 1e-3})
    cases["layer_norm_plain"] = ("layer_norm", {"input": rng.standard_normal((2, 3, 4))}, {"normalized_shape": (4,)})
    for name, shape in (("2d", (6, 3)), ("3d", (4, 3, 5))):
        cases[f"batch_norm_train_{name}"] = ("batch_norm", {"input": rng.standard_normal(shape) * 2 + 1,
                                                            "weight": rng.random(3), "bias": rng.random(3),
                                                            "running_mean": rng.standard_normal(3),
                                                            "running_var": rng.random(3) + 0.5},
                                             {"training": True, "momentum": 0.3})
        cases[f"batch_norm_eval_{name}"] = ("batch_norm", {"input": rng.standard_normal(shape),
                                                           "weight": rng.random(3), "bias": rng.random(3),
                                                           "running_mean": rng.standard_normal(3),
                                                           "running_var": rng.random(3) + 0.5},
                                            {"training": False, "eps": 1e-3})
    return cases


def run_case(lib: Any, fn: str, arrays: dict[str, np.ndarray], opts: dict[str, Any], gout: np.ndarray | None = None,
             dtype: Any = np.float64) -> dict[str, np.ndarray]:
    """Output and gradients of ``lib.nn.functional.<fn>`` (lib: torch or minigrad) for one case.

    ``gout`` is the upstream gradient (None: the fixed one of ``upstream_grad``). For
    ``batch_norm`` the updated running statistics are returned too.
    """
    grads = GRAD_ARRAYS[fn]
    t = {}
    for k, a in arrays.items():
        a = a.astype(dtype) if a.dtype.kind == "f" else a
        t[k] = lib.tensor(a, requires_grad=k in grads and a.dtype.kind == "f")
    F = lib.nn.functional
    kw = dict(opts)
    if fn == "layer_norm":
        out = F.layer_norm(t["input"], kw.pop("normalized_shape"), t.get("weight"), t.get("bias"), **kw)
    elif fn == "batch_norm":
        out = F.batch_norm(t["input"], t["running_mean"], t["running_var"], t["weight"], t["bias"], **kw)
    elif fn in ("leaky_relu", "elu", "gelu", "softplus"):
        out = getattr(F, fn)(t["input"], **kw)
    else:
        if "weight" in t:
            kw["weight"] = t["weight"]
        out = getattr(F, fn)(t["input"], t["target"], **kw)
    g = upstream_grad(fn + str(sorted(opts.items())), tuple(out.shape)) if gout is None else gout
    out.backward(lib.tensor(g.astype(dtype)))
    res = {"out": out.detach().numpy(), "gout": g}
    for k in grads:
        if k in t and t[k].requires_grad:
            res[f"grad_{k}"] = t[k].grad.numpy()
    if fn == "batch_norm":
        res["new_running_mean"] = t["running_mean"].numpy()
        res["new_running_var"] = t["running_var"].numpy()
    return res


# ------------------------------------------------------------------------------------------------
# BatchNorm1d over several steps: running statistics, num_batches_tracked, train then eval
# ------------------------------------------------------------------------------------------------

STEPS = 3


def batchnorm_cases() -> dict[str, tuple[dict[str, np.ndarray], dict[str, Any]]]:
    """``name -> (arrays, BatchNorm1d options)``: inputs ``x0..x{STEPS-1}`` for training, ``x_eval``."""
    rng = np.random.default_rng(99)
    cases = {}
    for name, shape, opts in (("momentum", (5, 3), {"momentum": 0.1}),
                              ("cumulative_3d", (4, 3, 6), {"momentum": None}),
                              ("untracked", (5, 3), {"track_running_stats": False}),
                              ("no_affine_3d", (2, 3, 4), {"affine": False, "eps": 1e-2, "momentum": 0.5})):
        arrays = {f"x{i}": rng.standard_normal(shape) * (i + 1) + i for i in range(STEPS)}
        arrays["x_eval"] = rng.standard_normal(shape)
        cases[name] = (arrays, opts)
    return cases


def run_batchnorm(lib: Any, arrays: dict[str, np.ndarray], opts: dict[str, Any]) -> dict[str, np.ndarray]:
    """Train ``STEPS`` steps (forward, backward) then evaluate once; every output, gradient and buffer."""
    c = arrays["x0"].shape[1]
    bn = lib.nn.BatchNorm1d(c, **opts).double()
    if bn.weight is not None:  # non-trivial affine parameters
        with lib.no_grad():
            bn.weight.copy_(lib.tensor(np.linspace(0.5, 1.5, c)))
            bn.bias.copy_(lib.tensor(np.linspace(-1.0, 1.0, c)))
    res: dict[str, np.ndarray] = {}
    for i in range(STEPS):
        x = lib.tensor(arrays[f"x{i}"], requires_grad=True)
        out = bn(x)
        g = upstream_grad(f"bn{i}", tuple(out.shape))
        out.backward(lib.tensor(g))
        res[f"out{i}"], res[f"grad_x{i}"] = out.detach().numpy(), x.grad.numpy()
        for name, buf in bn.state_dict().items():
            res[f"state{i}_{name}"] = np.asarray(buf.numpy())
    if bn.weight is not None:
        res["grad_weight"], res["grad_bias"] = bn.weight.grad.numpy(), bn.bias.grad.numpy()
    bn.eval()
    x = lib.tensor(arrays["x_eval"], requires_grad=True)
    out = bn(x)
    out.backward(lib.tensor(upstream_grad("bn_eval", tuple(out.shape))))
    res["out_eval"], res["grad_x_eval"] = out.detach().numpy(), x.grad.numpy()
    return res


# ------------------------------------------------------------------------------------------------


def _flatten(cases: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {f"{case}__{k}": np.asarray(v) for case, arrays in cases.items() for k, v in arrays.items()}


def make(fixtures_dir: Path) -> list[Path]:
    import torch

    flat: dict[str, dict[str, np.ndarray]] = {}
    for name, (fn, arrays, opts) in functional_cases().items():
        flat[name] = {**arrays, **run_case(torch, fn, arrays, opts)}
    for name, (arrays, opts) in batchnorm_cases().items():
        flat[f"bn_{name}"] = {**arrays, **run_batchnorm(torch, arrays, opts)}
    path = fixtures_dir / "nn_more.npz"
    np.savez_compressed(path, **_flatten(flat))
    return [path]
