"""mg.optim.lr_scheduler: the learning rates of PyTorch's schedulers, step for step.

Every configuration of tests/fixture_makers/optim.py (SCHED_CONFIGS) runs 30 steps; the learning
rate of each parameter group (and OneCycleLR's cycled momentum) must equal PyTorch's: from the
committed fixture and live. The arithmetic is the same Python float code as PyTorch's, so the
comparison is exact.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.optim import (
    N_SCHED_STEPS,
    SCHED_CONFIGS,
    config_fingerprint,
    make_scheduler_setup,
    plateau_metrics,
    run_schedule,
)

import minigrad as mg
from minigrad.optim import SGD, Adam
from minigrad.optim import lr_scheduler as S

NAMES = list(SCHED_CONFIGS)


@pytest.fixture(scope="module")
def sched_fixture() -> dict[str, np.ndarray]:
    f = load_fixture("optim_sched")
    assert str(f["config"]) == config_fingerprint(), \
        "tests/fixtures/optim_sched.npz is stale: run `python tests/make_fixtures.py optim`"
    return f


@pytest.mark.parametrize("name", NAMES)
def test_schedule_matches_torch_fixture(sched_fixture, name):
    got = run_schedule(mg, name)
    assert got.shape == (N_SCHED_STEPS + 1, sched_fixture[name].shape[1])
    np.testing.assert_array_equal(got, sched_fixture[name])


@pytest.mark.parametrize("name", NAMES)
def test_schedule_matches_torch_live(torch, name):
    np.testing.assert_array_equal(run_schedule(mg, name), run_schedule(torch, name))


def _step(sched, i: int, metrics: list[float]) -> None:
    if isinstance(sched, S.ReduceLROnPlateau):
        sched.step(metrics[i])
    else:
        sched.step()


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_resume_through_mg_save(tmp_path, name):
    """Save optimizer + scheduler after 12 steps (mg.save), load into fresh ones: same schedule."""
    metrics = plateau_metrics()
    full = run_schedule(mg, name)

    opt, sched = make_scheduler_setup(mg, name)
    for i in range(12):
        opt.step()
        _step(sched, i, metrics)
    mg.save(opt.state_dict(), tmp_path / "opt.safetensors")
    mg.save(sched.state_dict(), tmp_path / "sched.safetensors")

    opt2, sched2 = make_scheduler_setup(mg, name)  # construction resets the lrs ...
    opt2.load_state_dict(mg.load(tmp_path / "opt.safetensors"))  # ... the checkpoint restores them
    sched2.load_state_dict(mg.load(tmp_path / "sched.safetensors"))
    assert sched2.last_epoch == sched.last_epoch and sched2.get_last_lr() == sched.get_last_lr()
    rows = []
    for i in range(12, N_SCHED_STEPS):
        opt2.step()
        _step(sched2, i, metrics)
        rows.append([g["lr"] for g in opt2.param_groups])
    n_groups = len(opt2.param_groups)
    np.testing.assert_array_equal(np.array(rows), full[13:, :n_groups])


def test_get_last_lr_and_last_epoch():
    opt = SGD([mg.zeros(1, requires_grad=True)], lr=1.0)
    sched = S.ExponentialLR(opt, gamma=0.5)
    assert sched.last_epoch == 0 and sched.get_last_lr() == [1.0]
    assert opt.param_groups[0]["initial_lr"] == 1.0
    for _ in range(3):
        opt.step()
        sched.step()
    assert sched.last_epoch == 3 and sched.get_last_lr() == [0.125] and opt.param_groups[0]["lr"] == 0.125
    assert sched.base_lrs == [1.0]


def test_cosine_follows_closed_form_within_rounding():
    """PyTorch's recursive cosine is the textbook formula up to rounding (for one half cycle)."""
    opt = SGD([mg.zeros(1, requires_grad=True)], lr=0.1)
    sched = S.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)
    for t in range(1, 21):
        sched.step()
        closed = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 20)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(closed, rel=1e-12, abs=1e-15)


def test_get_lr_outside_step_warns():
    sched = S.StepLR(SGD([mg.zeros(1, requires_grad=True)], lr=1.0), step_size=2)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()


def test_bad_arguments_raise():
    opt = SGD([{"params": [mg.zeros(1, requires_grad=True)]}, {"params": [mg.zeros(1, requires_grad=True)]}],
              lr=0.1)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR("adam", step_size=2)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
        S.LambdaLR(opt, [lambda e: 1.0] * 3)
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        S.LambdaLR(opt, [lambda e: 1.0, 3.0])
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="mode 'best' is unknown"):
        S.ReduceLROnPlateau(opt, mode="best")
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        S.ReduceLROnPlateau(opt, min_lr=[0, 0, 0])
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max"):
        S.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="total_steps OR"):
        S.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(SGD([mg.zeros(1, requires_grad=True)], lr=0.1), step_size=2, last_epoch=3)


def test_onecycle_refuses_to_step_past_total_steps():
    opt = Adam([mg.zeros(1, requires_grad=True)], lr=0.1)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def test_lambda_lr_state_dict_keeps_callable_objects_state():
    class Factor:
        def __init__(self):
            self.scale = 0.5

        def __call__(self, epoch):
            return self.scale ** epoch

    opt = SGD([mg.zeros(1, requires_grad=True)], lr=1.0)
    f = Factor()
    sched = S.LambdaLR(opt, f)
    f.scale = 0.25
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [{"scale": 0.25}]
    g = Factor()
    sched2 = S.LambdaLR(SGD([mg.zeros(1, requires_grad=True)], lr=1.0), g)
    sched2.load_state_dict(sd)
    assert g.scale == 0.25


def test_step_with_epoch_uses_closed_form_like_torch(torch):
    def run(lib):
        opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1)
        scheds = [lib.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)]
        lrs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in (4, 9, 2):
                scheds[0].step(epoch)
                lrs.append(opt.param_groups[0]["lr"])
        return lrs

    assert run(mg) == run(torch)


@pytest.mark.parametrize("cls, kwargs", [("CosineAnnealingLR", dict(T_max=8, eta_min=0.01)),
                                         ("StepLR", dict(step_size=3)), ("ExponentialLR", dict(gamma=0.8))])
def test_resume_with_last_epoch_like_torch(torch, cls, kwargs):
    """Constructing with last_epoch >= 0 (groups carry 'initial_lr') gives torch's numbers."""
    def run(lib):
        opt = lib.optim.SGD([{"params": [lib.zeros(1, requires_grad=True)], "lr": 0.05, "initial_lr": 0.1}],
                            lr=0.1)
        sched = getattr(lib.optim.lr_scheduler, cls)(opt, last_epoch=5, **kwargs)
        lrs = [opt.param_groups[0]["lr"]]
        for _ in range(10):
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
        return lrs

    np.testing.assert_array_equal(run(mg), run(torch))
