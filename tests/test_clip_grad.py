"""mg.nn.utils.clip_grad_norm_ / clip_grad_value_: PyTorch's numbers and PyTorch's behaviour."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.optim import CLIP_CASES, CLIP_VALUE, clip_grads, config_fingerprint, torch_clip

import minigrad as mg
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_
from minigrad.nn.utils.clip_grad import clip_grads_with_norm_, get_total_norm
from minigrad.tensor import Tensor


def _params(dtype=np.float64) -> list[Tensor]:
    """Three parameters with the fixture's gradients and a fourth without a gradient."""
    params = [mg.zeros(*g.shape, dtype=dtype, requires_grad=True) for g in clip_grads()]
    for p, g in zip(params, clip_grads()):
        p.grad = mg.tensor(g.astype(dtype))
    return [*params, mg.zeros(2, dtype=dtype, requires_grad=True)]


def _mg_clip(name: str | None) -> tuple[np.ndarray, list[np.ndarray]]:
    params = _params()
    if name is None:
        assert clip_grad_value_(params, CLIP_VALUE) is None
        total = np.array(np.nan)
    else:
        norm_type, max_norm = CLIP_CASES[name]
        out = clip_grad_norm_(params, max_norm, norm_type=norm_type)
        assert isinstance(out, Tensor) and out.shape == () and out.dtype == np.float64
        total = out._array
    assert params[3].grad is None
    return total, [p.grad._array for p in params[:3]]


@pytest.fixture(scope="module")
def clip_fixture() -> dict[str, np.ndarray]:
    f = load_fixture("optim_clip")
    assert str(f["config"]) == config_fingerprint(), \
        "tests/fixtures/optim_clip.npz is stale: run `python tests/make_fixtures.py optim`"
    return f


CASES = [*CLIP_CASES, None]


@pytest.mark.parametrize("name", CASES)
def test_clip_matches_torch_fixture(clip_fixture, name):
    total, grads = _mg_clip(name)
    key = name or "value"
    np.testing.assert_allclose(total, clip_fixture[f"{key}__total"], rtol=1e-13)
    for i, g in enumerate(grads):
        np.testing.assert_allclose(g, clip_fixture[f"{key}__grad{i}"], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", CASES)
def test_clip_matches_torch_live(torch, name):
    total, grads = _mg_clip(name)
    t_total, t_grads = torch_clip(torch, name)
    np.testing.assert_allclose(total, t_total, rtol=1e-13)
    for g, tg in zip(grads, t_grads):
        np.testing.assert_allclose(g, tg, rtol=1e-13, atol=1e-15)


def test_small_gradients_are_not_amplified():
    params = _params()
    before = [p.grad._array.copy() for p in params[:3]]
    clip_grad_norm_(params, max_norm=1e6)
    for b, p in zip(before, params):
        np.testing.assert_array_equal(p.grad._array, b)


def test_clipped_norm_equals_max_norm():
    params = _params()
    total = clip_grad_norm_(params, max_norm=0.5)
    assert float(total) > 0.5
    assert float(get_total_norm([p.grad for p in params if p.grad is not None])) == pytest.approx(0.5, rel=1e-5)


def test_single_tensor_generator_and_float32():
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    (w * w).sum().backward()  # grad [6, 8], norm 10
    total = clip_grad_norm_(w, 1.0)
    assert total.dtype == np.float32 and float(total) == 10.0
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad._array, [0.6, 0.8], rtol=1e-5)
    params = _params()
    total = clip_grad_norm_((p for p in params), 1.0)
    assert float(total) > 1.0


def test_empty_inputs():
    assert float(clip_grad_norm_([], 1.0)) == 0.0
    no_grad = mg.zeros(3, requires_grad=True)
    assert float(clip_grad_norm_([no_grad], 1.0)) == 0.0 and no_grad.grad is None
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)
    clip_grad_value_([], 1.0)


def test_error_if_nonfinite():
    params = _params()
    params[1].grad._array[2] = np.inf
    with pytest.raises(RuntimeError, match=r"total norm of order 2.0 .* non-finite .*error_if_nonfinite=False"):
        clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    assert params[1].grad._array[2] == np.inf  # nothing was scaled
    params[1].grad._array[2] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(params, 1.0, norm_type=math.inf, error_if_nonfinite=True)
    # Without the check, like PyTorch: the NaN norm spreads into every gradient (and no warning).
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        total = clip_grad_norm_(params, 1.0)
    assert math.isnan(float(total)) and np.isnan(params[0].grad._array).all()


def test_mixed_dtypes_promote_the_norm():
    a = mg.zeros(2, dtype=mg.float32, requires_grad=True)
    b = mg.zeros(2, dtype=mg.float64, requires_grad=True)
    a.grad, b.grad = mg.tensor(np.array([3.0, 0.0], np.float32)), mg.tensor(np.array([0.0, 4.0]))
    total = clip_grad_norm_([a, b], 1.0)
    assert total.dtype == np.float64 and float(total) == 5.0
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_read_only_gradient_arrays_are_replaced():
    w = mg.zeros(3, requires_grad=True)
    arr = np.array([1.0, -2.0, 3.0], np.float32)
    arr.flags.writeable = False
    w.grad = Tensor(arr)
    clip_grad_value_([w], 1.5)
    assert w.grad.tolist() == [1.0, -1.5, 1.5]
    w.grad = Tensor(arr)
    clip_grad_norm_([w], 1.0)
    assert float(get_total_norm([w.grad])) == pytest.approx(1.0, rel=1e-5)


def test_clip_value():
    w = mg.tensor([1.0, -2.0, 0.1], requires_grad=True)
    (w * mg.tensor([5.0, 5.0, -0.2])).sum().backward()
    clip_grad_value_(w, 0.5)
    np.testing.assert_allclose(w.grad._array, [0.5, 0.5, -0.2], rtol=1e-6)


def test_bad_arguments():
    w = mg.zeros(2, requires_grad=True)
    w.grad = mg.ones(2)
    with pytest.raises(TypeError, match="expected Tensors"):
        clip_grad_norm_([w, np.ones(2)], 1.0)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_([w], -1.0)


def test_clip_grads_with_norm_accepts_float_norm():
    p = mg.tensor([1.0], requires_grad=True)
    p.grad = mg.tensor([10.0])
    clip_grads_with_norm_([p], 1.0, 10.0)
    assert p.grad.item() == pytest.approx(1.0, rel=1e-6)
