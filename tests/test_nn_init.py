"""mg.nn.init: PyTorch's formulas (bounds and standard deviations), in place, seeded."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import init


def test_calculate_gain_table():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == math.sqrt(2.0 / 6)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_calculate_gain_matches_torch(torch):
    for name, param in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                        ("selu", None), ("conv2d", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(mg.zeros(3, 4)) == (4, 3)
    assert init._calculate_fan_in_and_fan_out(mg.zeros(3, 4, 5)) == (20, 15)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(mg.zeros(3))


def test_in_place_keeps_array_dtype_and_returns_tensor():
    w = mg.zeros(20, 10)
    arr = w._array
    for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
               init.kaiming_normal_, init.orthogonal_, init.zeros_, init.ones_, init.trunc_normal_):
        assert fn(w) is w
        assert w._array is arr and w.dtype == mg.float32
    p = mg.nn.Parameter(mg.zeros(3, 3, dtype=mg.float64))
    init.normal_(p)
    assert p.dtype == mg.float64 and p.grad_fn is None and p.requires_grad


def test_seeded_reproducibility():
    mg.manual_seed(0)
    a = init.kaiming_uniform_(mg.zeros(5, 5))._array.copy()
    mg.manual_seed(0)
    np.testing.assert_array_equal(a, init.kaiming_uniform_(mg.zeros(5, 5))._array)


def test_uniform_normal_constant():
    mg.manual_seed(1)
    u = init.uniform_(mg.zeros(100, 100), -0.3, 0.7)._array
    assert u.min() >= -0.3 and u.max() < 0.7
    assert abs(u.mean() - 0.2) < 0.01
    n = init.normal_(mg.zeros(100, 100), 2.0, 0.5)._array
    assert abs(n.mean() - 2.0) < 0.02 and abs(n.std() - 0.5) < 0.01
    assert np.all(init.constant_(mg.zeros(3), 1.5)._array == 1.5)
    assert np.all(init.ones_(mg.zeros(3))._array == 1) and np.all(init.zeros_(mg.ones(3))._array == 0)
    t = init.trunc_normal_(mg.zeros(10000), std=1.0, a=-1.0, b=1.5)._array
    assert t.min() >= -1.0 and t.max() <= 1.5
    assert np.all(init.eye_(mg.zeros(2, 3))._array == np.eye(2, 3))
    with pytest.raises(ValueError):
        init.normal_(mg.zeros(2), std=-1.0)


def test_xavier():
    mg.manual_seed(2)
    fan_in, fan_out = 300, 200
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    w = init.xavier_uniform_(mg.zeros(fan_out, fan_in))._array
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    np.testing.assert_allclose(w.std(), math.sqrt(2.0 / (fan_in + fan_out)), rtol=0.02)
    w = init.xavier_normal_(mg.zeros(fan_out, fan_in), gain=2.0)._array
    np.testing.assert_allclose(w.std(), 2.0 * math.sqrt(2.0 / (fan_in + fan_out)), rtol=0.02)


def test_kaiming():
    mg.manual_seed(3)
    w = init.kaiming_uniform_(mg.zeros(200, 300), a=math.sqrt(5))._array
    bound = 1 / math.sqrt(300)  # Linear's default: gain sqrt(1/3) * sqrt(3 / fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    w = init.kaiming_uniform_(mg.zeros(200, 300), nonlinearity="relu")._array
    assert np.abs(w).max() <= math.sqrt(6.0 / 300)
    w = init.kaiming_normal_(mg.zeros(200, 300), mode="fan_out", nonlinearity="relu")._array
    np.testing.assert_allclose(w.std(), math.sqrt(2.0 / 200), rtol=0.02)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_normal_(mg.zeros(2, 2), mode="fan_avg")
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(mg.zeros(0, 3))


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8), (4, 2, 3)])
def test_orthogonal(shape):
    mg.manual_seed(4)
    q = init.orthogonal_(mg.zeros(*shape, dtype=mg.float64), gain=1.0)._array.reshape(shape[0], -1)
    rows, cols = q.shape
    if rows >= cols:
        np.testing.assert_allclose(q.T @ q, np.eye(cols), atol=1e-12)  # orthonormal columns
    else:
        np.testing.assert_allclose(q @ q.T, np.eye(rows), atol=1e-12)  # orthonormal rows
    q2 = init.orthogonal_(mg.zeros(5, 5, dtype=mg.float64), gain=3.0)._array
    np.testing.assert_allclose(q2.T @ q2, 9 * np.eye(5), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(mg.zeros(3))


def test_statistics_match_torch(torch):
    """Same distribution as PyTorch (not the same numbers: different random generators)."""
    shape = (256, 128)
    for name, kwargs in [("xavier_uniform_", {}), ("xavier_normal_", {"gain": 1.5}),
                         ("kaiming_uniform_", {"a": math.sqrt(5)}), ("kaiming_normal_", {"nonlinearity": "relu"}),
                         ("uniform_", {"a": -0.2, "b": 0.4}), ("normal_", {"std": 0.3})]:
        ours = getattr(init, name)(mg.zeros(*shape), **kwargs)._array
        theirs = getattr(torch.nn.init, name)(torch.empty(*shape), **kwargs).numpy()
        np.testing.assert_allclose(ours.std(), theirs.std(), rtol=0.03, err_msg=name)
        np.testing.assert_allclose(ours.mean(), theirs.mean(), atol=0.01, err_msg=name)
        if "uniform" in name:
            np.testing.assert_allclose([ours.min(), ours.max()], [theirs.min(), theirs.max()], atol=0.01, err_msg=name)
