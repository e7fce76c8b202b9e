"""In-place ops: values, gradients through them, the version counter, and the leaf rule — against PyTorch.

Each program is written once against a module ``T`` and run with ``T = minigrad`` and ``T = torch``
(the drop-in promise makes that possible). Without torch, the gradient checks and the hand-written
expectations still run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import gradcheck

Program = Callable[..., tuple]


def _x(T, values=(0.5, -1.25, 2.0), shape=(3,)):
    return T.tensor(np.array(values, dtype=np.float64).reshape(shape), requires_grad=True)


# ---- programs that must give the same values and gradients as PyTorch -----------------------------


def p_add_(T):
    x = _x(T)
    y = x * 2
    y.add_(x, alpha=0.5)
    return y, x


def p_add_deprecated(T):
    x = _x(T)
    y = x * 1
    y.add_(2.0, x)  # the deprecated (alpha, other) form that old tutorials use
    return y, x


def p_sub_mul_div(T):
    x, w = _x(T), _x(T, (1.5, 2.0, -0.75))
    y = x.exp()
    y = y.clone()
    y.sub_(w).mul_(w).div_(2.0)
    return y, x, w


def p_pow_neg(T):
    x = _x(T)
    y = x + 3
    y.pow_(2).neg_()
    return y, x


def p_unary(T):
    x = _x(T)
    y = x * 0.5
    for op in ("tanh_", "exp_", "sqrt_", "sigmoid_"):
        y = y * 1  # each of these saves its output: changing it again in place is refused (v_inplace_chain)
        getattr(y, op)()
    return y, x


def p_clamp_relu(T):
    x = _x(T, (0.5, -1.25, 2.0, -0.1, 0.3, 1.7), (2, 3))
    y = x * 1.5
    y.clamp_(-1.0, 1.0).relu_()
    return y, x


def p_iadd_broadcast(T):
    x = _x(T, (0.5, -1.25, 2.0, -0.1, 0.3, 1.7), (2, 3))
    b = _x(T)
    y = x * 1
    y += b  # broadcast operand
    y *= b
    return y, x, b


def p_setitem_rows(T):
    h = _x(T)
    out = T.zeros(4, 3, dtype=T.float64)
    for t in range(4):
        out[t] = h * (t + 1)  # collect states into a buffer, as RNN loops do
    return out, h


def p_setitem_into_graph(T):
    x = _x(T, (0.5, -1.25, 2.0, -0.1, 0.3, 1.7), (2, 3))
    v = _x(T, (3.0, 4.0), (2,))
    y = x * 2
    y[:, 1] = v  # overwrites part of y: x gets no gradient there
    return y, x, v


def p_setitem_mask_scalar(T):
    x = _x(T, (0.5, -1.25, 2.0, -0.1, 0.3, 1.7), (2, 3))
    y = x.exp()
    y = y * 1
    y[y > 1.5] = 0.0
    return y, x


def p_masked_fill_(T):
    x = _x(T, (0.5, -1.25, 2.0, -0.1, 0.3, 1.7), (2, 3))
    mask = T.tensor([[True, False, True]])
    y = x * 3
    y.masked_fill_(mask, -1.0)
    return y, x


def p_copy_fill_zero(T):
    x, w = _x(T), _x(T, (1.5, 2.0, -0.75))
    y = x * 1
    y.copy_(w * 2)
    z = x * 1
    z.zero_()
    return y + z, x, w


def p_fill_with_tensor(T):
    x, s = _x(T), T.tensor(2.5, dtype=T.float64, requires_grad=True)
    y = x * 1
    y.fill_(s)
    return y * x, x, s


def p_addcmul_addcdiv_lerp(T):
    x, a, b = _x(T), _x(T, (1.5, 2.0, -0.75)), _x(T, (0.25, 0.5, 1.5))
    y = x * 1
    y.addcmul_(a, b, value=0.5).addcdiv_(a, b, value=-2.0).lerp_(a, 0.25)
    return y, x, a, b


def p_shape_inplace(T):
    x = _x(T, (0.5, -1.25, 2.0, -0.1, 0.3, 1.7), (2, 3))
    y = x * 1
    y.unsqueeze_(0).transpose_(1, 2).squeeze_(0).t_()
    return y * T.arange(6, dtype=T.float64).reshape(2, 3), x


def p_accumulate_into_a_plain_tensor(T):
    x = _x(T)
    loss = T.zeros(1, dtype=T.float64)  # no grad yet: the first += puts it in the graph
    for k in range(3):
        loss += (x * (k + 1)).tanh().sum()  # the tutorials' loss += criterion(output, target)
    loss.sub_(x.exp().sum(), alpha=0.5)
    return loss, x


def p_accumulate_same_shape_and_watched(T):
    """``+=`` and ``-=`` of a same-shaped tensor (written into memory by one node), then on a tensor
    with a hook and on one that retains its gradient (the general path)."""
    x, b = _x(T), _x(T, (1.5, 2.0, -0.75))
    h = x * 2
    h += b.exp()
    h -= x * b
    seen = []
    g = x + 0.5
    r = x * 1
    watched = g.requires_grad  # (gradcheck's numerical passes run without recording)
    if watched:
        g.register_hook(lambda grad: seen.append(grad))
        r.retain_grad()
    g += h
    r -= g
    out = r * 3
    if watched:
        out.sum().backward(retain_graph=True)
        assert len(seen) == 1 and r.grad is not None
    return out, x, b


def p_no_grad_update(T):
    w = _x(T)
    (w * w).sum().backward()
    with T.no_grad():
        w -= 0.1 * w.grad  # the hand-written SGD step
        w.mul_(0.9)
    return w.detach() * 1, w


def p_data_update(T):
    w = _x(T)
    (w * w * w).sum().backward()
    w.data.add_(w.grad.data, alpha=-0.05)  # the tutorials' p.data.add_(p.grad.data, alpha=-lr)
    w.grad.data.zero_()
    return w.detach() * 1, w


PROGRAMS: dict[str, Program] = {f.__name__[2:]: f for f in [
    p_add_, p_add_deprecated, p_sub_mul_div, p_pow_neg, p_unary, p_clamp_relu, p_iadd_broadcast, p_setitem_rows,
    p_setitem_into_graph, p_setitem_mask_scalar, p_masked_fill_, p_copy_fill_zero, p_fill_with_tensor,
    p_addcmul_addcdiv_lerp, p_shape_inplace, p_accumulate_into_a_plain_tensor,
    p_accumulate_same_shape_and_watched, p_no_grad_update,
    p_data_update]}


def _run(T, program: Program) -> dict[str, np.ndarray]:
    out, *leaves = program(T)
    result = {"out": np.array(out.detach().numpy())}
    if out.requires_grad:
        weights = T.tensor(np.linspace(-1.0, 2.0, int(np.prod(out.shape))).reshape(tuple(out.shape)))
        (out * weights).sum().backward()
    for i, leaf in enumerate(leaves):
        if leaf.grad is not None:
            result[f"grad{i}"] = np.array(leaf.grad.detach().numpy())
    return result


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_inplace_program_matches_torch(name, torch):
    ours, theirs = _run(mg, PROGRAMS[name]), _run(torch, PROGRAMS[name])
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-12, atol=1e-14, err_msg=f"{name}: {key}")


DIFFERENTIABLE = ["add_", "sub_mul_div", "pow_neg", "unary", "clamp_relu", "iadd_broadcast", "setitem_rows",
                  "setitem_into_graph", "masked_fill_", "copy_fill_zero", "fill_with_tensor", "addcmul_addcdiv_lerp",
                  "shape_inplace", "accumulate_into_a_plain_tensor", "accumulate_same_shape_and_watched"]


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_inplace_program_gradcheck(name):
    program = PROGRAMS[name]
    _, *leaves = program(mg)
    values = [leaf.detach().numpy().copy() for leaf in leaves]

    def fn(*inputs):
        # Replace the program's leaves by the gradcheck inputs, which it perturbs element by element.
        made = iter(inputs)
        original = mg.tensor

        def tensor(data, *args, requires_grad=False, **kwargs):
            return next(made) if requires_grad else original(data, *args, **kwargs)

        mg.tensor = tensor
        try:
            return program(mg)[0]
        finally:
            mg.tensor = original

    inputs = [mg.tensor(v, requires_grad=True) for v in values]
    assert gradcheck(fn, inputs)


def test_inplace_on_a_non_contiguous_view_is_seen_by_its_base():
    base = mg.zeros(3, 4)
    view = base.t()
    view[1].fill_(2.0)
    assert base[:, 1].tolist() == [2.0, 2.0, 2.0]
    assert base._version == view._version == 1


# ---- the version counter: backward refuses changed saved values, as PyTorch does -------------------


def v_output_saved(T):  # exp saves its output
    x = _x(T)
    y = x.exp()
    y.add_(1)
    return y.sum()


def v_input_saved(T):  # mul saves both inputs
    x = _x(T)
    a = x * 1
    y = a * x
    a.mul_(2)
    return y.sum()


def v_through_view(T):  # a view shares its base's version counter
    x = _x(T, (0.5, -1.25, 2.0, -0.1, 0.3, 1.7), (2, 3))
    a = x * 1
    y = a.sigmoid()
    y[0].zero_() if T is not mg else y.detach()[0].zero_()
    return y.sum()


def v_detach_shares_counter(T):
    x = _x(T)
    y = x.tanh()
    y.detach().mul_(3)
    return y.sum()


def v_no_grad_still_counts(T):
    x = _x(T)
    w = T.tensor([1.0, 2.0, 3.0], dtype=T.float64)
    y = x * w
    with T.no_grad():
        w.add_(1)
    return y.sum()


def v_data_is_not_tracked(T):  # PyTorch's documented hole: .data has its own counter
    x = _x(T)
    y = x.tanh()
    y.data.mul_(3)
    return y.sum()


def v_inplace_chain(T):  # sqrt_ saves its output, which sigmoid_ then changes
    x = _x(T)
    y = x * 0.5
    y.sqrt_().sigmoid_()
    return y.sum()


def v_copy_over_saved_output(T):  # found by the fuzzer: copy_ overwrites what sigmoid saved
    x = _x(T)
    y = T.tensor(-2.5, dtype=T.float64, requires_grad=True)
    t = x.sigmoid()
    t.copy_(y)
    return t.sum()



def v_output_saved_then_accumulated(T):  # += writes into exp's saved output
    x = _x(T)
    y = x.exp()
    y += x * 1
    return y.sum()


def v_matmul_unneeded_operand(T):  # x @ W with x constant saves only x: changing W later is allowed
    x = T.ones(2, 3, dtype=T.float64)
    w = _x(T)[:3].reshape(3, 1) * 1
    y = x @ w
    w.add_(5)
    return y.sum()


def v_matmul_needed_operand(T):  # ... but W's gradient needs x: changing x later is not
    x = T.ones(2, 3, dtype=T.float64) * 1
    w = _x(T)[:3].reshape(3, 1)
    y = x @ w
    x.add_(5)
    return y.sum()


def v_unsaved_is_fine(T):  # add saves nothing: changing its input later is allowed
    x = _x(T)
    a = x * 2
    y = a + 1
    a.add_(5)
    return y.sum()


VERSION_CASES = {"output_saved": (v_output_saved, True), "input_saved": (v_input_saved, True),
                 "through_view": (v_through_view, True), "detach_shares_counter": (v_detach_shares_counter, True),
                 "no_grad_still_counts": (v_no_grad_still_counts, True), "inplace_chain": (v_inplace_chain, True),
                 "copy_over_saved_output": (v_copy_over_saved_output, True),
                 "output_saved_then_accumulated": (v_output_saved_then_accumulated, True),
                 "matmul_needed_operand": (v_matmul_needed_operand, True),
                 "data_is_not_tracked": (v_data_is_not_tracked, False), "unsaved_is_fine": (v_unsaved_is_fine, False),
                 "matmul_unneeded_operand": (v_matmul_unneeded_operand, False)}


def _raises_on_backward(T, program) -> bool:
    loss = program(T)
    try:
        loss.backward()
    except RuntimeError as e:
        assert "modified by an inplace operation" in str(e)
        return True
    return False


@pytest.mark.parametrize("name", sorted(VERSION_CASES))
def test_modified_saved_tensor_raises_on_backward(name):
    program, raises = VERSION_CASES[name]
    assert _raises_on_backward(mg, program) is raises


@pytest.mark.parametrize("name", sorted(VERSION_CASES))
def test_version_errors_agree_with_torch(name, torch):
    program, _ = VERSION_CASES[name]
    assert _raises_on_backward(mg, program) == _raises_on_backward(torch, program)


def test_version_error_names_the_op_scope_and_versions():
    x = _x(mg)
    with mg.scope("rnn"), mg.scope("t3"):
        y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    message = str(info.value)
    for part in ("modified by an inplace operation", "output 0 of exp at rnn/t3", "version 1; expected version 0",
                 "float64", "(3,)"):
        assert part in message, (part, message)


# ---- leaves, read-only memory, dtypes, shapes ------------------------------------------------------


def test_inplace_on_a_leaf_that_requires_grad_raises_outside_no_grad(torch):
    for T in (mg, torch):
        w = T.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            w.add_(1)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            w[0] = 2.0
        with pytest.raises(RuntimeError, match="view of a leaf Variable"):
            w[1:].mul_(2)
        with T.no_grad():
            w.add_(1)
        assert w.tolist() == [2.0, 2.0, 2.0]


def test_inplace_integer_tensor_refuses_a_float_result_but_copy_converts(torch):
    for T in (mg, torch):
        n = T.tensor([1, 2, 3])
        with pytest.raises(RuntimeError, match="can't be cast"):
            n.add_(0.5)
        n.copy_(T.tensor([1.7, 2.2, -3.9]))
        n.fill_(2.9) if T is torch else None
        n[0] = 7.5
    ours, theirs = mg.tensor([1, 2, 3]), torch.tensor([1, 2, 3])
    for t in (ours, theirs):
        t.copy_(t.float() * 1.5)
        t[0] = 7.9
    assert ours.tolist() == theirs.tolist()


def test_inplace_result_must_keep_the_shape():
    with pytest.raises(mg.ShapeError, match="add_: the result has shape \\(2, 3\\).*keep the tensor's shape \\(3,\\)"):
        mg.zeros(3).add_(mg.ones(2, 3))


def test_expanded_memory_is_read_only():
    with pytest.raises(RuntimeError, match="read-only"):
        mg.ones(3).expand(2, 3).mul_(2)


def test_inplace_change_of_a_view_in_the_graph_raises_clearly():
    x = _x(mg)
    buffer = mg.zeros(2, 3)
    with pytest.raises(RuntimeError, match="view .* Assign into that tensor itself"):
        buffer[0].copy_(x)
    buffer[0] = x  # the supported spelling
    assert buffer.requires_grad


def test_random_fills_and_versions():
    mg.manual_seed(0)
    t = mg.empty(1000) if hasattr(mg, "empty") else mg.zeros(1000)
    t.uniform_(-0.5, 0.5)
    assert -0.5 <= t.min().item() and t.max().item() < 0.5
    t.normal_(2.0, 0.1)
    assert abs(t.mean().item() - 2.0) < 0.05
    t.bernoulli_(0.25)
    assert set(np.unique(t.numpy())) <= {0.0, 1.0} and 0.15 < t.mean().item() < 0.35
    assert t._version == 3


def test_index_and_int_of_integer_tensors():
    items = ["a", "b", "c", "d"]
    i = mg.tensor(2)
    assert items[i] == "c" and items[: mg.tensor(1)] == ["a"] and int(mg.tensor([3])) == 3
    assert list(range(mg.tensor(3))) == [0, 1, 2]
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        items[mg.tensor(1.0)]



def _unwatched_arithmetic(T) -> list:
    """Arithmetic in place on tensors autograd does not watch (minigrad writes it straight into memory)."""
    rng = np.random.default_rng(3)
    a32 = T.tensor(rng.normal(size=(4, 3)).astype(np.float32))
    a64 = T.tensor(rng.normal(size=(3, 4)))
    w = T.tensor(rng.normal(size=(4, 3)).astype(np.float32), requires_grad=True)
    w.data.add_(a32, alpha=-0.05)                 # the tutorials' update
    w.data.sub_(T.tensor(rng.normal(size=3)), alpha=3)  # float64 other, broadcast along rows
    a32.mul_(T.tensor(rng.normal(size=(4, 1)).astype(np.float32)))
    a32.div_(0.7).add_(2).sub_(1.5, alpha=2)
    a32 /= a32.flip(0)                            # the other operand overlaps t's memory
    a64.t().add_(a32)                             # a non-contiguous t, float32 into float64
    a64 *= 3
    a32.mul_(T.tensor(0.1, dtype=T.float64))      # a 0-d float64 operand: computed in float32, as PyTorch does
    with T.no_grad():
        w.add_(w, alpha=0.5)
    return [a32, a64, w.detach(), (a32._version, a64._version, w._version)]


def test_unwatched_arithmetic_in_place_matches_torch(torch):
    ours, theirs = _unwatched_arithmetic(mg), _unwatched_arithmetic(torch)
    for o, t in zip(ours[:3], theirs[:3]):
        assert o.dtype == mg.float32 if t.dtype == torch.float32 else o.dtype == mg.float64
        np.testing.assert_array_equal(o.numpy(), t.numpy())
    assert ours[3] == theirs[3]


def test_unwatched_arithmetic_in_place_keeps_the_rules():
    with pytest.raises(mg.ShapeError, match="add_: the result has shape"):
        mg.zeros(3).data.add_(mg.ones(2, 3), alpha=2)
    with pytest.raises(RuntimeError, match="can't be cast"):
        mg.tensor([1, 2]).mul_(0.5)
    with pytest.raises(RuntimeError, match="read-only"):
        mg.ones(3).expand(2, 3).add_(1.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        mg.ones(2, requires_grad=True).add_(1.0)
    x = mg.ones(2, requires_grad=True)
    h = x * 1
    h.mul_(mg.tensor([2.0, 3.0]))                 # recorded: the gradient goes through the change
    h.sum().backward()
    assert x.grad.tolist() == [2.0, 3.0]


def test_a_number_written_at_a_basic_index_matches_torch(torch):
    """The one-hot inputs of the tutorials: ``tensor[li][0][letter] = 1`` on tensors autograd does not watch."""
    results = []
    for T in (mg, torch):
        t = T.zeros(3, 1, 5)
        t[1][0][2] = 1
        t[2, 0, -1] = 2.5
        t[0][0][1:3] = True
        t[-1] = 7
        results.append((t.numpy().copy(), t._version))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


def test_a_number_written_at_a_basic_index_keeps_the_rules():
    with pytest.raises(IndexError, match=r"setitem on a tensor of shape \(2, 3\)"):
        mg.zeros(2, 3)[5] = 1.0
    with pytest.raises(RuntimeError, match="read-only"):
        mg.ones(3).expand(2, 3)[0, 0] = 1.0
    w = mg.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w[0, 0] = 5.0
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        w[0][1] = 5.0
    with mg.no_grad():
        w[0][1] = 5.0                             # allowed, as in PyTorch
    assert w[0, 1].item() == 5.0 and w._version == 1
    x = mg.ones(3, requires_grad=True)
    h = x * 2
    h[1] = 0.0                                    # recorded: no gradient reaches x through the overwritten place
    h.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 2.0]


def test_zero_and_fill_write_the_number_into_the_same_memory(torch) -> None:
    """``p.grad.zero_()`` between steps: the tensor's own memory is written (a NumPy view of it sees the
    change), its version moves on, and every dtype ends as PyTorch's does."""
    cases = [("float32", 2.5), ("float64", -1e300), ("int64", 3), ("bool", True), ("float16", 0.1)]
    for dtype, number in cases:
        ours, theirs = mg.ones(2, 3, dtype=getattr(mg, dtype)), torch.ones(2, 3, dtype=getattr(torch, dtype))
        memory = ours.numpy()
        ours.fill_(number), theirs.fill_(number)
        assert ours.tolist() == theirs.tolist() and memory.tolist() == theirs.tolist(), dtype
        ours.zero_(), theirs.zero_()
        assert ours.tolist() == theirs.tolist() and not memory.any() and ours._version == 2, dtype
    w = mg.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    grad = w.grad
    grad.zero_()
    assert w.grad is grad and grad.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(RuntimeError, match="zero_: a leaf Variable that requires grad"):
        w.zero_()
