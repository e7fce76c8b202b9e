"""The tensor API beyond the op catalog: indices, unique, creation and random functions, devices,
clear errors, and regression tests for the semantics differential fuzzing found.

Values that need no gradient are compared with live PyTorch where it is installed (``torch``
fixture) and with literal expectations otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

# ------------------------------------------------------------------------------ indices and unique


def test_sort_topk_argsort_indices_live(torch):
    a = np.random.default_rng(0).permutation(24).reshape(2, 3, 4).astype(np.float64)
    for fn in (lambda L, x: x.sort(dim=1, descending=True), lambda L, x: L.topk(x, 2, dim=0, largest=False),
               lambda L, x: x.topk(3), lambda L, x: (x.argsort(dim=-1, descending=True), x.argsort(0))):
        t_out, m_out = fn(torch, torch.tensor(a)), fn(mg, mg.tensor(a))
        for t, m in zip(t_out, m_out):
            assert m.dtype == np.dtype(str(t.dtype).replace("torch.", ""))
            np.testing.assert_array_equal(m.numpy(), t.numpy())



def test_max_min_and_topk_of_one_pick_as_pytorch_does_live(torch):
    """``max``/``min`` along a dim on ties, NaN and signed zeros, and ``topk(1)`` (which skips the
    sort) on distinct values and NaN: the same values (a zero's sign included), indices and
    gradients as PyTorch. (Which of tied values ``topk`` picks PyTorch leaves unspecified.)"""
    nan = float("nan")
    ties = [[1.0, 5.0, 5.0, 2.0], [-0.0, 0.0, -1.0, -0.0], [0.0, -0.0, 0.0, -3.0], [2.0, nan, 7.0, nan],
            [-2.0, -2.0, -2.0, -2.0]]
    distinct = [[1.0, 5.0, -4.0, 2.0], [-0.0, 3.0, -1.0, 0.5], [2.0, nan, 7.0, 1.0]]
    reductions = (lambda L, x: x.max(1), lambda L, x: x.min(-1, keepdim=True), lambda L, x: L.max(x, 0))
    picks = (lambda L, x: x.topk(1, dim=1), lambda L, x: x.topk(1, dim=0), lambda L, x: L.topk(x, 1))
    cases = [(np.array(ties), reductions), (np.array(ties).T.copy(), reductions),
             (np.arange(24.0).reshape(2, 3, 4) % 5, reductions), (np.array(distinct), picks),
             (np.random.default_rng(0).permutation(24).reshape(2, 3, 4) * 1.0, picks)]
    for data, fns in cases:
        for fn in fns:
            t_x = torch.tensor(data, requires_grad=True)
            m_x = mg.tensor(data, requires_grad=True)
            (t_v, t_i), (m_v, m_i) = fn(torch, t_x), fn(mg, m_x)
            np.testing.assert_array_equal(m_v.detach().numpy(), t_v.detach().numpy())
            np.testing.assert_array_equal(np.signbit(m_v.detach().numpy()), np.signbit(t_v.detach().numpy()))
            np.testing.assert_array_equal(m_i.numpy(), t_i.numpy())
            weights = np.arange(1.0, t_v.numel() + 1).reshape(tuple(t_v.shape))
            (t_v * torch.tensor(weights)).sum().backward()
            (m_v * mg.tensor(weights)).sum().backward()
            np.testing.assert_array_equal(m_x.grad.numpy(), t_x.grad.numpy())
    ints = np.array([[3, 9, 1], [4, 1, 5]])
    for fn in (lambda x: x.max(1), lambda x: x.topk(1), lambda x: x.min(0)):
        (t_v, t_i), (m_v, m_i) = fn(torch.tensor(ints)), fn(mg.tensor(ints))
        assert m_v.tolist() == t_v.tolist() and m_i.tolist() == t_i.tolist() and m_v.dtype == np.int64

def test_sort_is_stable_and_puts_nan_last_ascending_first_descending():
    x = mg.tensor([2.0, float("nan"), 1.0, 2.0, 1.0])
    assert mg.sort(x).indices.tolist() == [2, 4, 0, 3, 1]
    assert mg.sort(x, descending=True).indices.tolist() == [1, 0, 3, 2, 4]
    assert mg.tensor([3, 1, 2]).sort().values.tolist() == [1, 2, 3]  # integers, no gradient


def test_unique_live(torch):
    a = np.array([[3, 1, 3], [2, 1, 3]])
    for kw in ({}, {"return_inverse": True}, {"return_counts": True}, {"return_inverse": True, "return_counts": True},
               {"dim": 1, "return_inverse": True, "return_counts": True}, {"dim": 0}):
        t_out, m_out = torch.unique(torch.tensor(a), **kw), mg.unique(mg.tensor(a), **kw)
        t_out = t_out if isinstance(t_out, tuple) else (t_out,)
        m_out = m_out if isinstance(m_out, tuple) else (m_out,)
        assert len(t_out) == len(m_out), kw
        for t, m in zip(t_out, m_out):
            np.testing.assert_array_equal(m.numpy(), t.numpy(), err_msg=str(kw))


def test_unique_values():
    values, inverse, counts = mg.tensor([3, 1, 3, 2]).unique(return_inverse=True, return_counts=True)
    assert values.tolist() == [1, 2, 3] and inverse.tolist() == [2, 0, 2, 1] and counts.tolist() == [1, 1, 2]


def test_comparison_functions_and_methods():
    a, b = mg.tensor([1, 2, 3]), mg.tensor([2, 2, 2])
    for name, want in (("eq", [False, True, False]), ("ne", [True, False, True]), ("lt", [True, False, False]),
                       ("le", [True, True, False]), ("gt", [False, False, True]), ("ge", [False, True, True])):
        assert getattr(mg, name)(a, b).tolist() == want
        assert getattr(a, name)(b).tolist() == want
        assert getattr(a, name)(2).dtype == mg.bool


def test_allclose_equal_isnan():
    assert mg.allclose(mg.tensor([1.0]), mg.tensor([1.0 + 1e-7])) and not mg.equal(mg.ones(2), mg.ones(3))
    assert mg.tensor([1.0, float("nan")]).isnan().tolist() == [False, True]
    assert mg.isfinite(mg.tensor([1.0, float("inf")])).tolist() == [True, False]
    assert mg.isinf(mg.tensor([1, 2])).tolist() == [False, False]
    with pytest.raises(RuntimeError, match="allclose: both tensors must have the same dtype"):
        mg.allclose(mg.tensor([1]), mg.tensor([1.0]))


def test_rounding_division_integers_live(torch):
    a, b = np.array([7, -7, 6, -6, 0]), np.array([2, 2, -4, 4, 3])
    for mode in ("trunc", "floor"):
        t = torch.div(torch.tensor(a), torch.tensor(b), rounding_mode=mode)
        m = mg.div(mg.tensor(a), mg.tensor(b), rounding_mode=mode)
        assert m.dtype == mg.int64
        np.testing.assert_array_equal(m.numpy(), t.numpy())
    assert (mg.tensor([7, -7]) // 2).tolist() == [3, -4]
    with pytest.raises(ZeroDivisionError, match="div: integer division by zero"):
        mg.div(mg.tensor([1]), 0, rounding_mode="floor")



def test_remainder_and_fmod_integers_and_signed_zeros_live(torch):
    """``%``/``remainder`` take the divisor's sign, ``fmod`` the dividend's; integers stay integers,
    a zero remainder has PyTorch's sign, and integer division by zero raises naming the op."""
    a, b = np.array([7, -7, 6, -6, 0, 5]), np.array([2, 2, -4, 4, 3, -5])
    for fn in (lambda L, x, y: x % y, lambda L, x, y: L.remainder(x, y), lambda L, x, y: x.fmod(y),
               lambda L, x, y: 5 % y, lambda L, x, y: x % 3, lambda L, x, y: L.fmod(x, -3)):
        t, m = fn(torch, torch.tensor(a), torch.tensor(b)), fn(mg, mg.tensor(a), mg.tensor(b))
        assert m.dtype == mg.int64
        np.testing.assert_array_equal(m.numpy(), t.numpy())
    fa, fb = np.array([2.0, -2.0, 0.0, -0.0, 7.5, -1.0]), np.array([-2.0, 2.0, 3.0, -3.0, -2.0, np.inf])
    for fn in (lambda L, x, y: x % y, lambda L, x, y: L.fmod(x, y)):
        t, m = fn(torch, torch.tensor(fa), torch.tensor(fb)).numpy(), fn(mg, mg.tensor(fa), mg.tensor(fb)).numpy()
        np.testing.assert_array_equal(m, t)
        np.testing.assert_array_equal(np.signbit(m), np.signbit(t))
    with pytest.raises(ZeroDivisionError, match="remainder: integer division by zero"):
        mg.tensor([1, 2]) % 0
    with pytest.raises(mg.ShapeError, match=r"fmod.*\(2,\).*\(3,\)"):
        mg.fmod(mg.ones(2), mg.ones(3))


def test_alpha_forms():
    assert mg.add(mg.tensor([1, 2]), mg.tensor([1, 1]), alpha=3).tolist() == [4, 5]
    assert mg.tensor([1.0]).sub(mg.tensor([2.0]), alpha=0.5).tolist() == [0.0]
    with pytest.raises(RuntimeError, match="alpha must not be a floating point number"):
        mg.tensor([1, 2]).add(1, alpha=0.5)


# ------------------------------------------------------------------------------ creation


def test_new_and_like_functions_keep_dtype():
    x = mg.tensor([1, 2])
    assert x.new_zeros(2, 3).dtype == mg.int64 and x.new_zeros((2, 3)).shape == (2, 3)
    assert x.new_ones(1).tolist() == [1] and x.new_full((2,), 7).tolist() == [7, 7]
    assert x.new_empty(3).shape == (3,) and x.new_tensor([1.5]).dtype == mg.int64
    f = mg.zeros(2, dtype=mg.float64)
    assert f.new_tensor([1, 2]).dtype == mg.float64 and f.new_zeros(1, dtype=mg.int64).dtype == mg.int64
    for fn in (mg.zeros_like, mg.ones_like, mg.empty_like, mg.rand_like, mg.randn_like):
        out = fn(f)
        assert out.shape == (2,) and out.dtype == mg.float64
    assert mg.full_like(x, 4).tolist() == [4, 4] and mg.randint_like(x, 3, 5).dtype == mg.int64
    assert mg.zeros(size=(2, 1)).shape == (2, 1) and mg.ones([]).shape == ()
    assert mg.numel(mg.zeros(2, 3)) == 6 and mg.empty(2, 2).shape == (2, 2)


def test_as_tensor_and_from_numpy_share_memory():
    a = np.zeros(3, dtype=np.float32)
    t, u = mg.as_tensor(a), mg.from_numpy(a)
    a[0] = 5.0
    assert t.tolist()[0] == 5.0 and u.tolist()[0] == 5.0
    t2 = mg.as_tensor(a, dtype=mg.float64)  # another dtype: a copy
    a[1] = 7.0
    assert t2.tolist()[1] == 0.0
    assert mg.as_tensor(t) is t and mg.as_tensor([1.0, 2.0]).dtype == mg.float32


@pytest.mark.parametrize("make", [
    lambda **kw: mg.zeros(2, **kw), lambda **kw: mg.ones(2, **kw), lambda **kw: mg.empty(2, **kw),
    lambda **kw: mg.full((2,), 1.0, **kw), lambda **kw: mg.arange(3, **kw), lambda **kw: mg.linspace(0, 1, 3, **kw),
    lambda **kw: mg.eye(2, **kw), lambda **kw: mg.tensor([1.0], **kw), lambda **kw: mg.randn(2, **kw),
    lambda **kw: mg.rand(2, **kw), lambda **kw: mg.randint(3, (2,), **kw), lambda **kw: mg.randperm(3, **kw),
    lambda **kw: mg.zeros_like(mg.ones(2), **kw), lambda **kw: mg.randn_like(mg.ones(2), **kw),
])
def test_every_factory_takes_device_and_refuses_other_devices(make):
    for ok in (None, "cpu", "cpu:0", mg.device("cpu")):
        assert isinstance(make(device=ok), mg.Tensor)
    for bad in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match="minigrad runs on the CPU only"):
            make(device=bad)


