"""mg.optim: PyTorch parity of SGD / Adam / AdamW trajectories, and the Optimizer interface.

Parity runs two ways on the same configurations (tests/fixture_makers/optim.py):
from the committed fixtures (always) and live against torch.optim (when torch is installed).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.optim import (
    FN_SHAPES,
    N_STEPS,
    OPTIM_CONFIGS,
    SKIPPED_PARAM,
    config_fingerprint,
    fn_grads,
    fn_problem,
    make_optimizer,
    rnn_loss,
    rnn_problem,
    torch_fn_trajectory,
    torch_rnn_trajectory,
)

import minigrad as mg
from minigrad.optim import SGD, Adam, AdamW, Optimizer
from minigrad.tensor import Tensor

CONFIGS = list(OPTIM_CONFIGS)
TOL64 = dict(rtol=1e-7, atol=1e-7)  # the brief's bar; observed differences are ~1e-15


# ------------------------------------------------------------------------------------------------
# The minigrad side of the two parity problems
# ------------------------------------------------------------------------------------------------


def mg_fn_trajectory(name: str, dtype=np.float64, impl: str = "fused") -> list[np.ndarray]:
    p0, c, d = fn_problem()
    params = [mg.tensor(p.astype(dtype), requires_grad=True) for p in p0]
    opt = make_optimizer(mg, name, params)
    opt.impl = impl
    traj: list[list[np.ndarray]] = [[] for _ in params]
    for step in range(N_STEPS):
        grads = fn_grads([p._array.astype(np.float64) for p in params], c, d, step)
        for p, g in zip(params, grads):
            p.grad = None if g is None else Tensor(g.astype(dtype))
        opt.step()
        for i, p in enumerate(params):
            assert p.dtype == dtype
            traj[i].append(p._array.astype(np.float64).copy())
    return [np.stack(t) for t in traj]


def mg_rnn_trajectory(name: str, dtype=np.float64) -> list[np.ndarray]:
    w0, x, y = rnn_problem()
    params = [mg.tensor(w.astype(dtype), requires_grad=True) for w in w0]
    opt = make_optimizer(mg, name, params)
    traj: list[list[np.ndarray]] = [[] for _ in params]
    for step in range(N_STEPS):
        opt.zero_grad()
        rnn_loss(mg, params, mg.tensor(x[step].astype(dtype)), mg.tensor(y[step].astype(dtype))).backward()
        opt.step()
        for i, p in enumerate(params):
            traj[i].append(p._array.astype(np.float64).copy())
    return [np.stack(t) for t in traj]


def _compare(got: list[np.ndarray], want: list[np.ndarray], **tol) -> None:
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.shape == w.shape, f"parameter {i}: trajectory shape {g.shape} vs {w.shape}"
        for step in range(g.shape[0]):
            np.testing.assert_allclose(g[step], w[step], err_msg=f"parameter {i} after step {step + 1}", **tol)


@pytest.fixture(scope="module")
def traj_fixture() -> dict[str, np.ndarray]:
    f = load_fixture("optim_traj")
    assert str(f["config"]) == config_fingerprint(), \
        "tests/fixtures/optim_traj.npz is stale: run `python tests/make_fixtures.py optim`"
    return f


def _fixture_traj(f: dict[str, np.ndarray], name: str, problem: str, n: int) -> list[np.ndarray]:
    return [f[f"{name}__{problem}__{i}"] for i in range(n)]


# ------------------------------------------------------------------------------------------------
# Parity: fixtures (no torch needed)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("name", CONFIGS)
def test_fn_trajectory_matches_torch_fixture(traj_fixture, name, impl):
    _compare(mg_fn_trajectory(name, impl=impl), _fixture_traj(traj_fixture, name, "fn", len(FN_SHAPES)), **TOL64)


@pytest.mark.parametrize("name", CONFIGS)
def test_rnn_trajectory_matches_torch_fixture(traj_fixture, name):
    _compare(mg_rnn_trajectory(name), _fixture_traj(traj_fixture, name, "rnn", 6), **TOL64)


# ------------------------------------------------------------------------------------------------
# Parity: live torch
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONFIGS)
def test_fn_trajectory_matches_torch_live(torch, name):
    _compare(mg_fn_trajectory(name), torch_fn_trajectory(torch, name), **TOL64)


@pytest.mark.parametrize("name", CONFIGS)
def test_rnn_trajectory_matches_torch_live(torch, name):
    _compare(mg_rnn_trajectory(name), torch_rnn_trajectory(torch, name), **TOL64)


@pytest.mark.parametrize("name", ["sgd_nesterov", "sgd_groups", "adam", "adam_amsgrad_wd_maximize", "adamw"])
def test_fn_trajectory_float32_matches_torch_live(torch, name):
    """float32 parameters: updated in float32 arithmetic like torch (FMA differences only)."""
    _compare(mg_fn_trajectory(name, dtype=np.float32), torch_fn_trajectory(torch, name, torch.float32),
             rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("opt_name", ["sgd_nesterov", "adam_amsgrad", "adamw"])
def test_lstm_model_trajectory_matches_torch_live(torch, opt_name):
    """mg.nn.LSTM + mg.nn.Linear trained 25 steps, against the torch twin (float64)."""
    if not hasattr(mg.nn, "LSTM"):
        pytest.skip("mg.nn.LSTM not available yet")
    rng = np.random.default_rng(7)
    t_lstm, t_lin = torch.nn.LSTM(3, 5, dtype=torch.float64), torch.nn.Linear(5, 2, dtype=torch.float64)
    # impl='reference': this test is about the optimizer, the LSTM kernels have their own tests.
    m_lstm, m_lin = mg.nn.LSTM(3, 5, impl="reference").double(), mg.nn.Linear(5, 2).double()
    for t_mod, m_mod in ((t_lstm, m_lstm), (t_lin, m_lin)):
        m_mod.load_state_dict({k: mg.tensor(v.detach().numpy()) for k, v in t_mod.state_dict().items()})
    t_params = list(t_lstm.parameters()) + list(t_lin.parameters())
    m_params = list(m_lstm.parameters()) + list(m_lin.parameters())
    t_opt = make_optimizer(torch, opt_name, t_params)
    m_opt = make_optimizer(mg, opt_name, m_params)
    for step in range(N_STEPS):
        x, y = rng.standard_normal((6, 2, 3)), rng.standard_normal((2, 2))
        t_opt.zero_grad()
        t_out, _ = t_lstm(torch.tensor(x))
        ((t_lin(t_out[-1]) - torch.tensor(y)) ** 2).mean().backward()
        t_opt.step()
        m_opt.zero_grad()
        m_out, _ = m_lstm(mg.tensor(x))
        ((m_lin(m_out[-1]) - mg.tensor(y)) ** 2).mean().backward()
        m_opt.step()
        for tp, mp in zip(t_params, m_params):
            np.testing.assert_allclose(mp._array, tp.detach().numpy(), err_msg=f"step {step + 1}", **TOL64)


def test_state_dict_layout_matches_torch_live(torch):
    """Same keys, indices, hyperparameters and state values as torch's state_dict."""
    p0, c, d = fn_problem()
    for name in ("sgd_groups", "adam_groups", "adamw_amsgrad"):
        t_params = [torch.tensor(p, requires_grad=True) for p in p0]
        m_params = [mg.tensor(p, requires_grad=True) for p in p0]
        t_opt, m_opt = make_optimizer(torch, name, t_params), make_optimizer(mg, name, m_params)
        for step in range(3):
            grads = fn_grads(p0, c, d, step)
            for tp, mp, g in zip(t_params, m_params, grads):
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
                np.testing.assert_allclose(np.asarray(mv._array), tv.numpy(), rtol=1e-12, atol=1e-15)
                if key == "step":
                    assert mv._array.dtype == np.float32 and mv.shape == ()  # torch: tensor(3.) float32
        for tg, mg_ in zip(t_sd["param_groups"], m_sd["param_groups"]):
            assert tg["params"] == mg_["params"]
            for k, v in mg_.items():
                assert tg[k] == v, (name, k)


