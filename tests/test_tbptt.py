"""Truncated BPTT: carry the recurrent state across windows with ``detach_state``.

- the carried state makes window-by-window forward passes equal to one pass over the whole stream;
- gradients stop at the window boundary (and without detaching, the second backward fails loudly);
- memory stays flat over hundreds of windows (tracemalloc), for both implementations.
"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.recurrent import GRU, LSTM, LSTMCell
from minigrad.nn.utils import detach_state


def test_detach_state_kinds() -> None:
    h = mg.ones(2, requires_grad=True) * 2
    c = mg.ones(2, requires_grad=True) * 3
    assert detach_state(None) is None
    d = detach_state(h)
    assert not d.requires_grad and d.grad_fn is None and d.tolist() == [2.0, 2.0]
    dh, dc = detach_state((h, c))
    assert dh.grad_fn is None and dc.grad_fn is None and dc.tolist() == [3.0, 3.0]
    nested = detach_state([(h, c), h])
    assert isinstance(nested, list) and nested[0][1].grad_fn is None
    with pytest.raises(TypeError, match="detach_state: expected a Tensor"):
        detach_state("state")


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_windows_with_carried_state_equal_one_long_pass(impl: str) -> None:
    m = LSTM(3, 4, num_layers=2, dtype=mg.float64, impl=impl)
    stream = mg.randn(12, 2, 3, dtype=mg.float64)
    full, (h_full, c_full) = m(stream)
    state = None
    outs = []
    for start in range(0, 12, 4):
        out, state = m(stream[start:start + 4], state)
        outs.append(out._array)
        state = detach_state(state)
    np.testing.assert_allclose(np.concatenate(outs), full._array, atol=1e-13)
    np.testing.assert_allclose(state[0]._array, h_full._array, atol=1e-13)
    np.testing.assert_allclose(state[1]._array, c_full._array, atol=1e-13)


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_gradients_stop_at_the_window_boundary(impl: str) -> None:
    m = GRU(3, 4, dtype=mg.float64, impl=impl)
    x1 = mg.randn(5, 2, 3, dtype=mg.float64, requires_grad=True)
    x2 = mg.randn(5, 2, 3, dtype=mg.float64, requires_grad=True)
    _, h = m(x1)
    out2, _ = m(x2, detach_state(h))
    out2.sum().backward()
    assert x1.grad is None and x2.grad is not None  # BPTT ran over window 2 only
    grads = [p.grad._array.copy() for p in m.parameters()]
    # Same as starting window 2 from a constant state with the same values.
    for p in m.parameters():
        p.grad = None
    out2b, _ = m(x2, mg.tensor(h._array))
    out2b.sum().backward()
    for g, p in zip(grads, m.parameters()):
        np.testing.assert_allclose(p.grad._array, g, atol=1e-14)


def test_without_detach_the_second_backward_fails_clearly() -> None:
    m = LSTM(3, 4, impl="reference")
    out, state = m(mg.randn(4, 1, 3))
    out.sum().backward()
    out2, _ = m(mg.randn(4, 1, 3), state)  # state still hangs on window 1's (freed) graph
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        out2.sum().backward()


def _traced_bytes() -> int:
    """Bytes allocated and still alive since tracemalloc.start(), outside NumPy's own Python files.

    NumPy keeps small freed buffers in an internal cache that fills up slowly over thousands of
    calls; those allocations are attributed to numpy/*.py frames and are not a leak of ours. A leaked
    graph would show up as Tensors, Functions and arrays allocated from minigrad's files.
    """
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, "*/numpy/*")])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def _train_windows(model: mg.nn.Module, n_windows: int, measure_at: int | None) -> tuple[int, int]:
    """Truncated-BPTT training on a synthetic stream; traced memory after warm-up and at the end."""
    rng = np.random.default_rng(0)
    state = None
    warm = 0
    for k in range(n_windows):
        x = mg.tensor(rng.standard_normal((3, 2, 3)).astype(np.float32))
        target = mg.tensor(rng.standard_normal((3, 2, 8)).astype(np.float32))
        for p in model.parameters():
            p.grad = None
        out, state = model(x, state)
        loss = ((out - target) ** 2).mean()
        loss.backward()
        with mg.no_grad():
            for p in model.parameters():
                p._array -= 0.01 * p.grad._array
        state = detach_state(state)  # without this, every window's graph would stay alive
        if k == measure_at:
            _traced_bytes()  # the first snapshot fills fnmatch/re caches of its own; measure after it
            warm = _traced_bytes()
    return (warm, _traced_bytes()) if measure_at is not None else (0, 0)


@pytest.mark.parametrize("impl,num_layers,n_windows", [("fused", 2, 400), ("reference", 1, 120)])
def test_memory_is_flat_over_hundreds_of_windows(impl: str, num_layers: int, n_windows: int) -> None:
    model = LSTM(3, 8, num_layers=num_layers, impl=impl)
    _train_windows(model, 3, None)  # compile kernels / fill caches before tracing
    gc.collect()
    tracemalloc.start()
    try:
        warm, end = _train_windows(model, n_windows, measure_at=60)
    finally:
        tracemalloc.stop()
    growth = (end - warm) / max(warm, 1)
    assert growth < 0.05, f"{impl}: traced memory grew from {warm} to {end} bytes ({growth:.1%})"


def test_memory_grows_without_detach_when_graph_is_kept() -> None:
    """The contrast: keeping every window's graph alive (retain_graph) makes memory grow."""
    model = LSTM(3, 8, impl="reference")
    state = None
    tracemalloc.start()
    try:
        sizes = []
        for k in range(12):
            out, state = model(mg.randn(4, 2, 3), state)
            out.sum().backward(retain_graph=True)
            if k in (3, 11):
                sizes.append(_traced_bytes())
    finally:
        tracemalloc.stop()
    assert sizes[1] > 2 * sizes[0]


def test_cell_loop_with_truncation() -> None:
    """TBPTT with a hand-written loop over a cell: detach every k steps."""
    cell = LSTMCell(2, 3, impl="reference")
    state = None
    xs = mg.randn(20, 1, 2)
    for t in range(20):
        state = cell(xs[t], state)
        if (t + 1) % 5 == 0:
            state[0].sum().backward()
            state = detach_state(state)
    assert state[0].grad_fn is None and cell.weight_hh.grad is not None
