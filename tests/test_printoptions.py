"""mg.set_printoptions: how tensors print, PyTorch's options and profiles."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


@pytest.fixture(autouse=True)
def default_printing():
    mg.set_printoptions(profile="default")
    yield
    mg.set_printoptions(profile="default")


def test_precision_threshold_edgeitems_and_linewidth():
    x = mg.tensor([1.23456, 2.5])
    assert repr(x) == "tensor([1.2346, 2.5   ])"
    mg.set_printoptions(precision=2)
    assert repr(x) == "tensor([1.23, 2.5 ])"
    long = mg.arange(12)
    mg.set_printoptions(threshold=5, edgeitems=2)
    assert repr(long) == "tensor([ 0,  1, ..., 10, 11])"
    mg.set_printoptions(linewidth=20, threshold=1000)
    assert max(len(line) for line in repr(long).splitlines()) <= 20


def test_sci_mode_on_and_off():
    x = mg.tensor([1500.0, 0.25])
    mg.set_printoptions(sci_mode=True)
    assert repr(x) == "tensor([1.5000e+03, 2.5000e-01])"
    mg.set_printoptions(sci_mode=False)
    assert repr(mg.tensor([1e-8, 1.0])) == "tensor([0., 1.])"
    mg.set_printoptions(profile="default")  # back to NumPy's choice
    assert "e-08" in repr(mg.tensor([1e-8, 1.0]))


def test_profiles():
    x = mg.tensor(np.linspace(0, 1, 300))
    mg.set_printoptions(profile="full")
    assert "..." not in repr(x)
    mg.set_printoptions(profile="short")
    assert repr(mg.tensor([1 / 3])) == "tensor([0.33])"
    assert "..." in repr(x)


@pytest.mark.parametrize("kwargs, message", [
    ({"profile": "long"}, r"unknown profile 'long'; expected one of \('default', 'short', 'full'\)"),
    ({"precision": -1}, "precision must be a non-negative int, got -1"),
    ({"threshold": 2.5}, "threshold must be a non-negative int, got 2.5"),
    ({"linewidth": 0}, r"linewidth must be a non-negative int \(at least 1\), got 0"),
    ({"sci_mode": "yes"}, "sci_mode must be True, False or None, got 'yes'"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match="set_printoptions: " + message):
        mg.set_printoptions(**kwargs)


def test_torch_takes_the_same_arguments():
    torch = pytest.importorskip("torch")
    import inspect

    ours = set(inspect.signature(mg.set_printoptions).parameters)
    assert ours == set(inspect.signature(torch.set_printoptions).parameters)
