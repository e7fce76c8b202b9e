"""Losses: PyTorch parity (fixtures + live), gradcheck, stability at extreme logits, clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.nn import loss_cases, split_fixture, torch_loss
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import arrays, shapes

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck

CASES = loss_cases()
FIXTURE = split_fixture(load_fixture("nn_losses"))


def run_loss(fn: str, arrays: dict[str, np.ndarray], opts: dict, gout: np.ndarray, dtype=np.float64) -> dict:
    """minigrad's output and gradients for one case (same layout as the fixture)."""
    x = mg.tensor(arrays["input"].astype(dtype), requires_grad=True)
    tgt = arrays["target"]
    float_target = tgt.dtype.kind == "f"
    t = mg.tensor(tgt.astype(dtype) if float_target else tgt, requires_grad=float_target and fn != "cross_entropy")
    kw = dict(opts)
    for k in ("weight", "pos_weight"):
        if k in arrays:
            kw[k] = mg.tensor(arrays[k].astype(dtype))
    out = getattr(F, fn)(x, t, **kw)
    out.backward(mg.tensor(gout.astype(dtype)))
    res = {"out": out._array, "grad_input": x.grad._array}
    if t.requires_grad:
        res["grad_target"] = t.grad._array
    return res


def assert_same(got: dict, expected: dict, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    for key in ("out", "grad_input", "grad_target"):
        if key in expected:
            assert key in got, key
            assert got[key].shape == expected[key].shape, key
            np.testing.assert_allclose(got[key], expected[key], rtol=rtol, atol=atol, err_msg=key)


# ------------------------------------------------------------------------------------------------
# Parity with PyTorch
# ------------------------------------------------------------------------------------------------


def test_fixture_covers_every_case():
    assert set(FIXTURE) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_parity_from_fixture(name):
    fn, _, opts = CASES[name]
    fx = FIXTURE[name]
    got = run_loss(fn, fx, opts, fx["gout"])
    assert_same(got, fx)


@pytest.mark.parametrize("name", sorted(CASES))
def test_parity_live(name, torch):
    fn, arrays, opts = CASES[name]
    expected = torch_loss(torch, fn, arrays, opts)
    assert_same(run_loss(fn, arrays, opts, expected["gout"]), expected)


@pytest.mark.parametrize("name", ["ce_2d_smooth_mean", "ce_3d_none", "ce_extreme_mean", "bce_weight_posweight_sum",
                                  "bce_extreme_sum", "mse_mean", "l1_none"])
def test_parity_live_float32(name, torch):
    fn, arrays, opts = CASES[name]
    arrays32 = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in arrays.items()}
    expected = torch_loss(torch, fn, arrays32, opts)
    got = run_loss(fn, arrays32, opts, expected["gout"], dtype=np.float32)
    assert got["out"].dtype == np.float32 and got["grad_input"].dtype == np.float32
    assert_same(got, expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# Gradient checks (float64 finite differences), incl. broadcast and non-contiguous inputs
# ------------------------------------------------------------------------------------------------


def _t(a, requires_grad=True):
    return mg.from_numpy(np.asarray(a, dtype=np.float64)).requires_grad_(requires_grad)


def _noncontiguous(rng, shape):
    """A transposed view: same values, not C-contiguous."""
    return np.ascontiguousarray(rng.standard_normal(shape[::-1])).T


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_cross_entropy(reduction):
    rng = np.random.default_rng(0)
    x = _t(_noncontiguous(rng, (5, 4)))
    assert not x._array.flags.c_contiguous
    t = mg.tensor([0, 3, -100, 1, 3])
    w = mg.tensor([0.5, 1.0, 2.0, 1.5], dtype=mg.float64)
    assert gradcheck(lambda a: F.cross_entropy(a, t, weight=w, reduction=reduction, label_smoothing=0.15), [x])
    x3 = _t(rng.standard_normal((2, 4, 3)))
    t3 = mg.tensor([[0, 1, -100], [3, 3, 2]])
    assert gradcheck(lambda a: F.cross_entropy(a, t3, reduction=reduction), [x3])
    x1 = _t(rng.standard_normal(4))
    assert gradcheck(lambda a: F.cross_entropy(a, mg.tensor(2), reduction=reduction), [x1])


def test_gradcheck_cross_entropy_probabilities():
    rng = np.random.default_rng(1)
    x = _t(rng.standard_normal((3, 4)))
    p = rng.random((3, 4))
    p = _t(p / p.sum(1, keepdims=True))
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), [x, p])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_bce_with_logits(reduction):
    rng = np.random.default_rng(2)
    x = _t(_noncontiguous(rng, (4, 3)) * 3)
    y = _t(rng.random((4, 3)))
    w = _t(rng.random((4, 1)) + 0.5)  # broadcast over the class dimension
    pw = _t(rng.random(3) * 3)  # broadcast over the batch
    assert gradcheck(lambda a, b, c, d: F.binary_cross_entropy_with_logits(a, b, c, reduction=reduction,
                                                                           pos_weight=d), [x, y, w, pw])
    assert gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=reduction), [x, y])


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_regression_losses(fn, reduction):
    rng = np.random.default_rng(3)
    x = _t(_noncontiguous(rng, (4, 3)))
    y = _t(rng.standard_normal((4, 3)) + 0.5)  # away from the kink of |x - y|
    assert gradcheck(lambda a, b: fn(a, b, reduction=reduction), [x, y])
    yb = _t(rng.standard_normal(3) + 0.5)  # broadcast target (PyTorch warns, and so do we)
    with pytest.warns(UserWarning, match="different to the input size"):
        assert gradcheck(lambda a, b: fn(a, b, reduction=reduction), [x, yb])


