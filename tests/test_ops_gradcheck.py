"""Finite-difference gradient checks (float64, central differences) for every differentiable op.

Two layers:

1. Every case of the op catalog (tests/fixture_makers/ops.py) on *non-contiguous* inputs
   (reversed axes, step 2, negative strides), so nothing relies on C order.
2. Hypothesis-driven checks per op family: random broadcastable shapes (size-1 dims, 0-d,
   zero-size where meaningful), random dims/keepdim, random memory layouts, random indices.

``mg.autograd.gradcheck`` perturbs each input element by +-eps and compares with the gradient
autograd computes for a random weighting of the outputs.
"""

from __future__ import annotations

import numpy as np
import pytest
from fixture_makers.ops import CASES, case_inputs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import arrays, broadcast_pairs, leaf, non_contiguous, shapes, tensors

import minigrad as mg
from minigrad.autograd import gradcheck

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.data_too_large])


def check(fn, *xs, **kw) -> None:
    assert gradcheck(fn, list(xs), **kw)


# ------------------------------------------------------------------------------ the catalog

GRADCHECK_CASES = [c for c in CASES if c.gradcheck]


@pytest.mark.parametrize("case", GRADCHECK_CASES, ids=[c.name for c in GRADCHECK_CASES])
def test_catalog_gradcheck_non_contiguous(case):
    xs = [leaf(non_contiguous(a)) for a in case_inputs(case)]
    for x in xs:
        assert x.ndim == 0 or x._array.size <= 1 or not x._array.flags.c_contiguous
    check(lambda *ts: case.fn(mg, *ts), *xs, **case.gradcheck_kw)


# ------------------------------------------------------------------------------ binary ops


@st.composite
def binary_operands(draw, kind_a="n", kind_b="n", min_side=1):
    sa, sb = draw(broadcast_pairs(min_side=min_side))
    return draw(tensors(sa, kind_a)), draw(tensors(sb, kind_b))


BINARY = {
    "add": (lambda a, b: a + b, "n", "n"),
    "sub": (lambda a, b: a - b, "n", "n"),
    "mul": (lambda a, b: a * b, "n", "n"),
    "div": (lambda a, b: a / b, "n", "pos"),
    "pow": (lambda a, b: a**b, "pos", "n"),
}


@pytest.mark.parametrize("op", BINARY)
@FAST
@given(data=st.data())
def test_binary_broadcast(op, data):
    fn, ka, kb = BINARY[op]
    # zero-size dims are allowed for + - * (their gradients are empty arrays of the right shape)
    min_side = 0 if op in ("add", "sub", "mul") else 1
    a, b = data.draw(binary_operands(ka, kb, min_side=min_side))
    out = fn(a, b)
    assert out.shape == np.broadcast_shapes(a.shape, b.shape)
    check(fn, a, b)


@FAST
@given(data=st.data(), scalar=st.floats(-2, 2).filter(lambda s: abs(s) > 0.1))
def test_reflected_scalars(data, scalar):
    x = data.draw(tensors(shapes(), "pos"))
    for fn in (lambda t: scalar + t, lambda t: scalar - t, lambda t: scalar * t, lambda t: scalar / t,
               lambda t: t + scalar, lambda t: t - scalar, lambda t: t * scalar, lambda t: t / scalar,
               lambda t: abs(scalar) ** t, lambda t: t**scalar, lambda t: -t):
        check(fn, x)


@FAST
@given(data=st.data(), exponent=st.sampled_from([-2, -1.5, -1, 0, 0.5, 1, 2, 3, 2.5]))
def test_pow_scalar_exponents(data, exponent):
    x = data.draw(tensors(shapes(), "pos"))
    check(lambda t: t**exponent, x)
    check(lambda t: t.pow(exponent), x)
    check(lambda t: mg.pow(t, exponent), x)


# ------------------------------------------------------------------------------ unary ops

