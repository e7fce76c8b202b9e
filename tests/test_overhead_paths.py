"""The fast paths of the per-op overhead work (issue 17) give exactly what the general paths gave.

A float tensor with a Python number is one node (AddNumber, MulNumber); Mul saves only the operand
each gradient needs; the engine looks at output tensors only when a hook or retain_grad watches
them; softmax along the last dim skips moveaxis; cat's backward cuts by slices; nodes share the tuples
they keep; a recorded add_ or sub_ reads the tensor itself.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import gradcheck


def _leaf(shape: tuple[int, ...], dtype=mg.float64, seed: int = 0) -> mg.Tensor:
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("expr", [lambda x: x * 2.5, lambda x: 2.5 * x, lambda x: x + 3, lambda x: -1.5 + x,
                                  lambda x: (x * 0.5 + 1) * (x + 2.0)])
def test_number_operands_gradcheck(expr) -> None:
    x = _leaf((3, 4))
    assert gradcheck(expr, [x])
    x_strided = _leaf((4, 6), seed=1).detach()[:, ::2].requires_grad_()  # a non-contiguous leaf
    assert not x_strided._array.flags.c_contiguous
    assert gradcheck(expr, [x_strided])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_number_operands_match_torch(torch, dtype: str) -> None:
    data = np.random.default_rng(2).standard_normal((2, 3)).astype(dtype)
    x = mg.tensor(data, requires_grad=True)
    tx = torch.tensor(data, requires_grad=True)
    y, ty = (x * 1.0001 + 0.0001) * 3 + 2, (tx * 1.0001 + 0.0001) * 3 + 2
    assert y.dtype == np.dtype(dtype) and str(ty.dtype) == f"torch.{dtype}"
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    assert "grad_fn=<MulBackward>" in repr(x * 2) and "grad_fn=<AddBackward>" in repr(x + 2)


def test_number_operands_keep_the_general_rules() -> None:
    ints = mg.tensor([1, 2, 3])
    assert (ints * 2).dtype == np.int64 and (ints * 0.5).dtype == np.float32  # not float tensors: general rule
    assert (mg.ones(2) + True).dtype == np.float32  # a bool is not a number operand here
    assert (mg.ones(2, dtype=mg.float64) * 3).dtype == np.float64
    x = _leaf((2,))
    (g,) = mg.autograd.grad(((x * 3) ** 2).sum(), x, create_graph=True)  # 18 x
    (h,) = mg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [18.0, 18.0])


def test_mul_saves_only_what_its_gradients_need(torch) -> None:
    # y = h * c with c constant: h's gradient needs only c, so changing h in place afterwards is fine,
    # as in PyTorch; changing c is caught.
    for lib in (mg, torch):
        x = lib.ones(3, requires_grad=True)
        c = lib.full((3,), 2.0)
        h = x * 1.5
        y = h * c
        h.add_(1)
        y.sum().backward()
        np.testing.assert_array_equal(np.asarray(x.grad.tolist()), [3.0, 3.0, 3.0])
        x.grad = None
        h = x * 1.5
        y = h * c
        c.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_hooks_and_retain_grad_registered_after_the_node_was_made() -> None:
    x = _leaf((3,))
    h = x * 2.0
    y = (h * h).sum()
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    h.retain_grad()
    y.backward()
    np.testing.assert_allclose(seen[0], 2 * h.detach().numpy())
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), 8 * x.detach().numpy())


def test_hook_registered_after_an_in_place_change() -> None:
    x = _leaf((3,))
    h = x * 1.0
    h.mul_(3.0)  # h is now the output of the in-place node, which the hook below watches
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    h.sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [1.0, 1.0, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0, 3.0])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family_and_cat_backward_any_dim(dim: int) -> None:
    x = _leaf((3, 4))
    assert gradcheck(lambda t: t.log_softmax(dim), [x])
    assert gradcheck(lambda t: t.softmax(dim), [x])
    a, b = _leaf((3, 4), seed=3), _leaf((3, 4), seed=4)
    assert gradcheck(lambda p, q: mg.cat([p, q * 2.0, p], dim=dim), [a, b])
    nan_row = mg.tensor([[0.0, float("nan")], [1.0, 2.0]])
    out = nan_row.softmax(-1).numpy()
    assert np.isnan(out[0]).all() and np.isfinite(out[1]).all()


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("cols", [3, 3000])  # the row kernel, and the large NumPy path
def test_softmax_family_special_rows_match_torch(torch, op: str, cols: int) -> None:
    # A NaN or +inf anywhere in a row makes the row NaN, a row of -inf is NaN, a -inf element of
    # another row gives 0 / -inf: PyTorch's results, along any dim.
    x = np.random.default_rng(0).standard_normal((6, cols))
    x[0, 1], x[1, 0], x[2, :2], x[3], x[4, 2] = np.nan, np.inf, (np.nan, np.inf), -np.inf, -np.inf
    for dtype in ("float32", "float64"):
        for dim in (1, 0):
            data = x.astype(dtype) if dim == 1 else x.T.astype(dtype)
            got = getattr(mg.tensor(data), op)(dim).numpy()
            want = getattr(torch.tensor(data), op)(dim).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{dtype} dim={dim}")


def test_hooks_and_retain_grad_across_an_in_place_change_match_torch(torch) -> None:
    # Hooks registered before an in-place op see the gradient of the old value; retain_grad and hooks
    # registered after follow the new value (PyTorch's rules).
    results = {}
    for lib in (mg, torch):
        x = lib.ones(3, requires_grad=True)
        h = x * 1.0
        seen = []
        h.register_hook(lambda g, seen=seen: seen.append(("before", g.tolist())))
        h.retain_grad()
        h.mul_(3.0)
        h.register_hook(lambda g, seen=seen: seen.append(("after", g.tolist())))
        (h * 2.0).sum().backward()
        results[lib.__name__] = (sorted(seen), h.grad.tolist(), x.grad.tolist())
    assert results["minigrad"] == results["torch"]
    assert results["minigrad"] == ([("after", [2.0] * 3), ("before", [6.0] * 3)], [2.0] * 3, [6.0] * 3)


# -- a leaf's first gradient is kept, not copied, when nothing else refers to it (PyTorch's rule) --------


class _Keep(mg.autograd.Function):
    """y = 2x, whose backward returns a fresh array and may also keep it (``keep``) or return a view."""

    def forward(self, x: np.ndarray, keep: bool = False, view: bool = False) -> np.ndarray:
        self.keep, self.view = keep, view
        return 2 * x

    def backward(self, grad: np.ndarray) -> np.ndarray:
        g = 2 * grad
        self.made = id(g)  # (an id, not the array: holding it would make it shared)
        if self.keep:
            self.kept = g
        return g[:] if self.view else g


def _grad_of(keep: bool = False, view: bool = False, hook=None) -> tuple[mg.Tensor, np.ndarray | None]:
    x = _leaf((3, 4))
    if hook is not None:
        x.register_hook(hook)
    y = _Keep.apply(x, keep=keep, view=view)
    y.sum().backward()
    return x, getattr(y.grad_fn, "kept", None)


def test_a_fresh_first_gradient_is_kept_and_still_correct() -> None:
    x = _leaf((3, 4))
    y = _Keep.apply(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2.0))
    assert id(x.grad._array) == y.grad_fn.made  # the backward's own array: no copy was made
    y = _Keep.apply(x)
    y.sum().backward()  # accumulates in place into the kept array
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 4.0))


def test_a_gradient_someone_else_holds_is_copied() -> None:
    x, kept = _grad_of(keep=True)  # the node keeps its gradient array
    assert not np.shares_memory(x.grad._array, kept)
    x, _ = _grad_of(view=True)  # a view of an array the engine never sees
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2.0))
    seen = []
    x, _ = _grad_of(hook=lambda g: seen.append(g))  # a hook keeps the gradient it is shown
    x.grad._array += 1
    np.testing.assert_array_equal(seen[0].numpy(), np.full((3, 4), 2.0))


def test_one_gradient_for_two_inputs_gives_each_its_own() -> None:
    x = _leaf((3,))
    w = _leaf((3,), seed=1)
    (x + w).sum().backward()  # add's backward returns the same array for both inputs
    assert not np.shares_memory(x.grad._array, w.grad._array)
    x.grad._array += 1
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(3))
    user = np.ones(3)
    z = _leaf((3,), seed=2)
    z.backward(gradient=mg.from_numpy(user))  # a leaf root: the user's array is never taken
    assert not np.shares_memory(z.grad._array, user)


def test_a_leaf_used_several_times_gets_one_summed_gradient(torch) -> None:
    """The engine sums a leaf's gradients and delivers them once: its hooks see the total, once,
    as PyTorch's (they run with the leaf's AccumulateGrad node), and the sum is the leaf's own array."""
    data = np.random.default_rng(7).standard_normal(3)
    seen = {}
    for lib in (mg, torch):
        x = lib.tensor(data, requires_grad=True)
        calls = seen[lib.__name__] = []
        x.register_hook(lambda g, calls=calls: calls.append(g.detach().numpy().copy()))
        y = x * 2.0
        (y + x * 3.0 + x.exp() + x).sum().backward()
        seen[lib.__name__ + ".grad"] = x.grad.detach().numpy().copy()
    assert len(seen["minigrad"]) == len(seen["torch"]) == 1
    np.testing.assert_allclose(seen["minigrad"][0], seen["torch"][0])
    np.testing.assert_allclose(seen["minigrad.grad"], seen["torch.grad"])
    x = _leaf((3,))
    w = _leaf((3,), seed=1)
    (x + w + x).sum().backward()  # add returns one array for both inputs: x's sum must be its own
    np.testing.assert_array_equal(x.grad.numpy(), np.full(3, 2.0))
    np.testing.assert_array_equal(w.grad.numpy(), np.ones(3))
    assert not np.shares_memory(x.grad._array, w.grad._array)