# ------------------------------------------------------------------------------------------------
# Cross-entropy: one fused node, stability, errors
# ------------------------------------------------------------------------------------------------


def test_cross_entropy_is_one_fused_node():
    x = mg.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(x, mg.tensor([0, 1, 2, 0]))
    fn = loss.grad_fn
    assert fn.name == "cross_entropy"
    assert fn.next_functions == (x,)  # straight to the leaf: no log_softmax/gather/mean nodes


def test_cross_entropy_matches_composite_ops():
    x = mg.randn(6, 5, dtype=mg.float64)
    t = mg.tensor([4, 0, 1, 1, 3, 2])
    logp = x.log_softmax(1)
    expected = -logp[mg.arange(6), t].mean()
    np.testing.assert_allclose(F.cross_entropy(x, t).item(), expected.item(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_cross_entropy_stable_and_warning_free_at_1000(dtype):
    x = mg.tensor([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [1000.0, 1000.0, -1000.0]], dtype=dtype,
                  requires_grad=True)
    t = mg.tensor([1, 2, 0])
    with warnings.catch_warnings(), np.errstate(divide="raise", over="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss = F.cross_entropy(x, t, label_smoothing=0.1)
        loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad._array).all()
    assert loss.dtype == dtype and x.grad.dtype == dtype
    # row 0: 2000 * 0.9 + 0.1/3 * (0 + 2000 + 1000); row 1: 0.1/3 * 4000; row 2: 0.9 log 2 + 0.1/3 (3 log 2 + 2000)
    rows = [1800 + 100, 400 / 3, 0.9 * np.log(2) + 0.1 / 3 * (3 * np.log(2) + 2000)]
    np.testing.assert_allclose(loss.item(), np.mean(rows), rtol=1e-5)


def test_cross_entropy_all_ignored_is_nan_without_warning():
    x = mg.randn(2, 3, requires_grad=True)
    with warnings.catch_warnings(), np.errstate(divide="raise", over="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss = F.cross_entropy(x, mg.tensor([-100, -100]))
        loss.backward()
    assert np.isnan(loss.item())  # PyTorch: 0 / 0 = nan
    assert np.all(x.grad._array == 0)
    assert F.cross_entropy(x, mg.tensor([-100, -100]), reduction="sum").item() == 0.0


def test_cross_entropy_float_target_of_other_shape_is_a_type_error():
    with pytest.raises(TypeError, match=r"integer class indices.*float32 of shape \(3,\)"):
        F.cross_entropy(mg.randn(3, 4), mg.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="integer class indices"):
        F.cross_entropy(mg.randn(3, 4), mg.tensor([True, False, True]))


def test_cross_entropy_out_of_range_target_names_value_and_classes():
    with pytest.raises(IndexError, match=r"target value 7 is out of range for 4 classes"):
        F.cross_entropy(mg.randn(3, 4), mg.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match=r"target value -1 is out of range for 4 classes"):
        F.cross_entropy(mg.randn(3, 4), mg.tensor([0, -1, 1]))
    # ignore_index itself is fine even though it is out of range
    F.cross_entropy(mg.randn(3, 4), mg.tensor([0, -100, 1]))


def test_cross_entropy_shape_errors():
    with pytest.raises(mg.ShapeError, match=r"target of shape \(4,\) does not fit input of shape \(3, 4\)"):
        F.cross_entropy(mg.randn(3, 4), mg.tensor([0, 1, 2, 3]))
    with pytest.raises(mg.ShapeError, match=r"expected target shape \(2, 5\)"):
        F.cross_entropy(mg.randn(2, 4, 5), mg.tensor([0, 1]))
    with pytest.raises(mg.ShapeError, match=r"weight of shape \(3,\).*expected \(4,\)"):
        F.cross_entropy(mg.randn(2, 4), mg.tensor([0, 1]), weight=mg.ones(3))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.cross_entropy(mg.randn(2, 4), mg.tensor([0, 1]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(mg.randn(2, 4), mg.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="floating"):
        F.cross_entropy(mg.tensor([[1, 2]]), mg.tensor([0]))


def test_bce_with_logits_stable_at_extremes():
    x = mg.tensor([1000.0, -1000.0, 1000.0, -1000.0], requires_grad=True)
    y = mg.tensor([1.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings(), np.errstate(divide="raise", over="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none", pos_weight=mg.tensor([2.0]))
        loss.sum().backward()
    np.testing.assert_allclose(loss._array, [0.0, 0.0, 1000.0, 2000.0])
    np.testing.assert_allclose(x.grad._array, [0.0, 0.0, 1.0, -2.0])


def test_bce_with_logits_errors():
    with pytest.raises(mg.ShapeError, match=r"target size \(3,\) must be the same as input size \(2, 3\)"):
        F.binary_cross_entropy_with_logits(mg.randn(2, 3), mg.rand(3))
    with pytest.raises(mg.ShapeError, match="pos_weight"):
        F.binary_cross_entropy_with_logits(mg.randn(2, 3), mg.rand(2, 3), pos_weight=mg.ones(4))


def test_regression_loss_shape_error():
    with pytest.raises(mg.ShapeError, match=r"mse_loss: input of shape \(2, 3\) and target of shape \(4,\)"):
        F.mse_loss(mg.randn(2, 3), mg.randn(4))


# ------------------------------------------------------------------------------------------------
# Loss modules
# ------------------------------------------------------------------------------------------------


def test_loss_modules_match_functional():
    rng = np.random.default_rng(4)
    x = mg.tensor(rng.standard_normal((4, 3)))
    y = mg.tensor(rng.standard_normal((4, 3)))
    t = mg.tensor([0, 2, 1, -100])
    w = mg.tensor([1.0, 2.0, 0.5])
    assert mg.nn.MSELoss(reduction="sum")(x, y).item() == F.mse_loss(x, y, reduction="sum").item()
    assert mg.nn.L1Loss()(x, y).item() == F.l1_loss(x, y).item()
    ce = mg.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)
    assert ce(x, t).item() == F.cross_entropy(x, t, weight=w, label_smoothing=0.1).item()
    p = mg.tensor(rng.random((4, 3)))
    bce = mg.nn.BCEWithLogitsLoss(pos_weight=w, reduction="none")
    np.testing.assert_array_equal(bce(x, p)._array, F.binary_cross_entropy_with_logits(x, p, pos_weight=w,
                                                                                      reduction="none")._array)


def test_loss_module_repr_and_buffers():
    assert repr(mg.nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(mg.nn.MSELoss()) == "MSELoss()"
    ce = mg.nn.CrossEntropyLoss(weight=mg.ones(3))
    assert list(ce.state_dict()) == ["weight"]  # class weights are a buffer, as in PyTorch
    assert list(ce.parameters()) == []
    assert list(mg.nn.BCEWithLogitsLoss(pos_weight=mg.ones(2)).state_dict()) == ["pos_weight"]
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        mg.nn.L1Loss(reduction="mea")


def test_loss_module_state_dict_keys_like_torch(torch):
    for ours, theirs in [(mg.nn.CrossEntropyLoss(weight=mg.ones(3)), torch.nn.CrossEntropyLoss(weight=torch.ones(3))),
                         (mg.nn.BCEWithLogitsLoss(weight=mg.ones(2), pos_weight=mg.ones(2)),
                          torch.nn.BCEWithLogitsLoss(weight=torch.ones(2), pos_weight=torch.ones(2)))]:
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)


def test_legacy_size_average_reduce():
    x, y = mg.tensor([1.0, 3.0]), mg.tensor([0.0, 0.0])
    with pytest.warns(UserWarning, match="deprecated"):
        assert F.mse_loss(x, y, reduce=False).shape == (2,)
    with pytest.warns(UserWarning, match="deprecated"):
        assert F.mse_loss(x, y, size_average=False).item() == 10.0


# ------------------------------------------------------------------------------------------------
# Property: the fused node equals the textbook composite on random shapes, layouts and options
# ------------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=4, min_side=1, max_side=4),
       reduction=st.sampled_from(["mean", "sum", "none"]), weighted=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.25]))
def test_cross_entropy_property(data, shape, reduction, weighted, smoothing):
    x = data.draw(arrays(shape))  # random memory layout (transposed, strided, reversed)
    n_cls = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else shape[:1] + shape[2:]
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    t = rng.integers(-1, n_cls, size=tshape)
    t[t == -1] = -100  # some ignored targets
    w = rng.random(n_cls) + 0.5 if weighted else np.ones(n_cls)
    # the textbook composite, in NumPy: -(1-eps) w_t log p_t - eps/C sum_c w_c log p_c
    xc = np.moveaxis(x, 0 if x.ndim == 1 else 1, -1)
    logp = xc - np.log(np.exp(xc - xc.max(-1, keepdims=True)).sum(-1, keepdims=True)) - xc.max(-1, keepdims=True)
    keep = t != -100
    safe_t = np.where(keep, t, 0)
    nll = -np.take_along_axis(logp, safe_t[..., None], -1)[..., 0] * w[safe_t]
    smooth = -(logp * w).sum(-1)
    rows = np.where(keep, (1 - smoothing) * nll + smoothing / n_cls * smooth, 0.0)
    denom = np.where(keep, w[safe_t], 0.0).sum()
    with np.errstate(invalid="ignore"):  # 0/0 when every target is ignored: nan, as in PyTorch
        expected = rows if reduction == "none" else rows.sum() if reduction == "sum" else rows.sum() / denom
    xt = mg.from_numpy(x).requires_grad_(True)
    got = F.cross_entropy(xt, mg.tensor(t), weight=mg.tensor(w), reduction=reduction, label_smoothing=smoothing)
    np.testing.assert_allclose(got._array, expected, rtol=1e-10, atol=1e-12)
    if reduction != "mean" or denom > 0:
        assert gradcheck(lambda a: F.cross_entropy(a, mg.tensor(t), weight=mg.tensor(w), reduction=reduction,
                                                   label_smoothing=smoothing), [xt])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape, target", [((4, 3), [0, 2, 1, 1]), ((1, 18), [3]), ((3,), 2), ((0, 5), []),
                                           ((2, 3, 4), [[0, 1, 2, 0], [2, 2, 1, 0]])])
def test_nll_loss_without_weights_or_ignored_targets_matches_the_weighted_path(shape, target, reduction):
    # No weight and no ignored target is nll_loss's short path (every row weighs 1). The general
    # path, taken with class weights of 1, must give the same loss and gradient.
    class_dim = 1 if len(shape) > 1 else 0
    z = np.random.default_rng(0).standard_normal(shape)
    logp = z - np.log(np.exp(z).sum(axis=class_dim, keepdims=True))
    results = []
    for weight in (None, mg.ones(shape[class_dim], dtype=mg.float64)):
        x = mg.tensor(logp, requires_grad=True)
        loss = F.nll_loss(x, mg.tensor(np.array(target, dtype=np.int64)), weight=weight, reduction=reduction)
        loss.sum().backward()
        results.append((loss.detach().numpy(), x.grad.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    if shape[0]:
        x = mg.tensor(logp, requires_grad=True)
        assert gradcheck(lambda t: F.nll_loss(t, mg.tensor(np.array(target, dtype=np.int64)), reduction=reduction),
                         (x,))


def test_nll_loss_ignore_index_that_is_a_class_is_still_ignored():
    logp = mg.tensor(np.log([[0.2, 0.8], [0.6, 0.4]]), requires_grad=True)
    loss = F.nll_loss(logp, mg.tensor([1, 0]), ignore_index=0)  # the second row is ignored: mean over one row
    assert loss.item() == pytest.approx(-np.log(0.8))
    loss.backward()
    np.testing.assert_allclose(logp.grad.numpy(), [[0.0, -1.0], [0.0, 0.0]])