def test_out_is_refused():
    with pytest.raises(TypeError, match="zeros: the out= argument is not supported"):
        mg.zeros(2, out=mg.zeros(2))
    with pytest.raises(TypeError, match="add: the out= argument is not supported"):
        mg.add(mg.ones(1), 1, out=mg.zeros(1))


def test_requires_grad_and_dtype_keywords():
    t = mg.zeros(2, dtype=mg.float64, requires_grad=True)
    assert t.requires_grad and t.dtype == mg.float64
    assert mg.full((1,), 2, dtype=mg.float32).dtype == mg.float32


# ------------------------------------------------------------------------------ random


def test_randint_overloads():
    mg.manual_seed(0)
    assert mg.randint(10, (3,)).shape == (3,)
    assert mg.randint(3, 10, (2, 2)).shape == (2, 2)
    assert mg.randint(10, size=(4,)).shape == (4,)
    assert mg.randint(low=2, high=4, size=(50,)).numpy().min() >= 2
    assert mg.randint(5, 6, size=(3,)).tolist() == [5, 5, 5]
    assert mg.randint(0, 2, (2,), dtype=mg.float32).dtype == mg.float32
    g1, g2 = mg.Generator().manual_seed(3), mg.Generator().manual_seed(3)
    assert mg.randint(100, (5,), generator=g1).tolist() == mg.randint(100, (5,), generator=g2).tolist()
    assert mg.randperm(5, generator=g1).tolist() == mg.randperm(5, generator=g2).tolist()
    with pytest.raises(TypeError, match="randint: generator must be an mg.Generator or None"):
        mg.randint(3, (2,), generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="randint: missing the size"):
        mg.randint(10)
    with pytest.raises(ValueError, match=r"randint: low \(5\) must be smaller than high \(2\)"):
        mg.randint(5, 2, (3,))


