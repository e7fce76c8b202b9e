"""micrograd's expression tests, ported: scalar expressions mixing Python numbers and tensors.

Each expression is checked against PyTorch live (when installed) and against values computed
once with torch 2.13 and pasted below, so the test still means something without torch.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def sanity_check(x):
    """micrograd's test_sanity_check."""
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    return h + q + q * x


def more_ops(a, b):
    """micrograd's test_more_ops (``c += ...`` written out: it is the same value)."""
    c = a + b
    d = a * b + b**3
    c = c + (c + 1)
    c = c + (1 + c + (-a))
    d = d + (d * 2 + (b + a).relu())
    d = d + (3 * d + (b - a).relu())
    e = c - d
    f = e**2
    g = f / 2.0
    g = g + 10.0 / f
    return g


def transcendental(a, b):
    """tanh, exp, log, sigmoid, abs, tensor ** tensor, scalar ** tensor, division by tensors."""
    u = (a * 0.5 - b / 3.0).tanh() * 2 + (b.exp() / (1.0 + a * a)).log()
    v = u.sigmoid() ** b.abs() - 1.5 / (2.0 + u * u)
    w = (v * a - 0.25) ** 2 + (2.0 ** (u * 0.3)) * b
    return w.sum()


A3 = [-1.3, 0.4, 2.2]
B3 = [0.7, -1.1, 0.25]

# name -> (function, inputs, torch's float64 output, torch's float64 input grads); from torch 2.13.
EXPECTED = {
    "sanity_check": (sanity_check, [-4.0], -20.0, [46.0]),
    "more_ops": (more_ops, [-4.0, 2.0], 24.70408163265306, [138.83381924198252, 645.5772594752186]),
    "transcendental": (
        transcendental, [A3, B3], -0.12134530620322392,
        [[0.1234648576390995, 0.23221800662871647, -0.018135476284823957],
         [0.4841587947340077, 0.7288645541303554, 1.137987392178999]],
    ),
}
TOL = {"float64": {"rtol": 1e-12, "atol": 1e-12}, "float32": {"rtol": 1e-5, "atol": 1e-5}}


def run_mg(fn, inputs, dtype):
    xs = [mg.tensor(v, dtype=dtype, requires_grad=True) for v in inputs]
    out = fn(*xs)
    out.backward()
    return out, xs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(EXPECTED))
def test_expression_against_pasted_torch_values(name, dtype):
    fn, inputs, value, grads = EXPECTED[name]
    out, xs = run_mg(fn, inputs, getattr(mg, dtype))
    assert out.dtype == np.dtype(dtype) and out.shape == ()
    np.testing.assert_allclose(out.item(), value, **TOL[dtype])
    for x, g in zip(xs, grads):
        assert x.grad.dtype == np.dtype(dtype)
        np.testing.assert_allclose(x.grad._array, g, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(EXPECTED))
def test_expression_against_live_torch(torch, name, dtype):
    fn, inputs, _, _ = EXPECTED[name]
    ts = [torch.tensor(v, dtype=getattr(torch, dtype), requires_grad=True) for v in inputs]
    t_out = fn(*ts)
    t_out.backward()
    out, xs = run_mg(fn, inputs, getattr(mg, dtype))
    np.testing.assert_allclose(out.item(), t_out.item(), **TOL[dtype])
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad._array, t.grad.numpy(), **TOL[dtype])


def test_sanity_check_with_default_dtype_python_floats():
    """Like micrograd's Value(-4.0): a Python float makes a float32 tensor by default."""
    x = mg.tensor(-4.0, requires_grad=True)
    y = sanity_check(x)
    y.backward()
    assert x.dtype == mg.float32 and y.dtype == mg.float32
    assert y.item() == -20.0 and x.grad.item() == 46.0
