"""LayerNorm, BatchNorm1d and channel dropout: PyTorch parity over several steps, gradcheck, modes, errors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.nn_more import batchnorm_cases, run_batchnorm, split_fixture

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.autograd import gradcheck

BN_CASES = batchnorm_cases()
FIXTURE = split_fixture(load_fixture("nn_more"))


def assert_same_dicts(got: dict, expected: dict, rtol: float = 1e-10, atol: float = 1e-12) -> None:
    assert set(got) == {k for k in expected if k not in BN_CASES["momentum"][0] and not k.startswith("x")}
    for key, value in got.items():
        assert value.shape == expected[key].shape, key
        assert value.dtype.kind == expected[key].dtype.kind, key
        np.testing.assert_allclose(value, expected[key], rtol=rtol, atol=atol, err_msg=key)


# ------------------------------------------------------------------------------------------------
# BatchNorm1d: running statistics over several training steps, then eval
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BN_CASES))
def test_batchnorm_steps_parity_from_fixture(name):
    arrays, opts = BN_CASES[name]
    fx = FIXTURE[f"bn_{name}"]
    got = run_batchnorm(mg, {k: fx[k] for k in arrays}, opts)
    assert_same_dicts(got, {k: v for k, v in fx.items() if k not in arrays})


@pytest.mark.parametrize("name", sorted(BN_CASES))
def test_batchnorm_steps_parity_live(name, torch):
    arrays, opts = BN_CASES[name]
    assert_same_dicts(run_batchnorm(mg, arrays, opts), run_batchnorm(torch, arrays, opts))


def test_batchnorm_state_dict_and_buffers_as_pytorch(torch):
    ours, theirs = mg.nn.BatchNorm1d(4), torch.nn.BatchNorm1d(4)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert ours.num_batches_tracked.dtype == mg.int64 and ours.num_batches_tracked.shape == ()
    assert [n for n, _ in ours.named_parameters()] == ["weight", "bias"]
    assert repr(ours) == repr(theirs)
    for kw in ({"affine": False}, {"track_running_stats": False}, {"momentum": None, "eps": 1e-3}, {"bias": False}):
        assert repr(mg.nn.BatchNorm1d(3, **kw)) == repr(torch.nn.BatchNorm1d(3, **kw))
        assert list(mg.nn.BatchNorm1d(3, **kw).state_dict()) == list(torch.nn.BatchNorm1d(3, **kw).state_dict())


def test_batchnorm_load_state_dict_from_pytorch(torch):
    theirs = torch.nn.BatchNorm1d(3).double()
    for _ in range(2):
        theirs(torch.randn(8, 3, dtype=torch.float64) * 3 + 1)
    ours = mg.nn.BatchNorm1d(3).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert ours.num_batches_tracked.item() == 2
    x = np.random.default_rng(0).standard_normal((5, 3))
    expected = theirs.eval()(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(ours.eval()(mg.tensor(x)).detach().numpy(), expected, rtol=1e-12)


def test_batchnorm_eval_does_not_touch_running_stats():
    bn = mg.nn.BatchNorm1d(2)
    bn(mg.randn(4, 2))
    before = {k: v.numpy().copy() for k, v in bn.state_dict().items()}
    bn.eval()(mg.randn(4, 2))
    for k, v in bn.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])


def test_batchnorm_eval_works_on_one_example_training_refuses_it():
    bn = mg.nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"batch_norm: expected more than 1 value per channel when training, got "
                                         r"input of shape \(1, 3\)"):
        bn(mg.randn(1, 3))
    assert bn.eval()(mg.randn(1, 3)).shape == (1, 3)


def test_batchnorm_float32_stays_float32(torch):
    x = np.random.default_rng(1).standard_normal((6, 3, 4)).astype(np.float32)
    ours, theirs = mg.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    y = ours(mg.tensor(x))
    assert y.dtype == mg.float32 and ours.running_var.dtype == mg.float32
    np.testing.assert_allclose(y.detach().numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-6)


def test_batchnorm_errors():
    bn = mg.nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D \(N, C\) or 3D \(N, C, L\) input, got 4D input "
                                         r"of shape \(2, 3, 4, 5\)"):
        bn(mg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm1d: input of shape \(2, 4\) has 4 channels \(dimension 1\), "
                                         "expected num_features=3"):
        bn(mg.randn(2, 4))
    with pytest.raises(TypeError, match=r"BatchNorm1d: input must be a Tensor, got ndarray"):
        bn(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"batch_norm: running_mean of shape \(4,\) does not fit: expected \(3,\)"):
        F.batch_norm(mg.randn(2, 3), mg.zeros(4), mg.ones(3))
    with pytest.raises(ValueError, match=r"batch_norm: running_mean and running_var are needed when training=False"):
        F.batch_norm(mg.randn(2, 3), None, None)
    with pytest.raises(TypeError, match=r"batch_norm: momentum must be a number, got NoneType"):
        F.batch_norm(mg.randn(2, 3), mg.zeros(3), mg.ones(3), training=True, momentum=None)
    with pytest.raises(TypeError, match=r"BatchNorm1d: num_features should be of type int"):
        mg.nn.BatchNorm1d(3.0)


@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_batch_norm_noncontiguous(training):
    rng = np.random.default_rng(2)
    x = mg.tensor(rng.standard_normal((5, 4, 3))).transpose(0, 2).detach().requires_grad_()  # (3, 4, 5) strided
    w = mg.tensor(rng.random(4) + 0.5, requires_grad=True)
    b = mg.tensor(rng.standard_normal(4), requires_grad=True)
    mean, var = mg.tensor(rng.standard_normal(4)), mg.tensor(rng.random(4) + 0.5)
    assert gradcheck(lambda a, c, d: F.batch_norm(a, None if training else mean, None if training else var, c, d,
                                                  training=training), [x, w, b])


# ------------------------------------------------------------------------------------------------
# LayerNorm
# ------------------------------------------------------------------------------------------------


def test_layernorm_module_parity(torch):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 3, 4))
    for kw in ({}, {"elementwise_affine": False}, {"bias": False}, {"eps": 1e-2}):
        ours, theirs = mg.nn.LayerNorm((3, 4), **kw).double(), torch.nn.LayerNorm((3, 4), **kw).double()
        assert repr(ours) == repr(theirs)
        assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
        with torch.no_grad(), mg.no_grad():
            for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
                p.copy_(mg.tensor(rng.standard_normal(p.shape)))
                q.copy_(torch.tensor(p.detach().numpy()))
        xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ym, yt = ours(xm), theirs(xt)
        g = rng.standard_normal(ym.shape)
        ym.backward(mg.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_layernorm_int_shape_and_defaults():
    ln = mg.nn.LayerNorm(4)
    assert ln.normalized_shape == (4,) and ln.weight.tolist() == [1.0] * 4 and ln.bias.tolist() == [0.0] * 4


def test_norm_layers_take_device_and_dtype_like_pytorch():
    assert mg.nn.LayerNorm(3, device="cpu", dtype=mg.float64).weight.dtype == mg.float64
    bn = mg.nn.BatchNorm1d(3, device=mg.device("cpu"), dtype=mg.float64)
    assert bn.running_mean.dtype == mg.float64 and bn.num_batches_tracked.dtype == mg.int64
    makers = [lambda d: mg.nn.LayerNorm(3, device=d), lambda d: mg.nn.BatchNorm1d(3, device=d),
              lambda d: mg.nn.Linear(3, 2, device=d), lambda d: mg.nn.Embedding(3, 2, device=d)]
    for make in makers:
        assert isinstance(make("cpu:0"), mg.nn.Module)
        with pytest.raises(RuntimeError, match="minigrad runs on the CPU only"):
            make("cuda")


def test_gradcheck_layer_norm_noncontiguous_and_broadcast_batch():
    rng = np.random.default_rng(4)
    x = mg.tensor(rng.standard_normal((4, 3, 2))).transpose(0, 2).detach().requires_grad_()  # (2, 3, 4) strided
    w = mg.tensor(rng.random((3, 4)) + 0.5, requires_grad=True)
    b = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda a, c, d: F.layer_norm(a, (3, 4), c, d), [x, w, b])
    assert gradcheck(lambda a: F.layer_norm(a, [4]), [x])


def test_layernorm_errors():
    with pytest.raises(ValueError, match=r"layer_norm: given normalized_shape=\[4\], expected input with shape "
                                         r"\(\*, 4\), but got input of shape \(2, 3\)"):
        mg.nn.LayerNorm(4)(mg.randn(2, 3))
    with pytest.raises(ValueError, match=r"layer_norm: weight of shape \(3,\) does not fit: expected \(4,\)"):
        F.layer_norm(mg.randn(2, 4), (4,), weight=mg.ones(3))
    with pytest.raises(TypeError, match=r"layer_norm: input must be a floating tensor"):
        F.layer_norm(mg.tensor([[1, 2]]), (2,))


# ------------------------------------------------------------------------------------------------
# Channel dropout
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fn,shape,channel_dims", [("dropout1d", (3, 8, 5), 2), ("dropout1d", (8, 5), 1),
                                                    ("dropout2d", (3, 8, 4, 4), 2)])
def test_channel_dropout_zeroes_whole_channels(fn, shape, channel_dims):
    mg.manual_seed(0)
    x = mg.ones(*shape, dtype=mg.float64, requires_grad=True)
    y = getattr(F, fn)(x, p=0.5)
    values = y.detach().numpy().reshape(*shape[:channel_dims], -1)
    per_channel = {tuple(sorted(set(v.tolist()))) for v in values.reshape(-1, values.shape[-1])}
    assert per_channel == {(0.0,), (2.0,)}  # each channel all dropped or all kept and scaled by 1/(1-p)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())  # the same mask scales the gradient


def test_channel_dropout_modes_and_modules():
    x = mg.randn(2, 3, 4)
    assert F.dropout1d(x, 0.5, training=False) is x
    assert mg.nn.Dropout1d(0.3).eval()(x) is x
    assert mg.nn.Dropout2d(0.3).eval()(mg.randn(1, 2, 3, 3)).shape == (1, 2, 3, 3)
    assert F.dropout1d(x, p=1.0).abs().sum().item() == 0.0
    assert repr(mg.nn.Dropout2d(0.2)) == "Dropout2d(p=0.2, inplace=False)"


def test_dropout2d_on_3d_input_warns_like_pytorch():
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        F.dropout2d(mg.randn(2, 3, 4))


def test_channel_dropout_errors():
    with pytest.raises(ValueError, match=r"dropout1d: expected a 2-D \(C, L\) or 3-D \(N, C, L\) input, got shape "
                                         r"\(2, 3, 4, 5\)"):
        F.dropout1d(mg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"dropout2d: dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout2d(mg.randn(2, 3, 4, 4), p=1.5)
    with pytest.raises(ValueError, match=r"Dropout1d: dropout probability"):
        mg.nn.Dropout1d(-0.1)


def test_batchnorm_buffer_updates_count_as_inplace_changes():
    bn = mg.nn.BatchNorm1d(2)
    names = ("running_mean", "running_var", "num_batches_tracked")
    before = [getattr(bn, name)._version for name in names]
    bn(mg.randn(4, 2))
    after = [getattr(bn, name)._version for name in names]
    assert all(a > b for a, b in zip(after, before))
    bn.eval()(mg.randn(4, 2))
    assert [getattr(bn, name)._version for name in names] == after  # eval reads the buffers only


def test_reset_parameters_and_running_stats():
    bn = mg.nn.BatchNorm1d(2)
    ln = mg.nn.LayerNorm(2)
    with mg.no_grad():
        for m in (bn, ln):
            m.weight.fill_(3.0)
            m.bias.fill_(3.0)
    bn(mg.randn(4, 2) + 5)
    bn.reset_parameters()
    ln.reset_parameters()
    assert bn.running_mean.tolist() == [0.0, 0.0] and bn.running_var.tolist() == [1.0, 1.0]
    assert bn.num_batches_tracked.item() == 0
    for m in (bn, ln):
        assert m.weight.tolist() == [1.0, 1.0] and m.bias.tolist() == [0.0, 0.0]
