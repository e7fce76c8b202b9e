"""Soak: thousands of truncated-BPTT training steps leak nothing, and need no garbage collector.

A training loop that leaks a few hundred bytes per step runs fine in a unit test and dies after
a night of training. So here an LSTM (default fused impl) trains for 2,000 windows, with the
recurrent state detached between windows as truncated BPTT does, and we check:

- **flat memory** (tracemalloc): the bytes still allocated after warm-up grow by < 5%;
- **reference counting alone frees every graph**: the run happens with ``gc.disable()``; weak
  references to every window's ``grad_fn`` nodes must be dead by the next window;
- **no reference cycles**: a ``gc.collect()`` after the run finds nothing of minigrad's.

Marked slow; CI runs it (about 10-20 s).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function
from minigrad.kernels._jit import jit_disabled
from minigrad.nn.utils import clip_grad_norm_, detach_state
from minigrad.tensor import Tensor

STEPS = 2000
# NumPy's small-allocation caches and Python's free lists fill up (boundedly) over the first
# ~1,000 steps; the memory check compares the second half of the run with the end of the first.
WARMUP = 1000
# A failure names where memory grew, by tracebacks this deep (NumPy's C code has no frames of its own).
FRAMES = 6


def _collect_cycles() -> tuple[int, list[str]]:
    """Run the cycle collector; return how many unreachable objects it found and which were ours.

    ``gc.collect()`` also empties Python's free lists (spare tuples, floats, frames), which
    otherwise fill up to a fixed size over the first ~1,000 steps and look like a leak to tracemalloc.
    """
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collection frees, so we can look at it
    try:
        found = gc.collect()
        ours = [type(o).__qualname__ for o in gc.garbage
                if type(o).__module__.startswith("minigrad") or isinstance(o, (Tensor, Function))]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    return found, ours


def _traced_snapshot() -> tracemalloc.Snapshot:
    """What is alive since tracemalloc.start(), leaving out NumPy's own small-buffer cache.

    NumPy keeps freed small buffers in a cache that fills slowly (attributed to numpy/*.py
    frames); a leaked graph would show up as Tensors, Functions and arrays made in minigrad.
    """
    return tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, "*/numpy/*"),
                                                       tracemalloc.Filter(False, tracemalloc.__file__)])


def _traced_bytes(snapshot: tracemalloc.Snapshot) -> int:
    return sum(stat.size for stat in snapshot.statistics("filename"))


def _growth_sites(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, top: int = 8) -> str:
    """The tracebacks whose live memory grew the most between two snapshots: what a failure shows."""
    grown = [d for d in after.compare_to(before, "traceback") if d.size_diff > 0][:top]
    return "\n".join(f"  +{d.size_diff} bytes ({d.count_diff:+d} blocks) at\n    " + "\n    ".join(d.traceback.format())
                     for d in grown)


def _graph_nodes(root: Tensor) -> list[Function]:
    """Every Function reachable from ``root`` (iteratively)."""
    seen: dict[int, Function] = {}
    stack = [root.grad_fn] if root.grad_fn is not None else []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen[id(fn)] = fn
        for edge in fn.next_functions:
            if type(edge) is tuple:
                stack.append(edge[0])
    return list(seen.values())


class _Model(mg.nn.Module):
    def __init__(self, impl: str = "fused") -> None:
        super().__init__()
        self.lstm = mg.nn.LSTM(3, 8, impl=impl)
        self.head = mg.nn.Linear(8, 1)

    def forward(self, x, state):
        out, state = self.lstm(x, state)
        return self.head(out), state


def _soak(impl: str, steps: int, warmup: int, trace: bool = True) -> dict[str, float]:
    mg.manual_seed(0)
    model = _Model(impl)
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    # A learnable stream: predict a delayed, smoothed copy of the input.
    stream = rng.standard_normal((steps * 5 + 10, 2, 3)).astype(np.float32)
    target = np.convolve(stream[:, 0, 0], np.ones(3) / 3, mode="same").astype(np.float32)

    state = None
    dead_checks = 0
    pending: list[weakref.ref] = []
    losses = np.zeros(steps)  # preallocated: a growing list would itself look like a leak
    warm = end = 0
    grew_at = ""

    def train_step(step: int, state: object) -> tuple[Tensor, object]:
        x = Tensor(stream[step * 5:step * 5 + 5])
        y = Tensor(np.broadcast_to(target[step * 5:step * 5 + 5, None, None], (5, 2, 1)).copy())
        pred, state = model(x, state)
        loss = ((pred - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss, detach_state(state)  # truncated BPTT: the next window starts from a constant

    # Compile (or load) the Numba kernels first: Numba's compiler makes reference cycles of its own.
    for step in range(3):
        _, state = train_step(step, state)
    gc.collect()
    gc.disable()
    cyclic_found, ours = 0, []
    if trace:
        tracemalloc.start(FRAMES)
    try:
        for step in range(steps):
            loss, state = train_step(step, state)
            # Every node of the previous window's graph must already be gone (reference counting).
            alive = [r for r in pending if r() is not None]
            assert not alive, f"step {step}: {len(alive)} graph nodes of the previous window are still alive: " \
                              f"{[r() for r in alive[:3]]}"
            dead_checks += len(pending)
            pending = [weakref.ref(fn) for fn in _graph_nodes(loss)] if step % 50 == 0 else []
            losses[step] = loss.item()
            del loss

            if step == warmup or step == steps - 1:
                # gc is off, so whatever a collection finds here was made in a cycle since the last one.
                found, mine = _collect_cycles()
                if step == warmup and trace:
                    _traced_snapshot()  # the first snapshot fills caches of its own; measure after it
                    warm_snapshot = _traced_snapshot()
                    warm = _traced_bytes(warm_snapshot)
                elif step == steps - 1:
                    cyclic_found, ours = found, mine
                    if trace:
                        end_snapshot = _traced_snapshot()
                        end = _traced_bytes(end_snapshot)
                        grew_at = _growth_sites(warm_snapshot, end_snapshot)
    finally:
        tracemalloc.stop()
        gc.enable()
    return {"warm": warm, "end": end, "grew_at": grew_at, "cyclic_found": cyclic_found, "ours": ours,
            "dead_checks": dead_checks,
            "first_loss": float(np.mean(losses[:100])), "last_loss": float(np.mean(losses[-100:]))}


@pytest.mark.slow
@pytest.mark.skipif(jit_disabled(), reason="NUMBA_DISABLE_JIT=1: the fused kernels run as Python loops and 2,000 "
                                            "steps would take minutes (the reference soak below still runs)")
def test_soak_lstm_tbptt_fused() -> None:
    # Other tests of the suite trace memory too; a soak after an earlier traced stretch is the case
    # that once grew (clip_grad's 0-d arrays left NumPy's blocks behind), so it is made here.
    tracemalloc.start()
    try:
        _soak("fused", 300, 0, trace=False)
    finally:
        tracemalloc.stop()
    t0 = time.perf_counter()
    r = _soak("fused", STEPS, WARMUP)
    elapsed = time.perf_counter() - t0
    growth = (r["end"] - r["warm"]) / max(r["warm"], 1)
    assert growth < 0.05, (f"traced memory grew from {r['warm']} to {r['end']} bytes ({growth:.1%}) over {STEPS} "
                           f"steps; where:\n{r['grew_at']}")
    assert r["dead_checks"] > 0
    assert not r["ours"], f"gc.collect() found minigrad objects in reference cycles: {r['ours'][:10]}"
    assert r["cyclic_found"] < 50, f"gc.collect() found {r['cyclic_found']} unreachable objects after the run"
    assert np.isfinite(r["last_loss"]) and r["last_loss"] < r["first_loss"], r  # it did learn something
    assert elapsed < 60, f"soak took {elapsed:.1f} s"


@pytest.mark.slow
def test_soak_lstm_tbptt_reference() -> None:
    """The reference impl makes ~200 nodes per window: every one dies by reference counting, no cycles."""
    r = _soak("reference", 300, 0, trace=False)
    assert r["dead_checks"] > 1000
    assert not r["ours"], f"gc.collect() found minigrad objects in reference cycles: {r['ours'][:10]}"
    assert r["cyclic_found"] < 50


def test_graph_dies_with_its_last_tensor_without_gc() -> None:
    """The basic property the soak relies on, checked on one graph (fast, not marked slow)."""
    gc.collect()
    gc.disable()
    try:
        w = mg.randn(4, 4, requires_grad=True)
        h = mg.zeros(1, 4)
        for _ in range(50):
            h = (h @ w).tanh() + 1e-3
        nodes = [weakref.ref(fn) for fn in _graph_nodes(h)]
        assert len(nodes) >= 150
        h.sum().backward()
        del h
        assert all(r() is None for r in nodes)
    finally:
        gc.enable()