def test_load_torch_state_dict_and_continue_live(torch):
    """A torch optimizer's state_dict (tensors -> arrays) loads into mg and continues identically."""
    p0, c, d = fn_problem()
    t_params = [torch.tensor(p, requires_grad=True) for p in p0]
    t_opt = make_optimizer(torch, "adam_groups", t_params)
    m_params = [mg.tensor(p, requires_grad=True) for p in p0]

    def feed(params, make, step):
        for p, g in zip(params, fn_grads([np.asarray(q.detach().numpy() if hasattr(q, "detach") else q._array)
                                          for q in params], c, d, step)):
            p.grad = None if g is None else make(g)

    for step in range(4):
        feed(t_params, torch.tensor, step)
        t_opt.step()
    with torch.no_grad():
        for tp, mp in zip(t_params, m_params):
            mp._array[...] = tp.numpy()
    sd = t_opt.state_dict()
    sd = {"state": {k: {n: v.numpy().copy() for n, v in s.items()} for k, s in sd["state"].items()},
          "param_groups": sd["param_groups"]}
    m_opt = make_optimizer(mg, "adam_groups", m_params)
    m_opt.load_state_dict(sd)
    for step in range(4, 10):
        feed(t_params, torch.tensor, step)
        t_opt.step()
        feed(m_params, mg.tensor, step)
        m_opt.step()
    for tp, mp in zip(t_params, m_params):
        np.testing.assert_allclose(mp._array, tp.detach().numpy(), **TOL64)


