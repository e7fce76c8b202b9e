"""Higher-order gradients: create_graph=True, second derivatives of every op, gradgradcheck, memory.

The programs live in ``fixture_makers/higher_order.py``, written once against a module ``T``: each
runs here with ``T = minigrad`` and compares with ``T = torch`` live, and with PyTorch's stored
answers (``fixtures/higher_order.npz``) where torch is absent.
"""

from __future__ import annotations

import gc
import tracemalloc
import warnings

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.higher_order import (
    GRADGRADCHECK,
    PROGRAMS,
    as_function,
    lstm_hvp,
    packed_lstm_hvp,
    second_order,
)

import minigrad as mg
from minigrad.autograd import GradcheckError, gradgradcheck

TOL = {"rtol": 1e-9, "atol": 1e-10}


def _assert_same(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], name: str) -> None:
    assert sorted(ours) == sorted(theirs), name
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], err_msg=f"{name}: {key}", **TOL)


# ---- every op: second derivatives equal PyTorch's ------------------------------------------------


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_second_derivatives_match_torch(name, torch):
    _assert_same(second_order(mg, name), second_order(torch, name), name)


@pytest.fixture(scope="module")
def fixture():
    return load_fixture("higher_order")


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_second_derivatives_match_stored_torch(name, fixture):
    ours = second_order(mg, name)
    theirs = {key.split("__", 1)[1]: value for key, value in fixture.items() if key.startswith(f"{name}__")}
    _assert_same(ours, theirs, name)


@pytest.mark.parametrize("name", GRADGRADCHECK)
def test_gradgradcheck(name):
    fn, inputs = as_function(mg, name)
    assert gradgradcheck(fn, inputs)


def test_every_program_has_a_nonzero_second_derivative():
    """A table entry whose second derivatives are all zero would test nothing about double backward."""
    for name in sorted(PROGRAMS):
        result = second_order(mg, name)
        seconds = [v for k, v in result.items() if k.startswith("second")]
        assert any(np.abs(s).max() > 1e-6 for s in seconds if s.size), name


# ---- recurrent layers (reference implementation) --------------------------------------------------


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_recurrent_hvp_matches_torch(mode, torch):
    ours = lstm_hvp(mg, mode, impl="reference")
    theirs = lstm_hvp(torch, mode)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-8, atol=1e-10, err_msg=f"{mode}: {key}")


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_recurrent_hvp_matches_stored_torch(mode, fixture):
    ours = lstm_hvp(mg, mode, impl="reference")
    for key in ours:
        np.testing.assert_allclose(ours[key], fixture[f"recurrent_{mode}__{key}"], rtol=1e-8, atol=1e-10,
                                   err_msg=f"{mode}: {key}")


def test_packed_sequences_through_a_reference_lstm_match_torch(torch):
    ours, theirs = packed_lstm_hvp(mg, impl="reference"), packed_lstm_hvp(torch)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-8, atol=1e-10, err_msg=key)


def test_packed_sequences_through_a_reference_lstm_match_stored_torch(fixture):
    ours = packed_lstm_hvp(mg, impl="reference")
    for key in ours:
        np.testing.assert_allclose(ours[key], fixture[f"packed_lstm__{key}"], rtol=1e-8, atol=1e-10, err_msg=key)


def test_packing_ops_gradgradcheck():
    rnn_utils = mg.nn.utils.rnn
    seqs = [mg.randn(n, 2, dtype=mg.float64, requires_grad=True) for n in (3, 1, 2)]

    def padded_and_back(*xs):
        padded = rnn_utils.pad_sequence(list(xs), batch_first=True)
        packed = rnn_utils.pack_padded_sequence(padded ** 2, mg.tensor([3, 1, 2]), batch_first=True,
                                                enforce_sorted=False)
        return rnn_utils.pad_packed_sequence(packed, batch_first=False)[0] ** 2

    assert gradgradcheck(padded_and_back, seqs)