def test_randperm_multinomial_normal():
    mg.manual_seed(1)
    assert sorted(mg.randperm(6).tolist()) == list(range(6)) and mg.randperm(0).shape == (0,)
    w = mg.tensor([[0.0, 1.0, 0.0, 3.0], [1.0, 1.0, 1.0, 1.0]])
    draws = mg.multinomial(w, 2)
    assert draws.shape == (2, 2) and draws.dtype == mg.int64
    assert sorted(draws[0].tolist()) == [1, 3]  # without replacement: both non-zero categories
    assert len(set(draws[1].tolist())) == 2
    assert set(mg.multinomial(mg.tensor([0.0, 1.0]), 5, replacement=True).tolist()) == {1}
    with pytest.raises(ValueError, match="multinomial: row 0 has 2 non-zero weights"):
        mg.multinomial(w, 3)
    counts = np.bincount(mg.multinomial(mg.tensor([1.0, 3.0]), 4000, replacement=True).numpy(), minlength=2)
    assert abs(counts[1] / 4000 - 0.75) < 0.05
    assert mg.normal(2.0, 0.5, size=(3,)).shape == (3,)
    n = mg.normal(mg.zeros(2000, dtype=mg.float64), mg.tensor(2.0, dtype=mg.float64))
    assert n.dtype == mg.float64 and abs(float(n.std()) - 2.0) < 0.2


