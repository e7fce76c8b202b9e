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

_CHARLM = """
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
"""

_VOCABULARY = """
import minigrad as mg
# word_language_model's head in miniature: log-probabilities over a big vocabulary, then NLL
decoder = mg.nn.Linear(64, 8000)
opt = mg.optim.SGD(decoder.parameters(), lr=0.1)
x, y = mg.randn(400, 64), mg.randint(0, 8000, (400,))
def step():
    opt.zero_grad()
    mg.nn.functional.nll_loss(mg.nn.functional.log_softmax(decoder(x), dim=1), y).backward()
    opt.step()
"""


def _lstm_mse_step(layer: str, x: tuple[int, ...], y: tuple[int, ...], output: str = "out") -> str:
    """A model script defining step(): SGD on the MSE of ``output``, an expression of the layer's ``out``."""
    return f"""
import minigrad as mg
lstm = mg.nn.{layer}
opt = mg.optim.SGD(lstm.parameters(), lr=0.01)
x, y = mg.randn{x}, mg.randn{y}
def step():
    opt.zero_grad()
    out = lstm(x)[0]
    mg.nn.functional.mse_loss({output}, y).backward()
    opt.step()
"""


# Steps whose arrays used to be new memory every time (glibc handed them back between steps).
_RECURRENT_STEPS = {
    # batch 1: the serial kernel, whose weight gradients come from BLAS
    "serial_two_layers": _lstm_mse_step("LSTM(100, 100, num_layers=2, bidirectional=True)", (35, 1, 100),
                                        (35, 1, 200)),
    # benchmarks/run.py's lstm_small: the output gradient arrives transposed and is copied
    "batch_first_last_step": _lstm_mse_step("LSTM(64, 128, batch_first=True)", (32, 35, 64), (32, 128),
                                            "out[:, -1]"),
    # dW_ih = dG^T X packs X for the tile: 2.6 MB in layer 1, 5.2 MB in layer 2
    "big_products_dropout": _lstm_mse_step("LSTM(300, 300, num_layers=2, dropout=0.2, bidirectional=True)",
                                           (34, 64, 300), (34, 64, 600)),
}


# Appended to a model script that defines step(): page faults per step, after three steps to warm up.
_COUNT_FAULTS = """
import resource
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
from minigrad import _allocator
print(bool(_allocator._tuned), (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 5)
"""


def _run(switch: str | None, ask: bool = False, model: str = _CHARLM) -> tuple[bool, int]:
    """(malloc tuned?, faults per step) of ``model`` in a fresh process, with ``MINIGRAD_MALLOC_TUNING``
    set to ``switch`` (None: unset) and ``tune_malloc()`` called first if ``ask`` (charlm only)."""
    env = {k: v for k, v in os.environ.items() if k != _allocator.ENV_SWITCH}
    if switch is not None:
        env[_allocator.ENV_SWITCH] = switch
    code = f"ASK = {ask}\n" + model + _COUNT_FAULTS
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
    assert faults_per_step < 100


def test_recycled_buffers_keep_a_train_step_from_faulting_without_tuning():
    """malloc left alone: the step's big arrays (the layer's buffers, products, the embedding's rows)
    come from empty_aligned's recycled buffers, so a step faults on almost no page."""
    tuned, faults_per_step = _run(None)
    assert not tuned
    assert faults_per_step < 100  # ~1,850 per step before the buffers were recycled


@pytest.mark.parametrize("name", list(_RECURRENT_STEPS))
def test_recurrent_steps_reuse_their_memory_without_tuning(name):
    """malloc left alone: these steps faulted 250-4,500 pages each before their arrays were recycled."""
    tuned, faults_per_step = _run(None, model=_RECURRENT_STEPS[name])
    assert not tuned
    assert faults_per_step < 50


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


def test_big_arrays_reuse_a_buffer_only_once_nothing_refers_to_it() -> None:
    shape = (256, 256)  # 256 KiB of float32: recycled
    a = empty_aligned(shape, np.float32)
    address = a.ctypes.data
    b = empty_aligned(shape, np.float32)
    assert b.ctypes.data != address  # `a` is alive: its buffer is in use
    view = a[1:]
    del a
    c = empty_aligned(shape, np.float32)
    assert c.ctypes.data != address  # a view of `a` still shows that memory
    del view
    d = empty_aligned(shape, np.float32)
    assert d.ctypes.data == address and d.ctypes.data % CACHE_LINE == 0  # now it is free: reused
    e = empty_aligned((128, 512), np.float32)  # the same number of bytes, another shape
    assert e.shape == (128, 512) and not np.shares_memory(d, e)
    assert not np.shares_memory(b, c) and not np.shares_memory(c, d)


def test_a_tensor_or_its_numpy_array_keeps_its_buffer_in_use() -> None:
    import minigrad as mg

    t = mg.Tensor(empty_aligned((300, 300), np.float32))
    t._array[...] = 7
    arr = t.numpy()
    address = arr.ctypes.data
    del t
    other = empty_aligned((300, 300), np.float32)
    other[...] = 0
    assert arr.ctypes.data == address and (arr == 7).all()  # the user's array was not handed out again


