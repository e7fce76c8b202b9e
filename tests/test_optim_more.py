"""mg.optim RMSprop / Adagrad / Adadelta: PyTorch parity of trajectories, checkpoints, errors (LBFGS's
errors too; its trajectories are in tests/test_optim_lbfgs.py), and in-place parameter updates.

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
    FIXTURE_STEPS,
    MORE_CONFIGS,
    compare_trajectories,
    config_fingerprint,
    fixture_trajectory,
    make_more_optimizer,
    torch_fn_trajectory,
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


@pytest.fixture(scope="module")
def fixture() -> dict[str, np.ndarray]:
    f = load_fixture("optim_more")
    assert str(f["config"]) == config_fingerprint(), \
        "tests/fixtures/optim_more.npz is stale: run `python tests/make_fixtures.py optim_more`"
    return f


def _tol(name: str, dtype: str) -> dict[str, float]:
    return TOL_CENTERED_FLOAT32 if (name, dtype) == ("rmsprop_groups", "float32") else TOL[dtype]


# ------------------------------------------------------------------------------------------------
# Parity: RMSprop / Adagrad / Adadelta
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MORE_CONFIGS))
def test_fn_trajectory_matches_torch_fixture(fixture, name, dtype):
    want = fixture_trajectory(fixture, f"{name}__fn__{dtype}")
    compare_trajectories(mg_fn_trajectory(name, dtype), want, FIXTURE_STEPS, **_tol(name, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MORE_CONFIGS))
def test_rnn_trajectory_matches_torch_fixture(fixture, name, dtype):
    want = fixture_trajectory(fixture, f"{name}__rnn__{dtype}")
    compare_trajectories(mg_rnn_trajectory(name, dtype), want, FIXTURE_STEPS, **_tol(name, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MORE_CONFIGS))
def test_fn_trajectory_matches_torch_live(torch, name, dtype):
    compare_trajectories(mg_fn_trajectory(name, dtype), torch_fn_trajectory(torch, name, dtype), **_tol(name, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(MORE_CONFIGS))
def test_rnn_trajectory_matches_torch_live(torch, name, dtype):
    compare_trajectories(mg_rnn_trajectory(name, dtype), torch_rnn_trajectory(torch, name, dtype), **_tol(name, dtype))


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


@pytest.mark.parametrize("make", [
    lambda p: RMSprop(p, capturable=True), lambda p: RMSprop(p, differentiable=True),
    lambda p: Adagrad(p, differentiable=True), lambda p: Adadelta(p, capturable=True),
])
def test_cuda_graph_and_differentiable_options_are_refused(make):
    with pytest.raises(NotImplementedError, match="not supported by minigrad"):
        make([mg.zeros(2, requires_grad=True)])


def test_torch_only_switches_are_accepted():
    """``foreach``/``fused`` only choose among PyTorch's implementations: accepted, not kept in the groups."""
    w = mg.zeros(2, requires_grad=True)
    for opt in (RMSprop([w], foreach=False), Adagrad([w], foreach=True, fused=None), Adadelta([w], foreach=None)):
        assert "foreach" not in opt.param_groups[0]


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
