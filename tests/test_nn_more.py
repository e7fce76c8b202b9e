"""Newer losses and activations: PyTorch parity (fixtures + live), gradcheck, erf accuracy, clear errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.nn_more import functional_cases, run_case, split_fixture

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck
from minigrad.kernels.gelu import erf_array
from minigrad.nn.functional_activations import erf

CASES = functional_cases()
FIXTURE = split_fixture(load_fixture("nn_more"))
RESULT_KEYS = ("out", "grad_input", "grad_target", "grad_weight", "grad_bias", "new_running_mean", "new_running_var")


def run_mg(name: str, arrays: dict, gout: np.ndarray, dtype=np.float64) -> dict:
    fn, _, opts = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warning: checked in its own test
        return run_case(mg, fn, arrays, opts, gout, dtype)


def assert_same(got: dict, expected: dict, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    for key in RESULT_KEYS:
        if key in expected:
            assert key in got, key
            assert got[key].shape == expected[key].shape, key
            np.testing.assert_allclose(got[key], expected[key], rtol=rtol, atol=atol, err_msg=key)


# ------------------------------------------------------------------------------------------------
# Parity with PyTorch
# ------------------------------------------------------------------------------------------------


def test_fixture_covers_every_case():
    assert {k for k in FIXTURE if not k.startswith("bn_")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_parity_from_fixture(name):
    fx = FIXTURE[name]
    arrays = {k: fx[k] for k in CASES[name][1]}
    assert_same(run_mg(name, arrays, fx["gout"]), fx)


@pytest.mark.parametrize("name", sorted(CASES))
def test_parity_live(name, torch):
    fn, arrays, opts = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = run_case(torch, fn, arrays, opts)
    assert_same(run_mg(name, arrays, expected["gout"]), expected)


@pytest.mark.parametrize("name", ["nll_3d_ignore2_mean", "bce_sum", "smooth_l1_none", "huber_weight_mean",
                                  "kl_logtarget_batchmean", "gelu", "gelu_tanh", "elu", "layer_norm_2dims",
                                  "batch_norm_train_3d", "batch_norm_eval_2d"])
def test_parity_live_float32(name, torch):
    fn, arrays, opts = CASES[name]
    expected = run_case(torch, fn, arrays, opts, dtype=np.float32)
    got = run_mg(name, arrays, expected["gout"], dtype=np.float32)
    assert got["out"].dtype == np.float32 and got["grad_input"].dtype == np.float32
    assert_same(got, expected, rtol=2e-5, atol=2e-6)


def test_nll_of_log_softmax_is_cross_entropy():
    rng = np.random.default_rng(0)
    logits = mg.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    target = mg.tensor([0, 3, -100, 1, 2])
    weight = mg.tensor(rng.random(4) + 0.5)
    nll = mg.nn.NLLLoss(weight=weight)(mg.nn.LogSoftmax(dim=1)(logits), target)
    (g_nll,) = mg.autograd.grad(nll, [logits])
    ce = mg.nn.CrossEntropyLoss(weight=weight)(logits, target)
    (g_ce,) = mg.autograd.grad(ce, [logits])
    np.testing.assert_allclose(nll.item(), ce.item(), rtol=1e-12)
    np.testing.assert_allclose(g_nll.numpy(), g_ce.numpy(), rtol=1e-10, atol=1e-14)


def test_nll_all_targets_ignored_is_nan_with_zero_gradient():
    x = mg.zeros(2, 3, requires_grad=True)
    loss = F.nll_loss(x, mg.tensor([-100, -100]))
    assert math.isnan(loss.item())
    loss.backward()
    assert x.grad.tolist() == [[0.0] * 3] * 2  # as PyTorch


def test_loss_modules_match_functional():
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.uniform(0.1, 0.9, (4, 3)))
    y = mg.tensor(rng.random((4, 3)))
    w = mg.tensor(rng.random(3))
    pairs = [
        (mg.nn.BCELoss(weight=w, reduction="sum"), F.binary_cross_entropy(x, y, w, reduction="sum")),
        (mg.nn.SmoothL1Loss(beta=0.3), F.smooth_l1_loss(x, y, beta=0.3)),
        (mg.nn.HuberLoss(reduction="none", delta=0.2), F.huber_loss(x, y, reduction="none", delta=0.2)),
        (mg.nn.KLDivLoss(reduction="batchmean", log_target=True), F.kl_div(x, y, reduction="batchmean",
                                                                            log_target=True)),
    ]
    for module, expected in pairs:
        np.testing.assert_array_equal(module(x, y).numpy(), expected.numpy())
    logp = x.log()
    t = mg.tensor([0, 2, 1, 2])
    np.testing.assert_array_equal(mg.nn.NLLLoss(weight=w, ignore_index=1)(logp, t).numpy(),
                                  F.nll_loss(logp, t, w, ignore_index=1).numpy())
    assert mg.nn.NLLLoss().reduction == "mean" and mg.nn.NLLLoss().ignore_index == -100
    assert "weight" in mg.nn.BCELoss(weight=w).state_dict()


def test_legacy_size_average_and_reduce(torch):
    x = np.random.default_rng(2).standard_normal((3, 4))
    y = np.random.default_rng(3).standard_normal((3, 4))
    with pytest.warns(UserWarning):
        got = mg.nn.SmoothL1Loss(size_average=False)(mg.tensor(x), mg.tensor(y)).item()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = torch.nn.SmoothL1Loss(size_average=False)(torch.tensor(x), torch.tensor(y)).item()
    assert got == pytest.approx(expected, rel=1e-12)


def test_kl_div_mean_warns_like_pytorch():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(mg.zeros(2, 2), mg.ones(2, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.kl_div(mg.zeros(2, 2), mg.ones(2, 2), reduction="batchmean")


# ------------------------------------------------------------------------------------------------
# Gradient checks (float64 finite differences), incl. broadcast and non-contiguous inputs
# ------------------------------------------------------------------------------------------------


def _rand(*shape, seed=0, low=None, high=None, requires_grad=True):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return mg.tensor(a, requires_grad=requires_grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_nll_noncontiguous(reduction):
    x = _rand(5, 4, 3).transpose(0, 2)  # (3, 4, 5) non-contiguous view
    target = mg.tensor([[0, 1, 2, 3, 1], [2, 2, 0, -100, 3], [1, 0, 3, 3, 2]])
    weight = mg.tensor([0.5, 1.0, 2.0, 1.5], dtype=mg.float64)
    assert gradcheck(lambda t: F.nll_loss(t, target, weight, reduction=reduction), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_bce(reduction):
    x = _rand(3, 4, low=0.05, high=0.95, seed=1)
    y = _rand(3, 4, low=0.0, high=1.0, seed=2)
    w = mg.tensor(np.random.default_rng(3).random(4))  # broadcast over rows
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction), [x, y])


@pytest.mark.parametrize("fn", ["smooth_l1_loss", "huber_loss"])
def test_gradcheck_smooth_l1_huber_broadcast(fn):
    x = _rand(3, 4, seed=4) * 2
    x = x.detach().requires_grad_()
    y = _rand(4, seed=5)  # broadcast target (PyTorch warns, and broadcasts)
    kw = {"beta": 0.5} if fn == "smooth_l1_loss" else {"delta": 0.5}
    with pytest.warns(UserWarning, match="target size"):
        assert gradcheck(lambda a, b: getattr(F, fn)(a, b, reduction="sum", **kw), [x, y])


def test_gradcheck_huber_weight():
    x, y, w = _rand(3, 4, seed=6), _rand(3, 4, seed=7), _rand(3, 4, seed=8, low=0.1, high=2.0)
    assert gradcheck(lambda a, b, c: F.huber_loss(a, b, delta=0.8, weight=c), [x, y, w])


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none"])
def test_gradcheck_kl_div(log_target, reduction):
    x = _rand(4, 3, seed=9)
    y = _rand(3, 4, seed=10, low=0.05, high=1.0).transpose(0, 1)  # non-contiguous target
    if log_target:
        y = _rand(4, 3, seed=11)
    assert gradcheck(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), [x, y])


@pytest.mark.parametrize("fn,kw", [("leaky_relu", {"negative_slope": 0.1}), ("elu", {"alpha": 0.7}), ("gelu", {}),
                                   ("gelu", {"approximate": "tanh"}), ("softplus", {"beta": 1.5})])
def test_gradcheck_activations_noncontiguous(fn, kw):
    x = _rand(4, 5, seed=12).detach()[:, ::2].requires_grad_()
    assert not x.detach().numpy().flags.c_contiguous
    assert gradcheck(lambda t: getattr(F, fn)(t, **kw), [x])


def test_gradcheck_erf():
    x = mg.tensor([-4.0, -1.7, -0.3, 0.0, 0.2, 1.49, 1.51, 3.0], dtype=mg.float64, requires_grad=True)
    assert gradcheck(erf, [x])


# ------------------------------------------------------------------------------------------------
# erf: float64 accuracy without scipy
# ------------------------------------------------------------------------------------------------


def test_erf_matches_math_erf_to_a_few_ulps():
    x = np.concatenate([np.linspace(-7, 7, 40001), np.geomspace(1e-300, 1e-2, 300), [1.5, np.nextafter(1.5, 0)]])
    got = erf_array(x)
    expected = np.array([math.erf(v) for v in x])
    rel = np.abs(got - expected) / np.maximum(np.abs(expected), np.finfo(float).tiny)
    assert rel.max() < 1e-15


def test_erf_special_values_and_dtype():
    got = erf_array(np.array([np.nan, np.inf, -np.inf, -0.0, 0.0]))
    assert np.isnan(got[0]) and got[1:3].tolist() == [1.0, -1.0]
    assert np.signbit(got[3]) and not np.signbit(got[4])
    assert erf(mg.tensor([0.5], dtype=mg.float32)).dtype == mg.float32


def test_gelu_matches_torch_on_a_grid(torch):
    x = np.linspace(-10, 10, 2001)
    for approximate in ("none", "tanh"):
        got = F.gelu(mg.tensor(x), approximate=approximate).numpy()
        expected = torch.nn.functional.gelu(torch.tensor(x), approximate=approximate).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-15)


# ------------------------------------------------------------------------------------------------
# Clear errors: the function, the shapes or values, and what was expected
# ------------------------------------------------------------------------------------------------


def test_nll_errors():
    x = mg.zeros(2, 3)
    with pytest.raises(IndexError, match=r"nll_loss: target value 3 is out of range for 3 classes"):
        F.nll_loss(x, mg.tensor([0, 3]))
    with pytest.raises(IndexError, match=r"nll_loss: target value -1"):
        F.nll_loss(x, mg.tensor([-1, 0]))
    with pytest.raises(TypeError, match=r"nll_loss: target must hold integer class indices.*float32"):
        F.nll_loss(x, mg.tensor([0.0, 1.0]))
    with pytest.raises(mg.ShapeError, match=r"nll_loss: target of shape \(3,\) does not fit input of shape "
                                            r"\(2, 3\): expected target shape \(2,\)"):
        F.nll_loss(x, mg.tensor([0, 1, 1]))
    with pytest.raises(mg.ShapeError, match=r"nll_loss: weight of shape \(2,\).*expected \(3,\)"):
        F.nll_loss(x, mg.tensor([0, 1]), weight=mg.ones(2))
    with pytest.raises(TypeError, match=r"nll_loss: input must be a floating tensor"):
        F.nll_loss(mg.tensor([[0, 1]]), mg.tensor([0]))
    with pytest.raises(ValueError, match=r"nll_loss: 'avg' is not a valid value for reduction"):
        F.nll_loss(x, mg.tensor([0, 1]), reduction="avg")
    with pytest.raises(TypeError, match=r"nll_loss: input must be a Tensor, got list"):
        F.nll_loss([[0.0, 1.0]], mg.tensor([0]))


def test_bce_errors():
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(mg.tensor([0.5, 1.5]), mg.tensor([1.0, 0.0]))
    with pytest.raises(RuntimeError, match=r"between 0 and 1"):
        F.binary_cross_entropy(mg.tensor([float("nan")]), mg.tensor([1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: target of shape \(1,\) must have the input's shape "
                                         r"\(2,\)"):
        F.binary_cross_entropy(mg.tensor([0.5, 0.5]), mg.tensor([1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(3,\) cannot be broadcast"):
        F.binary_cross_entropy(mg.tensor([0.5, 0.5]), mg.tensor([1.0, 0.0]), weight=mg.ones(3))


def test_regression_loss_errors():
    x = mg.zeros(3)
    with pytest.raises(RuntimeError, match=r"smooth_l1_loss: beta must be >= 0.*-1"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(RuntimeError, match=r"huber_loss: delta must be > 0.*got 0"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"huber_loss: weight of shape \(2,\) must have the input's shape \(3,\)"):
        F.huber_loss(x, x, weight=mg.ones(2))
    with pytest.raises(ValueError, match=r"smooth_l1_loss: input of shape \(3,\) and target of shape \(2,\) cannot be "
                                         "broadcast"):
        F.smooth_l1_loss(x, mg.zeros(2))
    with pytest.raises(ValueError, match=r"kl_div: 'avg' is not a valid value for reduction \(expected 'mean', "
                                         "'batchmean'"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match=r"KLDivLoss: 'avg' is not a valid value"):
        mg.nn.KLDivLoss(reduction="avg")
    with pytest.raises(TypeError, match=r"kl_div: target must be a floating tensor"):
        F.kl_div(x, mg.tensor([0, 1, 0]), reduction="sum")


def test_activation_errors():
    with pytest.raises(ValueError, match=r"gelu: approximate must be 'none' or 'tanh', got 'fast'"):
        F.gelu(mg.zeros(2), approximate="fast")
    with pytest.raises(ValueError, match=r"GELU: approximate must be"):
        mg.nn.GELU("sigmoid")
    with pytest.raises(TypeError, match=r"elu: input must be a floating tensor"):
        F.elu(mg.tensor([1, 2]))
    with pytest.raises(TypeError, match=r"leaky_relu: input must be a Tensor, got list"):
        F.leaky_relu([1.0])


def test_activation_module_reprs_match_pytorch(torch):
    for name, args in [("LeakyReLU", (0.2,)), ("ELU", (0.5, True)), ("GELU", ("tanh",)), ("Softplus", (2.0, 10.0))]:
        assert repr(getattr(mg.nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    for name in ("NLLLoss", "BCELoss", "SmoothL1Loss", "HuberLoss", "KLDivLoss"):
        assert repr(getattr(mg.nn, name)()) == repr(getattr(torch.nn, name)())


# ------------------------------------------------------------------------------------------------
# inplace=True: PyTorch's in-place forms (the same tensor back, version bumped, still differentiable)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [lambda x: F.leaky_relu(x, 0.1, inplace=True), lambda x: F.elu(x, inplace=True),
                                  lambda x: F.relu(x, inplace=True), lambda x: F.dropout(x, 0.5, inplace=True),
                                  lambda x: F.dropout1d(x, 0.5, inplace=True),
                                  lambda x: F.dropout2d(x.reshape(2, 3, 2, 2), 0.5, inplace=True)])
def test_inplace_returns_the_changed_input(call):
    x = mg.randn(2, 3, 4)
    before = x.numpy().copy()
    out = call(x)
    assert out._version == 1 and not np.array_equal(x.numpy(), before)
    np.testing.assert_array_equal(out.numpy().reshape(x.shape), x.numpy())


def test_inplace_activations_train_like_pytorch(torch):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4))
    weights = [rng.standard_normal((6, 4)), rng.standard_normal((6, 6)), rng.standard_normal((6, 6)),
               rng.standard_normal((2, 6))]
    grads = []
    for lib in (mg, torch):
        nn = lib.nn
        linears = [nn.Linear(w.shape[1], w.shape[0], bias=False).double() for w in weights]
        model = nn.Sequential(linears[0], nn.ReLU(inplace=True), linears[1], nn.LeakyReLU(0.2, inplace=True),
                              linears[2], nn.ELU(inplace=True), nn.Dropout(0.3, inplace=True).eval(), linears[3])
        with lib.no_grad():
            for layer, w in zip(linears, weights):
                layer.weight.copy_(lib.tensor(w))
        model(lib.tensor(x)).pow(2).sum().backward()
        grads.append([layer.weight.grad.numpy() for layer in linears])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_inplace_errors_as_pytorch(torch):
    leaf = mg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"leaky_relu_: a leaf Variable that requires grad"):
        F.leaky_relu(leaf, inplace=True)
    y = mg.randn(3, requires_grad=True).sigmoid()  # sigmoid saves its output for backward
    F.elu(y, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    t = torch.randn(3, requires_grad=True).sigmoid()
    torch.nn.functional.elu(t, inplace=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        t.sum().backward()
