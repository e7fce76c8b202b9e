"""``mg.autograd.functional`` (vjp, jvp, vhp, hvp, jacobian, hessian) against ``torch.autograd.functional``.

Each case is a function written once against a module ``T`` and inputs drawn from a seeded
generator; the same call runs with both modules and the results must agree in structure (Tensor
or tuple, nesting) and in value.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import functional as AF


def _inputs(T, shapes, seed=0):
    rng = np.random.default_rng(seed)
    made = tuple(T.tensor(rng.standard_normal(s), dtype=T.float64) for s in shapes)
    return made if len(made) > 1 else made[0]


def _vectors(T, like, seed=1):
    rng = np.random.default_rng(seed)
    items = like if isinstance(like, tuple) else (like,)
    made = tuple(T.tensor(rng.standard_normal(tuple(t.shape)), dtype=T.float64) for t in items)
    return made if isinstance(like, tuple) else made[0]


def _to_numpy(value):
    if isinstance(value, (tuple, list)):
        return tuple(_to_numpy(v) for v in value)
    return value.detach().numpy()


def _assert_same_structure_and_values(ours, theirs, where):
    assert isinstance(ours, tuple) == isinstance(theirs, tuple), f"{where}: Tensor vs tuple"
    if isinstance(ours, tuple):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same_structure_and_values(a, b, f"{where}[{i}]")
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11, err_msg=where)


# name -> (function of T returning f, input shapes); scalar functions are also used for vhp/hvp/hessian
SCALAR = {
    "cubic": (lambda T: lambda x: (x ** 3).sum(), [(3,)]),
    "logsumexp_quadratic": (lambda T: lambda x: x.logsumexp(0) + (x * x).sum() * 0.5, [(4,)]),
    "two_inputs": (lambda T: lambda x, w: ((x @ w).tanh() ** 2).sum(), [(2, 3), (3, 2)]),
    "softmax_ce": (lambda T: lambda z: T.nn.functional.cross_entropy(z, T.tensor([1, 0])), [(2, 3)]),
}
VECTOR = {
    "elementwise": (lambda T: lambda x: x.sigmoid() * x, [(3,)]),
    "matrix_out": (lambda T: lambda x, w: (x @ w).tanh(), [(2, 3), (3, 2)]),
    "two_outputs": (lambda T: lambda x: (x.exp(), (x * x).sum()), [(3,)]),
    "reduce_and_reshape": (lambda T: lambda x: x.reshape(2, 2).softmax(1), [(4,)]),
}


def _run(T, helper, make_f, shapes, with_v, create_graph=False):
    f = make_f(T)
    inputs = _inputs(T, shapes)
    api = T.autograd.functional
    if helper in ("jacobian", "hessian"):
        return _to_numpy(getattr(api, helper)(f, inputs, create_graph=create_graph))
    if helper == "vjp":
        with_out = f(*inputs) if isinstance(inputs, tuple) else f(inputs)
        v = _vectors(T, with_out) if with_v else None
    else:
        v = _vectors(T, inputs) if with_v else None
    return _to_numpy(getattr(api, helper)(f, inputs, v, create_graph=create_graph))


CASES = [(h, n) for h in ("vjp", "jvp", "jacobian") for n in {**SCALAR, **VECTOR}] + \
        [(h, n) for h in ("vhp", "hvp", "hessian") for n in SCALAR]


@pytest.mark.parametrize(("helper", "name"), CASES)
def test_functional_matches_torch(helper, name, torch):
    make_f, shapes = {**SCALAR, **VECTOR}[name]
    ours = _run(mg, helper, make_f, shapes, with_v=True)
    theirs = _run(torch, helper, make_f, shapes, with_v=True)
    _assert_same_structure_and_values(ours, theirs, f"{helper}/{name}")


def test_functional_by_hand_without_torch():
    """The same helpers checked against derivatives written by hand: f(x) = sum(x^3)."""
    x = mg.tensor([1.0, -2.0, 0.5], dtype=mg.float64)
    v = mg.tensor([0.5, 1.0, -1.0], dtype=mg.float64)
    f = lambda t: (t ** 3).sum()  # noqa: E731
    value, g = AF.vjp(f, x)
    assert value.item() == pytest.approx(1 - 8 + 0.125)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    _, jv = AF.jvp(f, x, v)
    assert jv.item() == pytest.approx(float((3 * x.numpy() ** 2) @ v.numpy()))
    np.testing.assert_allclose(AF.hvp(f, x, v)[1].numpy(), 6 * x.numpy() * v.numpy())
    np.testing.assert_allclose(AF.vhp(f, x, v)[1].numpy(), 6 * x.numpy() * v.numpy())
    np.testing.assert_allclose(AF.hessian(f, x).numpy(), np.diag(6 * x.numpy()))
    np.testing.assert_allclose(AF.jacobian(lambda t: t * t, x).numpy(), np.diag(2 * x.numpy()))


def test_create_graph_keeps_results_differentiable():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    _, hv = AF.hvp(lambda t: (t ** 3).sum(), x, mg.ones(2, dtype=mg.float64), create_graph=True)
    assert hv.requires_grad  # 6 x, still a function of x
    (g,) = mg.autograd.grad(hv.sum(), x)
    np.testing.assert_allclose(g.numpy(), [6.0, 6.0])
    _, plain = AF.hvp(lambda t: (t ** 3).sum(), x, mg.ones(2, dtype=mg.float64))
    assert not plain.requires_grad


def test_strict_refuses_an_independent_input(torch):
    for T in (mg, torch):
        x, unused = T.ones(2, dtype=T.float64), T.ones(3, dtype=T.float64)
        _, (gx, gu) = T.autograd.functional.vjp(lambda a, b: (a * a).sum(), (x, unused))
        assert gu.numpy().tolist() == [0.0, 0.0, 0.0]
        with pytest.raises(RuntimeError):
            T.autograd.functional.vjp(lambda a, b: (a * a).sum(), (x, unused), strict=True)


def test_clear_errors():
    x = mg.ones(3, dtype=mg.float64)
    with pytest.raises(RuntimeError, match="v can only be omitted"):
        AF.vjp(lambda t: t * 2, x)
    with pytest.raises(RuntimeError, match="v 0 has shape"):
        AF.jvp(lambda t: t * 2, x, mg.ones(2))
    with pytest.raises(RuntimeError, match="single Tensor with one element"):
        AF.hessian(lambda t: t * 2, x)
    with pytest.raises(TypeError, match="inputs must be a Tensor"):
        AF.jacobian(lambda t: t, [np.ones(2)])
