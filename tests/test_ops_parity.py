"""PyTorch parity of every Tensor op: values AND gradients, float64 and float32, and dtype promotion.

The ops come from the catalog in tests/fixture_makers/ops.py (one ``fn(L, *xs)`` per case, run
with ``L = torch`` and ``L = minigrad``). Each case runs

* from the committed fixture tests/fixtures/ops.npz (no torch needed), on contiguous inputs and
  on the same values in a non-contiguous layout (transposed, strided, negative strides);
* live against torch when it is installed (skipped with a reason otherwise).
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.ops import CASES, NAMES, as_tuple, case_inputs, run_torch, upstream_grads
from strategies import non_contiguous

import minigrad as mg

F64 = {"rtol": 1e-9, "atol": 1e-11}
F32_GRAD = {"rtol": 1e-4, "atol": 1e-4}
LAYOUTS = ["contiguous", "strided"]


@pytest.fixture(scope="module")
def fixture() -> dict[str, np.ndarray]:
    return load_fixture("ops")


def run_mg(case, arrays, dtype=np.float64, gouts=None, layout="contiguous"):
    """minigrad's outputs and (when ``gouts`` is given) the input gradients for ``case``."""
    xs = []
    for a in arrays:
        a = a.astype(dtype)
        if layout == "strided":
            a = non_contiguous(a)
        xs.append(mg.from_numpy(a).requires_grad_(True))
    outs = as_tuple(case.fn(mg, *xs))
    for o in outs:
        assert isinstance(o, mg.Tensor), f"{case.name}: output is a {type(o).__name__}, not a Tensor"
    if gouts is None:
        return outs, None
    if len(outs) == 1:
        outs[0].backward(mg.tensor(gouts[0], dtype=outs[0].dtype))
    else:  # several outputs (split, chunk): one backward through sum_j <out_j, g_j>
        total = None
        for o, g in zip(outs, gouts):
            term = (o * mg.from_numpy(g.astype(o.dtype))).sum()
            total = term if total is None else total + term
        total.backward()
    return outs, [x.grad for x in xs]


def check_outputs(case, outs, expected, dtypes, tol):
    assert len(outs) == len(expected), f"{case.name}: {len(outs)} outputs, PyTorch has {len(expected)}"
    for j, (o, e, dt) in enumerate(zip(outs, expected, dtypes)):
        assert o.shape == e.shape, f"{case.name} output {j}: shape {o.shape}, PyTorch {e.shape}"
        assert o.dtype == np.dtype(str(dt)), f"{case.name} output {j}: dtype {o.dtype}, PyTorch {dt}"
        np.testing.assert_allclose(o._array.astype(np.float64), e, **tol, err_msg=f"{case.name} output {j}")


def check_grads(case, grads, expected, input_dtype, tol):
    for i, (g, e) in enumerate(zip(grads, expected)):
        assert g is not None, f"{case.name}: input {i} got no .grad"
        assert isinstance(g, mg.Tensor), f"{case.name}: input {i}'s .grad is a {type(g).__name__}"
        assert g.shape == e.shape, f"{case.name} grad {i}: shape {g.shape}, PyTorch {e.shape}"
        assert g.dtype == input_dtype, f"{case.name} grad {i}: dtype {g.dtype}, expected {input_dtype}"
        np.testing.assert_allclose(g._array.astype(np.float64), e, **tol, err_msg=f"{case.name} grad {i}")


def tolerance_f64(case, dtypes) -> dict:
    # A case computed in float32 (x.float()) can only match to float32 precision.
    return case.f32_tol if case.through_float32 or any(str(d) == "float32" for d in dtypes) else F64


def fixture_case(fixture, case):
    k = len(case.inputs)
    xs = [fixture[f"{case.name}__x{i}"] for i in range(k)]
    grads = [fixture[f"{case.name}__grad{i}"] for i in range(k)]
    n_out = sum(1 for key in fixture if key.startswith(f"{case.name}__out") and "out32" not in key)
    outs = [fixture[f"{case.name}__out{j}"] for j in range(n_out)]
    gouts = [fixture[f"{case.name}__gout{j}"] for j in range(n_out)]
    dtypes = [str(fixture[f"{case.name}__dtype{j}"]) for j in range(n_out)]
    outs32 = [fixture[f"{case.name}__out32_{j}"] for j in range(n_out)]
    dtypes32 = [str(fixture[f"{case.name}__dtype32_{j}"]) for j in range(n_out)]
    return xs, grads, outs, gouts, dtypes, outs32, dtypes32


