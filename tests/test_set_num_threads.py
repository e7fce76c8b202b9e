"""mg.set_num_threads / mg.get_num_threads: PyTorch's thread settings, on Numba's pool."""

from __future__ import annotations

import numba
import pytest

import minigrad as mg
from minigrad.kernels._jit import threads_usable
from minigrad.nn.rnn_plan import Strategy


@pytest.fixture
def restore_threads():
    before = numba.get_num_threads()
    yield
    numba.set_num_threads(before)


def test_one_thread_runs_the_layers_serially(restore_threads):
    mg.set_num_threads(1)
    assert mg.get_num_threads() == 1
    out, _ = mg.nn.LSTM(8, 256)(mg.randn(5, 32, 8))  # two threads: PARALLEL_ROWS (test_rnn_plan.py)
    assert out.grad_fn.strategy not in (Strategy.PARALLEL_ROWS, Strategy.PARALLEL_UNITS)


@pytest.mark.skipif(not threads_usable(), reason="the parallel kernels run serially here")
def test_more_threads_than_the_pool_use_the_whole_pool(restore_threads):
    mg.set_num_threads(1)
    mg.set_num_threads(10_000)
    assert mg.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    out, _ = mg.nn.LSTM(8, 256)(mg.randn(5, 32, 8))
    assert out.grad_fn.strategy is Strategy.PARALLEL_ROWS


@pytest.mark.parametrize("bad, message", [
    (0, "set_num_threads expects a positive integer, got 0"),
    (-2, "set_num_threads expects a positive integer, got -2"),
    (2.0, r"set_num_threads expects an int, but got float \(2.0\)"),
    (True, r"set_num_threads expects an int, but got bool \(True\)"),
    ("4", r"set_num_threads expects an int, but got str \('4'\)"),
])
def test_bad_counts_are_refused_as_pytorch_refuses_them(restore_threads, bad, message):
    with pytest.raises(RuntimeError, match=message):
        mg.set_num_threads(bad)


def test_torch_agrees_on_what_it_refuses():
    torch = pytest.importorskip("torch")
    for bad in (0, -2, 2.0):
        with pytest.raises(RuntimeError):
            torch.set_num_threads(bad)
