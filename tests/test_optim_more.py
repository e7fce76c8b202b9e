"""mg.optim RMSprop / Adagrad / Adadelta / LBFGS: PyTorch parity of trajectories, checkpoints, errors.

Parity runs two ways on the same configurations (tests/fixture_makers/optim_more.py): from the
committed fixture tests/fixtures/optim_more.npz (always) and live against torch.optim (when torch
is installed).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.optim import N_STEPS, fn_grads, fn_problem, rnn_loss, rnn_problem
from fixture_makers.optim_more import (
    DTYPES,
    FIXTURE_LBFGS_STEPS,
    FIXTURE_STEPS,
    LBFGS_CONFIGS,
    MORE_CONFIGS,
    ROSENBROCK_FLOAT32_STEPS,
    config_fingerprint,
    lstm_loss,
    make_lstm_model,
    make_more_optimizer,
    rosenbrock_loss,
    rosenbrock_start,
    run_lbfgs,
    torch_fn_trajectory,
    torch_lbfgs,
    torch_rnn_trajectory,
)

import minigrad as mg
from minigrad.optim import LBFGS, Adadelta, Adagrad, RMSprop
from minigrad.tensor import Tensor

# float64 follows torch's operations one by one (differences ~1e-15); float32 leaves room for
# torch's vectorised CPU loops, which may contract a*b+c into one rounding (FMA).
TOL = {"float64": dict(rtol=1e-7, atol=1e-9), "float32": dict(rtol=2e-4, atol=2e-5)}
# The centered group of "rmsprop_groups" divides by sqrt(E[g^2] - E[g]^2) + eps, which cancels
# badly in float32 where a gradient crosses zero: its float32 runs agree to ~1e-3 only (float64: 1e-7).
TOL_CENTERED_FLOAT32 = dict(rtol=2e-3, atol=1e-4)
# LBFGS multiplies small differences through its history and line search: looser in float32.
LBFGS_TOL = {"float64": dict(rtol=1e-6, atol=1e-8), "float32": dict(rtol=2e-3, atol=1e-4)}


# ------------------------------------------------------------------------------------------------
# The minigrad side of the parity problems
# ------------------------------------------------------------------------------------------------


def mg_fn_trajectory(name: str, dtype: str) -> list[np.ndarray]:
    p0, c, d = fn_problem()
    params = [mg.tensor(p.astype(dtype), requires_grad=True) for p in p0]
    opt = make_more_optimizer(mg, name, params)
    traj: list[list[np.ndarray]] = [[] for _ in params]
    for step in range(N_STEPS):
        grads = fn_grads([p.detach().numpy().astype(np.float64) for p in params], c, d, step)
        for p, g in zip(params, grads):
            p.grad = None if g is None else mg.tensor(g.astype(dtype))
        opt.step()
        for i, p in enumerate(params):
            assert p.dtype == np.dtype(dtype)
            traj[i].append(p.detach().numpy().copy())
    return [np.stack(t) for t in traj]


def mg_rnn_trajectory(name: str, dtype: str, steps: range = range(N_STEPS), params: list | None = None,
                      opt=None) -> list[np.ndarray]:
    w0, x, y = rnn_problem()
    params = params or [mg.tensor(w.astype(dtype), requires_grad=True) for w in w0]
    opt = opt or make_more_optimizer(mg, name, params)
    traj: list[list[np.ndarray]] = [[] for _ in params]
    for step in steps:
        opt.zero_grad()
        rnn_loss(mg, params, mg.tensor(x[step].astype(dtype)), mg.tensor(y[step].astype(dtype))).backward()
        opt.step()
        for i, p in enumerate(params):
            traj[i].append(p.detach().numpy().copy())
    return [np.stack(t) for t in traj]


def mg_lbfgs(name: str, dtype: str) -> tuple[np.ndarray, list[np.ndarray]]:
    problem, _ = LBFGS_CONFIGS[name]
    if problem == "rosenbrock":
        params = [mg.tensor(p.astype(dtype), requires_grad=True) for p in rosenbrock_start()]
        return run_lbfgs(mg, name, dtype, params, lambda: rosenbrock_loss(mg, params))
    if not hasattr(mg.nn, "LSTM"):
        pytest.skip("mg.nn.LSTM not available")
    # impl='reference': this test is about the optimizer, the LSTM kernels have their own tests.
    model = make_lstm_model(mg, dtype, impl="reference")
    params = [*model[0].parameters(), *model[1].parameters()]
    return run_lbfgs(mg, name, dtype, params, lambda: lstm_loss(mg, model, dtype))


def _compare(got: list[np.ndarray], want: list[np.ndarray], steps: list[int] | None = None, **tol) -> None:
    """Trajectories ``got`` (every step) against ``want`` (every step, or only those in ``steps``)."""
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        steps_i = list(range(g.shape[0])) if steps is None else steps
        assert (len(steps_i), *g.shape[1:]) == w.shape, f"parameter {i}: trajectory shape {g.shape} vs {w.shape}"
        assert g.dtype == w.dtype, f"parameter {i}: dtype {g.dtype} vs {w.dtype}"
        for row, step in enumerate(steps_i):
            np.testing.assert_allclose(g[step], w[row], err_msg=f"parameter {i} after step {step + 1}", **tol)


@pytest.fixture(scope="module")
def fixture() -> dict[str, np.ndarray]:
    f = load_fixture("optim_more")
    assert str(f["config"]) == config_fingerprint(), \
        "tests/fixtures/optim_more.npz is stale: run `python tests/make_fixtures.py optim_more`"
    return f


def _tol(name: str, dtype: str) -> dict[str, float]:
    return TOL_CENTERED_FLOAT32 if (name, dtype) == ("rmsprop_groups", "float32") else TOL[dtype]


def _fixture_traj(f: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    n = sum(1 for k in f if k.startswith(prefix + "__") and k[len(prefix) + 2:].isdigit())
    return [f[f"{prefix}__{i}"] for i in range(n)]


# ------------------------------------------------------------------------------------------------
# Parity: RMSprop / Adagrad / Adadelta
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MORE_CONFIGS))
def test_fn_trajectory_matches_torch_fixture(fixture, name, dtype):
    _compare(mg_fn_trajectory(name, dtype), _fixture_traj(fixture, f"{name}__fn__{dtype}"), FIXTURE_STEPS,
             **_tol(name, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MORE_CONFIGS))
def test_rnn_trajectory_matches_torch_fixture(fixture, name, dtype):
    _compare(mg_rnn_trajectory(name, dtype), _fixture_traj(fixture, f"{name}__rnn__{dtype}"), FIXTURE_STEPS,
             **_tol(name, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MORE_CONFIGS))
def test_fn_trajectory_matches_torch_live(torch, name, dtype):
    _compare(mg_fn_trajectory(name, dtype), torch_fn_trajectory(torch, name, dtype), **_tol(name, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MORE_CONFIGS))
def test_rnn_trajectory_matches_torch_live(torch, name, dtype):
    _compare(mg_rnn_trajectory(name, dtype), torch_rnn_trajectory(torch, name, dtype), **_tol(name, dtype))


# ------------------------------------------------------------------------------------------------
# Parity: LBFGS
# ------------------------------------------------------------------------------------------------


def _compare_lbfgs(name: str, got: tuple, want: tuple, dtype: str, steps: list[int] | None = None) -> None:
    """``got`` (losses, trajectories of every step) against ``want`` (trajectories of ``steps``)."""
    losses, traj = got
    want_losses, want_traj = want
    steps = list(range(len(losses))) if steps is None else steps
    if dtype == "float32" and LBFGS_CONFIGS[name][0] == "rosenbrock":
        # see ROSENBROCK_FLOAT32_STEPS: the first steps match, then both runs must still converge alike
        if name != "rosenbrock":  # with the line search both reach the minimum (1, 1)
            np.testing.assert_allclose(traj[0][-1], [1.0, 1.0], atol=2e-3)
            np.testing.assert_allclose(want_traj[0][-1], [1.0, 1.0], atol=2e-3)
        assert losses[-1] <= max(10 * want_losses[-1], 1e-3), (losses[-1], want_losses[-1])
        n = ROSENBROCK_FLOAT32_STEPS
        losses, want_losses = losses[:n], want_losses[:n]
        rows = [r for r, step in enumerate(steps) if step < n]
        steps, want_traj = steps[:len(rows)], [t[rows] for t in want_traj]
    np.testing.assert_allclose(losses, want_losses, err_msg="losses returned by step()", **LBFGS_TOL[dtype])
    _compare(traj, want_traj, steps, **LBFGS_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(LBFGS_CONFIGS))
def test_lbfgs_matches_torch_fixture(fixture, name, dtype):
    want = (fixture[f"{name}__{dtype}__loss"], _fixture_traj(fixture, f"{name}__{dtype}"))
    _compare_lbfgs(name, mg_lbfgs(name, dtype), want, dtype, FIXTURE_LBFGS_STEPS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(LBFGS_CONFIGS))
def test_lbfgs_matches_torch_live(torch, name, dtype):
    _compare_lbfgs(name, mg_lbfgs(name, dtype), torch_lbfgs(torch, name, dtype), dtype)


@pytest.mark.parametrize("name", ["rosenbrock", "rosenbrock_wolfe"])
def test_lbfgs_rosenbrock_converges(name):
    """Sanity beyond parity: strong-Wolfe L-BFGS reaches the minimum (1, 1); fixed steps make progress."""
    losses, traj = mg_lbfgs(name, "float64")
    assert losses[-1] < losses[0]
    if name == "rosenbrock_wolfe":
        np.testing.assert_allclose(traj[0][-1], [1.0, 1.0], atol=1e-4)


def test_lbfgs_state_matches_torch_live(torch):
    """Same state keys and values as torch's (on the first parameter), also after load_state_dict."""
    t_params = [torch.tensor(p, requires_grad=True) for p in rosenbrock_start()]
    m_params = [mg.tensor(p, requires_grad=True) for p in rosenbrock_start()]
    kwargs = dict(max_iter=4, history_size=3, line_search_fn="strong_wolfe")
    t_opt, m_opt = torch.optim.LBFGS(t_params, **kwargs), LBFGS(m_params, **kwargs)
    for lib, opt, params in ((torch, t_opt, t_params), (mg, m_opt, m_params)):
        for _ in range(3):
            opt.step(_closure(lib, opt, params))
    t_sd, m_sd = t_opt.state_dict(), m_opt.state_dict()
    assert t_sd["param_groups"][0] == m_sd["param_groups"][0]
    assert set(t_sd["state"][0]) == set(m_sd["state"][0])
    for key, tv in t_sd["state"][0].items():
        mv = m_sd["state"][0][key]
        if isinstance(tv, list):
            assert len(tv) == len(mv), key
            tv, mv = [v for v in tv if v is not None], [v for v in mv if v is not None]
            for a, b in zip(tv, mv):
                np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-9, err_msg=key)
        elif isinstance(tv, torch.Tensor):
            np.testing.assert_allclose(mv.numpy(), tv.numpy(), rtol=1e-9, err_msg=key)
        else:
            assert mv == pytest.approx(tv, rel=1e-9), key


