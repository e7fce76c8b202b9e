"""Layers: PyTorch parity (fixtures + live), gradcheck, default init, shape/index errors, repr."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.nn import layer_cases, split_fixture, torch_layer

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck

CASES = layer_cases()
FIXTURE = split_fixture(load_fixture("nn_layers"))


def build_layer(name: str, arrays: dict[str, np.ndarray]) -> nn.Module:
    kind = name.split("_")[0] if name.startswith(("linear", "embedding")) else name
    if kind == "linear":
        w = arrays["weight"]
        layer = nn.Linear(w.shape[1], w.shape[0], bias="bias" in arrays, dtype=mg.float64)
    elif kind == "embedding":
        w = arrays["weight"]
        pad = int(arrays["padding_idx"]) if "padding_idx" in arrays else None
        layer = nn.Embedding(w.shape[0], w.shape[1], padding_idx=pad, dtype=mg.float64)
    elif kind in ("softmax", "log_softmax"):
        layer = (nn.Softmax if kind == "softmax" else nn.LogSoftmax)(dim=int(arrays["dim"]))
    else:
        layer = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU, "flatten": nn.Flatten}[kind]()
    for pname, p in layer.named_parameters():
        p._array[...] = arrays[pname]
    return layer


def run_layer(name: str, arrays: dict[str, np.ndarray], gout: np.ndarray) -> dict[str, np.ndarray]:
    layer = build_layer(name, arrays)
    x = arrays["input"]
    x = mg.tensor(x, requires_grad=True) if x.dtype.kind == "f" else mg.tensor(x)
    out = layer(x)
    out.backward(mg.tensor(gout))
    res = {"out": out._array}
    if x.requires_grad:
        res["grad_input"] = x.grad._array
    for pname, p in layer.named_parameters():
        res[f"grad_{pname}"] = p.grad._array
    return res


def assert_same(got: dict, expected: dict) -> None:
    keys = [k for k in expected if k == "out" or k.startswith("grad_")]
    assert set(keys) == {k for k in got}, (sorted(keys), sorted(got))
    for k in keys:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-10, atol=1e-12, err_msg=k)


# ------------------------------------------------------------------------------------------------
# Parity with PyTorch
# ------------------------------------------------------------------------------------------------


def test_fixture_covers_every_case():
    assert set(FIXTURE) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_parity_from_fixture(name):
    fx = FIXTURE[name]
    assert_same(run_layer(name, fx, fx["gout"]), fx)


@pytest.mark.parametrize("name", sorted(CASES))
def test_parity_live(name, torch):
    expected = torch_layer(torch, name, CASES[name])
    assert_same(run_layer(name, CASES[name], expected["gout"]), expected)


# ------------------------------------------------------------------------------------------------
# Gradient checks
# ------------------------------------------------------------------------------------------------


def _t(a, requires_grad=True):
    return mg.from_numpy(np.asarray(a, dtype=np.float64)).requires_grad_(requires_grad)


def test_gradcheck_linear():
    rng = np.random.default_rng(0)
    fc = nn.Linear(4, 3).double()
    x = _t(np.ascontiguousarray(rng.standard_normal((4, 2, 5))).transpose(1, 2, 0))  # (2, 5, 4), non-contiguous
    assert not x._array.flags.c_contiguous
    assert gradcheck(lambda a, w, b: F.linear(a, w, b), [x, fc.weight, fc.bias])
    assert gradcheck(lambda a, w: F.linear(a, w), [_t(rng.standard_normal(4)), fc.weight])  # 1-D input
    assert gradcheck(lambda a: fc(a), [x])


def test_linear_reads_a_time_major_view_in_memory_order():
    """A batch_first RNN's output: a (B, T, H) view of a (T, B, H) array. Linear reads its rows in
    memory order (no copy) and gives y and dL/dx back as views in the caller's order."""
    rng = np.random.default_rng(3)
    fc = nn.Linear(4, 3).double()
    x = _t(np.ascontiguousarray(rng.standard_normal((5, 2, 4))).transpose(1, 0, 2))  # (2, 5, 4)
    assert F._memory_order(x._array) == (1, 0, 2)
    assert gradcheck(lambda a, w, b: F.linear(a, w, b), [x, fc.weight, fc.bias])
    y = fc(x)
    np.testing.assert_allclose(y._array, x._array @ fc.weight._array.T + fc.bias._array, rtol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(mg.tensor(g))
    np.testing.assert_allclose(x.grad._array, g @ fc.weight._array, rtol=1e-12)
    np.testing.assert_allclose(fc.weight.grad._array, np.einsum("bto,bti->oi", g, x._array), rtol=1e-12)
    wide = nn.Linear(4, 6).double()  # wider output: flattened in the caller's order, as before
    np.testing.assert_allclose(wide(x)._array, x._array @ wide.weight._array.T + wide.bias._array, rtol=1e-12)


def test_gradcheck_embedding_gradient_in_another_memory_order():
    """The gradient reaching Embedding is a transposed view (from a time-major consumer)."""
    emb = nn.Embedding(6, 3).double()
    idx = mg.tensor([[0, 2, 5, 1], [5, 5, 1, 3]])
    assert gradcheck(lambda w: F.embedding(idx, w).transpose(0, 1) * mg.arange(1.0, 4.0).double(), [emb.weight])


def test_gradcheck_embedding():
    emb = nn.Embedding(6, 3, padding_idx=2).double()
    idx = mg.tensor([[0, 2, 5], [5, 5, 1]])  # duplicates accumulate; the padding row gets nothing
    assert gradcheck(lambda w: F.embedding(idx, w), [emb.weight])
    out = emb(idx)
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad._array[:, 0], [1, 1, 0, 0, 0, 3])


