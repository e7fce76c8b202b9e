"""Parallel kernels: threads only where safe, the same results with and without them.

``@kernel(parallel=True)`` kernels run their ``prange`` loops on Numba's threads only when
``threads_usable()``: never in a forked child (GNU OpenMP aborts there), never with one thread,
never without a thread-safe threading layer. Elsewhere the serial compilation runs.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from minigrad.kernels import products as P
from minigrad.kernels import rnn as K
from minigrad.kernels._jit import jit_disabled, threads_usable

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")


def _product(seed: int) -> float:
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((300, 70)).astype(np.float32), rng.standard_normal((70, 130)).astype(np.float32)
    out = np.empty((300, 130), np.float32)
    P.parallel_matmul(a, b, out)
    return float(np.abs(out - a @ b).max())


def _child(queue) -> None:
    queue.put((threads_usable(), _product(1)))


@needs_fork
def test_forked_child_runs_parallel_kernels_serially():
    """After the parent used the thread pool, a forked child must not (libgomp would abort it)."""
    assert _product(0) < 1e-3  # the parent starts the pool if it can
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(queue,))
    child.start()
    child.join(120)
    assert child.exitcode == 0, "the child crashed"
    usable, err = queue.get(timeout=5)
    assert usable is False and err < 1e-3


def test_minigrad_num_threads_1_turns_threads_off():
    code = ("from minigrad.kernels._jit import threads_usable; from minigrad.kernels import products as P;"
            "print(threads_usable(), P.num_threads())")
    env = dict(os.environ, MINIGRAD_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "1"]


def test_python_threads_may_call_parallel_kernels_at_once():
    """Two Python threads launching parallel kernels together (the layer must be thread-safe)."""
    # With NUMBA_DISABLE_JIT each product is ~2 s of plain Python under one GIL: fewer of them.
    rounds = 2 if jit_disabled() else 20
    errors: list[float] = []
    workers = [threading.Thread(target=lambda s=s: errors.extend(_product(s) for _ in range(rounds)))
               for s in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(300)
    assert not any(w.is_alive() for w in workers), "a thread did not finish in 300 s"
    assert len(errors) == 3 * rounds and max(errors) < 1e-3


def test_num_threads_follows_threads_usable():
    if jit_disabled():  # plain Python: prange is range, there is no thread pool
        assert threads_usable() is False and P.num_threads() == 1
        return
    import numba

    assert P.num_threads() == (numba.get_num_threads() if threads_usable() else 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden", [128, 130, 200])
@pytest.mark.parametrize("reverse", [False, True])
def test_parallel_lstm_kernels_match_serial(hidden, dtype, reverse):
    """64-unit blocks (whole register tiles, and a ragged last block), padded sequences."""
    for direction in ("forward", "backward"):
        name = f"lstm_sequence_{direction}"
        args = K.example_args(name, dtype, n_time=3, batch=5, hidden=hidden, reverse=reverse,
                              lengths=[3, 1, 2, 3, 0], seed=hidden)
        par_args = K.example_args(name + "_parallel", dtype, n_time=3, batch=5, hidden=hidden, reverse=reverse,
                                  lengths=[3, 1, 2, 3, 0], seed=hidden, unit_block=64)
        copy = lambda x: x.copy() if isinstance(x, np.ndarray) else x  # noqa: E731
        serial, parallel = tuple(map(copy, args)), tuple(map(copy, par_args))
        getattr(K, name)(*serial)
        getattr(K, name + "_parallel")(*parallel)
        tol = {"rtol": 3e-5, "atol": 3e-5} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-12}
        for i, (x, y) in enumerate(zip(serial, parallel)):
            if isinstance(x, np.ndarray) and i != 1:  # argument 1, the weight: W_hh^T (serial) or W_hh (parallel)
                np.testing.assert_allclose(y, x, err_msg=f"{name}: argument {i}", **tol)