def _closure(lib, opt, params):
    def closure():
        opt.zero_grad()
        loss = rosenbrock_loss(lib, params)
        loss.backward()
        return loss
    return closure


# ------------------------------------------------------------------------------------------------
# Checkpoints: state_dict round trip mid-trajectory, torch's layout
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rmsprop_centered_momentum", "rmsprop_groups", "adagrad_lr_decay",
                                  "adadelta_maximize_groups"])
def test_state_dict_roundtrip_continues_identically(name):
    """10 steps, state_dict (deep-copied) into a fresh optimizer over fresh parameters, 15 more steps:
    bit-identical to 25 uninterrupted steps."""
    w0, _, _ = rnn_problem()
    ref = mg_rnn_trajectory(name, "float64")
    first = [mg.tensor(w, requires_grad=True) for w in w0]
    opt1 = make_more_optimizer(mg, name, first)
    mg_rnn_trajectory(name, "float64", range(10), first, opt1)
    sd = copy.deepcopy(opt1.state_dict())
    second = [mg.tensor(p.detach().numpy(), requires_grad=True) for p in first]
    opt2 = make_more_optimizer(mg, name, second)
    opt2.load_state_dict(sd)
    rest = mg_rnn_trajectory(name, "float64", range(10, N_STEPS), second, opt2)
    for i, (r, t) in enumerate(zip(ref, rest)):
        np.testing.assert_array_equal(r[10:], t, err_msg=f"parameter {i}")