@pytest.mark.parametrize("layer", [nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.Softmax(dim=1), nn.LogSoftmax(dim=0),
                                   nn.Flatten(0), nn.Identity()])
def test_gradcheck_activations(layer):
    rng = np.random.default_rng(1)
    x = _t(np.ascontiguousarray(rng.standard_normal((4, 3))).T + 0.05)  # (3, 4), non-contiguous, no 0 for relu
    assert gradcheck(lambda a: layer(a), [x])


def test_gradcheck_dropout_uses_its_mask():
    x = _t(np.random.default_rng(2).standard_normal((5, 4)))
    mg.manual_seed(0)
    # gradcheck re-runs forward; re-seed inside so every run draws the same mask
    assert gradcheck(lambda a: (mg.manual_seed(3), F.dropout(a, 0.3))[1], [x])


# ------------------------------------------------------------------------------------------------
# Linear
# ------------------------------------------------------------------------------------------------


def test_linear_shapes_and_params():
    fc = nn.Linear(4, 3)
    assert fc.weight.shape == (3, 4) and fc.bias.shape == (3,)
    assert fc.weight.dtype == mg.float32 and isinstance(fc.weight, nn.Parameter)
    assert [n for n, _ in fc.named_parameters()] == ["weight", "bias"]
    assert fc(mg.randn(2, 7, 4)).shape == (2, 7, 3)
    assert fc(mg.randn(4)).shape == (3,)
    nb = nn.Linear(4, 3, bias=False)
    assert nb.bias is None and [n for n, _ in nb.named_parameters()] == ["weight"]
    assert nb(mg.randn(2, 4)).shape == (2, 3)


def test_linear_default_init_like_pytorch():
    mg.manual_seed(0)
    fc = nn.Linear(64, 500)
    bound = 1 / math.sqrt(64)  # kaiming_uniform_(a=sqrt(5)) gives exactly U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    w = fc.weight._array
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.02)
    assert np.abs(fc.bias._array).max() <= bound


def test_linear_init_matches_torch_statistics(torch):
    fc_t = torch.nn.Linear(64, 500)
    fc = nn.Linear(64, 500)
    pairs = [(fc.weight._array, fc_t.weight.detach().numpy()), (fc.bias._array, fc_t.bias.detach().numpy())]
    for ours, theirs in pairs:
        assert abs(np.abs(ours).max() - np.abs(theirs).max()) < 0.01
        np.testing.assert_allclose(ours.std(), theirs.std(), rtol=0.15)