UNARY = {
    "neg": (lambda t: -t, "n"),
    "exp": (lambda t: t.exp(), "n"),
    "log": (lambda t: t.log(), "pos"),
    "sqrt": (lambda t: t.sqrt(), "pos"),
    "abs": (lambda t: t.abs(), "away"),
    "tanh": (lambda t: t.tanh(), "n"),
    "sigmoid": (lambda t: t.sigmoid(), "n"),
    "relu": (lambda t: t.relu(), "away"),
    "clamp": (lambda t: t.clamp(-0.5, 1.0), "away"),
    "clamp_min": (lambda t: t.clamp(min=0.5), "away"),
    "clamp_max": (lambda t: t.clamp(max=-0.5), "away"),
    "mg.exp": (lambda t: mg.exp(t), "n"),
    "mg.log": (lambda t: mg.log(t), "pos"),
    "mg.sqrt": (lambda t: mg.sqrt(t), "pos"),
    "mg.abs": (lambda t: mg.abs(t), "away"),
    "mg.tanh": (lambda t: mg.tanh(t), "n"),
    "mg.sigmoid": (lambda t: mg.sigmoid(t), "n"),
    "mg.relu": (lambda t: mg.relu(t), "away"),
    "mg.clamp": (lambda t: mg.clamp(t, -1.0, 1.0), "away"),
    "double": (lambda t: t.double() * 2.0, "n"),
}


@pytest.mark.parametrize("op", UNARY)
@FAST
@given(data=st.data())
def test_unary(op, data):
    fn, kind = UNARY[op]
    x = data.draw(tensors(shapes(min_side=0), kind))
    out = fn(x)
    assert out.shape == x.shape and out.dtype == np.float64
    check(fn, x)


@FAST
@given(data=st.data())
def test_float_cast(data):
    """x.float() is differentiable; float32 in the middle needs a coarse eps."""
    x = data.draw(tensors(shapes(), "n"))
    assert x.float().dtype == np.float32
    check(lambda t: t.float() * 3.0, x, eps=1e-2, atol=1e-3, rtol=1e-2)
    check(lambda t: (t.float() * 3.0).double(), x, eps=1e-2, atol=1e-3, rtol=1e-2)


# ------------------------------------------------------------------------------ reductions


@st.composite
def tensor_and_dims(draw, kind="n", min_dims=1, max_dims=3, single=False, min_count=1):
    """A tensor and a ``dim`` argument: None, an int (maybe negative) or a tuple of distinct dims."""
    shape = draw(shapes(min_dims=min_dims, max_dims=max_dims))
    x = draw(tensors(shape, kind))
    nd = len(shape)
    if single:
        dim = draw(st.integers(-nd, nd - 1))
        dims = (dim % nd,)
    else:
        choice = draw(st.sampled_from(["none", "int", "tuple"]))
        if choice == "none":
            dim, dims = None, tuple(range(nd))
        elif choice == "int":
            dim = draw(st.integers(-nd, nd - 1))
            dims = (dim % nd,)
        else:
            dims = tuple(draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)))
            dim = tuple(d - nd if draw(st.booleans()) else d for d in dims)
    count = int(np.prod([shape[d] for d in dims]))
    assume(count >= min_count)  # e.g. var over one element divides by zero
    return x, dim, dims


@pytest.mark.parametrize("op", ["sum", "mean", "var", "mg.sum", "mg.mean", "mg.var"])
@FAST
@given(data=st.data(), keepdim=st.booleans())
def test_sum_mean_var(op, data, keepdim):
    x, dim, dims = data.draw(tensor_and_dims(min_count=2 if op.endswith("var") else 1))
    name = op.split(".")[-1]

    def fn(t):
        if op.startswith("mg."):
            return getattr(mg, name)(t, dim=dim, keepdim=keepdim)
        return getattr(t, name)(dim=dim, keepdim=keepdim)

    expected = getattr(np, name)(x._array, axis=dims, keepdims=keepdim, **({"ddof": 1} if name == "var" else {}))
    out = fn(x)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out._array, expected, rtol=1e-10, atol=1e-12)
    check(fn, x)


@FAST
@given(data=st.data())
def test_sum_zero_size(data):
    shape = data.draw(shapes(min_dims=1, min_side=0))
    x = data.draw(tensors(shape, "n"))
    check(lambda t: t.sum(dim=0), x)
    check(lambda t: t.sum(), x)