# ------------------------------------------------------------------------------ from the fixture


def test_fixture_covers_the_catalog(fixture):
    stored = set(fixture["__names__"].tolist())
    missing, stale = set(NAMES) - stored, stored - set(NAMES)
    assert not missing and not stale, (
        f"tests/fixtures/ops.npz is out of date (missing {sorted(missing)}, stale {sorted(stale)}): "
        "run `.venv/bin/python tests/make_fixtures.py ops`"
    )


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_parity_fixture_float64(fixture, case, layout):
    xs, grads, outs, gouts, dtypes, _, _ = fixture_case(fixture, case)
    got, got_grads = run_mg(case, xs, gouts=gouts, layout=layout)
    tol = tolerance_f64(case, dtypes)
    check_outputs(case, got, outs, dtypes, tol)
    check_grads(case, got_grads, grads, np.dtype(np.float64), tol)


@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_parity_fixture_float32_forward(fixture, case):
    xs, _, _, _, _, outs32, dtypes32 = fixture_case(fixture, case)
    got, _ = run_mg(case, xs, dtype=np.float32)
    check_outputs(case, got, outs32, dtypes32, case.f32_tol)


# ------------------------------------------------------------------------------ live against torch


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_parity_live_float64(torch, case, layout):
    xs = case_inputs(case)
    outs, _, _ = run_torch(torch, case, xs)
    gouts = upstream_grads(case, [o.shape for o in outs])
    outs, dtypes, grads = run_torch(torch, case, xs, grads=gouts)
    got, got_grads = run_mg(case, xs, gouts=gouts, layout=layout)
    tol = tolerance_f64(case, dtypes)
    check_outputs(case, got, outs, dtypes, tol)
    check_grads(case, got_grads, grads, np.dtype(np.float64), tol)


@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_parity_live_float32(torch, case):
    """float32 end to end: values with float32 tolerance, gradients come back as float32."""
    xs = case_inputs(case)
    outs, _, _ = run_torch(torch, case, xs, dtype=torch.float32)
    gouts = upstream_grads(case, [o.shape for o in outs])
    outs, dtypes, grads = run_torch(torch, case, xs, dtype=torch.float32, grads=gouts)
    got, got_grads = run_mg(case, xs, dtype=np.float32, gouts=gouts)
    check_outputs(case, got, outs, dtypes, case.f32_tol)
    check_grads(case, got_grads, grads, np.dtype(np.float32), F32_GRAD)


# ------------------------------------------------------------------------------ dtype promotion