@pytest.mark.parametrize("kind, options", [
    ("LSTM", {}), ("GRU", {"bidirectional": True}), ("RNN", {"num_layers": 2}), ("LSTM", {"packed": True}),
])
def test_fused_layers_take_second_derivatives_through_their_reference_steps(kind, options):
    """Under create_graph=True the fused node recomputes its steps with Tensor ops: H v equals the
    reference implementation's (the same equations, differentiated twice)."""
    options = dict(options)
    packed = options.pop("packed", False)
    results = {}
    for impl in ("fused", "reference"):
        mg.manual_seed(0)
        layer = getattr(mg.nn, kind)(3, 4, impl=impl, **options).double()
        x = mg.randn(5, 2, 3, dtype=mg.float64)
        inp = mg.nn.utils.rnn.pack_padded_sequence(x, [5, 3]) if packed else x
        out = layer(inp)[0]
        out = mg.nn.utils.rnn.pad_packed_sequence(out)[0] if packed else out
        loss = (out.tanh() ** 2).sum()
        (g,) = mg.autograd.grad(loss, layer.weight_hh_l0, create_graph=True)
        v = mg.tensor(np.linspace(-1, 1, g.numel()).reshape(g.shape))
        (hv,) = mg.autograd.grad((g * v).sum(), layer.weight_hh_l0)
        results[impl] = (g.detach().numpy(), hv.numpy())
    for a, b in zip(results["fused"], results["reference"]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---- the engine's semantics under create_graph ----------------------------------------------------


def test_grad_create_graph_gives_differentiable_gradients():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    (g,) = mg.autograd.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(g.detach().numpy(), [3.0, 12.0])
    (h,) = mg.autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.detach().numpy(), [6.0, 12.0])
    (third,) = mg.autograd.grad(h.sum(), x)
    np.testing.assert_allclose(third.numpy(), [6.0, 6.0])
    assert not third.requires_grad


def test_without_create_graph_gradients_are_plain():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = mg.autograd.grad((x ** 3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


def test_backward_create_graph_accumulates_with_a_graph_like_torch(torch):
    results = []
    for T in (mg, torch):
        x = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # both warn about the parameter <-> gradient reference cycle
            (x ** 3).sum().backward(create_graph=True)
            first = x.grad.detach().numpy().copy()
            assert x.grad.requires_grad
            (x ** 3).sum().backward(create_graph=True)  # accumulates: 2 * 3x^2, still with a graph
            second = x.grad.detach().numpy().copy()
            (gg,) = T.autograd.grad(x.grad.sum(), x)  # d/dx sum(6 x^2) = 12 x
        results.append((first, second, gg.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs)


def test_backward_create_graph_warns_about_the_reference_cycle():
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="reference cycle"):
        (x * x).sum().backward(create_graph=True)


def test_retain_graph_defaults_to_create_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    mg.autograd.grad(y, x, create_graph=True)
    mg.autograd.grad(y, x)  # the graph was kept: a second pass works
    with pytest.raises(RuntimeError, match="second time"):
        mg.autograd.grad(y, x)


def test_backward_inputs_accumulates_only_into_them(torch):
    for T in (mg, torch):
        a = T.tensor([1.0, 2.0], requires_grad=True)
        b = T.tensor([3.0, 4.0], requires_grad=True)
        h = a * b
        h.retain_grad() if T is torch else None
        (h * h).sum().backward(inputs=[a, h])
        np.testing.assert_allclose(a.grad.numpy(), [2 * 3.0 * 3.0, 2 * 8.0 * 4.0])
        np.testing.assert_allclose(h.grad.numpy(), [6.0, 16.0])
        assert b.grad is None
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (a * 2).sum().backward(inputs=[])


def test_grad_outputs_in_a_graph_are_differentiated_through():
    """The double-vjp trick: the gradient is linear in grad_outputs, which may require grad."""
    x = mg.tensor([0.5, -1.0], dtype=mg.float64, requires_grad=True)
    v = mg.zeros(2, dtype=mg.float64, requires_grad=True)
    (g,) = mg.autograd.grad(x.tanh(), x, v, create_graph=True)  # g = v * (1 - tanh^2)
    (dv,) = mg.autograd.grad(g.sum(), v)
    np.testing.assert_allclose(dv.numpy(), 1 - np.tanh([0.5, -1.0]) ** 2)


def test_materialize_grads_and_allow_unused():
    x, unused = mg.ones(2, requires_grad=True), mg.ones(3, requires_grad=True)
    gx, gu = mg.autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True)
    assert gu.tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="allow_unused"):
        mg.autograd.grad((x * 2).sum(), [x, unused], allow_unused=False, materialize_grads=True)


