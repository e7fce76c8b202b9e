"""PyTorch parity fixtures for mg.optim: optimizer trajectories and learning-rate schedules.

- ``optim_traj.npz``: for every optimizer configuration of ``OPTIM_CONFIGS``, 25 steps of
  torch.optim on two problems, recording the parameters after every step:

  * ``fn``: a fixed deterministic "loss" whose gradient both sides compute with the same NumPy
    code (``fn_grads``): ``L(p) = sum_i sum(c_i * sin(p_i) + d_i * p_i^2 / 2)``, so
    ``grad_i = c_i * cos(p_i) + d_i * p_i``. Parameter 3 gets no gradient (``.grad = None``) on
    every third step, so "skip parameters without a gradient" is checked too.
  * ``rnn``: a small Elman RNN written with core ops (``rnn_loss``), gradients from autograd.

- ``optim_sched.npz``: for every scheduler of ``SCHED_CONFIGS``, the learning rate of each
  parameter group at construction and after each of 30 ``step()`` calls.

- ``optim_clip.npz``: ``clip_grad_norm_`` (every case of ``CLIP_CASES``) and ``clip_grad_value_``
  on fixed gradients: the total norm and the clipped gradients.

The live tests (tests/test_optim.py, tests/test_lr_scheduler.py) import the same configurations
and functions, so fixture and live tests check exactly the same thing.

    .venv/bin/python tests/make_fixtures.py optim
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

N_STEPS = 25
N_SCHED_STEPS = 30

# ------------------------------------------------------------------------------------------------
# Optimizer configurations: name -> (class name, keyword arguments, param groups or None)
# A param-group spec is a list of (parameter indices, overrides of the keyword arguments).
# ------------------------------------------------------------------------------------------------

OPTIM_CONFIGS: dict[str, tuple[str, dict[str, Any], list | None]] = {
    "sgd": ("SGD", dict(lr=0.1), None),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9), None),
    "sgd_dampening": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3), None),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), None),
    "sgd_weight_decay": ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.01), None),
    "sgd_wd_nesterov_maximize": ("SGD", dict(lr=0.01, momentum=0.8, weight_decay=0.1, nesterov=True,
                                             maximize=True), None),
    "sgd_groups": ("SGD", dict(lr=0.1, momentum=0.9),
                   [([0, 1], {}), ([2, 3], dict(lr=0.02, momentum=0.5, dampening=0.1))]),
    "adam": ("Adam", dict(lr=0.01), None),
    "adam_weight_decay": ("Adam", dict(lr=0.01, weight_decay=0.1), None),
    "adam_amsgrad": ("Adam", dict(lr=0.01, betas=(0.8, 0.99), amsgrad=True), None),
    "adam_amsgrad_wd_maximize": ("Adam", dict(lr=0.005, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.05,
                                              amsgrad=True, maximize=True), None),
    "adam_low_beta1": ("Adam", dict(lr=0.02, betas=(0.3, 0.6)), None),  # lerp weight 0.7 >= 0.5
    "adamw": ("AdamW", dict(lr=0.01, weight_decay=0.1), None),
    "adamw_default_wd": ("AdamW", dict(lr=0.01), None),
    "adamw_amsgrad": ("AdamW", dict(lr=0.01, weight_decay=0.05, amsgrad=True), None),
    "adam_groups": ("Adam", dict(lr=0.01),
                    [([0, 2], {}), ([1, 3], dict(lr=0.003, weight_decay=0.1, amsgrad=True))]),
}


def make_optimizer(lib: Any, name: str, params: list) -> Any:
    """Build configuration ``name`` with ``lib.optim`` (torch or minigrad) over ``params``."""
    cls_name, kwargs, groups = OPTIM_CONFIGS[name]
    cls = getattr(lib.optim, cls_name)
    if groups is None:
        return cls(params, **kwargs)
    return cls([{"params": [params[i] for i in idx], **over} for idx, over in groups], **kwargs)


# ------------------------------------------------------------------------------------------------
# Problem "fn": a deterministic function, gradients computed in NumPy by both sides
# ------------------------------------------------------------------------------------------------

FN_SHAPES = [(4, 3), (5,), (2, 3, 2), ()]
SKIPPED_PARAM = 3  # gets grad None when step % 3 == 1


def fn_problem() -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Initial parameters and the coefficients c_i, d_i of the loss (float64, seeded)."""
    rng = np.random.default_rng(1234)
    p0 = [rng.standard_normal(s) for s in FN_SHAPES]
    c = [rng.uniform(0.5, 2.0, s) for s in FN_SHAPES]
    d = [rng.uniform(0.05, 0.3, s) for s in FN_SHAPES]
    return p0, c, d


