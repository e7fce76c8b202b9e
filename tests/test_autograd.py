"""Semantics of the autograd engine: what backward() does to .grad, modes, hooks, graph lifetime.

Everything here is PyTorch's behaviour (checked against torch where it matters), written so
that each test reads as one rule of the engine.
"""

from __future__ import annotations

import gc
import math
import subprocess
import sys
import textwrap
import threading
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function, gradcheck, sum_to_shape


def leaf(values, dtype=mg.float64):
    return mg.tensor(values, dtype=dtype, requires_grad=True)


# ------------------------------------------------------------------------------ .grad


def test_leaf_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad._array, [2, 4, 6])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad._array, [4, 8, 12])
    assert isinstance(x.grad, mg.Tensor) and x.grad.dtype == np.float64
    assert x.grad.grad_fn is None and not x.grad.requires_grad


class _Doubling(Function):
    """``2 x``, whose backward hands out a fresh array (its address noted in ``made``) or one it also keeps."""

    made: list = []

    def forward(self, x):
        return x * 2

    def backward(self, grad):
        out = np.full(grad.shape, 2.0) * grad
        _Doubling.made.append(out.ctypes.data)
        if self.keep:
            self.kept = out  # the node holds on to it: nobody may add into it
        return out


def test_a_weight_used_twice_sums_into_a_fresh_gradient_and_never_into_one_kept_elsewhere():
    """A tied weight (an embedding and the decoder that reuses it): the engine adds the second term
    into the first where nobody else refers to that array (no new weight-sized array per step)."""
    for keep in (False, True):
        _Doubling.made = []
        w = leaf(np.arange(1000.0))
        first = _Doubling.apply(w, keep=keep)
        (first * 3 + _Doubling.apply(w, keep=False)).sum().backward()
        np.testing.assert_array_equal(w.grad._array, np.full(1000, 8.0))  # 3 * 2 + 2
        if keep:
            np.testing.assert_array_equal(first.grad_fn.kept, np.full(1000, 6.0))  # the node's own array untouched
            assert not np.shares_memory(w.grad._array, first.grad_fn.kept)
        else:
            assert w.grad._array.ctypes.data in _Doubling.made  # one of the two terms holds the sum


def test_grad_has_the_leaf_dtype_and_shape():
    w = mg.ones(2, 3, requires_grad=True)  # float32
    b = mg.ones(3, requires_grad=True)
    ((w * 2.0 + b) ** 2).sum().backward()
    assert w.grad.shape == (2, 3) and w.grad.dtype == np.float32
    assert b.grad.shape == (3,) and b.grad.dtype == np.float32
    np.testing.assert_allclose(b.grad._array, 2 * 2 * 3.0)


def test_non_leaf_grad_is_none_unless_retain_grad():
    x = leaf([1.0, 2.0])
    h = x * 3
    k = x * 4
    k.retain_grad()
    (h * k).sum().backward()
    assert not h.is_leaf and h.grad is None
    np.testing.assert_allclose(k.grad._array, h._array)  # d(h*k)/dk = h
    np.testing.assert_allclose(x.grad._array, 24 * x._array)


def test_retain_grad_on_a_leaf_is_harmless():
    x = leaf([1.0])
    x.retain_grad()
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad._array, [2.0])


def test_second_backward_without_retain_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_second_backward_through_ops_that_save_nothing_also_raises():
    x = leaf([1.0, 2.0])
    y = (x + 1.0).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward_and_accumulates():
    x = leaf([1.0, 2.0])
    h = x * x
    h.retain_grad()
    y = h.sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad._array, [4.0, 8.0])
    np.testing.assert_allclose(h.grad._array, [2.0, 2.0])
    y.backward()  # the last one may free the graph
    np.testing.assert_allclose(x.grad._array, [6.0, 12.0])


def test_backward_of_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()