def test_a_leaf_used_several_times_under_grad_and_create_graph() -> None:
    x = _leaf((3,))
    (g,) = mg.autograd.grad((x * x + x * 3.0).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * x.detach().numpy() + 3.0)
    (gg,) = mg.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), np.full(3, 2.0))
    z = _leaf((2,), seed=3)
    z.backward(gradient=mg.ones(2), inputs=[z])  # a leaf root and input: its gradient is the one given
    np.testing.assert_array_equal(z.grad.numpy(), np.ones(2))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_big_log_softmax_matches_torch_and_the_general_backward(torch, dtype: str) -> None:
    """Inputs above the kernels' size go block by block through NumPy (a language model's vocabulary)."""
    data = (np.random.default_rng(6).standard_normal((40, 3000)) * 5).astype(dtype)
    grad = np.random.default_rng(7).standard_normal((40, 3000)).astype(dtype)
    x, tx = mg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    y, ty = mg.nn.functional.log_softmax(x, dim=1), torch.nn.functional.log_softmax(tx, dim=1)
    y.backward(mg.tensor(grad))
    ty.backward(torch.tensor(grad))
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-12}  # sums of 3000
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **tol)
    xt = mg.tensor(data.T.copy(), requires_grad=True)  # along dim 0: the general backward formula
    mg.nn.functional.log_softmax(xt, dim=0).backward(mg.tensor(grad.T.copy()))
    np.testing.assert_allclose(xt.grad.numpy().T, x.grad.numpy(), **tol)