def fn_grads(params: list[np.ndarray], c: list[np.ndarray], d: list[np.ndarray], step: int) -> list:
    """grad_i = c_i cos(p_i) + d_i p_i, and None for the skipped parameter on every third step."""
    return [None if (i == SKIPPED_PARAM and step % 3 == 1) else ci * np.cos(p) + di * p
            for i, (p, ci, di) in enumerate(zip(params, c, d))]


# ------------------------------------------------------------------------------------------------
# Problem "rnn": an Elman RNN written with core ops, the same code for torch and minigrad
# ------------------------------------------------------------------------------------------------

RNN_NAMES = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_out", "bias_out"]
RNN_T, RNN_B, RNN_IN, RNN_H, RNN_OUT = 5, 2, 3, 4, 2


def rnn_problem() -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Initial weights, inputs x[step] of shape (T, B, in) and targets y[step] of shape (B, out)."""
    rng = np.random.default_rng(4321)
    shapes = [(RNN_H, RNN_IN), (RNN_H, RNN_H), (RNN_H,), (RNN_H,), (RNN_OUT, RNN_H), (RNN_OUT,)]
    weights = [rng.uniform(-0.6, 0.6, s) for s in shapes]
    x = rng.standard_normal((N_STEPS, RNN_T, RNN_B, RNN_IN))
    y = rng.standard_normal((N_STEPS, RNN_B, RNN_OUT))
    return weights, x, y


def rnn_loss(lib: Any, params: list, x: Any, y: Any) -> Any:
    """``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``; loss = mean((h_T W_out^T + b_out - y)^2).

    ``lib`` is torch or minigrad; ``x`` (T, B, in) and ``y`` (B, out) are tensors of that library.
    """
    w_ih, w_hh, b_ih, b_hh, w_out, b_out = params
    h = None
    for t in range(x.shape[0]):
        a = x[t] @ w_ih.T + b_ih + b_hh
        if h is not None:
            a = a + h @ w_hh.T
        h = lib.tanh(a)
    out = h @ w_out.T + b_out
    return ((out - y) ** 2).mean()


# ------------------------------------------------------------------------------------------------
# Scheduler configurations: name -> (class name, keyword arguments, number of param groups)
# ------------------------------------------------------------------------------------------------


def warmup_then_decay(epoch: int) -> float:
    """A LambdaLR factor: 5 epochs of linear warm-up, then 0.9 per epoch, with a bump every 7th."""
    base = (epoch + 1) / 5 if epoch < 5 else 0.9 ** (epoch - 5)
    return base * (1.5 if epoch % 7 == 6 else 1.0)


def constant_095(epoch: int) -> float:
    return 0.95


SCHED_CONFIGS: dict[str, tuple[str, dict[str, Any], int]] = {
    "step": ("StepLR", dict(step_size=7, gamma=0.5), 2),
    "step_size1": ("StepLR", dict(step_size=1, gamma=0.9), 1),
    "multistep": ("MultiStepLR", dict(milestones=[5, 12, 12, 20], gamma=0.3), 1),
    "exponential": ("ExponentialLR", dict(gamma=0.9), 2),
    "cosine": ("CosineAnnealingLR", dict(T_max=10), 1),
    "cosine_eta_min": ("CosineAnnealingLR", dict(T_max=7, eta_min=0.001), 2),
    "lambda": ("LambdaLR", dict(lr_lambda=warmup_then_decay), 2),
    "multiplicative": ("MultiplicativeLR", dict(lr_lambda=constant_095), 1),
    "linear": ("LinearLR", dict(start_factor=0.2, end_factor=0.9, total_iters=8), 2),
    "constant": ("ConstantLR", dict(factor=0.5, total_iters=4), 1),
    "onecycle": ("OneCycleLR", dict(max_lr=0.5, total_steps=31), 1),
    "onecycle_linear_3phase": ("OneCycleLR", dict(max_lr=[0.5, 0.2], total_steps=40, anneal_strategy="linear",
                                                  three_phase=True, pct_start=0.25), 2),
    "plateau": ("ReduceLROnPlateau", dict(factor=0.5, patience=2), 2),
    "plateau_max_abs_cooldown": ("ReduceLROnPlateau", dict(mode="max", factor=0.3, patience=1,
                                                           threshold=0.05, threshold_mode="abs", cooldown=2,
                                                           min_lr=[0.01, 0.0]), 2),
}
SCHED_BASE_LRS = [0.1, 0.03]


def plateau_metrics() -> list[float]:
    """A validation curve with plateaus and noise (the metric given to ReduceLROnPlateau.step)."""
    rng = np.random.default_rng(99)
    curve = np.concatenate([np.linspace(1.0, 0.6, 8), np.full(6, 0.6), np.linspace(0.6, 0.5, 6),
                            np.full(10, 0.5)])
    return [float(v) for v in curve + rng.normal(0, 0.005, curve.shape)]


def make_scheduler_setup(lib: Any, name: str) -> tuple[Any, Any]:
    """(optimizer, scheduler) of configuration ``name`` with ``lib`` (torch or minigrad)."""
    cls_name, kwargs, n_groups = SCHED_CONFIGS[name]
    params = [lib.zeros(2, requires_grad=True) for _ in range(n_groups)]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, SCHED_BASE_LRS)]
    opt_cls = lib.optim.Adam if cls_name == "OneCycleLR" and "three_phase" not in kwargs else lib.optim.SGD
    opt = opt_cls(groups, lr=0.1, momentum=0.9) if opt_cls is lib.optim.SGD else opt_cls(groups, lr=0.1)
    sched = getattr(lib.optim.lr_scheduler, cls_name)(opt, **kwargs)
    return opt, sched


def run_schedule(lib: Any, name: str, n_steps: int = N_SCHED_STEPS) -> np.ndarray:
    """Learning rates (n_steps + 1, n_groups): after construction, then after each step.

    For OneCycleLR the cycled momentum (SGD) or beta1 (Adam) is appended as extra columns.
    """
    opt, sched = make_scheduler_setup(lib, name)
    metrics = plateau_metrics()
    rows = [_row(opt)]
    for i in range(n_steps):
        opt.step()  # no gradients: nothing moves, but the call order is the recommended one
        if SCHED_CONFIGS[name][0] == "ReduceLROnPlateau":
            sched.step(metrics[i])
        else:
            sched.step()
        rows.append(_row(opt))
    return np.array(rows, dtype=np.float64)


def _row(opt: Any) -> list[float]:
    row = [float(g["lr"]) for g in opt.param_groups]
    for g in opt.param_groups:
        if "max_momentum" in g:  # OneCycleLR cycles the momentum as well
            row.append(float(g["betas"][0] if "betas" in g else g["momentum"]))
    return row


# ------------------------------------------------------------------------------------------------
# Gradient clipping: name -> (norm_type, max_norm); gradients from clip_grads()
# ------------------------------------------------------------------------------------------------

CLIP_CASES: dict[str, tuple[float, float]] = {
    "l2": (2.0, 1.0),
    "l2_no_clip": (2.0, 100.0),  # norm below max_norm: gradients must stay exactly as they were
    "inf": (math.inf, 0.5),
    "neg_inf": (-math.inf, 0.01),
    "l1": (1.0, 2.0),
    "l3": (3.0, 0.7),
    "l_half": (0.5, 5.0),
    "l0": (0.0, 3.0),
}
CLIP_VALUE = 0.4


def clip_grads() -> list[np.ndarray]:
    """Gradients of three parameters (a fourth parameter has none); one exact zero for p=0."""
    rng = np.random.default_rng(77)
    grads = [rng.standard_normal(s) * k for s, k in (((3, 4), 1.0), ((5,), 3.0), ((2, 2, 2), 0.1))]
    grads[0][1, 2] = 0.0
    return grads


# ------------------------------------------------------------------------------------------------
# Running torch
# ------------------------------------------------------------------------------------------------


def torch_clip(torch: Any, name: str | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(total norm, clipped grads) of torch.nn.utils.clip_grad_norm_ (name) or clip_grad_value_ (None)."""
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in clip_grads()]
    params.append(torch.zeros(2, dtype=torch.float64, requires_grad=True))  # no grad
    for p, g in zip(params, clip_grads()):
        p.grad = torch.tensor(g)
    if name is None:
        torch.nn.utils.clip_grad_value_(params, CLIP_VALUE)
        total = np.array(np.nan)
    else:
        norm_type, max_norm = CLIP_CASES[name]
        total = torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type).numpy()
    return total, [p.grad.numpy().copy() for p in params[:3]]