def test_recycled_buffers_are_bounded_and_can_be_let_go(monkeypatch) -> None:
    monkeypatch.setattr(_allocator, "RECYCLE_MAX_BYTES", 1 << 20)
    recycler = _allocator._Recycler()
    for n in range(1, 12):
        recycler.take(n * 100_000)  # each dropped at once: free, kept until the bound pushes it out
        assert recycler.nbytes <= 1 << 20
    kept = sum(buf.nbytes for entries in recycler.sizes.values() for buf, _ in entries)
    assert kept == recycler.nbytes > 0
    assert all(_allocator.kept_by_recycler(buf) for entries in recycler.sizes.values() for buf, _ in entries)
    recycler.clear()
    assert recycler.nbytes == 0 and not recycler.sizes


def test_a_size_keeps_a_bounded_number_of_buffers() -> None:
    recycler = _allocator._Recycler()
    # Views hold their buffers in use, as the arrays empty_aligned returns do.
    held = [recycler.take(100_000)[0][:] for _ in range(_allocator.RECYCLE_MAX_PER_SIZE + 5)]
    assert len(recycler.sizes[100_000]) == _allocator.RECYCLE_MAX_PER_SIZE  # the rest are plain arrays
    assert len({view.ctypes.data for view in held}) == len(held)  # no buffer handed out twice
    del held
    assert recycler.take(100_000) is recycler.sizes[100_000][-1]  # now free: handed out again
    recycler.clear()


def test_the_free_buffer_used_last_is_handed_out_first() -> None:
    """Its memory is the likeliest to be in cache still (a step's product outputs, freed after one op)."""
    recycler = _allocator._Recycler()
    first = recycler.take(100_000)
    in_use = first[0][:]  # a view holds its buffer, as empty_aligned's arrays do
    second = recycler.take(100_000)
    assert second is not first
    del in_use
    assert recycler.take(100_000) is second  # both free: the one handed out last
    held = second[0][:]
    assert recycler.take(100_000) is first and recycler.sizes[100_000] == [second, first]
    del held
    recycler.clear()


def test_each_thread_recycles_its_own_buffers() -> None:
    import threading

    shape = (200, 200)
    seen = []

    def worker() -> None:
        a = empty_aligned(shape, np.float64)
        seen.append(a.ctypes.data)
        del a
        seen.append(empty_aligned(shape, np.float64).ctypes.data)

    mine = empty_aligned(shape, np.float64)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen[0] == seen[1]  # reused within the thread
    assert mine.ctypes.data not in seen


def test_a_finished_thread_leaves_no_kept_buffer_behind() -> None:
    """Its recycler goes with the thread: no stale id that a new object could match."""
    import gc
    import threading

    ids = []

    def worker() -> None:
        a = empty_aligned((200, 200), np.float64)
        assert _allocator.kept_by_recycler(a.base)
        ids.append(id(a.base))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    gc.collect()
    assert ids[0] not in _allocator._kept


def test_the_engine_keeps_a_recycled_gradient_without_copying() -> None:
    """A leaf's gradient made by ``empty_aligned`` is the backward's own array: kept, not copied."""
    import minigrad as mg
    from minigrad.autograd import Function

    made = []

    class Double(Function):
        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            out = empty_aligned(grad.shape, grad.dtype)
            np.multiply(grad, 2, out=out)
            made.append(id(out.base))  # (an id: holding the buffer itself would be a second holder)
            return out

    w = mg.randn(300, 200, requires_grad=True)
    Double.apply(w).sum().backward()
    g = w.grad._array
    assert g.base is not None and id(g.base) == made[0]  # the very array backward made, not a copy
    assert _allocator.kept_by_recycler(g.base)
    np.testing.assert_array_equal(g, 2)
    del g
    w.grad = None  # now nothing holds it: the next big array may take that buffer
    assert id(empty_aligned((300, 200), np.float32).base) == made[0]


def test_empty_and_zeros_recycle_only_big_arrays() -> None:
    small = _allocator.empty((4, 4), np.float32)
    assert small.shape == (4, 4) and small.dtype == np.float32 and not _allocator.kept_by_recycler(small.base)
    big = _allocator.empty((512, 512), np.float32)  # 1 MiB: a recycled buffer
    assert big.ctypes.data % CACHE_LINE == 0 and big.flags.c_contiguous
    big[...] = 7.0
    address = big.ctypes.data
    del big
    again = _allocator.zeros((512, 512), np.float32)  # the same buffer, handed out again: zeroed
    assert again.ctypes.data == address and not again.any()
    assert not _allocator.zeros((3,), np.float64).any()



def test_a_log_softmax_over_a_vocabulary_reuses_its_memory_without_tuning():
    """The (400, 8000) log-probabilities, their gradient and NLL's come from recycled buffers:
    with malloc left alone a step faults on almost no page (~2,600 per word_lm step before)."""
    tuned, faults_per_step = _run(None, model=_VOCABULARY)
    assert not tuned
    assert faults_per_step < 100
