"""The fused optimizer kernels agree with their NumPy references (minigrad/kernels/optim.py).

Each case runs a few steps with the kernel on flattened C-contiguous copies and with the
reference on the original (possibly transposed / sliced) arrays, then compares. The kernels do
the same float operations in the same order as the references, so the agreement is at the last
bit in practice; the tolerance only leaves room for a compiler that contracts a*b+c into an FMA.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from minigrad.kernels import optim as K

DTYPES = [np.float32, np.float64]
LAYOUTS = ["contiguous", "transposed", "sliced"]
TOL = {np.float32: dict(rtol=2e-6, atol=1e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}


def _array(rng: np.random.Generator, dtype, layout: str, scale: float = 1.0) -> np.ndarray:
    """A (6, 5) array of the given layout: C order, a transpose, or a strided slice."""
    if layout == "contiguous":
        a = rng.standard_normal((6, 5))
    elif layout == "transposed":
        a = rng.standard_normal((5, 6)).T
    else:
        a = rng.standard_normal((12, 10))[::2, 1::2]
    return (a * scale).astype(dtype)


def _flat(a: np.ndarray) -> np.ndarray:
    """What the optimizer hands a kernel: a 1-D C-contiguous copy (or view) of ``a``."""
    return np.ascontiguousarray(a).reshape(-1)


def _close(kernel_out: np.ndarray, ref_out: np.ndarray, dtype) -> None:
    np.testing.assert_allclose(kernel_out, _flat(ref_out), **TOL[dtype])


SGD_CASES = [  # momentum, dampening, weight_decay, nesterov, maximize
    (0.0, 0.0, 0.0, False, False),
    (0.9, 0.0, 0.0, False, False),
    (0.9, 0.3, 0.0, False, False),
    (0.9, 0.0, 0.1, True, False),
    (0.5, 0.1, 0.01, False, True),
    (0.0, 0.0, 0.05, False, True),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_step_matches_reference(dtype, layout, case):
    momentum, dampening, wd, nesterov, maximize = case
    rng = np.random.default_rng(0)
    p_ref = _array(rng, dtype, layout)
    buf_ref = np.zeros_like(p_ref)
    p, buf = _flat(p_ref).copy(), _flat(buf_ref).copy()
    t = np.dtype(dtype).type
    for step in range(4):
        g_ref = _array(rng, dtype, layout)
        scalars = (t(0.05), t(momentum), t(1 - dampening), t(wd))
        K.sgd_step(p, _flat(g_ref), buf, *scalars, nesterov, maximize, step == 0)
        K.sgd_step_ref(p_ref, g_ref, buf_ref, *scalars, nesterov, maximize, step == 0)
        _close(p, p_ref, dtype)
        if momentum:
            _close(buf, buf_ref, dtype)
    assert p.dtype == dtype and buf.dtype == dtype


ADAM_CASES = [  # beta1, beta2, weight_decay, amsgrad, maximize, decoupled
    (0.9, 0.999, 0.0, False, False, False),
    (0.9, 0.999, 0.1, False, False, False),
    (0.8, 0.99, 0.1, True, False, False),
    (0.9, 0.999, 0.01, False, False, True),
    (0.9, 0.95, 0.05, True, True, True),
    (0.3, 0.5, 0.0, False, False, False),  # lerp weight 0.7 >= 0.5: the other lerp formula
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_step_matches_reference(dtype, layout, case):
    beta1, beta2, wd, amsgrad, maximize, decoupled = case
    rng = np.random.default_rng(1)
    p_ref = _array(rng, dtype, layout)
    m_ref, v_ref, vmax_ref = (np.zeros_like(p_ref) for _ in range(3))
    p, m, v, vmax = (_flat(a).copy() for a in (p_ref, m_ref, v_ref, vmax_ref))
    for step in range(1, 5):
        # Gradients of changing scale so that amsgrad's running max really differs from v.
        g_ref = _array(rng, dtype, layout, scale=3.0 if step % 2 else 0.2)
        s = K.adam_scalars(dtype, lr=0.01, beta1=beta1, beta2=beta2, eps=1e-8, weight_decay=wd, step=step)
        K.adam_step(p, _flat(g_ref), m, v, vmax, *s, amsgrad, maximize, decoupled)
        K.adam_step_ref(p_ref, g_ref, m_ref, v_ref, vmax_ref, *s, amsgrad, maximize, decoupled)
        for got, want in ((p, p_ref), (m, m_ref), (v, v_ref)):
            _close(got, want, dtype)
        if amsgrad:
            _close(vmax, vmax_ref, dtype)
            assert np.all(vmax >= v)
    assert all(a.dtype == dtype for a in (p, m, v, vmax))


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_without_amsgrad_ignores_empty_vmax(dtype):
    """Callers pass an empty array for vmax when amsgrad is off; it must never be touched."""
    rng = np.random.default_rng(2)
    p, g = rng.standard_normal(7).astype(dtype), rng.standard_normal(7).astype(dtype)
    m, v = np.zeros(7, dtype), np.zeros(7, dtype)
    p_ref, m_ref, v_ref = p.copy(), m.copy(), v.copy()
    s = K.adam_scalars(dtype, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1)
    K.adam_step(p, g, m, v, np.empty(0, dtype), *s, False, False, False)
    K.adam_step_ref(p_ref, g, m_ref, v_ref, None, *s, False, False, False)
    _close(p, p_ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_adam_first_step_is_sign_times_lr(dtype):
    """Textbook check: after one bias-corrected step, p moves by ~lr * sign(g) (|g| >> eps)."""
    g = np.array([3.0, -0.5, 1e-2, -7.0], dtype)
    p = np.zeros(4, dtype)
    m, v = np.zeros(4, dtype), np.zeros(4, dtype)
    s = K.adam_scalars(dtype, 0.1, 0.9, 0.999, 1e-8, 0.0, 1)
    K.adam_step(p, g, m, v, np.empty(0, dtype), *s, False, False, False)
    np.testing.assert_allclose(p, -0.1 * np.sign(g), rtol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_and_inf_propagate_like_torch(dtype):
    """No fastmath: a NaN gradient gives NaN parameters (and amsgrad's max keeps the NaN)."""
    with np.errstate(all="ignore"):  # NUMBA_DISABLE_JIT runs the loops on NumPy scalars, which warn
        _nan_and_inf_case(dtype)


def _nan_and_inf_case(dtype) -> None:
    g = np.array([np.nan, 1.0, np.inf], dtype)
    for amsgrad in (False, True):
        p = np.ones(3, dtype)
        m, v, vmax = np.zeros(3, dtype), np.zeros(3, dtype), np.zeros(3, dtype)
        s = K.adam_scalars(dtype, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1)
        K.adam_step(p, g, m, v, vmax, *s, amsgrad, False, False)
        assert np.isnan(p[0]) and np.isfinite(p[1])
        if amsgrad:
            assert np.isnan(vmax[0])
    p, buf = np.ones(3, dtype), np.zeros(3, dtype)
    t = np.dtype(dtype).type
    K.sgd_step(p, g, buf, t(0.1), t(0.9), t(1), t(0), False, False, True)
    assert np.isnan(p[0]) and p[2] == -np.inf


def test_adam_scalars_follow_pytorch_formulas():
    lr, b1, b2, eps, wd, step = 0.01, 0.9, 0.99, 1e-6, 0.1, 3
    s = K.adam_scalars(np.float64, lr, b1, b2, eps, wd, step)
    decay, w, omw, beta2, omb2, wd_out, nss, bc2s, eps_out = (float(x) for x in s)
    assert decay == 1 - lr * wd and w == 1 - b1 and omw == 1 - (1 - b1)
    assert beta2 == b2 and omb2 == 1 - b2 and wd_out == wd and eps_out == eps
    assert nss == -lr / (1 - b1 ** step)
    assert bc2s == (1 - b2 ** step) ** 0.5
    assert all(x.dtype == np.float32 for x in K.adam_scalars(np.float32, lr, b1, b2, eps, wd, step))


@pytest.mark.parametrize("dtype", DTYPES)
def test_warmups_run(dtype):
    K._warmup_sgd(np.dtype(dtype))
    K._warmup_adam(np.dtype(dtype))


def test_kernels_are_registered_for_warmup():
    from minigrad.kernels._jit import REGISTRY

    names = {k.py_func.__name__ for k in REGISTRY if k.py_func.__module__ == K.__name__}
    assert {"sgd_step", "adam_step"} <= names


# A quick exhaustive sweep of Adam's boolean switches on float32 (the dtype where an accidental
# float64 constant inside the kernel would show up as a difference in the last bits).
@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=3)))
def test_adam_flag_combinations_float32_bitwise(flags):
    amsgrad, maximize, decoupled = flags
    rng = np.random.default_rng(3)
    p = rng.standard_normal(33).astype(np.float32)
    p_ref = p.copy()
    m, v, vmax = (np.zeros(33, np.float32) for _ in range(3))
    m_ref, v_ref, vmax_ref = m.copy(), v.copy(), vmax.copy()
    for step in (1, 2, 3):
        g = rng.standard_normal(33).astype(np.float32)
        s = K.adam_scalars(np.float32, 3e-3, 0.9, 0.999, 1e-8, 0.02, step)
        K.adam_step(p, g, m, v, vmax, *s, amsgrad, maximize, decoupled)
        K.adam_step_ref(p_ref, g, m_ref, v_ref, vmax_ref, *s, amsgrad, maximize, decoupled)
    np.testing.assert_allclose(p, p_ref, rtol=2e-7, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("alpha", [-0.0005, 2, -1e-30, 3.5e37])
def test_add_scaled_is_numpy_bit_for_bit(dtype, alpha):
    """``a += alpha * b``: the kernel, its reference and NumPy's ``a += b * alpha`` agree to the last bit
    (no fused multiply-add), inf and NaN included; every layout, broadcast and overlapping operands too."""
    rng = np.random.default_rng(7)
    base = rng.standard_normal((60, 70)).astype(dtype)  # above ADD_SCALED_MIN_SIZE: the kernel
    b = rng.standard_normal((60, 70)).astype(dtype)
    assert base.size >= K.ADD_SCALED_MIN_SIZE
    base[0, :3], b[1, :3] = [np.inf, np.nan, -np.inf], [np.inf, np.nan, 0.0]
    with np.errstate(all="ignore"):
        for name, bb in [("same", b), ("transposed", np.ascontiguousarray(b.T).T), ("row", b[0]),
                         ("float64", b.astype(np.float64)), ("small", b[:2].copy())]:
            a, want = (base[:2].copy(), base[:2].copy()) if name == "small" else (base.copy(), base.copy())
            K.add_scaled(a, bb, alpha)
            want += bb * alpha
            np.testing.assert_array_equal(a, want, err_msg=name)
        a, want = base.reshape(-1).copy(), base.reshape(-1).copy()
        K.add_scaled_kernel(a, b.reshape(-1), a.dtype.type(alpha))
        K.add_scaled_kernel_ref(want, b.reshape(-1), alpha)
        np.testing.assert_array_equal(a, want)
        x = base.reshape(-1).copy()
        expected = x[1:] + x[:-1] * alpha  # an overlapping b is read as it was before the update
        K.add_scaled(x[1:], x[:-1], alpha)
        np.testing.assert_array_equal(x[1:], expected)