@pytest.mark.parametrize("name", ["rosenbrock_wolfe", "rosenbrock"])
def test_lbfgs_state_dict_roundtrip_through_a_file(tmp_path, name):
    """LBFGS's history (lists of flat vectors, None, numbers) survives mg.save / mg.load mid-run."""
    _, kwargs = LBFGS_CONFIGS[name]
    ref = [mg.tensor(p, requires_grad=True) for p in rosenbrock_start()]
    ref_opt = LBFGS(ref, **kwargs)
    for _ in range(6):
        ref_opt.step(_closure(mg, ref_opt, ref))

    first = [mg.tensor(p, requires_grad=True) for p in rosenbrock_start()]
    opt1 = LBFGS(first, **kwargs)
    for _ in range(3):
        opt1.step(_closure(mg, opt1, first))
    mg.save(opt1.state_dict(), tmp_path / "lbfgs.safetensors")
    second = [mg.tensor(p.detach().numpy(), requires_grad=True) for p in first]
    opt2 = LBFGS(second, **kwargs)
    opt2.load_state_dict(mg.load(tmp_path / "lbfgs.safetensors"))
    for _ in range(3):
        opt2.step(_closure(mg, opt2, second))
    np.testing.assert_array_equal(second[0].detach().numpy(), ref[0].detach().numpy())
    assert opt2.state[second[0]]["n_iter"] == ref_opt.state[ref[0]]["n_iter"]