# ------------------------------------------------------------------------------------------------
# Checkpoints: state_dict / load_state_dict / mg.save / mg.load
# ------------------------------------------------------------------------------------------------


def _rnn_run(opt_name: str, steps: range, params: list[Tensor], opt: Optimizer) -> None:
    _, x, y = rnn_problem()
    for step in steps:
        opt.zero_grad()
        rnn_loss(mg, params, mg.tensor(x[step]), mg.tensor(y[step])).backward()
        opt.step()


@pytest.mark.parametrize("name", ["sgd_momentum", "sgd_groups", "adam_amsgrad", "adamw", "adam_groups"])
def test_state_dict_roundtrip_continues_identically(name):
    w0, _, _ = rnn_problem()
    ref = [mg.tensor(w, requires_grad=True) for w in w0]
    ref_opt = make_optimizer(mg, name, ref)
    _rnn_run(name, range(N_STEPS), ref, ref_opt)

    first = [mg.tensor(w, requires_grad=True) for w in w0]
    opt1 = make_optimizer(mg, name, first)
    _rnn_run(name, range(10), first, opt1)
    sd = copy.deepcopy(opt1.state_dict())
    second = [mg.tensor(p._array, requires_grad=True) for p in first]
    opt2 = make_optimizer(mg, name, second)
    opt2.load_state_dict(sd)
    _rnn_run(name, range(10, N_STEPS), second, opt2)
    for a, b in zip(ref, second):
        np.testing.assert_array_equal(a._array, b._array)


class TinyRNN(mg.nn.Module):
    """The parity problem's Elman RNN as a Module, so its weights have names in a state_dict."""

    def __init__(self, weights: list[np.ndarray]):
        super().__init__()
        self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.weight_out, self.bias_out = (
            mg.nn.Parameter(mg.tensor(w)) for w in weights)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return rnn_loss(mg, [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.weight_out,
                             self.bias_out], x, y)


@pytest.mark.parametrize("name", ["sgd_wd_nesterov_maximize", "adam_amsgrad_wd_maximize", "adamw_amsgrad"])
def test_save_load_mid_training_equals_uninterrupted_run(tmp_path, name):
    """mg.save model + optimizer after 10 steps, mg.load into fresh objects, 15 more: bit-identical."""
    w0, x, y = rnn_problem()

    def train(model, opt, steps):
        for step in steps:
            opt.zero_grad()
            model(mg.tensor(x[step]), mg.tensor(y[step])).backward()
            opt.step()

    ref = TinyRNN(w0)
    ref_opt = make_optimizer(mg, name, list(ref.parameters()))
    train(ref, ref_opt, range(N_STEPS))

    model = TinyRNN(w0)
    opt = make_optimizer(mg, name, list(model.parameters()))
    train(model, opt, range(10))
    mg.save(model.state_dict(), tmp_path / "model.safetensors")
    mg.save(opt.state_dict(), tmp_path / "optim.safetensors")
    del model, opt

    fresh = TinyRNN([np.zeros_like(w) for w in w0])
    fresh_opt = make_optimizer(mg, name, list(fresh.parameters()))
    fresh.load_state_dict(mg.load(tmp_path / "model.safetensors"))
    fresh_opt.load_state_dict(mg.load(tmp_path / "optim.safetensors"))
    train(fresh, fresh_opt, range(10, N_STEPS))
    for (n, a), (_, b) in zip(ref.named_parameters(), fresh.named_parameters()):
        np.testing.assert_array_equal(a._array, b._array, err_msg=n)
    assert ref_opt.state_dict()["param_groups"] == fresh_opt.state_dict()["param_groups"]