def test_nodes_share_the_tuples_they_keep(monkeypatch) -> None:
    from minigrad.autograd import shared_tuples

    for table in (shared_tuples.ONE_METAS, shared_tuples.METAS, shared_tuples.NEEDS, shared_tuples.INPUT_METAS,
                  shared_tuples.TWO_METAS):
        # (empty: no earlier test's shapes evict ours)
        table.clear()
    x, w = _leaf((3, 4)), _leaf((3, 4), seed=1)
    a, b = x.tanh(), x.exp()
    assert a.grad_fn.input_meta is b.grad_fn.input_meta == (((3, 4), np.dtype(np.float64)),)
    c, d = x * a, w * b
    assert c.grad_fn.input_meta[0] is d.grad_fn.input_meta[0] is a.grad_fn.input_meta[0]
    assert a.grad_fn.needs_input_grad is b.grad_fn.needs_input_grad == (True,)
    assert c.grad_fn.needs_input_grad == d.grad_fn.needs_input_grad == (True, True)
    assert (x * x.detach()).grad_fn.needs_input_grad == (True, False)
    role = c.grad_fn._saved_versions[2]  # (flat: counter, version, role, place for each saved value)
    assert role == ("input", 0) and role is d.grad_fn._saved_versions[2]
    assert c.grad_fn.needs_input_grad is d.grad_fn.needs_input_grad
    assert c.grad_fn.input_meta is d.grad_fn.input_meta
    # Bounded: a program of ever new shapes keeps at most SHARED_MAX of them, and stays correct.
    monkeypatch.setattr(shared_tuples, "SHARED_MAX", 4)
    for n in range(1, 20):
        y = _leaf((n, 2), seed=n)
        (y.tanh() * y).sum().backward()
        np.testing.assert_allclose(y.grad.numpy(), np.tanh(y.detach().numpy()) + y.detach().numpy()
                                   * (1 - np.tanh(y.detach().numpy()) ** 2))
        assert len(shared_tuples.ONE_METAS) <= 4 and len(shared_tuples.METAS) <= 4
        assert len(shared_tuples.TWO_METAS) <= 4
    # A shape met with another dtype gets a (shape, dtype) of its own.
    x32 = mg.ones(3, 4, dtype=mg.float32, requires_grad=True)
    assert x32.tanh().grad_fn.input_meta == (((3, 4), np.dtype(np.float32)),)
    assert (x32 * x32).grad_fn.input_meta[1] == ((3, 4), np.dtype(np.float32))
    assert x.tanh().grad_fn.input_meta == (((3, 4), np.dtype(np.float64)),)
    assert mg.cat((x, x, x)).grad_fn.input_meta[2] == ((3, 4), np.dtype(np.float64))
    # A two-input node's meta is looked up by its two shapes and checked against both dtypes.
    from minigrad.autograd import Function

    class Pair(Function):
        def forward(self, a, b):
            return a + b.astype(a.dtype)

        def backward(self, grad):
            return grad, grad

    f32, f64 = ((3, 4), np.dtype(np.float32)), ((3, 4), np.dtype(np.float64))
    assert Pair.apply(x32, x).grad_fn.input_meta == (f32, f64)
    assert Pair.apply(x, x32).grad_fn.input_meta == (f64, f32)
    assert Pair.apply(x, x).grad_fn.input_meta == (f64, f64)
    assert Pair.apply(x, x.detach()).grad_fn.needs_input_grad == (True, False)