def test_backward_with_explicit_gradient():
    x = leaf([1.0, 2.0, 3.0])
    (x * 2).backward(mg.tensor([1.0, 10.0, 100.0], dtype=mg.float64))
    np.testing.assert_allclose(x.grad._array, [2.0, 20.0, 200.0])
    y = leaf([[1.0, 2.0]])
    (y**2).backward(gradient=mg.ones(1, 2, dtype=mg.float64))
    np.testing.assert_allclose(y.grad._array, [[2.0, 4.0]])


def test_backward_with_gradient_of_wrong_shape_raises():
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(mg.ones(2, dtype=mg.float64))


def test_backward_of_a_tensor_that_does_not_require_grad_raises():
    with pytest.raises(RuntimeError):
        mg.ones(2).sum().backward()


def test_backward_of_a_scalar_leaf():
    x = leaf(3.0)
    x.backward()
    assert x.grad.item() == 1.0


# ------------------------------------------------------------------------------ graph shape


def test_diamond_graph_sums_gradients():
    x = leaf([1.5, -2.0])
    a = x * 2.0
    b = x * 3.0
    (a * b).sum().backward()  # 6 x^2
    np.testing.assert_allclose(x.grad._array, 12 * x._array)


def test_reused_intermediate_node():
    x = leaf([0.3, -0.7])
    h = x.tanh()
    (h * h + h).sum().backward()
    t = np.tanh(x._array)
    np.testing.assert_allclose(x.grad._array, (2 * t + 1) * (1 - t * t))


def test_same_leaf_in_both_operands():
    x = leaf([1.0, 2.0])
    (x * x + x / x).sum().backward()
    np.testing.assert_allclose(x.grad._array, 2 * x._array, atol=1e-15)


def test_output_not_depending_on_some_inputs():
    x, y = leaf([1.0]), leaf([2.0])
    z = x * 3
    w = y * 1  # never used
    z.sum().backward()
    assert y.grad is None and w.grad is None
    np.testing.assert_allclose(x.grad._array, [3.0])


def test_tensors_without_grad_make_no_graph():
    a = mg.ones(3)
    b = a * 2 + 1
    assert b.grad_fn is None and not b.requires_grad and b.is_leaf


def test_grad_fn_and_leaf_flags():
    x = leaf([1.0])
    y = x * 2
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    assert y.grad_fn.name == "mul"


# ------------------------------------------------------------------------------ long chains


def test_20000_step_chain():
    x = leaf(1.0)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.backward()
    expected = 1.0001**20_000
    assert math.isclose(y.item(), expected, rel_tol=1e-9)
    assert math.isclose(x.grad.item(), expected, rel_tol=1e-9)


CHAIN_SCRIPT = textwrap.dedent(
    """
    import sys
    import minigrad as mg

    sys.setrecursionlimit(1000)  # the engine must not recurse
    N = 100_000
    x = mg.tensor(1.0, dtype=mg.float64, requires_grad=True)
    y = x
    for _ in range(N):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0, x.grad
    del y  # a released chain of 100k nodes

    y = x
    for i in range(N):
        y = (y + 0.0) if i % 2 else y.tanh()
    del y  # a chain that never ran backward: freed by reference counting, no deep recursion

    h0 = mg.tensor([0.5], dtype=mg.float64, requires_grad=True)
    h = h0
    for _ in range(N):
        h = h * 1.0
    (g,) = mg.autograd.grad(h.sum(), [h0])
    assert g.tolist() == [1.0], g
    del h, g
    print("ok")
    """
)