@pytest.mark.parametrize("name", ["rmsprop_centered_momentum", "rmsprop_groups", "adagrad_lr_decay", "adadelta"])
def test_state_dict_layout_matches_torch_live(torch, name):
    """Same state keys (checkpoints map), step counters as float32 0-d tensors, same values and groups."""
    p0, c, d = fn_problem()
    t_params = [torch.tensor(p, requires_grad=True) for p in p0]
    m_params = [mg.tensor(p, requires_grad=True) for p in p0]
    t_opt, m_opt = make_more_optimizer(torch, name, t_params), make_more_optimizer(mg, name, m_params)
    for step in range(3):
        for tp, mp, g in zip(t_params, m_params, fn_grads(p0, c, d, step)):
            tp.grad = None if g is None else torch.tensor(g)
            mp.grad = None if g is None else mg.tensor(g)
        t_opt.step()
        m_opt.step()
    t_sd, m_sd = t_opt.state_dict(), m_opt.state_dict()
    assert sorted(t_sd["state"]) == sorted(m_sd["state"])
    for idx, t_state in t_sd["state"].items():
        assert set(t_state) == set(m_sd["state"][idx]), (name, idx)
        for key, tv in t_state.items():
            mv = m_sd["state"][idx][key]
            np.testing.assert_allclose(mv.numpy(), tv.numpy(), rtol=1e-12, atol=1e-15, err_msg=key)
            if key == "step":
                assert mv.dtype == np.float32 and mv.shape == ()
    for tg, mg_group in zip(t_sd["param_groups"], m_sd["param_groups"]):
        for k, v in mg_group.items():
            assert tg[k] == v, (name, k)