def torch_fn_trajectory(torch: Any, name: str, dtype: Any = None) -> list[np.ndarray]:
    """torch.optim on problem "fn": per parameter, an array (N_STEPS, *shape) of values after each step."""
    dtype = dtype or torch.float64
    p0, c, d = fn_problem()
    params = [torch.tensor(p, dtype=dtype, requires_grad=True) for p in p0]
    opt = make_optimizer(torch, name, params)
    traj: list[list[np.ndarray]] = [[] for _ in params]
    for step in range(N_STEPS):
        grads = fn_grads([p.detach().numpy().astype(np.float64) for p in params], c, d, step)
        for p, g in zip(params, grads):
            p.grad = None if g is None else torch.tensor(g, dtype=dtype)
        opt.step()
        for i, p in enumerate(params):
            traj[i].append(p.detach().numpy().astype(np.float64).copy())
    return [np.stack(t) for t in traj]


def torch_rnn_trajectory(torch: Any, name: str, dtype: Any = None) -> list[np.ndarray]:
    """torch.optim on problem "rnn" (gradients by torch autograd), values after each step."""
    dtype = dtype or torch.float64
    w0, x, y = rnn_problem()
    params = [torch.tensor(w, dtype=dtype, requires_grad=True) for w in w0]
    opt = make_optimizer(torch, name, params)
    traj: list[list[np.ndarray]] = [[] for _ in params]
    for step in range(N_STEPS):
        opt.zero_grad()
        rnn_loss(torch, params, torch.tensor(x[step], dtype=dtype), torch.tensor(y[step], dtype=dtype)).backward()
        opt.step()
        for i, p in enumerate(params):
            traj[i].append(p.detach().numpy().astype(np.float64).copy())
    return [np.stack(t) for t in traj]


