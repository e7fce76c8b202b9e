"""The Tensor itself: creation, dtypes, attributes, conversion, comparisons, repr, error messages."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ShapeError


@pytest.fixture
def default_dtype_restored():
    before = mg.get_default_dtype()
    yield
    mg.set_default_dtype(before)


# ------------------------------------------------------------------------------ mg.tensor


@pytest.mark.parametrize("data, dtype, shape", [
    (1.5, np.float32, ()),
    ([1.0, 2.0], np.float32, (2,)),
    ([[1.0, 2.0], [3.0, 4.0]], np.float32, (2, 2)),
    ([1, 2, 3], np.int64, (3,)),
    (7, np.int64, ()),
    ([1, 2.5], np.float32, (2,)),
    ([True, False], np.bool_, (2,)),
    (True, np.bool_, ()),
    (np.arange(3, dtype=np.int32), np.int32, (3,)),
    (np.ones((2, 2)), np.float64, (2, 2)),
    (np.ones(2, dtype=np.float32), np.float32, (2,)),
    (np.float64(2.0), np.float64, ()),
    ([], np.float32, (0,)),
])
def test_tensor_dtype_inference(data, dtype, shape):
    t = mg.tensor(data)
    assert t.dtype == np.dtype(dtype), f"{data!r} -> {t.dtype}, expected {np.dtype(dtype)}"
    assert t.shape == shape
    assert isinstance(t._array, np.ndarray)


def test_tensor_with_explicit_dtype():
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == np.float64
    assert mg.tensor([1.7, 2.2], dtype=mg.int64).tolist() == [1, 2]
    assert mg.tensor([1.0], dtype=mg.float32).dtype == mg.float32


def test_tensor_copies_but_from_numpy_wraps():
    a = np.zeros(3)
    t = mg.tensor(a)
    a[0] = 5
    assert t._array[0] == 0
    w = mg.from_numpy(a)
    assert w._array is a


def test_tensor_from_tensor_copies():
    a = mg.tensor([1.0, 2.0])
    b = mg.tensor(a)
    b._array[0] = 9
    assert a._array[0] == 1


def test_set_default_dtype(default_dtype_restored):
    mg.set_default_dtype(mg.float64)
    assert mg.get_default_dtype() == mg.float64
    assert mg.tensor([1.0]).dtype == np.float64
    assert mg.zeros(2).dtype == np.float64
    assert mg.randn(2).dtype == np.float64
    assert (mg.tensor([1, 2]) / 2).dtype == np.float64
    assert mg.tensor([1, 2]).dtype == np.int64  # integers are not affected
    mg.set_default_dtype(mg.float32)
    assert mg.tensor([1.0]).dtype == np.float32


def test_dtypes_are_numpy_dtypes():
    assert mg.float32 == np.dtype("float32") and mg.float64 == np.dtype("float64")
    assert mg.int64 == np.dtype("int64") and mg.int32 == np.dtype("int32")


# ------------------------------------------------------------------------------ creation functions


def test_zeros_ones_full():
    z = mg.zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == np.float32 and (z._array == 0).all()
    assert mg.zeros((2, 3)).shape == (2, 3)
    o = mg.ones(4, dtype=mg.float64)
    assert o.dtype == np.float64 and (o._array == 1).all()
    f = mg.full((2, 2), 3.5)
    assert f.shape == (2, 2) and f.dtype == np.float32 and (f._array == 3.5).all()
    assert mg.zeros(2, requires_grad=True).requires_grad
    assert mg.zeros(0, 3).shape == (0, 3)


def test_like_functions():
    t = mg.ones(2, 3, dtype=mg.float64)
    assert mg.zeros_like(t).shape == (2, 3) and mg.zeros_like(t).dtype == np.float64
    assert (mg.zeros_like(t)._array == 0).all()
    assert (mg.ones_like(mg.zeros(4))._array == 1).all() and mg.ones_like(mg.zeros(4)).dtype == np.float32
    i = mg.tensor([1, 2])
    assert mg.zeros_like(i).dtype == np.int64


def test_arange():
    a = mg.arange(5)
    assert a.tolist() == [0, 1, 2, 3, 4] and a.dtype == np.int64
    b = mg.arange(1, 7, 2)
    assert b.tolist() == [1, 3, 5]
    c = mg.arange(0.0, 1.0, 0.25)
    assert c.dtype == np.float32 and c.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert mg.arange(3, dtype=mg.float64).dtype == np.float64


def test_randn_rand():
    r = mg.randn(200, 3)
    assert r.shape == (200, 3) and r.dtype == np.float32
    assert abs(float(r._array.mean())) < 0.3 and 0.7 < float(r._array.std()) < 1.3
    u = mg.rand(500)
    assert u.dtype == np.float32 and (u._array >= 0).all() and (u._array < 1).all()
    assert mg.randn(2, dtype=mg.float64).dtype == np.float64
    assert mg.randn(3, requires_grad=True).requires_grad


def test_manual_seed_reproducibility():
    mg.manual_seed(0)
    a, u = mg.randn(5).tolist(), mg.rand(3).tolist()
    mg.manual_seed(0)
    assert mg.randn(5).tolist() == a and mg.rand(3).tolist() == u
    mg.manual_seed(1)
    assert mg.randn(5).tolist() != a


# ------------------------------------------------------------------------------ attributes, conversion


def test_attributes():
    t = mg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert isinstance(t._array, np.ndarray)
    assert t.shape == (1, 3) and t.ndim == 2 and t.dtype == np.float32
    assert t.requires_grad and t.is_leaf and t.grad_fn is None and t.grad is None
    y = t * 2
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad


def test_data_can_be_assigned():
    t = mg.zeros(2)
    t._array = np.ones(2, dtype=np.float32)
    assert t.tolist() == [1.0, 1.0]


def test_conversion():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    n = t.numpy()
    assert isinstance(n, np.ndarray) and n.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    s = mg.tensor(2.5)
    assert s.item() == 2.5 and isinstance(s.item(), float)
    assert float(s) == 2.5
    assert mg.tensor([7]).item() == 7 and isinstance(mg.tensor([7]).item(), int)
    assert float(mg.tensor([[3.0]])) == 3.0
    with pytest.raises((ValueError, RuntimeError)):
        t.item()
    assert mg.tensor(3.0).tolist() == 3.0


def test_numpy_of_a_tensor_requiring_grad_needs_detach():
    t = mg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]


# ------------------------------------------------------------------------------ comparisons


@pytest.mark.parametrize("op, expected", [
    (lambda a, b: a < b, [True, False, False]),
    (lambda a, b: a <= b, [True, True, False]),
    (lambda a, b: a > b, [False, False, True]),
    (lambda a, b: a >= b, [False, True, True]),
    (lambda a, b: a == b, [False, True, False]),
    (lambda a, b: a != b, [True, False, True]),
])
def test_comparisons(op, expected):
    a = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = mg.tensor([2.0, 2.0, 2.0])
    for out in (op(a, b), op(a, 2.0), op(a, 2)):
        assert out.dtype == np.bool_ and out.tolist() == expected
        assert not out.requires_grad and out.grad_fn is None


def test_comparison_broadcasts():
    out = mg.tensor([[1.0], [3.0]]) > mg.tensor([0.0, 2.0, 4.0])
    assert out.shape == (2, 3) and out.tolist() == [[True, False, False], [True, True, False]]


# ------------------------------------------------------------------------------ repr


def test_repr_leaf_with_requires_grad():
    r = repr(mg.tensor([1.0, 2.0], requires_grad=True))
    assert r.startswith("tensor(") and "1." in r and "2." in r and "requires_grad=True" in r
    assert "dtype" not in r  # float32 is the default: not shown


def test_repr_shows_grad_fn():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    r = repr(x.sum())
    assert "3." in r and "grad_fn=<SumBackward" in r and "requires_grad" not in r
    assert "MulBackward" in repr(x * 2)


def test_repr_shows_non_default_dtype_only():
    assert "float64" in repr(mg.tensor([1.0], dtype=mg.float64))
    assert "dtype" not in repr(mg.tensor([1, 2]))  # int64 is PyTorch's default integer type
    assert "int32" in repr(mg.tensor([1, 2], dtype=mg.int32))
    r = repr(mg.tensor([1, 2]))
    assert "1" in r and "2" in r


def test_repr_plain_tensor():
    r = repr(mg.tensor([0.5, -1.25]))
    assert r.startswith("tensor(") and "0.5" in r and "-1.25" in r
    assert "grad_fn" not in r and "requires_grad" not in r


# ------------------------------------------------------------------------------ error messages


def test_shape_error_is_value_error_and_runtime_error():
    assert issubclass(ShapeError, ValueError) and issubclass(ShapeError, RuntimeError)
    assert mg.ShapeError is ShapeError


def _message(fn) -> str:
    with pytest.raises(ShapeError) as info:
        fn()
    return str(info.value)


@pytest.mark.parametrize("op, fn, shapes", [
    ("add", lambda: mg.ones(2, 3) + mg.ones(4), ["(2, 3)", "(4,)"]),
    ("sub", lambda: mg.ones(2, 3) - mg.ones(2, 2), ["(2, 3)", "(2, 2)"]),
    ("mul", lambda: mg.ones(3) * mg.ones(4, 2), ["(3,)", "(4, 2)"]),
    ("div", lambda: mg.ones(3) / mg.ones(2), ["(3,)", "(2,)"]),
    ("matmul", lambda: mg.ones(2, 3) @ mg.ones(4, 5), ["(2, 3)", "(4, 5)"]),
    ("matmul", lambda: mg.ones(2, 2, 3) @ mg.ones(3, 3, 5), ["(2, 2, 3)", "(3, 3, 5)"]),
    ("cat", lambda: mg.cat([mg.ones(2, 3), mg.ones(2, 4)], dim=0), ["(2, 3)", "(2, 4)"]),
    ("stack", lambda: mg.stack([mg.ones(2, 3), mg.ones(3, 2)]), ["(2, 3)", "(3, 2)"]),
    ("where", lambda: mg.where(mg.ones(3) > 0, mg.ones(3), mg.ones(2)), ["(3,)", "(2,)"]),
    ("reshape", lambda: mg.ones(2, 3).reshape(4, 2), ["(2, 3)", "(4, 2)"]),
    ("view", lambda: mg.ones(2, 3).view(5), ["(2, 3)", "(5,)"]),
    ("expand", lambda: mg.ones(2, 3).expand(4, 4), ["(2, 3)", "(4, 4)"]),
])
def test_shape_errors_name_op_and_shapes(op, fn, shapes):
    msg = _message(fn)
    assert op in msg, msg
    for s in shapes:
        assert s in msg, f"{s} not in: {msg}"


def test_shape_errors_can_be_caught_as_value_error_or_runtime_error():
    with pytest.raises(ValueError):
        mg.ones(2) + mg.ones(3)
    with pytest.raises(RuntimeError):
        mg.ones(2) @ mg.ones(3)


@pytest.mark.parametrize("fn, index, size", [
    (lambda t: t[5], "5", "3"),
    (lambda t: t[-4], "-4", "3"),
    (lambda t: t[[0, 7]], "7", "3"),
    (lambda t: t[mg.tensor([1, 9])], "9", "3"),
])
def test_out_of_range_index_names_index_and_size(fn, index, size):
    t = mg.ones(3)
    with pytest.raises(IndexError) as info:
        fn(t)
    msg = str(info.value)
    assert index in msg and size in msg, msg


def test_out_of_range_index_in_second_dim():
    with pytest.raises(IndexError) as info:
        mg.ones(2, 4)[:, 6]
    assert "6" in str(info.value) and "4" in str(info.value)


def test_float_index_is_refused():
    with pytest.raises(IndexError):
        mg.ones(3)[mg.tensor([0.0, 1.0])]


# ------------------------------------------------------------------------------ odds and ends


def test_len_and_iteration():
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and rows[1].tolist() == [3.0, 4.0]


def test_operators_with_numpy_arrays_on_the_left_give_tensors():
    t = mg.ones(3, requires_grad=True)
    out = np.ones(3, dtype=np.float32) * t
    assert isinstance(out, mg.Tensor) and out.requires_grad


def test_setitem_outside_graph():
    t = mg.zeros(3)
    t[1] = 5.0
    assert t.tolist() == [0.0, 5.0, 0.0]
    with mg.no_grad():
        w = mg.zeros(2, requires_grad=True)
        w[0] = 1.0
    assert w.tolist() == [1.0, 0.0]