@pytest.mark.parametrize(("name", "op", "most"), [
    ("add", lambda a, b, w: a + b, 4),  # the node, its _edges, the output Tensor, the weak reference to it
    ("mul", lambda a, b, w: a * b, 6),  # and what it saves: the saved tuple, the versions of its inputs
    ("tanh", lambda a, b, w: a.tanh(), 7),  # and the version counter of its output, which it saves
    ("matmul", lambda a, b, w: a @ w, 6),
    ("sum", lambda a, b, w: a.sum(0), 7),  # and the dict of its parameters, its dims and the shape it keeps
])
def test_a_node_keeps_few_objects_for_the_cycle_collector(name, op, most) -> None:
    """Each object a node keeps alive until backward is one more that Python's cycle collector
    counts, walks, and promotes into the generation its full collections walk (shared_tuples.py):
    no (node, 0) pair per input, one flat tuple of saved versions, the lone weak reference of a
    one-output node, and needs_input_grad and input_meta shared between nodes."""
    x = _leaf((4, 3))
    a, b, w = x * 1.0, _leaf((4, 3), seed=1) * 1.0, _leaf((3, 3), seed=2)
    kept = [None] * 20
    op(a, b, w)  # (a first call may fill the shared tables)
    gc.collect()
    gc.disable()
    try:
        before = len(gc.get_objects())
        for i in range(len(kept)):
            kept[i] = op(a, b, w)
        per_node = (len(gc.get_objects()) - before) / len(kept)
    finally:
        gc.enable()
    assert per_node <= most, f"{name}: {per_node} tracked objects per node"
    kept[0].sum().backward()  # still a working graph, back to the leaf
    expected = {"add": 1.0, "mul": b.detach().numpy(), "sum": 1.0}
    if name in expected:
        np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(expected[name], (4, 3)))
    else:
        assert x.grad is not None and x.grad.shape == (4, 3) and np.isfinite(x.grad.numpy()).all()


