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


# Each op that says it only moves values (Function.computes = False, run without the switch), called
# the way users call it; the test below fails for a new such op until it is added here.
_VALUE_MOVES = {
    "Reshape": lambda x: x.reshape(4, 3),
    "Permute": lambda x: x.permute(1, 0),
    "Expand": lambda x: x[:1].expand(5, 4),
    "Cat": lambda x: mg.cat((x, x), 0),
    "Stack": lambda x: mg.stack((x, x)),
    "Split": lambda x: x.split(1, 0)[0],
    "GetItem": lambda x: x[mg.tensor([0, 2])],
    "Gather": lambda x: x.gather(1, mg.tensor([[0], [1], [3]])),
    "IndexSelect": lambda x: x.index_select(1, mg.tensor([3, 0])),
    "Narrow": lambda x: x.narrow(1, 1, 2),
    "Unbind": lambda x: x.unbind(0)[1],
    "Flip": lambda x: x.flip(0),
    "Repeat": lambda x: x.repeat(2, 1),
    "Roll": lambda x: x.roll(1, 0),
    "Clone": lambda x: x.clone(),
    "TakeAlong": lambda x: x.sort(1).values,
}


def test_ops_that_only_move_values_are_listed() -> None:
    from minigrad.autograd import Function

    found, todo = set(), [Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if not sub.computes:
                found.add(sub.__name__)
    assert found == set(_VALUE_MOVES)


@pytest.mark.parametrize("name", sorted(_VALUE_MOVES))
def test_ops_that_only_move_values_never_warn_nor_raise_on_nan_and_inf(name: str) -> None:
    """They run without the switch: NaN and inf pass through, under the strictest state a user can set."""
    x = mg.tensor([[np.nan, np.inf, -np.inf, 1.0]] * 3, requires_grad=True)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        y = _VALUE_MOVES[name](x)
        y.sum().backward()  # (the engine's backward is quiet as ever)
    assert x.grad is not None and y.dtype == x.dtype
