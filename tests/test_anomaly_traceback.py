"""detect_anomaly: a backward error shows the forward line (the user's file and line) and the scope of the node."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd.anomaly import describe_forward


def _line_of(marker: str) -> int:
    """The line number in this file of the source line containing ``marker``."""
    lines, _ = inspect.getsourcelines(inspect.getmodule(_line_of))
    return next(i + 1 for i, line in enumerate(lines) if marker in line and "_line_of" not in line)


def _lstm_loop_with_a_nan_at_step(bad_step: int) -> mg.Tensor:
    cell = mg.nn.LSTMCell(3, 4).double()
    x = mg.randn(10, 2, 3, dtype=mg.float64)
    h = c = mg.zeros(2, 4, dtype=mg.float64)
    with mg.scope("lstm"):
        for t in range(10):
            with mg.scope(f"t{t}"):
                h, c = cell(x[t], (h, c))
                if t == bad_step:
                    h = h + 0 * (h - h).sqrt()  # MARK-NAN: sqrt'(0) * 0 = nan, only in backward
    return (h ** 2).sum()


def test_nan_in_backward_names_the_forward_line_and_the_time_step():
    with mg.autograd.detect_anomaly():
        loss = _lstm_loop_with_a_nan_at_step(7)
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    message = str(info.value)
    assert "produced nan in backward" in message
    assert "lstm/t7" in message
    assert "Traceback of forward call that caused the error" in message
    assert f'File "{__file__}", line {_line_of("MARK-NAN")}, in _lstm_loop_with_a_nan_at_step' in message
    assert "h = h + 0 * (h - h).sqrt()" in message  # the source line itself


def test_an_exception_in_backward_carries_the_forward_trace_as_a_note():
    class Fails(mg.autograd.Function):
        def forward(self, x):
            return x * 1

        def backward(self, grad):
            raise ValueError("backward broke")

    x = mg.ones(2, requires_grad=True)
    with mg.autograd.detect_anomaly():
        with mg.scope("rnn"), mg.scope("t3"):
            y = Fails.apply(x)  # MARK-FAILS
        with pytest.raises(ValueError, match="backward broke") as info:
            y.sum().backward()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "fails at rnn/t3" in notes
    assert f"line {_line_of('MARK-FAILS')}" in notes


def test_the_library_lstm_records_the_users_call_line_for_every_step():
    lstm = mg.nn.LSTM(3, 4, impl="reference")
    with mg.autograd.detect_anomaly():
        out, _ = lstm(mg.randn(9, 1, 3))  # MARK-LSTM
    # Walk the graph (iteratively) to a node of step 7.
    stack, seen, found = [out.grad_fn], set(), None
    while stack and found is None:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        if fn.scope.endswith("/t7"):
            found = fn
        stack.extend(edge[0] for edge in fn.next_functions if type(edge) is tuple)
    assert found is not None and found.scope.startswith("lstm")
    text = describe_forward(found)
    assert f'File "{__file__}", line {_line_of("MARK-LSTM")}' in text
    assert "minigrad/nn" not in text  # minigrad's own frames are left out


def test_outside_anomaly_mode_nodes_record_nothing():
    y = mg.ones(2, requires_grad=True) * 2
    assert not hasattr(y.grad_fn, "forward_trace")
    assert describe_forward(y.grad_fn) == ""
    x = mg.tensor([0.0], requires_grad=True)
    x.sqrt().sum().backward()  # no anomaly mode: no error, an inf gradient
    assert np.isinf(x.grad.numpy()).all()


def test_set_detect_anomaly_as_a_call_and_as_a_with_block():
    """PyTorch's ``torch.autograd.set_detect_anomaly(True)`` at the top of a script, or around a block."""
    assert not mg.is_anomaly_enabled()
    try:
        mg.autograd.set_detect_anomaly(True)
        assert mg.is_anomaly_enabled() and mg.is_anomaly_check_nan_enabled()
        with pytest.raises(RuntimeError, match="log produced nan in forward"):
            mg.tensor([-1.0], requires_grad=True).log()
        with mg.autograd.set_detect_anomaly(False):
            assert not mg.is_anomaly_enabled()
        assert mg.is_anomaly_enabled()
    finally:
        mg.set_anomaly_enabled(False)
    assert not mg.is_anomaly_enabled()


def test_check_nan_false_keeps_the_forward_trace_without_the_nan_checks():
    x = mg.tensor([-1.0, 4.0], requires_grad=True)
    with mg.autograd.detect_anomaly(check_nan=False):
        assert mg.is_anomaly_enabled() and not mg.is_anomaly_check_nan_enabled()
        y = x.log()  # nan, not an error
        assert np.isnan(y.detach().numpy()[0])
        y.sum().backward()  # a nan-free gradient: -1 and 1/4
        assert describe_forward(y.grad_fn)  # the node still remembers where it was made
    assert mg.is_anomaly_check_nan_enabled() and not mg.is_anomaly_enabled()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 0.25])


def test_torch_has_the_same_switches():
    torch = pytest.importorskip("torch")
    for name in ("set_detect_anomaly", "detect_anomaly"):
        assert hasattr(torch.autograd, name) and hasattr(mg.autograd, name)
    for name in ("is_anomaly_enabled", "is_anomaly_check_nan_enabled", "set_anomaly_enabled"):
        assert hasattr(torch, name) and hasattr(mg, name)
