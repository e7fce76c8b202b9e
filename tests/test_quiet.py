"""minigrad/_quiet.py: NumPy's floating-point warnings are off inside an op, and only there."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import _quiet
from minigrad.errors import ShapeError


def _divide_by_zero() -> None:
    np.float32(1.0) / np.float32(0.0)


def test_the_user_keeps_numpy_s_own_state_around_ops_and_backward() -> None:
    """An op, a failing op and a backward leave NumPy's error state as the user set it."""
    before = np.geterr()
    x = mg.tensor([1.0, 0.0], requires_grad=True)
    (x / 0.0).sum().backward()  # inf and nan, quietly
    with pytest.raises(ShapeError):
        mg.cat((mg.ones(2, 3), mg.ones(3, 2)), 1)  # an error inside Function.apply's forward
    assert np.geterr() == before
    with np.errstate(divide="raise"):  # the user's own state still rules outside ops
        with pytest.raises(FloatingPointError):
            _divide_by_zero()
        assert (mg.tensor([1.0]) / 0.0).item() == float("inf")  # inside an op: quiet


@pytest.mark.parametrize("switch", [_quiet.NUMPY_ERRORS, _quiet._ErrstateSwitch()], ids=["context-var", "errstate"])
def test_both_switches_silence_and_restore(switch) -> None:
    """The fast switch (NumPy 2's context variable) and the fallback (np.errstate) do the same."""
    token = switch.set(_quiet.IGNORE_ALL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _divide_by_zero()  # no warning while set
    finally:
        switch.reset(token)
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        _divide_by_zero()


def test_quiet_is_a_context_that_nests() -> None:
    with _quiet.quiet():
        with _quiet.quiet():
            _divide_by_zero()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _divide_by_zero()
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        _divide_by_zero()