@pytest.mark.parametrize("op", ["max", "min"])
@FAST
@given(data=st.data(), keepdim=st.booleans())
def test_max_min(op, data, keepdim):
    x, dim, _ = data.draw(tensor_and_dims("distinct", single=True))
    check(lambda t: getattr(t, op)(), x)
    check(lambda t: getattr(t, op)(dim=dim, keepdim=keepdim).values, x)
    check(lambda t: getattr(mg, op)(t, dim, keepdim)[0], x)
    values, indices = getattr(x, op)(dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(indices._array, getattr(np, f"arg{op}")(x._array, axis=dim, keepdims=keepdim))
    assert not indices.requires_grad and indices.dtype == np.int64


@pytest.mark.parametrize("op", ["softmax", "log_softmax", "logsumexp"])
@FAST
@given(data=st.data(), scale=st.sampled_from([1.0, 20.0]))
def test_softmax_family(op, data, scale):
    x, dim, _ = data.draw(tensor_and_dims(single=True))
    if op == "logsumexp":
        check(lambda t: (t * scale).logsumexp(dim), x)
        check(lambda t: mg.logsumexp(t * scale, dim=dim, keepdim=True), x)
    else:
        check(lambda t: getattr(t * scale, op)(dim), x)
        check(lambda t: getattr(mg, op)(t * scale, dim=dim), x)


# ------------------------------------------------------------------------------ matmul


@st.composite
def matmul_operands(draw):
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = draw(broadcast_pairs(max_dims=2, max_side=3))
    a_shape = (k,) if draw(st.integers(0, 4)) == 0 else batch_a + (m, k)
    b_shape = (k,) if draw(st.integers(0, 4)) == 0 else batch_b + (k, n)
    return draw(tensors(a_shape)), draw(tensors(b_shape))


@FAST
@given(operands=matmul_operands())
def test_matmul(operands):
    a, b = operands
    out = a @ b
    np.testing.assert_allclose(out._array, np.matmul(a._array, b._array), rtol=1e-12, atol=1e-12)
    check(lambda x, y: x @ y, a, b)
    check(lambda x, y: mg.matmul(x, y), a, b)


# ------------------------------------------------------------------------------ shape ops


@FAST
@given(data=st.data())
def test_reshape_view_flatten(data):
    shape = data.draw(shapes(min_dims=0, max_dims=4))
    x = data.draw(tensors(shape))
    size = int(np.prod(shape))
    target = tuple(reversed(shape)) + (1,)
    check(lambda t: t.reshape(target), x)
    check(lambda t: t.reshape(-1), x)
    check(lambda t: t.view(*target), x)
    check(lambda t: mg.reshape(t, (size,)), x)
    check(lambda t: t.flatten(), x)
    if x.ndim:
        start = data.draw(st.integers(0, x.ndim - 1))
        end = data.draw(st.integers(start, x.ndim - 1))
        check(lambda t: t.flatten(start, end), x)
        check(lambda t: mg.flatten(t, start), x)


@FAST
@given(data=st.data())
def test_transpose_permute_T(data):
    shape = data.draw(shapes(min_dims=1, max_dims=4))
    x = data.draw(tensors(shape))
    nd = len(shape)
    d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
    perm = tuple(data.draw(st.permutations(range(nd))))
    check(lambda t: t.transpose(d0, d1), x)
    check(lambda t: mg.transpose(t, d0, d1), x)
    check(lambda t: t.permute(*perm), x)
    check(lambda t: t.permute(perm), x)
    check(lambda t: mg.permute(t, perm), x)
    if nd <= 2:
        check(lambda t: t.T, x)
    assert x.permute(*perm).shape == tuple(shape[p] for p in perm)


@FAST
@given(data=st.data())
def test_squeeze_unsqueeze_expand(data):
    shape = data.draw(shapes(min_dims=0, max_dims=3, min_side=1, max_side=3).map(
        lambda s: tuple(1 if i % 2 else n for i, n in enumerate(s))))  # some size-1 dims
    x = data.draw(tensors(shape))
    nd = len(shape)
    check(lambda t: t.squeeze(), x)
    if nd:
        d = data.draw(st.integers(-nd, nd - 1))
        check(lambda t: t.squeeze(d), x)
        check(lambda t: mg.squeeze(t, d), x)
    u = data.draw(st.integers(-nd - 1, nd))
    check(lambda t: t.unsqueeze(u), x)
    check(lambda t: mg.unsqueeze(t, u), x)
    target = (2,) + tuple(3 if n == 1 else n for n in shape)
    check(lambda t: t.expand(*target), x)
    check(lambda t: t.expand(target), x)
    check(lambda t: t.expand((2,) + (-1,) * nd), x)


@pytest.mark.parametrize("op", ["cat", "stack"])
@FAST
@given(data=st.data())
def test_cat_stack(op, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    nd = len(shape)
    count = data.draw(st.integers(1, 3))
    if op == "cat":
        dim = data.draw(st.integers(-nd, nd - 1))
        sizes = [data.draw(st.integers(0, 3)) for _ in range(count)]
        shapes_ = [shape[: dim % nd] + (s,) + shape[dim % nd + 1:] for s in sizes]
    else:
        dim = data.draw(st.integers(-nd - 1, nd))
        shapes_ = [shape] * count
    xs = [data.draw(tensors(s)) for s in shapes_]
    fn = getattr(mg, op)
    check(lambda *ts: fn(list(ts), dim=dim), *xs)
    check(lambda *ts: fn(list(ts) + [ts[0]], dim), *xs)  # the same tensor twice: gradients add up


@FAST
@given(data=st.data())
def test_where(data):
    sa, sb = data.draw(broadcast_pairs(max_dims=2))
    sc = data.draw(st.sampled_from([np.broadcast_shapes(sa, sb), sa, sb, ()]))
    cond = data.draw(arrays(sc)) > 0
    a, b = data.draw(tensors(sa)), data.draw(tensors(sb))
    check(lambda x, y: mg.where(cond, x, y), a, b)
    check(lambda x, y: mg.where(mg.tensor(cond), x, y), a, b)
    check(lambda x: mg.where(mg.tensor(cond), x, 0.5), a)
    check(lambda y: mg.where(mg.tensor(cond), -1.0, y), b)


@FAST
@given(data=st.data())
def test_split_chunk(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3, max_side=6))
    x = data.draw(tensors(shape))
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    n = shape[dim]
    size = data.draw(st.integers(1, n))
    chunks = data.draw(st.integers(1, n + 1))
    cut = data.draw(st.integers(0, n))
    check(lambda t: t.split(size, dim=dim), x)
    check(lambda t: mg.split(t, [cut, n - cut], dim), x)
    check(lambda t: t.chunk(chunks, dim=dim), x)
    check(lambda t: mg.chunk(t, chunks, dim)[0], x)  # other pieces get no gradient
    pieces = x.split(size, dim=dim)
    assert sum(p.shape[dim] for p in pieces) == n


# ------------------------------------------------------------------------------ indexing


@st.composite
def basic_index(draw, shape):
    """A tuple of ints, slices, None and at most one Ellipsis that NumPy accepts for ``shape``."""
    items = []
    dims = list(shape)
    use_ellipsis = draw(st.booleans())
    for i, n in enumerate(dims):
        if use_ellipsis and i == len(dims) // 2:
            items.append(Ellipsis)
            if draw(st.booleans()):
                break
            continue
        choice = draw(st.sampled_from(["int", "slice", "none+slice", "full"]))
        if choice == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif choice == "slice":
            start = draw(st.one_of(st.none(), st.integers(-n, n)))
            stop = draw(st.one_of(st.none(), st.integers(-n, n)))
            step = draw(st.one_of(st.none(), st.integers(1, 3)))
            items.append(slice(start, stop, step))
        elif choice == "none+slice":
            items.extend([None, slice(None)])
        else:
            items.append(slice(None))
    return tuple(items)


@FAST
@given(data=st.data())
def test_basic_indexing(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    x = data.draw(tensors(shape))
    index = data.draw(basic_index(shape))
    out = x[index]
    np.testing.assert_array_equal(out._array, x._array[index])
    check(lambda t: t[index], x)


@FAST
@given(data=st.data())
def test_integer_array_indexing_with_repeats(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    x = data.draw(tensors(shape))
    n0 = shape[0]
    idx = data.draw(st.lists(st.integers(-n0, n0 - 1), min_size=1, max_size=6))
    idx = idx + [idx[0]]  # at least one repeat
    np_idx = np.array(idx)
    np.testing.assert_array_equal(x[np_idx]._array, x._array[np_idx])
    check(lambda t: t[mg.tensor(idx)], x)  # a 1-D index tensor (the scatter-add kernel path)
    check(lambda t: t[idx], x)  # a list
    check(lambda t: t[np_idx.reshape(1, -1)], x)  # a 2-D index array
    if len(shape) >= 2:
        n1 = shape[1]
        idx1 = [data.draw(st.integers(-n1, n1 - 1)) for _ in idx]
        check(lambda t: t[idx, idx1], x)  # paired indices
        check(lambda t: t[:, idx1 + idx1], x)  # repeated columns


@FAST
@given(data=st.data())
def test_boolean_mask_indexing(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    x = data.draw(tensors(shape))
    full_mask = data.draw(arrays(shape)) > 0
    row_mask = data.draw(arrays(shape[:1])) > 0
    np.testing.assert_array_equal(x[mg.tensor(full_mask)]._array, x._array[full_mask])
    check(lambda t: t[mg.tensor(full_mask)], x)
    check(lambda t: t[row_mask], x)
