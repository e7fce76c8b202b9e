"""The library's random stream: seeds and saved positions (PyTorch's manual_seed, seed, initial_seed,
get_rng_state, set_rng_state)."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def test_a_saved_position_draws_the_same_numbers_again_in_every_consumer():
    mg.manual_seed(3)
    state = mg.get_rng_state()
    assert state.dtype == np.uint8 and state.ndim == 1
    first = (mg.randn(4).tolist(), mg.nn.Linear(3, 2).weight.detach().tolist(),
             mg.nn.functional.dropout(mg.ones(20), 0.5).tolist())
    mg.set_rng_state(state)
    again = (mg.randn(4).tolist(), mg.nn.Linear(3, 2).weight.detach().tolist(),
             mg.nn.functional.dropout(mg.ones(20), 0.5).tolist())
    assert again == first
    assert mg.initial_seed() == 3  # the seed travels with the state


def test_the_state_survives_a_checkpoint(tmp_path):
    mg.manual_seed(11)
    mg.randn(5)  # somewhere in the middle of the stream
    mg.save({"rng": mg.get_rng_state()}, tmp_path / "ckpt.safetensors")
    expected = mg.randn(3).tolist()
    mg.manual_seed(0)
    mg.set_rng_state(mg.load(tmp_path / "ckpt.safetensors")["rng"])
    assert mg.randn(3).tolist() == expected


def test_initial_seed_and_seed():
    mg.manual_seed(2**64 - 5)
    assert mg.initial_seed() == 2**64 - 5
    mg.manual_seed(-1)
    assert mg.initial_seed() == 2**64 - 1  # negative seeds wrap to 64 bits, as in PyTorch
    s = mg.seed()
    assert mg.initial_seed() == s and 0 <= s < 2**63
    a = mg.rand(2).tolist()
    mg.manual_seed(s)
    assert mg.rand(2).tolist() == a


EXPECTED = "expected the 1-D uint8 tensor that mg.get_rng_state\\(\\) returns, got "


@pytest.mark.parametrize("bad, message", [
    (np.zeros(4, np.uint8), EXPECTED + "ndarray of shape \\(4,\\)"),
    (mg.zeros(4), EXPECTED + "Tensor of shape \\(4,\\)"),
    (mg.tensor(np.zeros(5056, np.uint8)), "this uint8 tensor is not a state that mg.get_rng_state\\(\\) returned "
                                          "\\(5056 bytes"),
])
def test_anything_else_is_refused_and_the_stream_is_left_as_it_was(bad, message):
    mg.manual_seed(4)
    expected = mg.get_rng_state()
    with pytest.raises(ValueError, match="set_rng_state: " + message):
        mg.set_rng_state(bad)
    assert np.array_equal(mg.get_rng_state().numpy(), expected.numpy())


def test_torch_names_the_same_functions():
    torch = pytest.importorskip("torch")
    for name in ("manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state"):
        assert callable(getattr(torch, name)) and callable(getattr(mg, name))
    assert torch.get_rng_state().dtype == torch.uint8  # a byte tensor there too


def test_bernoulli_draws_with_each_elements_probability():
    mg.manual_seed(0)
    probabilities = mg.tensor(np.tile([0.0, 0.25, 0.9, 1.0], (20000, 1)))
    sample = mg.bernoulli(probabilities)
    assert sample.dtype == probabilities.dtype and sample.shape == probabilities.shape
    assert set(np.unique(sample.numpy())) <= {0.0, 1.0}
    np.testing.assert_allclose(sample.numpy().mean(0), [0.0, 0.25, 0.9, 1.0], atol=0.01)
    half = mg.zeros(20000, dtype=mg.float32).bernoulli(0.5)  # the method, one p for all
    assert half.dtype == mg.float32 and abs(half.numpy().mean() - 0.5) < 0.01
    g = mg.Generator().manual_seed(5)
    first = mg.bernoulli(mg.full((8,), 0.5), generator=g).tolist()
    assert mg.bernoulli(mg.full((8,), 0.5), generator=g.manual_seed(5)).tolist() == first
    assert not mg.bernoulli(mg.full((3,), 0.5, requires_grad=True)).requires_grad  # a sample: no gradient


@pytest.mark.parametrize("call, error, message", [
    (lambda: mg.bernoulli(mg.tensor([0.5, 1.5])), ValueError,
     r"probabilities must be in \[0, 1\], got values from 0.5 to 1.5"),
    (lambda: mg.bernoulli(mg.tensor([0.5, float("nan")])), ValueError, "and NaN"),
    (lambda: mg.bernoulli(mg.zeros(2), 1.5), ValueError, r"p must be a number in \[0, 1\], got 1.5"),
    (lambda: mg.bernoulli(mg.tensor([1, 0])), TypeError, "bernoulli: needs a floating point dtype, got int64"),
    (lambda: mg.bernoulli([0.5]), TypeError, "bernoulli: input must be a Tensor, got list"),
])
def test_bernoulli_refuses_what_pytorch_refuses(call, error, message):
    with pytest.raises(error, match=message):
        call()