def test_torch_state_dict_loads_and_continues_live(torch):
    """A torch RMSprop's state_dict (tensors as arrays) loads into minigrad and continues alike."""
    name = "rmsprop_centered_momentum"
    w0, x, y = rnn_problem()
    t_params = [torch.tensor(w, requires_grad=True) for w in w0]
    t_opt = make_more_optimizer(torch, name, t_params)

    def torch_steps(steps):
        for step in steps:
            t_opt.zero_grad()
            rnn_loss(torch, t_params, torch.tensor(x[step]), torch.tensor(y[step])).backward()
            t_opt.step()

    torch_steps(range(8))
    sd = t_opt.state_dict()
    sd = {"state": {k: {n: v.numpy().copy() for n, v in s.items()} for k, s in sd["state"].items()},
          "param_groups": sd["param_groups"]}
    m_params = [mg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in t_params]
    m_opt = make_more_optimizer(mg, name, m_params)
    m_opt.load_state_dict(sd)
    torch_steps(range(8, N_STEPS))
    mg_rnn_trajectory(name, "float64", range(8, N_STEPS), m_params, m_opt)
    for tp, mp in zip(t_params, m_params):
        np.testing.assert_allclose(mp.detach().numpy(), tp.detach().numpy(), **TOL["float64"])


def test_adagrad_state_made_at_construction():
    """As torch: every parameter has 'step' = 0 and 'sum' = initial_accumulator_value before any step."""
    a, b = mg.zeros(2, requires_grad=True), mg.zeros(3, dtype=mg.float64, requires_grad=True)
    opt = Adagrad([a, b], initial_accumulator_value=0.25)
    sd = opt.state_dict()
    assert sorted(sd["state"]) == [0, 1]
    assert float(sd["state"][0]["step"]) == 0.0
    assert sd["state"][1]["sum"].tolist() == [0.25] * 3 and sd["state"][1]["sum"].dtype == np.float64
    c = mg.ones(2, requires_grad=True)
    opt.add_param_group({"params": [c]})  # torch would fail at the next step; minigrad makes the state
    c.grad = mg.ones(2)
    opt.step()
    assert float(opt.state[c]["step"]) == 1.0 and opt.state[c]["sum"].tolist() == [1.25, 1.25]


# ------------------------------------------------------------------------------------------------
# Behaviour shared with the other optimizers
# ------------------------------------------------------------------------------------------------

ALL_NEW = [
    lambda p: RMSprop(p, lr=0.01, momentum=0.9, centered=True),
    lambda p: Adagrad(p, lr=0.1, lr_decay=0.01),
    lambda p: Adadelta(p, weight_decay=0.1),
]


@pytest.mark.parametrize("make", ALL_NEW)
def test_non_contiguous_parameter_is_updated_in_place(make):
    rng = np.random.default_rng(5)
    base = rng.standard_normal((4, 6))
    grads = [rng.standard_normal((3, 4)) for _ in range(3)]
    contiguous = mg.tensor(np.ascontiguousarray(base[:, ::2].T), requires_grad=True)
    strided = Tensor(base.copy()[:, ::2].T, requires_grad=True)
    view = strided._array
    results = []
    for p in (contiguous, strided):
        opt = make([p])
        for g in grads:
            p.grad = mg.tensor(g)
            opt.step()
        results.append(p.detach().numpy())
    assert strided._array is view
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("make", ALL_NEW)
def test_parameters_without_grad_are_skipped_and_dtype_kept(make):
    a = mg.ones(2, dtype=mg.float32, requires_grad=True)
    b = mg.ones(2, requires_grad=True)
    opt = make([a, b])
    a.grad, b.grad = mg.tensor(np.array([0.5, -1.0])), None  # a float64 gradient for a float32 parameter
    opt.step()
    assert b.tolist() == [1.0, 1.0] and a.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[a].values() if v.shape != ())
    assert a.tolist()[0] < 1.0 < a.tolist()[1]