@pytest.mark.slow
def test_100000_node_chain_in_subprocess():
    """Backward over 100k nodes, and deleting the tensors, must neither recurse nor crash.

    Runs in a subprocess so that a segfault (deep recursive deallocation) is reported as a
    failure with its exit code instead of killing pytest.
    """
    proc = subprocess.run([sys.executable, "-c", CHAIN_SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (
        f"exit code {proc.returncode} (negative = killed by signal, -11 = segfault)\n"
        f"stdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-4000:]}"
    )
    assert "ok" in proc.stdout


# ------------------------------------------------------------------------------ graph lifetime


def test_graph_is_freed_by_reference_counting_alone():
    gc.collect()
    gc.disable()
    try:
        x = leaf([1.0, 2.0])
        h = x.tanh()
        node = weakref.ref(h.grad_fn)
        y = (h * 2).sum()
        del h
        assert node() is not None  # still reachable from y
        del y
        assert node() is None, "the graph survived without a cycle collection: there is a reference cycle"
    finally:
        gc.enable()


def test_graph_is_freed_after_backward_by_reference_counting():
    gc.collect()
    gc.disable()
    try:
        x = leaf([1.0, 2.0])
        h = x.exp()
        out = h * h
        nodes = [weakref.ref(h.grad_fn), weakref.ref(out.grad_fn)]
        y = out.sum()
        y.backward()
        del h, out, y
        assert all(n() is None for n in nodes)
        assert x.grad is not None
    finally:
        gc.enable()


def test_function_holds_only_weak_references_to_outputs():
    x = leaf([1.0, 2.0])
    y = x * 2
    fn = y.grad_fn
    assert all(isinstance(r, weakref.ReferenceType) for r in fn.outputs)
    assert fn.outputs[0]() is y
    del y
    assert fn.outputs[0]() is None


def test_output_tensor_is_freed_while_its_node_lives():
    x = leaf([1.0])
    h = x * 2
    h_ref = weakref.ref(h)
    z = h + 1  # z's node refers to h's node, not to h
    del h
    assert h_ref() is None
    z.sum().backward()
    np.testing.assert_allclose(x.grad._array, [2.0])


# ------------------------------------------------------------------------------ modes


def test_no_grad_makes_no_graph():
    x = leaf([1.0])
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2
    assert mg.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad


def test_enable_grad_inside_no_grad_nested():
    x = leaf([1.0])
    with mg.no_grad():
        with mg.enable_grad():
            assert mg.is_grad_enabled()
            y = x * 2
            with mg.no_grad():
                z = x * 2
            w = x * 3
        v = x * 4
    assert y.requires_grad and w.requires_grad
    assert not z.requires_grad and not v.requires_grad


def test_grad_modes_as_decorators():
    x = leaf([1.0])

    @mg.no_grad()
    def frozen(t):
        return t * 2, mg.is_grad_enabled()

    @mg.enable_grad()
    def tracked(t):
        return t * 2

    y, enabled = frozen(x)
    assert not enabled and not y.requires_grad
    with mg.no_grad():
        assert tracked(x).requires_grad
    assert mg.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with mg.no_grad():
            raise ValueError("boom")
    assert mg.is_grad_enabled()


def test_grad_mode_and_scope_are_thread_local():
    seen: dict[str, object] = {}
    inside = threading.Event()
    release = threading.Event()

    def worker():
        seen["worker_start"] = mg.is_grad_enabled()
        seen["worker_scope_start"] = mg.autograd.current_scope()
        with mg.no_grad(), mg.scope("worker"):
            inside.set()
            release.wait(10)
            seen["worker_inside"] = mg.is_grad_enabled()
            seen["worker_scope"] = mg.autograd.current_scope()

    with mg.no_grad(), mg.scope("main"):
        t = threading.Thread(target=worker)
        t.start()
        assert inside.wait(10)
        seen["main_during"] = mg.is_grad_enabled()
    seen["main_after"] = mg.is_grad_enabled()  # the worker is still inside its no_grad
    seen["main_scope_after"] = mg.autograd.current_scope()
    release.set()
    t.join(10)
    assert seen == {
        "worker_start": True, "worker_scope_start": "", "worker_inside": False, "worker_scope": "worker",
        "main_during": False, "main_after": True, "main_scope_after": "",
    }


def test_detach_cuts_the_graph_and_shares_memory():
    x = leaf([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert d.is_leaf and d.grad_fn is None and not d.requires_grad
    assert np.shares_memory(d._array, y._array)
    (x * d).sum().backward()
    np.testing.assert_allclose(x.grad._array, d._array)  # no gradient flowed through d


def test_requires_grad_():
    x = mg.ones(2)
    assert not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad._array, [2.0, 2.0])


@pytest.mark.parametrize("make", [
    lambda: mg.tensor([1, 2], requires_grad=True),
    lambda: mg.tensor([1, 2]).requires_grad_(),
    lambda: mg.tensor([True]).requires_grad_(),
    lambda: mg.zeros(2, dtype=mg.int64, requires_grad=True),
    lambda: mg.arange(3, requires_grad=True),
])
def test_integer_tensors_cannot_require_grad(make):
    with pytest.raises(RuntimeError, match="float"):
        make()


@pytest.mark.parametrize("data", ["abc", ["a", "b"], np.array(["x", "y"]), np.array([object()], dtype=object),
                                  None, {"a": 1}])
def test_non_numeric_data_is_a_type_error(data):
    with pytest.raises(TypeError):
        mg.tensor(data)


# ------------------------------------------------------------------------------ hooks


def test_hook_on_leaf_can_modify_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g._array.copy()))
    x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad._array, [6.0, 6.0])