# ------------------------------------------------------------------------------ clear errors


@pytest.mark.parametrize("fn, exc, match", [
    (lambda: mg.ones(2, 3).topk(4, dim=1), IndexError, r"topk: k \(4\) is out of range for dimension 1 of size 3"),
    (lambda: mg.ones(2, 3).sort(dim=2), IndexError, r"sort: dim 2 is out of range for a tensor with 2 dimensions"),
    (lambda: mg.ones(2, 3).gather(1, mg.tensor([[0, 3]])), IndexError,
     r"gather: index 3 is out of bounds for dimension 1 with size 3"),
    (lambda: mg.ones(2, 3).gather(1, mg.tensor([0])), mg.ShapeError,
     r"gather: index must have as many dimensions as the input \(2\)"),
    (lambda: mg.ones(2, 3).index_select(0, mg.tensor([[0]])), mg.ShapeError, "index_select: index must be 1-D"),
    (lambda: mg.ones(2, 3).index_select(0, mg.tensor([2])), IndexError,
     r"index_select: index 2 is out of bounds for dimension 0 with size 2"),
    (lambda: mg.ones(2, 3).masked_fill(mg.ones(2, 3), 0.0), TypeError, "masked_fill: mask must be a bool tensor"),
    (lambda: mg.ones(2, 3).narrow(1, 2, 2), IndexError, r"narrow: start \(2\) \+ length \(2\) exceeds dimension 1"),
    (lambda: mg.ones(2, 3).repeat(2), mg.ShapeError, r"repeat: the number of repeat sizes \(1\) can not be smaller"),
    (lambda: mg.ones(2, 3).roll((1, 2), 0), ValueError, "roll: shifts"),
    (lambda: mg.mm(mg.ones(2), mg.ones(2, 2)), mg.ShapeError, r"mm: both arguments must be matrices \(2-D\)"),
    (lambda: mg.bmm(mg.ones(2, 2, 3), mg.ones(3, 3, 2)), mg.ShapeError, r"bmm: shapes \(2, 2, 3\) and \(3, 3, 2\)"),
    (lambda: mg.matmul(mg.ones(2, 2), mg.ones(2, 2, dtype=mg.float64)), RuntimeError,
     "matmul: both operands must have the same dtype, got float32 and float64"),
    (lambda: mg.einsum("ii->i", mg.ones(2, 3)), mg.ShapeError, "einsum: subscript i is repeated for operand 0"),
    (lambda: mg.einsum("ij,jk", mg.ones(2, 3)), ValueError, "einsum: the equation 'ij,jk' has 2 operand"),
    (lambda: mg.cumsum(mg.ones(2), dim=1), IndexError, "cumsum: dim 1 is out of range"),
    (lambda: mg.ones(2, 3)[::-1], ValueError, "getitem: slice step must be positive"),
    (lambda: mg.tensor([True]) - mg.tensor([True]), RuntimeError, "sub: subtraction with a bool tensor"),
    (lambda: -mg.tensor([True]), RuntimeError, "neg: negation of a bool tensor"),
    (lambda: mg.tensor([2]) ** -1, RuntimeError, "pow: integers to negative integer powers are not allowed"),
    (lambda: mg.tensor([1, 2]).softmax(0), TypeError, "softmax: expected a floating point tensor"),
    (lambda: mg.tensor([1, 2]).var(), TypeError, "var: expected a floating point tensor"),
    (lambda: mg.zeros(2, device="cuda"), RuntimeError, "zeros: minigrad runs on the CPU only, but 'cuda' was"),
])
def test_clear_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


