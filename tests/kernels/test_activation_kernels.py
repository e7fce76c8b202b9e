"""kernels/activations.py: each kernel agrees with its NumPy reference, and the public functions
with the textbook formulas on every kind of array (float32/float64; contiguous, transposed,
sliced, broadcast; special values)."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import activations as A

DTYPES = [np.float32, np.float64]


def values(dtype, shape=(7, 9), seed=0) -> np.ndarray:
    """Normal values at several scales, and the special ones: 0, -0, +-inf, NaN, the clamp region."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * rng.choice([0.01, 1.0, 10.0, 100.0], size=shape)).astype(dtype)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 84.0, -84.0, 86.0, -86.0, 88.5, -88.5],
                       dtype)
    flat = x.reshape(-1)
    flat[: special.size] = special
    return x


def layouts(a: np.ndarray):
    yield "contiguous", a
    yield "transposed", a.T
    yield "sliced", a[::2, 1::2]


def sigmoid_tol(dtype) -> dict:
    # The kernel's exp is a polynomial, NumPy's another: both within about an ulp of the true value.
    # atol: below e^-85 the kernel gives exactly 0 where NumPy gives a number under 1e-37.
    return dict(rtol=4e-7, atol=1e-37) if dtype == np.float32 else dict(rtol=1e-15, atol=1e-37)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_kernel_agrees_with_reference(dtype):
    for name, x in layouts(values(dtype)):
        xc = np.ascontiguousarray(x).reshape(-1)
        out, expected = np.empty_like(xc), np.empty_like(xc)
        with np.errstate(all="ignore"):  # NUMBA_DISABLE_JIT runs the kernel on NumPy scalars, which warn
            A.sigmoid_kernel(xc, out)
            A.sigmoid_kernel_ref(xc, expected)
        np.testing.assert_allclose(out, expected, **sigmoid_tol(dtype), err_msg=name)
        assert np.array_equal(np.isnan(out), np.isnan(xc))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["sigmoid_backward", "tanh_backward"])