def test_hooks_see_tensors_with_a_graph_under_create_graph():
    x = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    y = x * x
    seen = []
    y.register_hook(lambda g: seen.append(g.requires_grad) or g * 2)
    (g,) = mg.autograd.grad((y * x).sum(), x, create_graph=True)  # d/dx x^3 with y's gradient doubled
    np.testing.assert_allclose(g.detach().numpy(), [5.0, 20.0])  # x^2 + 2 * x * 2x
    assert seen == [True]


def test_a_numpy_only_backward_is_refused_clearly_under_create_graph():
    class NumpyOnly(mg.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return np.asarray(grad) * 2  # always an array: no graph possible

    x = mg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="numpyonly.*create_graph=True"):
        mg.autograd.grad(NumpyOnly.apply(x).sum(), x, create_graph=True)


def test_a_custom_function_written_with_arithmetic_supports_double_backward():
    class Cube(mg.autograd.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x ** 3

        def backward(self, grad):
            (x,) = self.saved_tensors
            return 3 * x * x * grad

    x = mg.tensor([0.3, -1.2, 2.0], dtype=mg.float64, requires_grad=True)
    assert gradgradcheck(Cube.apply, [x])


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class DetachedSave(mg.autograd.Function):
        """Right first derivative; the saved input cut from the graph makes the second one wrong."""

        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, grad):
            (x,) = self.saved_tensors
            x = x.detach() if isinstance(x, mg.Tensor) else x
            return 2 * x * grad

    x = mg.tensor([0.3, -1.2, 2.0], dtype=mg.float64, requires_grad=True)
    assert mg.autograd.gradcheck(DetachedSave.apply, [x])
    with pytest.raises(GradcheckError, match="gradgradcheck: gradient mismatch for input 0"):
        gradgradcheck(DetachedSave.apply, [x])


def test_gradgradcheck_with_given_grad_outputs():
    x = mg.tensor([[0.3, -1.2], [2.0, 0.1]], dtype=mg.float64, requires_grad=True)
    v = mg.tensor([[1.0, 0.5], [-2.0, 0.25]], dtype=mg.float64)
    assert gradgradcheck(lambda t: (t @ t).tanh(), [x], grad_outputs=v)


def test_a_changed_saved_value_is_still_caught_under_create_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    u = (x * 1).tanh()  # tanh saves its output u
    u.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        mg.autograd.grad(u.sum(), x, create_graph=True)


# ---- memory: flat over repeated double-backward steps ----------------------------------------------


def _double_backward_step(w, x):
    loss = ((x @ w).tanh() ** 2).mean()
    (g,) = mg.autograd.grad(loss, w, create_graph=True)
    penalty = (g * g).sum()  # a gradient penalty: differentiate the gradient's norm
    (gp,) = mg.autograd.grad(loss + penalty, w)
    with mg.no_grad():
        w -= 0.01 * gp


def test_memory_stays_flat_over_repeated_double_backward():
    rng = np.random.default_rng(0)
    w = mg.tensor(rng.standard_normal((8, 8)), dtype=mg.float64, requires_grad=True)
    x = mg.tensor(rng.standard_normal((16, 8)), dtype=mg.float64)
    for _ in range(20):  # warm up caches (kernels, allocator)
        _double_backward_step(w, x)
    gc.collect()
    tracemalloc.start()
    try:
        _double_backward_step(w, x)
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(200):
            _double_backward_step(w, x)
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 64 * 1024, f"memory grew by {end - start} bytes over 200 double-backward steps"