# ------------------------------------------------------------------------------ fuzz-found semantics


@pytest.mark.parametrize("shapes", [((0,), (0, 3)), ((3,), (2, 3, 0)), ((0, 3), (3,)), ((2, 0), (0, 4)),
                                    ((3,), (0, 3, 2))])
def test_matmul_zero_size_backward(shapes):
    a, b = (mg.zeros(*s, dtype=mg.float64, requires_grad=True) for s in shapes)
    (a @ b).sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    assert not a.grad.numpy().any() and not b.grad.numpy().any()


@pytest.mark.parametrize("fn, dtype", [
    (lambda i: i.clamp(0.5, 1.5), "float32"), (lambda i: i.clamp(min=0.5), "float32"),
    (lambda i: i.clamp(0, 1), "int64"), (lambda i: i * 0.5, "float32"), (lambda i: i / 2, "float32"),
    (lambda i: 0.5 - i, "float32"), (lambda i: i ** 0.5, "float32"), (lambda i: mg.maximum(i, 0.5), "float32"),
    (lambda i: mg.where(i > 1, i, 0.5), "float32"), (lambda i: i.sin(), "float32"), (lambda i: i.sqrt(), "float32"),
    (lambda i: i.reciprocal(), "float32"), (lambda i: i.square(), "int64"), (lambda i: i.cumsum(0), "int64"),
    (lambda i: i.prod(), "int64"), (lambda i: i.add(1, alpha=2), "int64"), (lambda i: i.floor(), "int64"),
])
def test_integer_op_python_float_gives_default_float(fn, dtype):
    assert fn(mg.tensor([1, 2, 3])).dtype == np.dtype(dtype)


def test_integer_op_python_float_live(torch):
    for fn in (lambda i: i.clamp(0.5, 1.5), lambda i: i * 0.5, lambda i: i / 2, lambda i: i.clamp(0, 1)):
        t, m = fn(torch.tensor([1, 2, 3])), fn(mg.tensor([1, 2, 3]))
        assert str(m.dtype) == str(t.dtype).replace("torch.", "")
        np.testing.assert_allclose(m.numpy(), t.numpy())


INDEX_CASES = [
    lambda L, x, i: x[-1:, -3, ..., i], lambda L, x, i: x[1, :, i], lambda L, x, i: x[i, 1, i],
    lambda L, x, i: x[:, 1, :, i], lambda L, x, i: x[None, 1, None, i], lambda L, x, i: x[..., 1, i],
    lambda L, x, i: x[:, L.tensor(1), :, i], lambda L, x, i: x[1, L.tensor([True, False, True])],
]