# (id, operands made with L = torch or minigrad, operator, PyTorch's result dtype)
PROMOTION = [
    ("f32+f64", lambda L: (L.ones(2), L.ones(2, dtype=L.float64)), operator.add, "float64"),
    ("f64+f32", lambda L: (L.ones(2, dtype=L.float64), L.ones(2)), operator.add, "float64"),
    ("i64+f32", lambda L: (L.tensor([1, 2]), L.ones(2)), operator.add, "float32"),
    ("f32*i64", lambda L: (L.ones(2), L.tensor([1, 2])), operator.mul, "float32"),
    ("i32+i64", lambda L: (L.tensor([1, 2], dtype=L.int32), L.tensor([1, 2])), operator.add, "int64"),
    ("bool*f32", lambda L: (L.tensor([True, False]), L.ones(2)), operator.mul, "float32"),
    ("f32*pyfloat", lambda L: (L.ones(2), 2.5), operator.mul, "float32"),
    ("pyfloat*f32", lambda L: (2.5, L.ones(2)), operator.mul, "float32"),
    ("f64*pyfloat", lambda L: (L.ones(2, dtype=L.float64), 2.5), operator.mul, "float64"),
    ("f32+pyint", lambda L: (L.ones(2), 3), operator.add, "float32"),
    ("i64+pyfloat", lambda L: (L.tensor([1, 2]), 0.5), operator.add, "float32"),
    ("pyfloat-i64", lambda L: (0.5, L.tensor([1, 2])), operator.sub, "float32"),
    ("i64+pyint", lambda L: (L.tensor([1, 2]), 3), operator.add, "int64"),
    ("i32+pyint", lambda L: (L.tensor([1, 2], dtype=L.int32), 3), operator.add, "int32"),
    ("bool+pyint", lambda L: (L.tensor([True, False]), 1), operator.add, "int64"),
    ("i64/i64", lambda L: (L.tensor([1, 3]), L.tensor([2, 4])), operator.truediv, "float32"),
    ("i64/pyint", lambda L: (L.tensor([1, 3]), 2), operator.truediv, "float32"),
    ("pyint/i64", lambda L: (1, L.tensor([2, 4])), operator.truediv, "float32"),
    ("f32**pyint", lambda L: (L.ones(2), 2), operator.pow, "float32"),
    ("f32**pyfloat", lambda L: (L.ones(2), 0.5), operator.pow, "float32"),
    ("i64**pyint", lambda L: (L.tensor([1, 2]), 2), operator.pow, "int64"),
    ("i64**pyfloat", lambda L: (L.tensor([1, 2]), 0.5), operator.pow, "float32"),
    ("pyfloat**f32", lambda L: (2.0, L.ones(2)), operator.pow, "float32"),
    ("pyfloat**i64", lambda L: (2.0, L.tensor([1, 2])), operator.pow, "float32"),
    # 0-d tensors lose to dimensioned tensors of the same category, but win over a lower category.
    ("f32vec+f64_0d", lambda L: (L.ones(3), L.tensor(2.0, dtype=L.float64)), operator.add, "float32"),
    ("f64_0d+f32vec", lambda L: (L.tensor(2.0, dtype=L.float64), L.ones(3)), operator.add, "float32"),
    ("i64vec+f64_0d", lambda L: (L.tensor([1, 2]), L.tensor(2.5, dtype=L.float64)), operator.add, "float64"),
    ("i64vec*f32_0d", lambda L: (L.tensor([1, 2]), L.tensor(2.5)), operator.mul, "float32"),
    ("i32vec+i64_0d", lambda L: (L.tensor([1, 2], dtype=L.int32), L.tensor(3)), operator.add, "int32"),
    ("f32_0d+f64_0d", lambda L: (L.tensor(1.0), L.tensor(2.0, dtype=L.float64)), operator.add, "float64"),
    ("f32_0d+i64vec", lambda L: (L.tensor(1.0), L.tensor([1, 2])), operator.add, "float32"),
    ("where f32/f64", lambda L: (L.ones(2), L.ones(2, dtype=L.float64)), lambda a, b: _where(a, b), "float64"),
    ("cat f32/f64", lambda L: (L.ones(2), L.ones(2, dtype=L.float64)), lambda a, b: _cat(a, b), "float64"),
    ("stack i64/f32", lambda L: (L.tensor([1, 2]), L.ones(2)), lambda a, b: _stack(a, b), "float32"),
]


def _lib(t):
    return mg if isinstance(t, mg.Tensor) else __import__("torch")


def _where(a, b):
    L = _lib(a)
    return L.where(L.tensor([True, False]), a, b)


def _cat(a, b):
    return _lib(a).cat([a, b])


def _stack(a, b):
    return _lib(a).stack([a, b])


@pytest.mark.parametrize("make, op, expected", [p[1:] for p in PROMOTION], ids=[p[0] for p in PROMOTION])
def test_dtype_promotion(make, op, expected):
    out = op(*make(mg))
    assert out.dtype == np.dtype(expected), f"got {out.dtype}, PyTorch gives {expected}"


@pytest.mark.parametrize("make, op, expected", [p[1:] for p in PROMOTION], ids=[p[0] for p in PROMOTION])
def test_dtype_promotion_live(torch, make, op, expected):
    """The table above is PyTorch's behaviour (guards the expectations themselves), values agree."""
    t_out = op(*make(torch))
    assert str(t_out.dtype) == f"torch.{expected}"
    m_out = op(*make(mg))
    np.testing.assert_allclose(m_out._array.astype(np.float64), t_out.double().numpy(), rtol=1e-6)


def test_integer_division_values():
    out = mg.tensor([1, 3]) / mg.tensor([2, 4])
    assert out.dtype == mg.float32
    np.testing.assert_allclose(out._array, [0.5, 0.75])


def test_promotion_keeps_gradient_dtype():
    """A float32 leaf used with a float64 tensor gets a float32 .grad (the engine casts back)."""
    a = mg.ones(3, requires_grad=True)
    b = mg.ones(3, dtype=mg.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype == mg.float32 and b.grad.dtype == mg.float64
    np.testing.assert_allclose(a.grad._array, 1.0)