def test_graph_is_freed_by_reference_counting_after_grad_create_graph():
    """autograd.grad makes no cycles: with the cyclic collector off, every node is still freed."""
    import weakref

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    gc.disable()
    try:
        y = (x.tanh() * x).sum()
        (g,) = mg.autograd.grad(y, x, create_graph=True)
        (h,) = mg.autograd.grad(g.sum(), x)
        refs = [weakref.ref(y.grad_fn), weakref.ref(g.grad_fn)]
        del y, g, h
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_a_numpy_function_on_a_graph_tensor_is_refused_during_create_graph():
    """np.cos(x) on the saved Tensor would be a constant: a silently wrong second derivative."""

    class Sine(mg.autograd.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return np.sin(x)

        def backward(self, grad):
            (x,) = self.saved_tensors
            return grad * np.cos(x)

    x = mg.tensor([0.3, 1.0], dtype=mg.float64, requires_grad=True)
    assert mg.autograd.gradcheck(Sine.apply, [x])  # first derivatives: the NumPy path, fine
    with pytest.raises(RuntimeError, match="NumPy function was applied to a Tensor"):
        mg.autograd.grad(Sine.apply(x).sum(), x, create_graph=True)
    np.asarray(x.detach())  # outside such a backward, NumPy functions on Tensors work as always


def test_memory_stays_flat_with_backward_create_graph_when_grads_are_reset():
    """backward(create_graph=True) links each parameter and its .grad in a cycle; resetting .grad breaks it."""
    rng = np.random.default_rng(1)
    model = mg.nn.Linear(6, 6).double()
    x = mg.tensor(rng.standard_normal((8, 6)), dtype=mg.float64)
    opt = mg.optim.SGD(model.parameters(), lr=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = (model(x).tanh() ** 2).mean()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss.backward(create_graph=True)
        penalty = sum((p.grad * p.grad).sum() for p in model.parameters())
        grads = mg.autograd.grad(penalty, list(model.parameters()))
        opt.zero_grad(set_to_none=True)
        with mg.no_grad():
            for p, g in zip(model.parameters(), grads):
                p -= 0.01 * g

    for _ in range(20):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        step()
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(200):
            step()
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start < 64 * 1024, f"memory grew by {end - start} bytes over 200 steps"


def test_a_node_may_provide_its_own_create_graph_backward():
    """The hook a fused kernel can use: backward_create_graph(*grads) in Tensor ops, next to the NumPy backward."""

    class KernelSquare(mg.autograd.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, grad):  # stands for a NumPy-only kernel
            (x,) = self.saved_tensors
            return np.asarray(2 * x * grad)

        def backward_create_graph(self, grad):
            (x,) = self.saved_tensors
            return 2 * x * grad

    x = mg.tensor([0.5, -2.0], dtype=mg.float64, requires_grad=True)
    assert gradgradcheck(KernelSquare.apply, [x])


def _recurrent_grads_and_hvps(T, mode, **options):
    """Gradients and H v w.r.t. weight_hh_l0 and one more weight, for a recurrent layer variant."""
    rng = np.random.default_rng(7)
    layer = getattr(T.nn, mode)(3, 4, **options).double()
    with T.no_grad():
        for p in layer.parameters():
            p.copy_(T.tensor(rng.uniform(-0.6, 0.6, tuple(p.shape)), dtype=T.float64))
    x = T.tensor(rng.standard_normal((5, 2, 3)), dtype=T.float64)
    weights = [layer.weight_hh_l0, layer.weight_ih_l1 if options.get("num_layers") == 2 else layer.weight_ih_l0]
    vs = [T.tensor(rng.standard_normal(tuple(w.shape)), dtype=T.float64) for w in weights]
    loss = (layer(x)[0].tanh() ** 2).mean()
    grads = T.autograd.grad(loss, weights, create_graph=True)
    hvps = T.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vs)), weights)
    return [t.detach().numpy() for t in (*grads, *hvps)]


@pytest.mark.parametrize(("mode", "options"), [
    ("LSTM", {"num_layers": 2, "bidirectional": True}), ("LSTM", {"proj_size": 2}),
    ("GRU", {"num_layers": 2, "bidirectional": True}), ("GRU", {"bias": False}),
    ("RNN", {"num_layers": 2, "bidirectional": True}), ("RNN", {"nonlinearity": "relu"}),
])
def test_recurrent_variants_hvp_match_torch(mode, options, torch):
    ours = _recurrent_grads_and_hvps(mg, mode, impl="reference", **options)
    theirs = _recurrent_grads_and_hvps(torch, mode, **options)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
