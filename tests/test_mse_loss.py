"""``F.mse_loss``: the fused path (kernels/loss.py) and the NumPy fallback give PyTorch's values.

The fused path runs for reduction 'mean'/'sum' when input and target have the same shape and the
same float32/float64 dtype; broadcast targets, mixed dtypes, 'none' and ``create_graph=True``
backward keep the NumPy path. Each test says which path it covers, and checks that it is taken.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck, gradgradcheck

REDUCTIONS = ["mean", "sum"]


def _leaf(a, requires_grad=True):
    return mg.from_numpy(np.asarray(a)).requires_grad_(requires_grad)


def _transposed(rng, shape, dtype=np.float64):
    """Values of ``shape`` as a transposed view: not C-contiguous."""
    a = np.ascontiguousarray(rng.standard_normal(shape[::-1]).astype(dtype)).T
    assert not a.flags.c_contiguous
    return a


def _cases(rng, dtype):
    """(name, input array, target array, fused?) for the fast path and the fallback."""
    shape = (4, 3, 5)
    return [
        ("contiguous", rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype), True),
        ("transposed", _transposed(rng, shape, dtype), _transposed(rng, shape, dtype), True),
        ("broadcast target", rng.standard_normal(shape).astype(dtype), rng.standard_normal(5).astype(dtype), False),
    ]


def _mse(x, y, reduction, mse_loss=F.mse_loss):
    """``mse_loss`` (minigrad's, or PyTorch's) without the warning about broadcast targets."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Using a target size", UserWarning)  # PyTorch's broadcast warning
        warnings.filterwarnings("ignore", ".*different to the input size", UserWarning)  # and ours
        return mse_loss(x, y, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS + ["none"])
def test_which_path(reduction):
    rng = np.random.default_rng(0)
    for name, x, y, fused in _cases(rng, np.float32):
        loss = _mse(_leaf(x), _leaf(y, False), reduction)
        assert loss.grad_fn.fused == (fused and reduction != "none"), name
    x = _leaf(rng.standard_normal(3))
    assert not F.mse_loss(x, mg.tensor(np.ones(3, np.float32))).grad_fn.fused  # mixed dtypes


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradcheck_float64(reduction):
    rng = np.random.default_rng(1)
    for name, x, y, _ in _cases(rng, np.float64):
        both = [_leaf(x), _leaf(y)]
        assert gradcheck(lambda a, b: _mse(a, b, reduction), both), name
        target = _leaf(y, False)  # the input's gradient only
        assert gradcheck(lambda a, t=target: _mse(a, t, reduction), [_leaf(x)]), name
        input = _leaf(x, False)  # the target's gradient only
        assert gradcheck(lambda b, i=input: _mse(i, b, reduction), [_leaf(y)]), name


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gradgradcheck_float64(reduction):
    """create_graph=True backward (NumPy path in Tensor ops) after the fused forward."""
    rng = np.random.default_rng(2)
    for name, x, y, _ in _cases(rng, np.float64):
        assert gradgradcheck(lambda a, b: _mse(a, b, reduction), [_leaf(x), _leaf(y)]), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_parity_live(torch, dtype, reduction):
    rng = np.random.default_rng(3)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
    cases = _cases(rng, dtype)
    big = (35, 64, 32)  # a train step's output: the vector loop and its tail, many times over
    cases.append(("big", rng.standard_normal(big).astype(dtype), rng.standard_normal(big).astype(dtype), True))
    for name, x, y, _ in cases:
        gout = dtype(0.7)
        ours_x, ours_y = _leaf(x), _leaf(y)
        ours = _mse(ours_x, ours_y, reduction)
        ours.backward(mg.tensor(np.asarray(gout)))
        theirs_x, theirs_y = (torch.tensor(np.array(a), requires_grad=True) for a in (x, y))
        theirs = _mse(theirs_x, theirs_y, reduction, torch.nn.functional.mse_loss)
        theirs.backward(torch.tensor(gout))
        assert ours.dtype == np.dtype(dtype) and ours.shape == ()
        assert ours_x.grad.dtype == np.dtype(dtype) and ours_x.grad.shape == x.shape
        np.testing.assert_allclose(ours.item(), theirs.item(), **tol, err_msg=name)
        np.testing.assert_allclose(ours_x.grad.numpy(), theirs_x.grad.numpy(), **tol, err_msg=name)
        np.testing.assert_allclose(ours_y.grad.numpy(), theirs_y.grad.numpy(), **tol, err_msg=name)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nan_inf_and_empty_like_pytorch(torch, reduction):
    x = np.array([[1.0, np.nan, 2.0], [np.inf, 0.0, -1.0]], np.float32)
    y = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, np.inf]], np.float32)
    ours_x = _leaf(x)
    ours = F.mse_loss(ours_x, _leaf(y, False), reduction=reduction)
    assert ours.grad_fn.fused
    ours.backward()
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs = torch.nn.functional.mse_loss(theirs_x, torch.tensor(y), reduction=reduction)
    theirs.backward()
    np.testing.assert_equal(ours.item(), theirs.item())
    np.testing.assert_array_equal(ours_x.grad.numpy(), theirs_x.grad.numpy())
    empty = _leaf(np.zeros((0, 3), np.float32))
    loss = F.mse_loss(empty, mg.zeros(0, 3), reduction=reduction)
    np.testing.assert_equal(loss.item(), np.nan if reduction == "mean" else 0.0)
    np.testing.assert_equal(
        loss.item(), torch.nn.functional.mse_loss(torch.zeros(0, 3), torch.zeros(0, 3), reduction=reduction).item()
    )
    loss.backward()
    assert empty.grad.shape == (0, 3)


def test_backward_returns_one_aligned_array_for_the_input_that_needs_it():
    rng = np.random.default_rng(4)
    shape = (35, 64, 32)
    x, y = _leaf(rng.standard_normal(shape).astype(np.float32)), _leaf(np.zeros(shape, np.float32))
    expected = 2 * x.detach().numpy() / x.numel()
    one = np.asarray(np.float32(1.0))
    for inputs, needs in (((x, y.detach()), (True, False)), ((x.detach(), y), (False, True))):
        node = F.mse_loss(*inputs).grad_fn
        assert node.fused and node.needs_input_grad == needs
        gx, gy = node.backward(one)  # what the engine receives
        g = gx if needs[0] else gy
        assert (gx is None) == (not needs[0]) and (gy is None) == (not needs[1])
        assert g.ctypes.data % 64 == 0 and g.flags.c_contiguous and g.dtype == np.float32
        np.testing.assert_allclose(g, expected if needs[0] else -expected, rtol=1e-6)


@pytest.mark.parametrize("which", ["input", "target", "transposed input"])
def test_inplace_change_between_forward_and_backward_is_an_error(which):
    rng = np.random.default_rng(5)
    x = _leaf(rng.standard_normal((4, 3)))
    base = x * 1.0  # not a leaf: may be changed in place
    target = _leaf(rng.standard_normal((4, 3)), False)
    if which == "target":
        loss = F.mse_loss(base, target)
        target.add_(1.0)
    elif which == "input":
        loss = F.mse_loss(base, target)
        base.mul_(2.0)
    else:
        loss = F.mse_loss(base.T, target.T)
        base.mul_(2.0)
    assert loss.grad_fn.fused
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