def test_an_op_may_name_its_own_attributes_as_it_likes() -> None:
    """What a node keeps for the graph is private (``_edges``, ``_outputs``): a ``forward`` that sets
    ``self.edges`` (bin edges, say) or ``self.n`` keeps its value and the graph keeps its own."""
    from minigrad.autograd import Function

    class Scale(Function):
        def forward(self, x):
            self.edges, self.n = np.array([0.0, 1.0]), 3.0
            return x * self.n

        def backward(self, grad):
            assert self.edges.tolist() == [0.0, 1.0]
            return grad * self.n

    x = _leaf((2,))
    scaled = x * 1.0
    y = Scale.apply(scaled)
    assert y.grad_fn.next_functions == ((scaled.grad_fn, 0),)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_recorded_add_and_sub_in_place_read_the_tensor_itself(torch) -> None:
    """``loss += l`` records ``loss + l`` without a private copy of loss's old values (Add saves
    nothing); values, gradients and the version rule stay PyTorch's."""
    def program(T):
        x = T.tensor([0.5, -1.0, 2.0], dtype=T.float64, requires_grad=True)
        total = T.zeros(1, dtype=T.float64)
        for k in range(3):
            total += (x * (k + 1)).exp().sum()
        h = x * 2
        kept = h * h  # saves h: changing h in place afterwards must be caught
        h.sub_(x, alpha=0.5)
        (total + h.sum()).backward()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            kept.sum().backward()
        return total.detach().numpy(), x.grad.numpy()

    for ours, theirs in zip(program(mg), program(torch)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_family_common_case_and_the_rest_agree_with_torch(torch, op: str) -> None:
    """A plain int dim of a non-empty float tensor takes the short way in; every other call the checks."""
    data = np.random.default_rng(3).standard_normal((2, 3, 4))
    for dim in (2, -1, 0, np.int64(1)):
        ours = getattr(mg.tensor(data), op)(dim)
        np.testing.assert_allclose(ours.numpy(), getattr(torch.tensor(data), op)(int(dim)).numpy(), rtol=1e-12)
    assert getattr(mg.tensor(2.5), op)(0).shape == ()  # 0-d: the general path, as PyTorch
    assert getattr(mg.zeros(2, 0), op)(1).shape == (2, 0)  # nothing to normalise
    with pytest.raises(IndexError, match="out of range"):
        getattr(mg.tensor(data), op)(3)
    with pytest.raises(TypeError, match="floating point"):
        getattr(mg.tensor([1, 2]), op)(0)