def test_state_dict_layout():
    a, b, c = (mg.zeros(2, requires_grad=True) for _ in range(3))
    opt = Adam([{"params": [a, b]}, {"params": [c], "lr": 0.1}], lr=0.01, amsgrad=True)
    for p in (a, c):
        p.grad = mg.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 2]  # b had no gradient: no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert float(sd["state"][2]["step"]) == 1.0
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.01, 0.1]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)


def test_load_state_dict_copies_and_casts():
    p = mg.zeros(3, requires_grad=True)
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = mg.ones(3)
    opt.step()
    sd = opt.state_dict()
    q = mg.zeros(3, dtype=mg.float64, requires_grad=True)
    opt2 = SGD([q], lr=0.5, momentum=0.9)
    opt2.load_state_dict(sd)
    buf = opt2.state[q]["momentum_buffer"]
    assert buf.dtype == np.float64 and buf._array is not sd["state"][0]["momentum_buffer"]._array
    assert opt2.param_groups[0]["lr"] == 0.1 and opt2.param_groups[0]["params"][0] is q


def test_load_state_dict_rejects_mismatch():
    a, b = mg.zeros(2, requires_grad=True), mg.zeros(3, requires_grad=True)
    opt = Adam([a, b])
    a.grad, b.grad = mg.ones(2), mg.ones(3)
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        Adam([a]).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"shape \(2,\).*parameter has shape \(3,\)"):
        Adam([b, a]).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        Adam([a]).load_state_dict({"lr": 1})


def test_adamw_load_state_dict_stays_decoupled():
    p = mg.zeros(2, requires_grad=True)
    sd = Adam([p]).state_dict()
    opt = AdamW([p])
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