def test_hook_on_non_leaf_modifies_what_flows_back():
    x = leaf([1.0, 2.0])
    h = x * 3
    seen = []
    h.register_hook(lambda g: seen.append(g._array.copy()))
    h.register_hook(lambda g: g * 10)
    (h * h).sum().backward()
    np.testing.assert_allclose(seen[0], 2 * h._array)
    np.testing.assert_allclose(x.grad._array, 10 * 2 * h._array * 3)


def test_hook_sees_the_complete_gradient_of_a_reused_tensor():
    x = leaf([1.0])
    h = x * 1
    seen = []
    h.register_hook(lambda g: seen.append(g.item()))
    (h * 2 + h * 3).sum().backward()
    assert seen == [5.0]


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError):
        mg.ones(2).register_hook(lambda g: g)


# ------------------------------------------------------------------------------ mg.autograd.grad


def test_autograd_grad_does_not_touch_dot_grad():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    z = (x * y).sum()
    gx, gy = mg.autograd.grad(z, [x, y])
    np.testing.assert_allclose(gx._array, y._array)
    np.testing.assert_allclose(gy._array, x._array)
    assert x.grad is None and y.grad is None
    assert isinstance(gx, mg.Tensor) and gx.dtype == np.float64


def test_autograd_grad_single_input_and_grad_outputs():
    x = leaf([1.0, 2.0, 3.0])
    out = x * x
    (g,) = mg.autograd.grad(out, x, grad_outputs=mg.tensor([1.0, 0.5, 0.0], dtype=mg.float64))
    np.testing.assert_allclose(g._array, [2.0, 2.0, 0.0])


def test_autograd_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 2
    z = (h * h).sum()
    gh, gx = mg.autograd.grad(z, [h, x])
    np.testing.assert_allclose(gh._array, 2 * h._array)
    np.testing.assert_allclose(gx._array, 8 * x._array)


def test_autograd_grad_retain_graph():
    x = leaf([2.0])
    z = (x * x).sum()
    (g1,) = mg.autograd.grad(z, x, retain_graph=True)
    (g2,) = mg.autograd.grad(z, x)
    assert g1.item() == g2.item() == 4.0
    with pytest.raises(RuntimeError, match="retain_graph"):
        mg.autograd.grad(z, x)


def test_autograd_grad_several_outputs():
    x = leaf([1.0, 2.0])
    a, b = (x * 2).sum(), (x * x).sum()
    (g,) = mg.autograd.grad([a, b], [x])
    np.testing.assert_allclose(g._array, 2 + 2 * x._array)


# ------------------------------------------------------------------------------ anomaly and scope


def test_detect_anomaly_names_op_and_scope_in_forward():
    x = leaf([-1.0, 1.0])
    with mg.autograd.detect_anomaly(), mg.scope("lstm"), mg.scope("l0"), mg.scope("t3"):
        with pytest.raises(RuntimeError) as info:
            x.log()
    msg = str(info.value)
    assert "log" in msg and "lstm/l0/t3" in msg and "forward" in msg and "nan" in msg