def test_linear_shape_error_names_layer_shape_and_in_features():
    fc = nn.Linear(4, 3)
    with pytest.raises(mg.ShapeError, match=r"Linear: input of shape \(2, 5\) has last dimension 5, "
                                            r"expected in_features=4"):
        fc(mg.randn(2, 5))
    with pytest.raises(ValueError):  # ShapeError is a ValueError (and a RuntimeError, like PyTorch's)
        fc(mg.randn(2, 5))
    with pytest.raises(mg.ShapeError, match=r"linear: input of shape \(2, 5\) does not fit weight of shape \(3, 4\)"):
        F.linear(mg.randn(2, 5), fc.weight)
    with pytest.raises(TypeError, match="floating"):
        fc(mg.tensor([[1, 2, 3, 4]]))


def test_linear_repr_matches_torch(torch):
    assert repr(nn.Linear(4, 3)) == "Linear(in_features=4, out_features=3, bias=True)"
    assert repr(nn.Linear(4, 3, bias=False)) == repr(torch.nn.Linear(4, 3, bias=False))


# ------------------------------------------------------------------------------------------------
# Embedding
# ------------------------------------------------------------------------------------------------


def test_embedding_lookup_and_init():
    mg.manual_seed(1)
    emb = nn.Embedding(1000, 16)
    assert emb.weight.shape == (1000, 16)
    np.testing.assert_allclose(emb.weight._array.std(), 1.0, rtol=0.05)  # PyTorch's N(0, 1)
    idx = mg.tensor([[3, 999], [0, 3]])
    out = emb(idx)
    assert out.shape == (2, 2, 16)
    np.testing.assert_array_equal(out._array[0, 0], emb.weight._array[3])


def test_embedding_padding_idx_is_zero_and_gets_no_gradient():
    emb = nn.Embedding(5, 3, padding_idx=1)
    np.testing.assert_array_equal(emb.weight._array[1], 0)
    out = emb(mg.tensor([1, 1, 4]))
    (out * 2).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad._array[1], 0)
    np.testing.assert_array_equal(emb.weight.grad._array[4], 2)


def test_embedding_negative_padding_idx():
    emb = nn.Embedding(5, 3, padding_idx=-1)
    assert emb.padding_idx == 4  # as PyTorch: counted from the end
    np.testing.assert_array_equal(emb.weight._array[4], 0)
    assert repr(emb) == "Embedding(5, 3, padding_idx=4)"
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 3, padding_idx=5)
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 3, padding_idx=-6)


def test_embedding_index_errors():
    emb = nn.Embedding(10, 3)
    with pytest.raises(TypeError, match="integer"):
        emb(mg.tensor([1.0, 2.0]))
    with pytest.raises(IndexError, match=r"index 10 is out of range for num_embeddings=10"):
        emb(mg.tensor([[1, 10]]))
    with pytest.raises(IndexError, match=r"index -1 is out of range for num_embeddings=10"):
        emb(mg.tensor([-1]))
    assert emb(mg.tensor([1, 2], dtype=mg.int32)).shape == (2, 3)  # int32 is fine too


def test_embedding_from_pretrained_and_repr(torch):
    table = mg.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    assert emb(mg.tensor([2])).tolist() == [[5.0, 6.0]]
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    assert repr(nn.Embedding(10, 4, padding_idx=0)) == repr(torch.nn.Embedding(10, 4, padding_idx=0))
    assert repr(nn.Embedding(10, 4)) == repr(torch.nn.Embedding(10, 4))


# ------------------------------------------------------------------------------------------------
# Dropout
# ------------------------------------------------------------------------------------------------


def test_dropout_training_scales_and_eval_is_identity():
    mg.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = mg.ones(200, 100)
    y = drop(x)._array
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.01  # fraction dropped is p
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    drop.eval()
    assert drop(x) is x
    assert F.dropout(x, 0.5, training=False) is x