@pytest.mark.parametrize("make", ALL_NEW)
def test_nan_gradient_propagates_without_warnings(make):
    import warnings

    w = mg.ones(2, requires_grad=True)
    opt = make([w])
    w.grad = mg.tensor([np.nan, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
    assert np.isnan(w.detach().numpy()[0]) and np.isfinite(w.detach().numpy()[1])


def test_lbfgs_parameter_without_gradient_and_several_parameters():
    """A parameter the loss doesn't use keeps its value; several parameters form one flat vector."""
    a = mg.tensor([[2.0, -1.0], [0.5, 3.0]], requires_grad=True)
    b = mg.tensor([1.0], requires_grad=True)
    unused = mg.tensor([7.0, 8.0], requires_grad=True)
    opt = LBFGS([a, unused, b], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (a * a).sum() + ((b - 4) ** 2).sum()
        loss.backward()
        return loss

    first = opt.step(closure)
    assert float(first) == pytest.approx(4 + 1 + 0.25 + 9 + 9)
    np.testing.assert_allclose(a.detach().numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), [4.0], atol=1e-6)
    assert unused.tolist() == [7.0, 8.0]
    assert opt.state[a]["prev_flat_grad"].shape == (7,)


# ------------------------------------------------------------------------------------------------
# Errors, named as torch's
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda p: RMSprop(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: RMSprop(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: RMSprop(p, momentum=-0.9), "Invalid momentum value: -0.9"),
    (lambda p: RMSprop(p, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda p: RMSprop(p, alpha=-0.5), "Invalid alpha value: -0.5"),
    (lambda p: RMSprop([{"params": p, "lr": -2.0}]), "Invalid learning rate: -2.0"),
    (lambda p: Adagrad(p, lr=-0.01), "Invalid learning rate: -0.01"),
    (lambda p: Adagrad(p, lr_decay=-1), "Invalid lr_decay value: -1"),
    (lambda p: Adagrad(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: Adagrad(p, initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    (lambda p: Adagrad(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: Adadelta(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: Adadelta(p, rho=-0.1), "Invalid rho value: -0.1"),
    (lambda p: Adadelta(p, eps=-1), "Invalid epsilon value: -1"),
    (lambda p: Adadelta(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: Adadelta(p, lr=float("nan")), "Invalid learning rate: nan"),
    (lambda p: LBFGS(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: LBFGS([{"params": p[:1]}, {"params": p[1:]}]), "doesn't support per-parameter options"),
    (lambda p: LBFGS(p, line_search_fn="armijo"), "only None and 'strong_wolfe'"),
    (lambda p: LBFGS(p, max_iter=0), "Invalid max_iter value: 0"),
    (lambda p: LBFGS(p, history_size=2.5), "Invalid history_size value: 2.5"),
])
def test_invalid_hyperparameters_raise(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make([mg.zeros(2, requires_grad=True), mg.zeros(1, requires_grad=True)])


@pytest.mark.parametrize("make", ALL_NEW + [lambda p: LBFGS(p)])
def test_non_number_hyperparameter_raises_type_error(make):
    w = mg.zeros(2, requires_grad=True)
    opt = make([w])
    opt.param_groups[0]["lr"] = "fast"
    with pytest.raises(TypeError, match="Invalid learning rate: 'fast'"):
        opt.load_state_dict(opt.state_dict())


def test_torch_error_messages_match_live(torch):
    """The messages above are torch's own, word for word."""
    cases = [("RMSprop", dict(alpha=-0.5)), ("Adagrad", dict(lr_decay=-1)), ("Adadelta", dict(rho=1.5)),
             ("Adagrad", dict(initial_accumulator_value=-1)), ("LBFGS", dict(lr=-1))]
    for cls, kwargs in cases:
        with pytest.raises(ValueError) as t_err:
            getattr(torch.optim, cls)([torch.zeros(2, requires_grad=True)], **kwargs)
        with pytest.raises(ValueError) as m_err:
            getattr(mg.optim, cls)([mg.zeros(2, requires_grad=True)], **kwargs)
        assert str(m_err.value) == str(t_err.value)


def test_lbfgs_step_needs_a_closure():
    w = mg.zeros(2, requires_grad=True)
    opt = LBFGS([w])
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        opt.add_param_group({"params": [mg.zeros(1, requires_grad=True)]})


def test_public_names():
    assert mg.optim.RMSprop is RMSprop and mg.optim.Adagrad is Adagrad
    assert mg.optim.Adadelta is Adadelta and mg.optim.LBFGS is LBFGS


# ------------------------------------------------------------------------------------------------
# Parameters edited in place through .data or under no_grad, as in PyTorch (hand-written SGD)
# ------------------------------------------------------------------------------------------------


def _hand_sgd_run(lib, params: list, update) -> list[np.ndarray]:
    """25 steps of the Elman-RNN problem with a hand-written SGD ``update(p, lr)``; values after each."""
    _, x, y = rnn_problem()
    traj = []
    for step in range(N_STEPS):
        for p in params:
            p.grad = None
        rnn_loss(lib, params, lib.tensor(x[step]), lib.tensor(y[step])).backward()
        for p in params:
            update(lib, p, 0.1)
        traj.append(np.concatenate([p.detach().numpy().reshape(-1) for p in params]))
    return traj


def _update_through_data(lib, p, lr):
    p.data.add_(p.grad.data, alpha=-lr)


def _update_under_no_grad(lib, p, lr):
    with lib.no_grad():
        p -= lr * p.grad


@pytest.mark.parametrize("update", [_update_through_data, _update_under_no_grad])
def test_hand_written_sgd_trains_as_torch_live(torch, update):
    w0, _, _ = rnn_problem()
    m_params = [mg.tensor(w, requires_grad=True) for w in w0]
    t_params = [torch.tensor(w, requires_grad=True) for w in w0]
    got, want = _hand_sgd_run(mg, m_params, update), _hand_sgd_run(torch, t_params, update)
    for step, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12, err_msg=f"after step {step + 1}")
    assert all(p.is_leaf and p.requires_grad and p.grad_fn is None for p in m_params)


@pytest.mark.parametrize("update", [_update_through_data, _update_under_no_grad])
def test_hand_written_sgd_equals_optim_sgd(update):
    """Without torch: the in-place hand-written step trains exactly like mg.optim.SGD(lr=0.1)."""
    w0, x, y = rnn_problem()
    hand = [mg.tensor(w, requires_grad=True) for w in w0]
    got = _hand_sgd_run(mg, hand, update)
    ref = [mg.tensor(w, requires_grad=True) for w in w0]
    opt = mg.optim.SGD(ref, lr=0.1)
    for step in range(N_STEPS):
        opt.zero_grad()
        rnn_loss(mg, ref, mg.tensor(x[step]), mg.tensor(y[step])).backward()
        opt.step()
        want = np.concatenate([p.detach().numpy().reshape(-1) for p in ref])
        np.testing.assert_allclose(got[step], want, rtol=1e-12, atol=1e-14, err_msg=f"after step {step + 1}")


# ------------------------------------------------------------------------------------------------
# A step is an in-place change of the parameters (version counters, as PyTorch)
# ------------------------------------------------------------------------------------------------

EVERY_OPTIMIZER = ALL_NEW + [
    lambda p: mg.optim.SGD(p, lr=0.1, momentum=0.9),
    lambda p: mg.optim.Adam(p, lr=0.1),
    lambda p: mg.optim.AdamW(p, lr=0.1),
]


@pytest.mark.parametrize("make", EVERY_OPTIMIZER)
def test_backward_through_a_graph_from_before_the_step_raises(make):
    """The graph saved w; the step changed w in place: backward must refuse, never use the new values."""
    w = mg.ones(2, requires_grad=True)
    loss = (w * w).sum()
    opt = make([w])
    w.grad = mg.ones(2)
    version = w._version
    opt.step()
    assert w._version > version
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_lbfgs_bumps_versions_as_torch_live(torch):
    """LBFGS's line search moves the parameters and puts them back: torch counts every change."""
    versions = []
    for lib in (torch, mg):
        params = [lib.tensor(p, requires_grad=True) for p in rosenbrock_start()]
        opt = lib.optim.LBFGS(params, max_iter=3, line_search_fn="strong_wolfe")
        opt.step(_closure(lib, opt, params))
        versions.append(params[0]._version)
    assert versions[1] == versions[0]
