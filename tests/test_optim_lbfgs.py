"""mg.optim.LBFGS: PyTorch parity of the losses and parameters over 20 ``step(closure)`` calls, with and
without the strong-Wolfe line search, on the Rosenbrock function and on a small LSTM + Linear model,
float64 and float32; its state, checkpoints and version counters.

Parity runs from the committed fixture tests/fixtures/optim_more.npz (always) and live against
torch.optim (when torch is installed); configurations in tests/fixture_makers/optim_more.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.optim_more import (
    DTYPES,
    FIXTURE_LBFGS_STEPS,
    LBFGS_CONFIGS,
    ROSENBROCK_FLOAT32_STEPS,
    compare_trajectories,
    config_fingerprint,
    fixture_trajectory,
    lstm_loss,
    make_lstm_model,
    rosenbrock_loss,
    rosenbrock_start,
    run_lbfgs,
    torch_lbfgs,
)

import minigrad as mg
from minigrad.optim import LBFGS

# LBFGS multiplies small differences through its history and line search: looser in float32.
LBFGS_TOL = {"float64": dict(rtol=1e-6, atol=1e-8), "float32": dict(rtol=2e-3, atol=1e-4)}


@pytest.fixture(scope="module")
def fixture() -> dict[str, np.ndarray]:
    f = load_fixture("optim_more")
    assert str(f["config"]) == config_fingerprint(), \
        "tests/fixtures/optim_more.npz is stale: run `python tests/make_fixtures.py optim_more`"
    return f


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


# ------------------------------------------------------------------------------------------------
# Parity
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
    compare_trajectories(traj, want_traj, steps, **LBFGS_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(LBFGS_CONFIGS))
def test_lbfgs_matches_torch_fixture(fixture, name, dtype):
    want = (fixture[f"{name}__{dtype}__loss"], fixture_trajectory(fixture, f"{name}__{dtype}"))
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


def test_lbfgs_step_needs_a_closure():
    w = mg.zeros(2, requires_grad=True)
    opt = LBFGS([w])
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        opt.add_param_group({"params": [mg.zeros(1, requires_grad=True)]})


def test_lbfgs_bumps_versions_as_torch_live(torch):
    """LBFGS's line search moves the parameters and puts them back: torch counts every change."""
    versions = []
    for lib in (torch, mg):
        params = [lib.tensor(p, requires_grad=True) for p in rosenbrock_start()]
        opt = lib.optim.LBFGS(params, max_iter=3, line_search_fn="strong_wolfe")
        opt.step(_closure(lib, opt, params))
        versions.append(params[0]._version)
    assert versions[1] == versions[0]


def test_lbfgs_deepcopy_continues_like_the_original():
    """copy.deepcopy of an LBFGS mid-run (parameters and history copied) steps on exactly as the original."""
    import copy

    w = mg.tensor(rosenbrock_start()[0], requires_grad=True)
    opt = LBFGS([w], max_iter=4, line_search_fn="strong_wolfe")
    opt.step(_closure(mg, opt, [w]))
    twin = copy.deepcopy(opt)
    w2 = twin.param_groups[0]["params"][0]
    assert w2 is not w
    for _ in range(3):
        opt.step(_closure(mg, opt, [w]))
        twin.step(_closure(mg, twin, [w2]))
    np.testing.assert_array_equal(w2.detach().numpy(), w.detach().numpy())
