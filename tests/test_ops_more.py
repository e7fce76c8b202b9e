"""The tensor API that recurrent-model scripts use: PyTorch parity (fixture and live) and gradient checks.

The catalog is tests/fixture_makers/ops_more.py (same format as the main op catalog). Each case runs

* against the committed fixture tests/fixtures/ops_more.npz, contiguous and non-contiguous, float64
  with gradients and float32 forward;
* live against torch when it is installed;
* through ``mg.autograd.gradcheck`` on non-contiguous float64 inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.ops import case_inputs, run_torch, upstream_grads
from fixture_makers.ops_more import CASES, NAMES
from strategies import leaf, non_contiguous
from test_ops_parity import F32_GRAD, LAYOUTS, check_grads, check_outputs, fixture_case, run_mg, tolerance_f64

import minigrad as mg
from minigrad.autograd import gradcheck


@pytest.fixture(scope="module")
def fixture() -> dict[str, np.ndarray]:
    return load_fixture("ops_more")


def test_fixture_covers_the_catalog(fixture):
    stored = set(fixture["__names__"].tolist())
    missing, stale = set(NAMES) - stored, stored - set(NAMES)
    assert not missing and not stale, (
        f"tests/fixtures/ops_more.npz is out of date (missing {sorted(missing)}, stale {sorted(stale)}): "
        "run `.venv/bin/python tests/make_fixtures.py ops_more`"
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


@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_parity_live_float64(torch, case):
    xs = case_inputs(case)
    outs, _, _ = run_torch(torch, case, xs)
    gouts = upstream_grads(case, [o.shape for o in outs])
    outs, dtypes, grads = run_torch(torch, case, xs, grads=gouts)
    got, got_grads = run_mg(case, xs, gouts=gouts, layout="strided")
    tol = tolerance_f64(case, dtypes)
    check_outputs(case, got, outs, dtypes, tol)
    check_grads(case, got_grads, grads, np.dtype(np.float64), tol)


@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_parity_live_float32(torch, case):
    xs = case_inputs(case)
    outs, _, _ = run_torch(torch, case, xs, dtype=torch.float32)
    gouts = upstream_grads(case, [o.shape for o in outs])
    outs, dtypes, grads = run_torch(torch, case, xs, dtype=torch.float32, grads=gouts)
    got, got_grads = run_mg(case, xs, dtype=np.float32, gouts=gouts)
    check_outputs(case, got, outs, dtypes, case.f32_tol)
    check_grads(case, got_grads, grads, np.dtype(np.float32), F32_GRAD)


GRADCHECK_CASES = [c for c in CASES if c.gradcheck]


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=[c.name for c in GRADCHECK_CASES])
def test_gradcheck_non_contiguous(case):
    xs = [leaf(non_contiguous(a)) for a in case_inputs(case)]
    assert gradcheck(lambda *ts: case.fn(mg, *ts), xs, **case.gradcheck_kw)


@pytest.mark.parametrize("op", ["gather", "scatter", "scatter_add", "index_select", "masked_fill", "cumsum",
                                "cumprod", "prod", "flip", "roll", "repeat", "einsum", "narrow", "topk", "topk1"])
def test_gradcheck_broadcast_inputs(op):
    """The new ops fed with broadcast (expanded, stride-0) inputs: the engine sums gradients back."""
    base = leaf(np.random.default_rng(0).standard_normal((1, 4)) + 3.0)  # away from 0 for the products
    idx = mg.tensor([[0, 3, 1, 1], [2, 2, 0, 1], [1, 0, 3, 3]])
    fns = {
        "gather": lambda t: t.expand(3, 4).gather(1, idx),
        "scatter": lambda t: t.expand(3, 4).scatter(1, idx[:, :1], t.expand(3, 4)[:, 1:2]),
        "scatter_add": lambda t: mg.zeros(3, 4, dtype=mg.float64).scatter_add(1, idx, t.expand(3, 4)),
        "index_select": lambda t: t.expand(3, 4).index_select(1, mg.tensor([3, 3, 0])),
        "masked_fill": lambda t: t.expand(3, 4).masked_fill(idx > 1, 0.0),
        "cumsum": lambda t: t.expand(3, 4).cumsum(0),
        "cumprod": lambda t: t.expand(3, 4).cumprod(1),
        "prod": lambda t: t.expand(3, 4).prod(0),
        "flip": lambda t: t.expand(3, 4).flip(0, 1) * mg.arange(4.0, dtype=mg.float64),
        "roll": lambda t: t.expand(3, 4).roll(1, 1) * mg.arange(4.0, dtype=mg.float64),
        "repeat": lambda t: t.repeat(2, 2),
        "einsum": lambda t: mg.einsum("ij,jk->ik", t.expand(3, 4), t.expand(3, 4).T),
        "narrow": lambda t: t.expand(3, 4).narrow(1, 1, 2),
        "topk": lambda t: t.expand(3, 4).topk(2, dim=1).values,
        "topk1": lambda t: t.expand(3, 4).T.topk(1, dim=0).values * mg.arange(1.0, 4.0, dtype=mg.float64),  # no sort
    }
    assert gradcheck(fns[op], [base])


@pytest.mark.parametrize("call, error, message", [
    (lambda: mg.tril(mg.ones(3)), mg.ShapeError, r"tril: input must have at least 2 dimensions .* got shape \(3,\)"),
    (lambda: mg.triu(mg.ones(2, 2), 0.5), TypeError, "triu: diagonal must be an int, got float"),
    (lambda: mg.outer(mg.ones(2, 1), mg.ones(3)), mg.ShapeError,
     r"outer: expected two 1-D tensors, got shapes \(2, 1\)"),
    (lambda: mg.nn.functional.pad(mg.ones(2, 3), (1,)), TypeError, "pad: pad must be a tuple of ints, two per"),
    (lambda: mg.nn.functional.pad(mg.ones(3), (1, 1, 1, 1)), mg.ShapeError, "pad: 4 values pad 2 dimensions"),
    (lambda: mg.nn.functional.pad(mg.ones(2, 3), (1, 1), mode="wrap"), ValueError, "pad: mode must be one of"),
    (lambda: mg.nn.functional.pad(mg.ones(2, 3), (3, 0), mode="reflect"), mg.ShapeError,
     r"mode='reflect' needs pads smaller than the size of dimension 1 \(3\), got \(3, 0\)"),
    (lambda: mg.nn.functional.pad(mg.ones(2, 3), (-1, 0), mode="replicate"), ValueError,
     "mode='replicate' needs non-negative pads"),
    (lambda: mg.nn.functional.pad(mg.ones(2, 3), (1, 0), mode="circular", value=2.0), ValueError,
     "a value \\(2.0\\) is only for mode='constant'"),
    (lambda: mg.nn.functional.pad(mg.ones(2, 3), (-2, -2)), mg.ShapeError,
     r"padding \(-2, -2\) of dimension 1 \(size 3\) would leave a negative size"),
])
def test_triangles_outer_and_pad_refuse_bad_input_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("reduce", ["sum", "mean", "var", "std", "prod", "cumsum", "logsumexp", "amax", "norm"])
def test_reductions_give_float32_gradients_for_float32_inputs(reduce):
    """Each node's own backward keeps the input's dtype: a NumPy int64 count once made mean's float64."""
    x = mg.tensor(np.random.default_rng(0).uniform(1, 2, (3, 4)).astype(np.float32), requires_grad=True)
    y = getattr(x, reduce)(1)
    grads = y.grad_fn.backward(np.ones(y.shape, np.float32))
    grads = grads if isinstance(grads, tuple) else (grads,)
    assert [g.dtype for g in grads if g is not None] == [np.float32], reduce