def config_fingerprint() -> str:
    """A JSON text of every configuration: the tests compare it to detect stale fixture files."""
    return json.dumps({"optim": {k: [c, v, g] for k, (c, v, g) in OPTIM_CONFIGS.items()},
                       "sched": {k: [c, {a: getattr(b, "__name__", b) for a, b in v.items()}, n]
                                 for k, (c, v, n) in SCHED_CONFIGS.items()},
                       "clip": [CLIP_CASES, CLIP_VALUE],
                       "steps": [N_STEPS, N_SCHED_STEPS]}, sort_keys=True, default=str)


def make(fixtures_dir: Path) -> list[Path]:
    import torch

    torch.set_default_dtype(torch.float64)  # zeros() of the scheduler setups; initial lrs stay floats
    try:
        traj: dict[str, np.ndarray] = {"config": np.array(config_fingerprint())}
        for name in OPTIM_CONFIGS:
            for i, t in enumerate(torch_fn_trajectory(torch, name)):
                traj[f"{name}__fn__{i}"] = t
            for i, t in enumerate(torch_rnn_trajectory(torch, name)):
                traj[f"{name}__rnn__{i}"] = t
        sched: dict[str, np.ndarray] = {"config": np.array(config_fingerprint())}
        for name in SCHED_CONFIGS:
            sched[name] = run_schedule(torch, name)
        clip: dict[str, np.ndarray] = {"config": np.array(config_fingerprint())}
        for name in [*CLIP_CASES, None]:
            total, grads = torch_clip(torch, name)
            key = name or "value"
            clip[f"{key}__total"] = total
            for i, g in enumerate(grads):
                clip[f"{key}__grad{i}"] = g
    finally:
        torch.set_default_dtype(torch.float32)
    paths = [fixtures_dir / "optim_traj.npz", fixtures_dir / "optim_sched.npz", fixtures_dir / "optim_clip.npz"]
    for path, arrays in zip(paths, (traj, sched, clip)):
        np.savez_compressed(path, **arrays)
    return paths