def test_detect_anomaly_names_op_and_scope_in_backward():
    x = leaf([0.0, 4.0])
    with mg.scope("gru"), mg.scope("t7"):
        y = x.sqrt()  # finite forward, infinite gradient at 0
    loss = y.sum()
    with mg.autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    msg = str(info.value)
    assert "sqrt" in msg and "gru/t7" in msg and "backward" in msg


def test_without_detect_anomaly_nan_passes_silently():
    x = leaf([-1.0])
    y = x.log()
    assert np.isnan(y._array).all()


def test_detect_anomaly_is_off_after_the_block():
    with mg.autograd.detect_anomaly():
        pass
    x = leaf([-1.0])
    assert np.isnan(x.log()._array).all()


def test_scope_nesting_tags_nodes():
    x = leaf([1.0])
    assert mg.autograd.current_scope() == ""
    with mg.scope("lstm"):
        a = x * 2
        with mg.scope("l0"), mg.scope("t3"):
            assert mg.autograd.current_scope() == "lstm/l0/t3"
            b = a.tanh()
        c = b + 1
    d = c * 1
    assert a.grad_fn.scope == "lstm"
    assert b.grad_fn.scope == "lstm/l0/t3"
    assert c.grad_fn.scope == "lstm"
    assert d.grad_fn.scope == ""
    assert mg.autograd.current_scope() == ""


def test_leaving_one_switch_keeps_the_others_on():
    """Function.apply checks one switch for scope, anomaly mode and a recorder together
    (``_mode.traced``): leaving any one of them must not switch off the others."""
    from minigrad.autograd.modes import Recorder, _mode, recording

    class Count(Recorder):
        def __init__(self):
            self.n = 0

        def on_forward(self, fn, outputs):
            self.n += 1

    x = leaf([1.0])
    counter = Count()
    with mg.scope("outer"):
        with recording(counter):
            with mg.autograd.detect_anomaly():
                pass
            a = x * 2  # the recorder is still on after anomaly mode ended
        b = x * 3  # the scope is still on after the recorder ended
        with pytest.raises(RuntimeError, match="log at outer produced nan in forward"), mg.autograd.detect_anomaly():
            leaf([-1.0]).log()
    c = x * 4
    assert counter.n == 1
    assert (a.grad_fn.scope, b.grad_fn.scope, c.grad_fn.scope) == ("outer", "outer", "")
    assert _mode.traced is False


# ------------------------------------------------------------------------------ writing a Function


