"""ops/grad_math.py: the helpers of backward formulas give NumPy's results, whichever path they take."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.ops import grad_math as G

DTYPES = [np.float16, np.float32, np.float64]


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(f"i{a.dtype.itemsize}")


def _special(rng: np.random.Generator, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    a = rng.standard_normal(shape).astype(dtype)
    a.flat[:5] = [np.inf, np.nan, -np.inf, -0.0, 0.0]  # the values a product with the mask would spoil
    return a


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7, 5), (G.SELECT_BITS_MIN_SIZE,), (64, 130)])  # below and above the bound
def test_where_is_np_where_bit_for_bit(dtype: type, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    a, b = _special(rng, shape, dtype), _special(rng, shape, dtype)[::-1].copy()
    c = rng.random(shape) > 0.5
    cases = [(c, a, b), (c, a, 0.0), (c, 0, b), (c, a, 0), (c, 0.0, a),
             (c, a, -0.0),  # -0.0 is not +0.0: NumPy's path
             (c, a, 1.0), (c, a, b.astype(np.float64) if dtype != np.float64 else b.astype(np.float32))]
    if len(shape) == 2:
        cases += [(c.T, a.T, b.T), (c[:, ::2], a[:, ::2], b[:, ::2])]  # strided: transposed, sliced
    for condition, x, y in cases:
        got, expected = G.where(condition, x, y), np.where(condition, x, y)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(_bits(got), _bits(expected))


def test_where_leaves_its_inputs_alone() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(5000), rng.standard_normal(5000)
    c = a > 0
    before = a.copy(), b.copy(), c.copy()
    G.where(c, a, b), G.where(c, a, 0.0), G.where(c, 0.0, b)
    for now, then in zip((a, b, c), before):
        np.testing.assert_array_equal(now, then)


def test_relu_gradient_of_an_inf_is_0_where_the_unit_is_off() -> None:
    x = mg.tensor(np.where(np.arange(6000) % 2 == 0, 1.0, -1.0).astype(np.float32), requires_grad=True)
    x.relu().backward(mg.tensor(np.full(6000, np.inf, np.float32)))
    assert (x.grad._array[1::2] == 0).all() and np.isinf(x.grad._array[::2]).all()  # not inf * 0 = nan


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_without_overflow(dtype):
    """``softplus`` is log(1 + exp(x)) where ``exp(x)`` would overflow too, for arrays, 0-d arrays and Tensors."""
    x = np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0, np.inf, -np.inf, np.nan], dtype)
    with np.errstate(over="ignore"):
        expected = np.log1p(np.exp(x.astype(np.float64)))
    expected[x > 30] = x[x > 30]  # where exp overflows in float64 itself: softplus(x) = x
    got = G.softplus(x)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected.astype(dtype), rtol=1e-6)
    assert G.softplus(np.array(0.0, dtype)).shape == ()
    tensor = G.softplus(mg.tensor(x[2:6]))
    np.testing.assert_allclose(tensor.numpy(), got[2:6], rtol=1e-6)
