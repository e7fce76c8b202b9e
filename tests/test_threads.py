"""Thread safety: two models trained in two threads behave exactly as if trained one after the other.

What could go wrong, and what each test checks:

- shared mutable state in the engine or the ops (a global "current graph", a shared scratch
  buffer in a kernel wrapper): results would differ from the sequential run. We require
  **bit-identical** parameters after N steps of LSTM/GRU training with Adam and clipping.
- grad mode, scopes and anomaly mode are per-thread (``autograd._Mode`` is a ``threading.local``):
  ``no_grad()`` in one thread must not switch off graph building in another.
- lazy Numba compilation: two threads calling a kernel for the first time must compile it once
  and not crash (``LazyKernel`` holds a lock); checked in a subprocess with an empty cache.
- Numba's parallel threading layer: no kernel uses ``parallel=True`` (the default
  ``workqueue`` layer is not thread-safe, so one that did would need 'tbb' or 'omp').

Randomness is the one shared thing by design: ``mg.manual_seed`` seeds one generator for the
library, so models are *built* before the threads start, and each thread draws its data from its
own NumPy generator.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.utils import clip_grad_norm_, detach_state

ROOT = Path(__file__).resolve().parents[1]


class _Seq(mg.nn.Module):
    def __init__(self, kind: str, impl: str, seed: int) -> None:
        super().__init__()
        mg.manual_seed(seed)
        layer = {"lstm": mg.nn.LSTM, "gru": mg.nn.GRU, "rnn": mg.nn.RNN}[kind]
        self.rnn = layer(3, 6, num_layers=2, impl=impl)
        self.head = mg.nn.Linear(6, 2)

    def forward(self, x, state):
        out, state = self.rnn(x, state)
        return self.head(out), state


def _train(model: _Seq, seed: int, steps: int, barrier: threading.Barrier | None = None) -> list[float]:
    """TBPTT training on a per-thread random stream; returns the losses."""
    rng = np.random.default_rng(seed)
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    if barrier is not None:
        barrier.wait()  # start both threads together, to interleave as much as possible
    state, losses = None, []
    for _ in range(steps):
        x = mg.tensor(rng.standard_normal((4, 3, 3)).astype(np.float32))
        target = mg.tensor(rng.standard_normal((4, 3, 2)).astype(np.float32))
        with mg.scope("model"):
            pred, state = model(x, state)
        loss = mg.nn.functional.mse_loss(pred, target)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        state = detach_state(state)
        losses.append(loss.item())
    return losses


def _params(model: mg.nn.Module) -> dict[str, np.ndarray]:
    return {k: v._array.copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("a,b", [(("lstm", "fused"), ("lstm", "fused")),
                                 (("lstm", "fused"), ("gru", "reference")),
                                 (("rnn", "reference"), ("gru", "fused"))],
                         ids=["lstm-fused+lstm-fused", "lstm-fused+gru-reference", "rnn-reference+gru-fused"])
def test_two_threads_train_like_sequential(a: tuple[str, str], b: tuple[str, str]) -> None:
    steps = 30
    specs = [(a, 1, 100), (b, 2, 200)]  # (kind/impl, init seed, data seed)

    # Sequential reference run.
    expected = []
    for (kind, impl), init_seed, data_seed in specs:
        model = _Seq(kind, impl, init_seed)
        losses = _train(model, data_seed, steps)
        expected.append((_params(model), losses))

    # The same two trainings at once. Models are built first (the library rng is shared).
    models = [_Seq(kind, impl, init_seed) for (kind, impl), init_seed, _ in specs]
    results: list = [None, None]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(i: int) -> None:
        try:
            results[i] = _train(models[i], specs[i][2], steps, barrier)
        except BaseException as e:  # noqa: BLE001 - reported in the main thread
            errors.append(e)
            barrier.abort()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
            assert not t.is_alive(), "a training thread hung"
    finally:
        sys.setswitchinterval(old)
    assert not errors, errors

    for i, (params, losses) in enumerate(expected):
        assert results[i] == losses, f"thread {i}: losses differ from the sequential run"
        got = _params(models[i])
        for name, value in params.items():
            assert np.array_equal(got[name], value), f"thread {i}: parameter {name} differs from the sequential run"


def test_no_grad_does_not_leak_into_another_thread() -> None:
    inside = threading.Event()
    release = threading.Event()
    seen: dict[str, object] = {}

    def eval_thread() -> None:
        with mg.no_grad(), mg.scope("eval"), mg.autograd.detect_anomaly():
            seen["worker_grad"] = mg.is_grad_enabled()
            seen["worker_scope"] = mg.autograd.current_scope()
            inside.set()
            release.wait(10)
            y = mg.ones(2, requires_grad=True) * 2
            seen["worker_requires_grad"] = y.requires_grad
        seen["worker_after"] = mg.is_grad_enabled()

    t = threading.Thread(target=eval_thread)
    t.start()
    try:
        assert inside.wait(10)
        # The other thread is inside no_grad / scope / detect_anomaly: none of it applies here.
        assert mg.is_grad_enabled()
        assert mg.autograd.current_scope() == ""
        x = mg.ones(2, requires_grad=True)
        y = (x * 3).sum()
        assert y.requires_grad and y.grad_fn is not None and y.grad_fn.scope == ""
        assert np.isnan(mg.tensor([-1.0], requires_grad=True).log().item())  # no anomaly error here
        y.backward()
        assert x.grad.tolist() == [3.0, 3.0]
    finally:
        release.set()
        t.join(10)
    assert seen == {"worker_grad": False, "worker_scope": "eval", "worker_requires_grad": False,
                    "worker_after": True}


def test_no_grad_in_main_thread_does_not_reach_a_worker() -> None:
    out: dict[str, bool] = {}

    def worker() -> None:
        x = mg.ones(2, requires_grad=True)
        out["requires_grad"] = (x * 2).requires_grad

    with mg.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join(10)
    assert out == {"requires_grad": True}  # a new thread starts with grad enabled


def test_no_kernel_uses_parallel_or_threading_layer_is_safe() -> None:
    """parallel=True kernels with Numba's default 'workqueue' layer abort when called from two threads."""
    import minigrad.kernels as K
    from minigrad.kernels._jit import REGISTRY

    for name in K.KERNEL_MODULES:
        __import__(name)
    parallel = [k.py_func.__qualname__ for k in REGISTRY if k.options.get("parallel")]
    if parallel:
        import numba

        assert numba.config.THREADING_LAYER in ("tbb", "omp", "safe", "threadsafe"), (
            f"kernels {parallel} use parallel=True but Numba's threading layer is "
            f"{numba.config.THREADING_LAYER!r}, which is not thread-safe")
    else:
        assert parallel == []


@pytest.mark.slow
def test_two_threads_compile_kernels_at_once(tmp_path: Path) -> None:
    """With an empty Numba cache, two threads hit the first call of every kernel together."""
    script = textwrap.dedent("""
        import sys, threading
        import numpy as np
        sys.path.insert(0, {tests!r})
        import minigrad as mg
        from test_threads import _Seq, _train
        models = [_Seq("lstm", "fused", 1), _Seq("lstm", "fused", 1)]
        results = [None, None]
        barrier = threading.Barrier(2)
        def run(i):
            results[i] = _train(models[i], 7, 3, barrier)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert results[0] == results[1] and results[0] is not None, results
        print("ok", results[0][-1])
    """).format(tests=str(ROOT / "tests"))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba_cache"))
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]
