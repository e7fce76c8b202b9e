"""PyTorch names that real scripts use and that minigrad long lacked: logical ops, ``isclose``,
``nonzero``, ``all``/``any`` over a dim, ``amax``/``amin``, the layout queries (``stride``,
``is_contiguous``...), and function forms of methods (``mg.clone``, ``mg.t``, ``mg.swapaxes``...).

Each is compared with live PyTorch; the differentiable ones are also in the op catalog
(``fixture_makers/ops_more.py``: fixtures, live parity, gradient checks) and the second-derivative
programs (``fixture_makers/higher_order.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

A = np.array([[0.0, 3.0, -1.5], [2.0, 0.0, 0.0]])
B = np.array([[1.0, 0.0, -1.5], [0.0, 0.0, 4.0]])


def _same(m, t, rtol: float = 0.0) -> None:
    t = t.numpy() if hasattr(t, "numpy") else np.asarray(t)
    np.testing.assert_allclose(m.numpy(), t, rtol=rtol, atol=0.0)
    assert m.dtype == np.dtype(str(t.dtype))


@pytest.mark.parametrize("fn", [
    lambda L, a, b: L.logical_not(a), lambda L, a, b: a.logical_and(b), lambda L, a, b: L.logical_or(a, b > 0),
    lambda L, a, b: L.logical_xor(a, b), lambda L, a, b: L.isclose(a, b), lambda L, a, b: a.isclose(a + 1e-9),
    lambda L, a, b: L.all(a), lambda L, a, b: a.all(1), lambda L, a, b: L.any(b, 0, keepdim=True),
    lambda L, a, b: a.any(),
    lambda L, a, b: L.nonzero(a), lambda L, a, b: b.nonzero(), lambda L, a, b: a.nonzero(as_tuple=True)[1],
    lambda L, a, b: L.amax(a, 1), lambda L, a, b: a.amin((0, 1), keepdim=True), lambda L, a, b: L.amax(a),
    lambda L, a, b: L.clone(a), lambda L, a, b: L.t(a), lambda L, a, b: L.swapaxes(a, 0, 1), lambda L, a, b: a.neg(),
    lambda L, a, b: L.broadcast_to(a[0], (4, 3)), lambda L, a, b: a.where(b > 0, b), lambda L, a, b: L.ceil(a * 0.3),
    lambda L, a, b: L.trunc(-a * 0.7), lambda L, a, b: L.dot(a[0], b[1]), lambda L, a, b: L.mv(a, b[0]),
    lambda L, a, b: L.tensor([3, 0, 2]).amax(), lambda L, a, b: L.tensor([[True, False]]).all(1),
])
def test_matches_pytorch_live(torch, fn):
    _same(fn(mg, mg.tensor(A), mg.tensor(B)), fn(torch, torch.tensor(A), torch.tensor(B)))


def test_layout_queries_live(torch):
    for make in (lambda L: L.ones(2, 3), lambda L: L.ones(2, 3).t(), lambda L: L.ones(4, 6)[::2, 1:],
                 lambda L: L.ones(3, 1).expand(3, 4), lambda L: L.zeros(2, 3, dtype=L.float64)):
        m, t = make(mg), make(torch)
        assert m.stride() == t.stride() and m.stride(-1) == t.stride(-1)
        assert m.is_contiguous() == t.is_contiguous()
        assert (m.element_size(), m.nelement(), m.ndimension()) == (t.element_size(), t.nelement(), t.ndimension())


def test_amax_shares_the_gradient_of_tied_maxima_live(torch):
    """Unlike ``max(dim)``, which sends the gradient to one index, ``amax`` splits it among ties."""
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    grads = []
    for L in (mg, torch):
        x = L.tensor(data, requires_grad=True)
        (L.amax(x, 1) * L.tensor([1.0, 6.0], dtype=L.float64)).sum().backward()
        y = L.tensor(data, requires_grad=True)
        y.amin().backward()
        grads.append((x.grad.numpy(), y.grad.numpy()))
    for ours, theirs in zip(*grads):
        np.testing.assert_array_equal(ours, theirs)


def test_bad_input_is_named():
    with pytest.raises(mg.ShapeError, match=r"dot: expected two 1-D tensors of the same size, got shapes \(2,\) and"):
        mg.dot(mg.ones(2), mg.ones(3))
    with pytest.raises(mg.ShapeError, match=r"mv: expected a matrix \(n, k\) and a vector \(k,\)"):
        mg.mv(mg.ones(2, 3), mg.ones(2))
    with pytest.raises(mg.ShapeError, match=r"logical_and.*\(2,\).*\(3,\)"):
        mg.logical_and(mg.ones(2), mg.ones(3))
    with pytest.raises(ValueError, match=r"amax: cannot reduce an empty tensor of shape \(0, 2\) along dim 0"):
        mg.amax(mg.ones(0, 2), 0)
    with pytest.raises(TypeError, match="ceil: not implemented for bool tensors"):
        mg.ceil(mg.tensor([True]))


def test_in_place_slice_updates_live(torch):
    """One-hot rows with ``scatter_`` (the char-RNN scripts' idiom), ``index_add_`` and friends, with
    their version counters bumped and gradients flowing through them as in PyTorch."""
    for L in (mg, torch):
        onehot = L.zeros(4, 5).scatter_(1, L.tensor([[1], [3], [0], [4]]), 1)
        assert onehot.argmax(1).tolist() == [1, 3, 0, 4] and onehot.sum().item() == 4
    results = []
    for L in (mg, torch):
        w = L.tensor(A, requires_grad=True)
        s = L.tensor(B[:, :2], requires_grad=True)
        y = w * 1.0
        y.index_add_(1, L.tensor([2, 2]), s, alpha=2).index_fill_(0, L.tensor([1]), 0.5)
        z = (w * 2.0).scatter_add_(1, L.tensor([[0, 0], [1, 2]]), s).index_copy_(1, L.tensor([0]), s[:, :1] * 3)
        ((y * y).sum() + (z * z).sum()).backward()
        results.append((y.detach().numpy(), z.detach().numpy(), w.grad.numpy(), s.grad.numpy(), y._version))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs)
    leaf = mg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="index_add_: a leaf Variable that requires grad"):
        leaf.index_add_(0, mg.tensor([0]), mg.ones(1))


def test_activations_and_their_modules_live(torch):
    x = np.linspace(-8.0, 8.0, 12).reshape(3, 4)
    for name, make in [("SiLU", lambda L: L.nn.SiLU()), ("LogSigmoid", lambda L: L.nn.LogSigmoid()),
                       ("Hardtanh", lambda L: L.nn.Hardtanh(-2.0, 3.0)), ("ReLU6", lambda L: L.nn.ReLU6())]:
        ours, theirs = make(mg), make(torch)
        assert repr(ours).split("(")[0] == repr(theirs).split("(")[0] == name
        _same(ours(mg.tensor(x)), theirs(torch.tensor(x)), rtol=1e-13)
    for L in (mg, torch):  # in place: the same memory, changed
        t = L.tensor(x.copy())
        assert L.nn.functional.relu6(t, inplace=True) is t and t.max().item() == 6.0
    _same(mg.nn.CosineSimilarity(dim=0)(mg.tensor(A), mg.tensor(B)),
          torch.nn.CosineSimilarity(dim=0)(torch.tensor(A), torch.tensor(B)), rtol=1e-13)


def test_memory_queries_are_cpu_answers():
    x = mg.ones(2, 3)
    assert x.pin_memory() is x and not x.is_pinned()
    assert x[1].data_ptr() == x.data_ptr() + 3 * x.element_size()  # a view starts inside its base


def test_slice_updates_refuse_bad_input_clearly():
    with pytest.raises(mg.ShapeError, match=r"index_add: source of shape \(2, 2\) does not fit: .* must have shape "
                                            r"\(3, 2\)"):
        mg.index_add(mg.zeros(3, 4), 1, mg.tensor([0, 1]), mg.ones(2, 2))
    with pytest.raises(IndexError, match="index_copy: index 5 is out of bounds for dimension 0 with size 3"):
        mg.index_copy(mg.zeros(3), 0, mg.tensor([5]), mg.ones(1))
    with pytest.raises(mg.ShapeError, match="repeat_interleave: repeats must be an int or a 1-D integer tensor of 2"):
        mg.repeat_interleave(mg.ones(2), mg.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="hardtanh: min_val \\(2.0\\) must not be greater than max_val \\(1.0\\)"):
        mg.nn.functional.hardtanh(mg.ones(2), 2.0, 1.0)