# ------------------------------------------------------------------------------------------------
# The Optimizer interface
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, message", [
    (lambda p: SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
    (lambda p: SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum value: -0.5"),
    (lambda p: SGD(p, lr=0.1, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda p: Adam(p, lr=-1e-3), "Invalid learning rate: -0.001"),
    (lambda p: Adam(p, eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (lambda p: Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (lambda p: Adam(p, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda p: AdamW(p, weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    (lambda p: SGD([{"params": p, "lr": -2.0}], lr=0.1), "Invalid learning rate: -2.0"),
    (lambda p: SGD(p, lr=float("nan")), "Invalid learning rate: nan"),
])
def test_invalid_hyperparameters_raise(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        make([mg.zeros(2, requires_grad=True)])


def test_bad_parameter_lists_raise():
    a, b = mg.zeros(2, requires_grad=True), mg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="twice"):
        SGD([a, b, a], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [a]}, {"params": [b, a]}], lr=0.1)
    opt = SGD([a], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": a})
    with pytest.raises(TypeError, match="iterable of Tensors"):
        SGD(a, lr=0.1)
    with pytest.raises(TypeError, match="sets"):
        SGD({a, b}, lr=0.1)
    with pytest.raises(TypeError, match="only optimize Tensors"):
        SGD([a, np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        SGD([a * 2], lr=0.1)
    with pytest.raises(TypeError, match="floating point"):
        SGD([mg.tensor([1, 2])], lr=0.1)


def test_param_groups_and_add_param_group():
    a, b, c = (mg.zeros(2, requires_grad=True) for _ in range(3))
    opt = SGD([{"params": [a]}, {"params": (b,), "momentum": 0.5}], lr=0.1, momentum=0.9)
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.5]
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1]
    group = {"params": c, "lr": 0.01}
    opt.add_param_group(group)
    assert opt.param_groups[2]["params"] == [c] and opt.param_groups[2]["lr"] == 0.01
    assert opt.param_groups[2]["nesterov"] is False
    assert group["params"] is c  # the caller's dict is left alone
    with pytest.raises(TypeError, match="must be a dict"):
        opt.add_param_group([c])


def test_named_parameters_give_param_names():
    model = mg.nn.Linear(2, 3)
    opt = Adam(model.named_parameters(), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]


def test_parameters_without_grad_are_skipped():
    a, b = mg.ones(2, requires_grad=True), mg.ones(2, requires_grad=True)
    for opt in (SGD([a, b], lr=0.1, momentum=0.9), Adam([a, b], lr=0.1, weight_decay=0.1),
                AdamW([a, b], lr=0.1)):
        a.grad, b.grad = mg.ones(2), None
        opt.step()
        assert b.tolist() == [1.0, 1.0]
        assert b not in opt.state
        assert a in opt.state


def test_zero_grad():
    a = mg.ones(3, requires_grad=True)
    opt = SGD([a], lr=0.1)
    (a * a).sum().backward()
    grad = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad and a.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert a.grad is None
    opt.zero_grad()  # nothing to do: fine


def test_step_with_closure_runs_with_grad_enabled():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with mg.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(w.tolist(), [0.8, 1.6], rtol=1e-6)
    assert SGD([w], lr=0.1).step() is None


def test_step_updates_in_place_and_keeps_dtype():
    for dtype in (np.float32, np.float64):
        w = mg.zeros(4, dtype=dtype, requires_grad=True)
        data = w._array
        opt = Adam([w], lr=0.1, amsgrad=True)
        w.grad = mg.tensor(np.ones(4, dtype=np.float64 if dtype == np.float32 else np.float32))  # other dtype
        opt.step()
        assert w._array is data and w.dtype == dtype
        assert all(opt.state[w][k].dtype == dtype for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"))
        np.testing.assert_allclose(w._array, -0.1, rtol=1e-5)


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("name", ["sgd_nesterov", "adam_amsgrad", "adamw"])
def test_non_contiguous_parameter_is_updated_in_place(name, impl):
    """p._array may be a transposed/sliced view: the update still lands in that same array."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal((4, 6))
    grads = [rng.standard_normal((3, 4)) for _ in range(3)]
    contiguous = mg.tensor(np.ascontiguousarray(base[:, ::2].T), requires_grad=True)
    strided = mg.from_numpy(base.copy()[:, ::2].T).requires_grad_(True)
    view = strided._array
    assert not view.flags.c_contiguous
    results = []
    for p in (contiguous, strided):
        opt = make_optimizer(mg, name, [p])
        opt.impl = impl
        for g in grads:
            p.grad = mg.tensor(g)
            opt.step()
        results.append(p._array)
    assert strided._array is view
    np.testing.assert_array_equal(results[0], results[1])


def test_grad_of_wrong_shape_raises():
    w = mg.zeros(3, requires_grad=True)
    w.grad = mg.ones(4)
    with pytest.raises(ValueError, match=r"shape \(3,\).*has shape \(4,\)"):
        Adam([w]).step()


def test_nan_gradients_propagate_without_warnings():
    w = mg.ones(2, requires_grad=True)
    opt = Adam([w], lr=0.1)
    w.grad = mg.tensor([np.nan, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
    assert np.isnan(w._array[0]) and np.isfinite(w._array[1])


def test_amsgrad_switched_on_later_creates_its_buffer():
    w = mg.ones(2, requires_grad=True)
    opt = Adam([w], lr=0.1)
    w.grad = mg.ones(2)
    opt.step()
    opt.param_groups[0]["amsgrad"] = True
    opt.step()
    assert "max_exp_avg_sq" in opt.state[w]


def test_skipped_parameter_step_count():
    """The parity problem's skipped parameter: Adam's step counter only counts real updates."""
    p0, c, d = fn_problem()
    params = [mg.tensor(p, requires_grad=True) for p in p0]
    opt = Adam(params, lr=0.01)
    for step in range(6):
        for p, g in zip(params, fn_grads([p._array for p in params], c, d, step)):
            p.grad = None if g is None else mg.tensor(g)
        opt.step()
    assert float(opt.state[params[0]]["step"]) == 6
    assert float(opt.state[params[SKIPPED_PARAM]]["step"]) == 4


def test_repr_and_impl_choice():
    w = mg.zeros(2, requires_grad=True)
    text = repr(SGD([w], lr=0.1))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text
    with pytest.raises(ValueError, match="impl"):
        SGD([w], lr=0.1, impl="cuda")
    with pytest.raises(NotImplementedError):
        Optimizer([w], {}).step()


def test_public_names():
    assert mg.optim.SGD is SGD and mg.optim.Adam is Adam and mg.optim.AdamW is AdamW
    assert mg.optim.Optimizer is Optimizer
    assert hasattr(mg.optim.lr_scheduler, "StepLR")