def test_dropout_gradient_is_the_same_mask():
    x = mg.randn(50, 20, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    kept = y._array != 0
    np.testing.assert_array_equal(x.grad._array, np.where(kept, 2.0, 0.0))


def test_dropout_mask_is_the_generators_uniform_numbers_and_big_ones_are_recycled():
    """The mask is ``uniform >= p`` for the library generator's next numbers (a seeded script's
    masks do not depend on where they are written); big masks and outputs live in recycled memory."""
    from minigrad import _allocator
    from minigrad.random import rng

    for x, recycled in ((mg.randn(300, 200).T, True), (mg.randn(3, 5, requires_grad=True), False)):
        mg.manual_seed(11)
        mask = (rng().random(x.shape) >= 0.3).astype(np.float32) * np.float32(1 / 0.7)
        mg.manual_seed(11)
        y = F.dropout(x, 0.3)  # (a transposed view: the output is still x's shape)
        np.testing.assert_array_equal(y._array, mask * x._array)
        assert _allocator.kept_by_recycler(y._array.base) == recycled  # 240 KB of float32; 60 bytes
    y.backward(mg.ones(3, 5))
    np.testing.assert_array_equal(x.grad._array, mask)


def test_dropout_edge_probabilities_and_validation():
    x = mg.randn(3, 4, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0)._array, 0)
    for bad in (-0.1, 1.5, "0.5"):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            nn.Dropout(bad)
    with pytest.raises(ValueError, match="between 0 and 1, but got 2"):
        F.dropout(x, 2)


def test_dropout_is_seeded():
    x = mg.ones(10, 10)
    mg.manual_seed(5)
    a = F.dropout(x, 0.5)._array
    mg.manual_seed(5)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5)._array)


# ------------------------------------------------------------------------------------------------
# Activations and helpers
# ------------------------------------------------------------------------------------------------


def test_activation_values():
    x = mg.tensor([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(nn.Tanh()(x)._array, np.tanh([-2.0, 0.0, 3.0]), rtol=1e-6)
    np.testing.assert_allclose(nn.Sigmoid()(x)._array, 1 / (1 + np.exp([2.0, 0.0, -3.0])), rtol=1e-6)
    assert nn.ReLU()(x).tolist() == [0.0, 0.0, 3.0]
    assert nn.Identity(54, unused="x")(x) is x
    assert nn.Flatten()(mg.zeros(2, 3, 4)).shape == (2, 12)
    assert nn.Flatten(0, 1)(mg.zeros(2, 3, 4)).shape == (6, 4)
    np.testing.assert_allclose(nn.Softmax(dim=-1)(mg.zeros(2, 4))._array, 0.25)


def test_functional_activations_and_softmax_implicit_dim():
    x = mg.randn(3, 4)
    np.testing.assert_array_equal(F.tanh(x)._array, x.tanh()._array)
    np.testing.assert_array_equal(F.sigmoid(x)._array, x.sigmoid()._array)
    np.testing.assert_array_equal(F.relu(x)._array, x.relu()._array)
    np.testing.assert_allclose(F.softmax(x, dim=1, dtype=mg.float64)._array, x.double().softmax(1)._array)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        np.testing.assert_array_equal(F.log_softmax(x)._array, x.log_softmax(1)._array)  # PyTorch's legacy rule


def test_one_hot():
    out = F.one_hot(mg.tensor([[0, 2], [1, 1]]), 4)
    assert out.dtype == mg.int64 and out.shape == (2, 2, 4)
    assert out.tolist() == [[[1, 0, 0, 0], [0, 0, 1, 0]], [[0, 1, 0, 0], [0, 1, 0, 0]]]
    assert F.one_hot(mg.tensor([3, 1])).shape == (2, 4)  # num_classes inferred
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(mg.tensor([3]), 3)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(mg.tensor([-1]), 3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(mg.tensor([1.0]), 3)


def test_one_hot_matches_torch(torch):
    idx = np.array([[0, 3], [2, 2]])
    np.testing.assert_array_equal(F.one_hot(mg.tensor(idx), 5)._array,
                                  torch.nn.functional.one_hot(torch.tensor(idx), 5).numpy())


def test_layer_reprs_match_torch(torch):
    pairs = [
        (nn.Dropout(0.3), torch.nn.Dropout(0.3)), (nn.Tanh(), torch.nn.Tanh()), (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.ReLU(), torch.nn.ReLU()), (nn.Identity(), torch.nn.Identity()), (nn.Softmax(dim=1), torch.nn.Softmax(1)),
        (nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(-1)), (nn.Flatten(), torch.nn.Flatten()),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_linear_refuses_mixed_dtypes_like_pytorch():
    layer = mg.nn.Linear(3, 2)  # float32 parameters
    with pytest.raises(TypeError, match=r"linear: input has dtype float64 but the weight has dtype float32"):
        layer(mg.ones(4, 3, dtype=mg.float64))
    assert layer.double()(mg.ones(4, 3, dtype=mg.float64)).dtype == mg.float64
