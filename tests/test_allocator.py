"""``minigrad/_allocator.py``: opt-in malloc tuning keeps freed big arrays in the heap (glibc); aligned arrays.

The effect is checked by counting page faults, not by timing: with the tuning, a train step
reuses the memory the step before it freed; without it, glibc gives much of that memory back to
the kernel and every page of it faults again when the next step allocates it.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from minigrad import _allocator
from minigrad._allocator import CACHE_LINE, empty_aligned

glibc_only = pytest.mark.skipif(not _allocator._glibc(), reason="malloc tuning is for glibc only")

_FAULTS = """
import resource
import numpy as np
import minigrad as mg
from minigrad._allocator import tune_malloc
if ASK:
    tune_malloc()
# charlm in miniature (benchmarks/run.py): arrays of a few MB each, allocated and freed every step
emb, rnn, head = mg.nn.Embedding(65, 64), mg.nn.LSTM(64, 256, batch_first=True), mg.nn.Linear(256, 65)
params = list(emb.parameters()) + list(rnn.parameters()) + list(head.parameters())
opt = mg.optim.Adam(params)
x, y = mg.randint(0, 65, (32, 64)), mg.randint(0, 65, (32 * 64,))
def step():
    opt.zero_grad()
    mg.nn.functional.cross_entropy(head(rnn(emb(x))[0]).reshape(-1, 65), y).backward()
    opt.step()
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
from minigrad import _allocator
print(bool(_allocator._tuned), (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)
"""


def _run(switch: str | None, ask: bool = False) -> tuple[bool, int]:
    env = {k: v for k, v in os.environ.items() if k != _allocator.ENV_SWITCH}
    if switch is not None:
        env[_allocator.ENV_SWITCH] = switch
    code = f"ASK = {ask}\n" + _FAULTS
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    tuned, faults = out.stdout.split()
    return tuned == "True", int(faults)


@glibc_only
def test_import_leaves_malloc_alone():
    """No side effects on the user's process: importing minigrad never calls mallopt."""
    code = ("import minigrad, minigrad.nn, minigrad.optim\nfrom minigrad import _allocator\n"
            "print(_allocator._tuned)")
    env = {k: v for k, v in os.environ.items() if k != _allocator.ENV_SWITCH}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "None"


@glibc_only
@pytest.mark.parametrize("how", ["function", "environment"])
def test_opt_in_tuning_reuses_freed_memory(how):
    tuned, faults_per_step = _run("1", ask=False) if how == "environment" else _run(None, ask=True)
    assert tuned
    # without the tuning: ~2,300 per step on glibc 2.36 (9 MB of pages given back and faulted in again)
    assert faults_per_step < 100


@glibc_only
def test_environment_zero_or_unset_leaves_malloc_alone():
    for switch in (None, "0"):
        tuned, _ = _run(switch)
        assert not tuned


def test_tune_malloc_is_idempotent():
    first = _allocator.tune_malloc()
    assert _allocator.tune_malloc() is first


def test_not_glibc_means_no_tuning(monkeypatch):
    monkeypatch.setattr(_allocator, "_tuned", None)
    monkeypatch.setattr(_allocator, "_glibc", lambda: False)
    assert _allocator.tune_malloc() is False


@pytest.mark.parametrize("shape", [(0,), (1,), (3, 5), (7, 2, 65), (2, 0, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_empty_aligned_starts_on_a_cache_line(shape, dtype) -> None:
    a = empty_aligned(shape, dtype)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    assert a.size == 0 or a.ctypes.data % CACHE_LINE == 0  # (an empty array has no data to place)
    a[...] = 1  # the whole array is usable memory
    assert (a == 1).all()


def test_scratch_pool_recycles_only_its_own_arrays() -> None:
    from minigrad.nn.fused_rnn import _ScratchPool

    pool = _ScratchPool()
    a = pool.take((4, 8), np.float32)
    assert a.ctypes.data % CACHE_LINE == 0
    pool.give(a)
    assert pool.take((4, 8), np.float32) is a  # handed back, handed out again
    foreign = np.empty((4, 8), np.float32)
    pool.give(foreign, a[1:])  # not the pool's: a Tensor may still see them
    assert pool.nbytes == 0 and pool.take((4, 8), np.float32) is not foreign


def test_scratch_pool_ignores_an_array_given_twice() -> None:
    """Two later takers must never share one buffer, even if a caller hands it back twice."""
    from minigrad.nn.fused_rnn import _ScratchPool

    pool = _ScratchPool()
    a = pool.take((4, 8), np.float32)
    pool.give(a)
    pool.give(a)
    assert pool.nbytes == a.nbytes
    first, second = pool.take((4, 8), np.float32), pool.take((4, 8), np.float32)
    assert first is a and second is not a