@pytest.mark.parametrize("k", range(len(INDEX_CASES)))
def test_mixed_int_and_array_indexing_live(torch, k):
    """PyTorch applies integer indices before the array ones; forward shape, values and backward agree."""
    a = np.random.default_rng(k).standard_normal((2, 3, 4, 5))
    fn = INDEX_CASES[k]
    tx, mx = torch.tensor(a, requires_grad=True), mg.tensor(a, requires_grad=True)
    t_out, m_out = fn(torch, tx, torch.tensor([0, 1])), fn(mg, mx, mg.tensor([0, 1]))
    assert m_out.shape == tuple(t_out.shape)
    np.testing.assert_allclose(m_out.detach().numpy(), t_out.detach().numpy())
    g = np.random.default_rng(9).standard_normal(m_out.shape)
    t_out.backward(torch.tensor(g))
    m_out.backward(mg.tensor(g))
    np.testing.assert_allclose(mx.grad.numpy(), tx.grad.numpy())


def test_mixed_int_and_array_indexing_shapes():
    x = mg.zeros(2, 3, 4, 5)
    assert x[-1:, -3, ..., mg.tensor([0, 1])].shape == (1, 4, 2)  # NumPy would give (2, 1, 4)
    assert x[1, :, [0, 1]].shape == (3, 2, 5)  # NumPy would give (2, 3, 5)


def test_to_none_does_not_cast():
    """Tensor.to(None) returns the tensor unchanged, as in PyTorch (also in the fuzzer's table)."""
    for t in (mg.tensor([1, 2]), mg.ones(2), mg.ones(2, dtype=mg.float64)):
        assert t.to(None).dtype == t.dtype


def test_views_of_single_elements_share_memory():
    """x[0], unbind and narrow give views, so in-place changes reach x, as in PyTorch."""
    x = mg.zeros(3)
    x[1].add_(2)
    first, _, _ = x.unbind(0)
    first.add_(5)
    x.narrow(0, 2, 1).fill_(7)
    assert x.tolist() == [5.0, 2.0, 7.0]


def test_a_step_of_the_data_is_a_view_without_a_node():
    """x[t] of a tensor no gradient flows through makes no node, yet is the view that apply would give:
    same memory, same version counter (a change through it is seen by a node that saved x), in scopes too."""
    x = mg.arange(6.0).reshape(3, 2)
    w = mg.ones(2, requires_grad=True)
    y = (x * w).sum()  # the product saved x
    for make in (lambda: x[1], lambda: x[:, 0], lambda: x[2, 1]):
        view = make()
        assert view.grad_fn is None and not view.requires_grad
        assert np.shares_memory(view.numpy(), x.numpy()) and view._version_counter is x._version_counter
        with mg.scope("t1"):
            assert make().tolist() == view.tolist()
    x[1].add_(1)
    assert x.tolist() == [[0.0, 1.0], [3.0, 4.0], [4.0, 5.0]]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
    with pytest.raises(IndexError, match=r"getitem on a tensor of shape \(3, 2\)"):
        x[3]


def test_matmul_outer_product_keeps_signed_zeros():
    """(n, 1) @ (1, m) is one product per entry: 0.0 * -2.0 is -0.0, so 1 / it is -inf, as in PyTorch."""
    out = mg.zeros(2, 1) @ mg.tensor([[-2.0, 3.0]])
    assert (1 / out).tolist() == [[float("-inf"), float("inf")]] * 2


def test_integer_comparisons_with_python_ints_match_torch(torch):
    for values, dtype in (([3, -1, 58], "int64"), ([7, 0, 2], "int32")):
        ours = mg.tensor(values, dtype=getattr(mg, dtype))
        theirs = torch.tensor(values, dtype=getattr(torch, dtype))
        for number in (58, -1, 2**40 if dtype == "int64" else 2**20, -(2**70)):  # (PyTorch wraps 2**40 in int32)
            for op in ("__eq__", "__ne__", "__lt__", "__ge__"):
                try:
                    expected = getattr(theirs, op)(number).tolist()
                except (RuntimeError, OverflowError):
                    continue  # PyTorch refuses a number past int64; minigrad compares it exactly
                assert getattr(ours, op)(number).tolist() == expected, (dtype, number, op)
    token = mg.tensor([[4]])[0][0]
    assert bool(token == 4) and not bool(token == 5) and [10, 20, 30, 40, 50][token] == 50
    assert mg.ones(1, 1, 1).item() == 1.0 and int(mg.tensor([[7]])) == 7
