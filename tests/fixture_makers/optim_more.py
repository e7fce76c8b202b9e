"""PyTorch parity fixtures for RMSprop, Adagrad, Adadelta and LBFGS: ``optim_more.npz``.

- For every configuration of ``MORE_CONFIGS`` (RMSprop / Adagrad / Adadelta), 25 steps of
  torch.optim on the two problems of tests/fixture_makers/optim.py (``fn``: NumPy gradients, one
  parameter skipped every third step; ``rnn``: an Elman RNN), in float64 and float32, recording
  the parameters after every step (float32 runs are stored as float32).
- For every configuration of ``LBFGS_CONFIGS``, 20 ``step(closure)`` calls of torch.optim.LBFGS
  on a problem of ``LBFGS_PROBLEMS`` (the Rosenbrock function, or a small LSTM + Linear
  regression), recording the loss each call returns and the parameters after it.

tests/test_optim_more.py runs the same configurations with minigrad against these arrays, and
against live torch when it is installed.

    .venv/bin/python tests/make_fixtures.py optim_more
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fixture_makers.optim import N_STEPS, fn_grads, fn_problem, rnn_loss, rnn_problem

# name -> (class name, keyword arguments, param groups or None); groups as in fixture_makers.optim
MORE_CONFIGS: dict[str, tuple[str, dict[str, Any], list | None]] = {
    "rmsprop": ("RMSprop", dict(lr=0.01), None),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=0.005, alpha=0.9, momentum=0.8, centered=True), None),
    "rmsprop_wd_maximize": ("RMSprop", dict(lr=0.003, eps=1e-6, weight_decay=0.1, momentum=0.5, maximize=True),
                            None),
    # centered with alpha=0.4: grad_avg's lerp weight 0.6 >= 0.5 takes torch.lerp's other formula
    "rmsprop_groups": ("RMSprop", dict(lr=0.01, alpha=0.3),
                       [([0, 1], {}), ([2, 3], dict(lr=0.002, alpha=0.4, eps=1e-3, centered=True))]),
    "adagrad": ("Adagrad", dict(lr=0.05), None),
    "adagrad_lr_decay": ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1), None),
    "adagrad_wd_maximize": ("Adagrad", dict(lr=0.02, weight_decay=0.2, eps=1e-6, maximize=True), None),
    "adadelta": ("Adadelta", dict(), None),
    "adadelta_rho_wd": ("Adadelta", dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1), None),
    "adadelta_maximize_groups": ("Adadelta", dict(lr=2.0, maximize=True),
                                 [([0, 2], {}), ([1, 3], dict(rho=0.95, weight_decay=0.05))]),
}
DTYPES = ["float64", "float32"]
# The fixture keeps the parameters after these steps only (the live tests compare every step),
# so that the file stays small: random numbers do not compress.
FIXTURE_STEPS = [0, 1, 2, 4, 9, 14, 19, 24]

# name -> (problem, keyword arguments of LBFGS)
LBFGS_CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "rosenbrock": ("rosenbrock", dict(lr=0.1, max_iter=5)),
    "rosenbrock_wolfe": ("rosenbrock", dict(max_iter=5, line_search_fn="strong_wolfe")),
    "rosenbrock_wolfe_small_history": ("rosenbrock", dict(max_iter=8, max_eval=9, history_size=2,
                                                          line_search_fn="strong_wolfe")),
    "lstm": ("lstm", dict(lr=0.5, max_iter=4, history_size=5)),
    "lstm_wolfe": ("lstm", dict(max_iter=4, line_search_fn="strong_wolfe")),
}
LBFGS_STEPS = 20
# In float32 the Rosenbrock valley amplifies last-bit differences (torch's vectorised sqrt, sums
# and fused multiply-adds round differently from NumPy's) until the two runs take different paths
# to the minimum after a few iterations: float32 parity there is checked on the first steps only.
ROSENBROCK_FLOAT32_STEPS = 2
FIXTURE_LBFGS_STEPS = [0, 1, 2, 4, 9, 14, 19]
LSTM_SIZES = dict(T=4, B=3, n_in=3, hidden=4, n_out=2)


def make_more_optimizer(lib: Any, name: str, params: list) -> Any:
    """Build configuration ``name`` of MORE_CONFIGS with ``lib.optim`` (torch or minigrad)."""
    cls_name, kwargs, groups = MORE_CONFIGS[name]
    cls = getattr(lib.optim, cls_name)
    if groups is None:
        return cls(params, **kwargs)
    return cls([{"params": [params[i] for i in idx], **over} for idx, over in groups], **kwargs)


# ------------------------------------------------------------------------------------------------
# The two trajectory problems, for torch (the minigrad side is in tests/test_optim_more.py)
# ------------------------------------------------------------------------------------------------


def torch_fn_trajectory(torch: Any, name: str, dtype: str) -> list[np.ndarray]:
    """torch.optim on problem "fn": per parameter, an array (N_STEPS, *shape) of values after each step."""
    p0, c, d = fn_problem()
    tdtype = getattr(torch, dtype)
    params = [torch.tensor(p, dtype=tdtype, requires_grad=True) for p in p0]
    opt = make_more_optimizer(torch, name, params)
    traj: list[list[np.ndarray]] = [[] for _ in params]
    for step in range(N_STEPS):
        grads = fn_grads([p.detach().numpy().astype(np.float64) for p in params], c, d, step)
        for p, g in zip(params, grads):
            p.grad = None if g is None else torch.tensor(g, dtype=tdtype)
        opt.step()
        for i, p in enumerate(params):
            traj[i].append(p.detach().numpy().copy())
    return [np.stack(t) for t in traj]


def torch_rnn_trajectory(torch: Any, name: str, dtype: str) -> list[np.ndarray]:
    """torch.optim on problem "rnn" (gradients by torch autograd), values after each step."""
    w0, x, y = rnn_problem()
    tdtype = getattr(torch, dtype)
    params = [torch.tensor(w, dtype=tdtype, requires_grad=True) for w in w0]
    opt = make_more_optimizer(torch, name, params)
    traj: list[list[np.ndarray]] = [[] for _ in params]
    for step in range(N_STEPS):
        opt.zero_grad()
        rnn_loss(torch, params, torch.tensor(x[step], dtype=tdtype), torch.tensor(y[step], dtype=tdtype)).backward()
        opt.step()
        for i, p in enumerate(params):
            traj[i].append(p.detach().numpy().copy())
    return [np.stack(t) for t in traj]


# ------------------------------------------------------------------------------------------------
# LBFGS problems: written once for both libraries (``lib`` is torch or minigrad)
# ------------------------------------------------------------------------------------------------


def rosenbrock_start() -> list[np.ndarray]:
    """The classic hard start of the Rosenbrock valley, as one parameter of shape (2,)."""
    return [np.array([-1.5, 2.0])]


def rosenbrock_loss(lib: Any, params: list) -> Any:
    """``(1 - x)^2 + 100 (y - x^2)^2``: minimum 0 at (1, 1) at the end of a long curved valley."""
    x, y = params[0][0], params[0][1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def lstm_problem() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """LSTM + Linear weights (PyTorch's state_dict names), inputs (T, B, in) and targets (B, out)."""
    s = LSTM_SIZES
    rng = np.random.default_rng(2024)
    h = s["hidden"]
    shapes = {"lstm.weight_ih_l0": (4 * h, s["n_in"]), "lstm.weight_hh_l0": (4 * h, h),
              "lstm.bias_ih_l0": (4 * h,), "lstm.bias_hh_l0": (4 * h,),
              "linear.weight": (s["n_out"], h), "linear.bias": (s["n_out"],)}
    weights = {k: rng.uniform(-0.5, 0.5, shape) for k, shape in shapes.items()}
    x = rng.standard_normal((s["T"], s["B"], s["n_in"]))
    y = rng.standard_normal((s["B"], s["n_out"]))
    return weights, x, y


def make_lstm_model(lib: Any, dtype: str, **lstm_kwargs: Any) -> tuple[Any, Any]:
    """(LSTM, Linear) of ``lib`` with the weights of :func:`lstm_problem`, in ``dtype``."""
    s = LSTM_SIZES
    weights, _, _ = lstm_problem()
    lstm = lib.nn.LSTM(s["n_in"], s["hidden"], **lstm_kwargs)
    linear = lib.nn.Linear(s["hidden"], s["n_out"])
    for prefix, module in (("lstm.", lstm), ("linear.", linear)):
        module.load_state_dict({k[len(prefix):]: lib.tensor(v) for k, v in weights.items() if k.startswith(prefix)})
    cast = {"float64": "double", "float32": "float"}[dtype]
    return getattr(lstm, cast)(), getattr(linear, cast)()


def lstm_loss(lib: Any, model: tuple[Any, Any], dtype: str) -> Any:
    """Mean squared error of the Linear read-out of the LSTM's last output."""
    lstm, linear = model
    _, x, y = lstm_problem()
    out, _ = lstm(lib.tensor(x, dtype=getattr(lib, dtype)))
    return ((linear(out[-1]) - lib.tensor(y, dtype=getattr(lib, dtype))) ** 2).mean()


def run_lbfgs(lib: Any, name: str, dtype: str, params: list, loss_fn: Any) -> tuple[np.ndarray, list[np.ndarray]]:
    """LBFGS_STEPS calls of ``step(closure)``: the losses they return and the parameters after each."""
    _, kwargs = LBFGS_CONFIGS[name]
    opt = lib.optim.LBFGS(params, **kwargs)

    def closure() -> Any:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    losses, traj = [], [[] for _ in params]
    for _ in range(LBFGS_STEPS):
        losses.append(float(opt.step(closure).detach()))
        for i, p in enumerate(params):
            traj[i].append(p.detach().numpy().copy())
    return np.array(losses), [np.stack(t) for t in traj]


def torch_lbfgs(torch: Any, name: str, dtype: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """torch.optim.LBFGS on configuration ``name``: (losses, parameter trajectories)."""
    problem, _ = LBFGS_CONFIGS[name]
    if problem == "rosenbrock":
        params = [torch.tensor(p, dtype=getattr(torch, dtype), requires_grad=True) for p in rosenbrock_start()]
        return run_lbfgs(torch, name, dtype, params, lambda: rosenbrock_loss(torch, params))
    model = make_lstm_model(torch, dtype)
    params = [*model[0].parameters(), *model[1].parameters()]
    return run_lbfgs(torch, name, dtype, params, lambda: lstm_loss(torch, model, dtype))


# ------------------------------------------------------------------------------------------------
# Comparing trajectories (used by the tests)
# ------------------------------------------------------------------------------------------------


def compare_trajectories(got: list[np.ndarray], want: list[np.ndarray], steps: list[int] | None = None, **tol) -> None:
    """Trajectories ``got`` (every step) against ``want`` (every step, or only those in ``steps``)."""
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        steps_i = list(range(g.shape[0])) if steps is None else steps
        assert (len(steps_i), *g.shape[1:]) == w.shape, f"parameter {i}: trajectory shape {g.shape} vs {w.shape}"
        assert g.dtype == w.dtype, f"parameter {i}: dtype {g.dtype} vs {w.dtype}"
        for row, step in enumerate(steps_i):
            np.testing.assert_allclose(g[step], w[row], err_msg=f"parameter {i} after step {step + 1}", **tol)


def fixture_trajectory(f: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    """Per parameter, the array stored under ``<prefix>__<i>`` (i = 0, 1, ...)."""
    n = sum(1 for k in f if k.startswith(prefix + "__") and k[len(prefix) + 2:].isdigit())
    return [f[f"{prefix}__{i}"] for i in range(n)]


def config_fingerprint() -> str:
    """A JSON text of every configuration: the tests compare it to detect a stale fixture file."""
    return json.dumps({"more": MORE_CONFIGS, "lbfgs": LBFGS_CONFIGS, "dtypes": DTYPES, "lstm": LSTM_SIZES,
                       "steps": [N_STEPS, LBFGS_STEPS, ROSENBROCK_FLOAT32_STEPS],
                       "fixture_steps": [FIXTURE_STEPS, FIXTURE_LBFGS_STEPS]}, sort_keys=True, default=str)


def make(fixtures_dir: Path) -> list[Path]:
    import torch

    arrays: dict[str, np.ndarray] = {"config": np.array(config_fingerprint())}
    for dtype in DTYPES:
        for name in MORE_CONFIGS:
            for problem, run in (("fn", torch_fn_trajectory), ("rnn", torch_rnn_trajectory)):
                for i, t in enumerate(run(torch, name, dtype)):
                    arrays[f"{name}__{problem}__{dtype}__{i}"] = t[FIXTURE_STEPS]
        for name in LBFGS_CONFIGS:
            losses, traj = torch_lbfgs(torch, name, dtype)
            arrays[f"{name}__{dtype}__loss"] = losses
            for i, t in enumerate(traj):
                arrays[f"{name}__{dtype}__{i}"] = t[FIXTURE_LBFGS_STEPS]
    path = fixtures_dir / "optim_more.npz"
    np.savez_compressed(path, **arrays)
    return [path]
