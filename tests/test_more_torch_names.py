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


def _same(m, t) -> None:
    t = t.numpy() if hasattr(t, "numpy") else np.asarray(t)
    np.testing.assert_array_equal(m.numpy(), t)
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