def test_gradient_kernels_are_numpy_bit_for_bit(dtype, which):
    """No fused multiply-add: the same roundings as NumPy's formula, NaN and inf where it has them."""
    kernel, ref = getattr(A, f"{which}_kernel"), getattr(A, f"{which}_kernel_ref")
    y = values(dtype, seed=1)
    y = np.where(np.isfinite(y), np.tanh(y), y).astype(dtype)  # outputs in [-1, 1], and inf/NaN gradients below
    for (name, grad), (_, y_view) in zip(layouts(values(dtype, seed=2)), layouts(y)):
        g, yy = np.ascontiguousarray(grad).reshape(-1), np.ascontiguousarray(y_view).reshape(-1)
        out, expected = np.empty_like(g), np.empty_like(g)
        with np.errstate(all="ignore"):
            kernel(g, yy, out)
            ref(g, yy, expected)
        np.testing.assert_array_equal(out, expected, err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_sigmoid_on_every_layout(dtype):
    """Any array: the kernel where it can, NumPy's formula elsewhere; always the values of the formula."""
    for name, x in [*layouts(values(dtype)), ("0-d", np.array(-2.0, dtype)), ("empty", np.zeros((0, 3), dtype))]:
        with np.errstate(all="ignore"):
            y = A.sigmoid(x)
            expected = 1 / (1 + np.exp(-x.astype(np.float64)))
        assert y.shape == x.shape and y.dtype == x.dtype, name
        np.testing.assert_allclose(y, expected, rtol=2e-7 if dtype == np.float32 else 1e-15, atol=1e-37,
                                   err_msg=name)
    assert A.sigmoid(np.array([np.inf, -np.inf], dtype)).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_public_gradients_on_every_layout(dtype):
    """Same shape, broadcast, mixed dtypes, views: always the textbook product, bit for bit."""
    y = np.tanh(values(dtype, shape=(70, 90), seed=3))  # above KERNEL_MIN_SIZE: the kernels
    grad = values(dtype, shape=(70, 90), seed=4)
    assert y.size >= A.KERNEL_MIN_SIZE
    cases = [("same", grad, y), ("transposed", grad.T, y.T), ("sliced", grad[::2], y[::2]),
             ("broadcast grad", np.broadcast_to(dtype(2.0), y.shape), y),
             ("float64 grad", grad.astype(np.float64), y), ("small", grad[:3, :3].copy(), y[:3, :3].copy()),
             ("0-d", np.array(3.0, dtype), np.array(0.25, dtype))]
    for name, g, yy in cases:
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(A.sigmoid_backward(g, yy), g * (1 - yy) * yy, err_msg=name)
            np.testing.assert_array_equal(A.tanh_backward(g, yy), g * (1 - yy * yy), err_msg=name)
            relu_y = np.maximum(yy, 0)
            np.testing.assert_array_equal(A.relu_backward(g, relu_y), np.where(relu_y <= 0, 0, g), err_msg=name)


def test_results_are_new_arrays():
    """A gradient or an output never aliases an input (the engine may keep and add to it)."""
    x = np.linspace(-3, 3, 8, dtype=np.float32)
    g = np.ones(8, np.float32)
    for out in (A.sigmoid(x), A.sigmoid_backward(g, x), A.tanh_backward(g, x)):
        assert not np.shares_memory(out, x) and not np.shares_memory(out, g)


def test_which_arrays_take_a_kernel():
    """Outputs: C-contiguous float32/float64; gradients: of the output's shape and dtype, in any layout
    (a broadcast one is copied), from KERNEL_MIN_SIZE elements; nothing without the JIT."""
    from minigrad.kernels._jit import jit_disabled

    on = not jit_disabled()
    a = np.ones((64, 64), np.float32)
    assert A._takes(a) == on and A._takes(a.astype(np.float64)) == on
    assert not A._takes(a.T) and not A._takes(a[:, ::2]) and not A._takes(a.astype(np.float16))
    assert (A._gradient_by_kernel(A.tanh_backward_kernel, a.T, a) is not None) == on
    assert (A._gradient_by_kernel(A.tanh_backward_kernel, np.broadcast_to(np.float32(1), a.shape), a) is not None) == on
    for grad, y in [(a.astype(np.float64), a), (a[0], a), (a[:8].copy(), a[:8].copy()), (a.T, a.T)]:
        assert A._gradient_by_kernel(A.tanh_backward_kernel, grad, y) is None, (grad.shape, grad.dtype, y.shape)


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_kernels_bit_for_bit(dtype):
    """max(x, 0) exactly as np.maximum (NaN kept, -0.0 gives +0.0 on every path); the gradient
    0 if y <= 0 else grad (it passes where y is NaN, as PyTorch's does)."""
    x = values(dtype, shape=(70, 90))
    grad = values(dtype, shape=(70, 90), seed=5)
    with np.errstate(all="ignore"):
        y = A.relu(x)
        expected = np.maximum(x, 0)
        np.testing.assert_array_equal(y, expected)
        assert np.array_equal(np.signbit(y), np.signbit(expected))
        np.testing.assert_array_equal(A.relu_backward(grad, y), np.where(y <= 0, dtype(0), grad))
        for name, kernel, args in [("relu", A.relu_kernel, (x.reshape(-1),)),
                                   ("relu_backward", A.relu_backward_kernel, (grad.reshape(-1), y.reshape(-1)))]:
            out, want = np.empty(x.size, dtype), np.empty(x.size, dtype)
            kernel(*args, out)
            getattr(A, f"{name}_kernel_ref")(*args, want)
            np.testing.assert_array_equal(out, want, err_msg=name)
            assert np.array_equal(np.signbit(out), np.signbit(want)), name
    for small in (x[:2, :3], x.T, np.array(-0.0, dtype), np.arange(-3, 3)):  # NumPy's path, and integers
        np.testing.assert_array_equal(A.relu(small), np.maximum(small, 0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_kernels_bit_for_bit(dtype):
    """x if x > 0 else slope * x with its mask, and grad if x > 0 else slope * grad: NumPy's where, exactly;
    on every layout (views and small arrays take NumPy; a broadcast gradient is copied for the kernel)."""
    x = values(dtype, shape=(70, 90))
    grad = values(dtype, shape=(70, 90), seed=6)
    slope = 0.01
    s = dtype(slope)
    with np.errstate(all="ignore"):
        for name, xx in [*layouts(x), ("small", x[:3, :3].copy())]:
            y, positive = A.leaky_relu(xx, slope)
            np.testing.assert_array_equal(positive, xx > 0, err_msg=name)
            np.testing.assert_array_equal(y, np.where(xx > 0, xx, xx * s), err_msg=name)
            assert y.dtype == xx.dtype
        positive = x > 0
        cases = [("same", grad), ("broadcast", np.broadcast_to(dtype(3), grad.shape)), ("transposed", grad.T.copy().T)]
        for name, g in cases:
            np.testing.assert_array_equal(A.leaky_relu_backward(g, positive, slope), np.where(positive, g, g * s),
                                          err_msg=name)
        out, mask, want, want_mask = (np.empty(x.size, dtype), np.empty(x.size, bool), np.empty(x.size, dtype),
                                      np.empty(x.size, bool))
        A.leaky_relu_kernel(x.reshape(-1), s, out, mask)
        A.leaky_relu_kernel_ref(x.reshape(-1), s, want, want_mask)
        np.testing.assert_array_equal(out, want)
        np.testing.assert_array_equal(mask, want_mask)
        out, want = np.empty(x.size, dtype), np.empty(x.size, dtype)
        A.leaky_relu_backward_kernel(grad.reshape(-1), mask, s, out)
        A.leaky_relu_backward_kernel_ref(grad.reshape(-1), mask, s, want)
        np.testing.assert_array_equal(out, want)