class Cube(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x**3

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * 3 * x**2


class ScaledSplit(Function):
    """Two outputs and a keyword parameter: (scale * x, x * y), y broadcast."""

    def forward(self, x, y):
        self.save_for_backward(x, y)
        return self.scale * x, x * y

    def backward(self, g1, g2):
        x, y = self.saved_tensors
        gx = (0 if g1 is None else self.scale * g1) + (0 if g2 is None else g2 * y)
        gy = None if g2 is None else g2 * x  # broadcast shape: the engine sums it back
        return gx, gy


def test_custom_function_apply_and_gradcheck():
    x = leaf([0.5, -1.5])
    y = Cube.apply(x)
    assert y.grad_fn.name == "cube" and y.grad_fn.needs_input_grad == (True,)
    assert gradcheck(lambda t: Cube.apply(t), [x])


def test_custom_function_with_two_outputs_and_broadcast_gradient():
    x = leaf([[0.5, -1.5, 2.0], [1.0, 0.1, -0.3]])
    y = leaf([2.0, 3.0, -1.0])
    a, b = ScaledSplit.apply(x, y, scale=3.0)
    assert a.grad_fn is b.grad_fn and a.grad_fn.scale == 3.0
    assert gradcheck(lambda s, t: ScaledSplit.apply(s, t, scale=3.0), [x, y])
    b.sum().backward()  # only one output used: the other's gradient is None
    np.testing.assert_allclose(y.grad._array, x._array.sum(axis=0))


def test_sum_to_shape():
    g = np.ones((2, 3, 4))
    assert sum_to_shape(g, (3, 1)).tolist() == [[8.0]] * 3
    assert sum_to_shape(g, ()).item() == 24.0
    assert sum_to_shape(g, (2, 3, 4)) is g
    assert sum_to_shape(g, (1, 1, 4)).shape == (1, 1, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("rows", [1, 3, 40])
def test_sum_to_shape_of_a_bias_is_numpys_sum_in_a_fresh_array(dtype, rows):
    """A bias's gradient (rows summed to one row: ``kernels/bias_rows.py`` from 4096 numbers): NumPy's
    numbers bit for bit, a -0.0 of one row kept, and never the incoming gradient's memory."""
    rng = np.random.default_rng(rows)
    g = (rng.standard_normal((rows, 200)) * 10.0 ** rng.integers(-3, 4, (rows, 200))).astype(dtype)
    g[0, :3] = [-0.0, np.inf, np.nan]
    got = sum_to_shape(g, (200,))
    want = g[0] if rows == 1 else g.sum(axis=0)
    assert got.dtype == g.dtype and got.shape == (200,) and not np.shares_memory(got, g)
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_gradcheck_detects_a_wrong_gradient():
    class Wrong(Function):
        def forward(self, x):
            return x * x

        def backward(self, grad):
            return grad * 3.0  # should be 2 x

    x = leaf([1.0, 2.0])
    with pytest.raises(AssertionError, match="mismatch"):
        gradcheck(lambda t: Wrong.apply(t), [x])


def test_gradcheck_sees_a_small_output_next_to_a_huge_one():
    """Each output's change is taken on its own: dy1/dx1 = 1 must not vanish in the rounding of
    y0 = 1e12 x0 (a weighted sum of the outputs first, then the difference, loses it).
    Hypothesis found such a program: pow3(pow3(pow3(exp_tanh(x2 - x0)))), outputs 1e-8 to 3e10."""
    x = leaf([1.0, 1.0])
    scale = mg.tensor([1e12, 1.0], dtype=mg.float64)
    assert gradcheck(lambda t: t * scale, [x])
    x = mg.tensor([0.34558419, 0.82161814, 0.33043708, -1.30315723], dtype=mg.float64, requires_grad=True)
    c = mg.tensor(0.12573022, dtype=mg.float64, requires_grad=True)
    assert gradcheck(lambda a, b: ((((b - a).tanh().exp()) ** 3) ** 3) ** 3, [x, c])


def test_register_hook_returns_a_removable_handle():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 10)
    (x * x).sum().backward()
    assert x.grad.tolist() == [20.0, 40.0]
    handle.remove()
    handle.remove()  # removing twice is harmless, as in PyTorch
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


# ---------------------------------------------------------------------------- the cycle collector


def test_cycle_collector_paused_puts_the_users_setting_back():
    from minigrad.autograd.engine import cycle_collector_paused

    assert gc.isenabled()
    with cycle_collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError), cycle_collector_paused():
        raise ValueError("inside")
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collector_paused():
            pass
        assert not gc.isenabled()  # a collector the user turned off stays off
    finally:
        gc.enable()


def test_reference_time_loop_and_backward_run_with_the_cycle_collector_paused():
    """The time loop of a reference layer builds a node per op: no collector scans in between."""
    from minigrad.nn.sequence import run_direction

    seen = []

    def step(x_t, state):
        seen.append(gc.isenabled())
        return ((x_t + state[0]).tanh(),)

    x = mg.ones(3, 2, 1, requires_grad=True)
    out, _ = run_direction(step, x, (mg.zeros(2, 1),))
    assert seen == [False, False, False] and gc.isenabled()

    def failing(x_t, state):
        raise RuntimeError("a bad cell")

    with pytest.raises(RuntimeError, match="a bad cell"):
        run_direction(failing, x, (mg.zeros(2, 1),))
    assert gc.isenabled()

    hooked = []
    out.register_hook(lambda g: hooked.append(gc.isenabled()))
    out.sum().backward()
    assert hooked == [False] and gc.isenabled() and x.grad is not None
