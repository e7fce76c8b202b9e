"""How a fused recurrent layer runs its time loop: ``Strategy``, and the one function that picks it, ``plan``.

The fused layer (``nn/fused_rnn.py``) asks ``plan(mode, dtype, batch, hidden, steps=T)`` once per
call and follows the answer in forward and backward. Every threshold of that choice lives here,
next to the rule that reads it; ``tests/test_rnn_plan.py`` checks the rules as a table, and
``docs/performance.md`` records the measurements behind each threshold.

Example::

    >>> plan("lstm", np.float64, batch=1, hidden=32).value
    'sequence'
"""

from __future__ import annotations

import functools
from enum import Enum
from typing import Any

import numpy as np

from minigrad.kernels.cpu import host_cpu_name, vector_lanes
from minigrad.kernels.products import num_threads
from minigrad.nn.cells import describe

# Layers with batch * hidden up to this (twice this for batches of up to 4 rows, where a product gains
# little) run their time loop inside one kernel: there the per-step Python loop costs more than
# the maths.
SEQUENCE_KERNEL_MAX = 256
# ... except a batch of one row whose W_hh is bigger than this: its step product is a matrix-vector
# product, which streams all of W_hh from beyond the L2 cache each step. matmul2d does that on
# every thread (kernels/gemv.py, or BLAS's gemv in float64), the sequence kernels and PARALLEL_UNITS
# on one or with a barrier per step.
GEMV_WEIGHTS_MIN_BYTES = 512 * 1024
# Where the parallel kernels could run, big steps still run one product per step on all threads
# (matmul2d's blocked product, PER_STEP): from this batch when W_hh is bigger than the CPU's
# threshold below (None: never). Past it, every step streams W_hh from beyond a core's L2 cache, and
# where that cache level feeds a core slowly, a blocked product of the step pays. ``blas_step_cpu``
# names a CPU's row (its maker and vector width); how each threshold was found: docs/performance.md,
# "Big steps on BLAS, by CPU".
BLAS_STEP_MIN_BATCH = 64
BLAS_STEP_MIN_WEIGHT_BYTES: dict[str, int | None] = {
    "avx512": 6 * 1024 * 1024,  # 64-byte vectors (Intel's AVX-512): the tile's widest
    "avx2": 3 * 1024 * 1024,    # 32-byte vectors: a narrower tile, BLAS pays from about half the size
    "zen": None,                # AMD Zen: never, its L3 cache keeps the parallel kernels fed
}
# float32: layers whose gate width G*H is within this, and whose hidden size is a multiple of
# SEQUENCE_KERNEL_HIDDEN_MULTIPLE, also run the time loop inside one kernel, whose register-tiled
# matmul matches a product called per step there; other hidden sizes keep PER_STEP.
SEQUENCE_KERNEL_MAX_GATE_WIDTH = 512
SEQUENCE_KERNEL_HIDDEN_MULTIPLE = 64
# ... when the step product's output (batch x gate width) is smaller than this, or there is one
# thread: the sequence kernel runs on one thread, and from there a step product on all of them
# is faster.
SEQUENCE_KERNEL_MAX_STEP_OUTPUTS = 8192
# PARALLEL_ROWS splits the batch: rows are independent sequences, so its threads never wait for each
# other. It needs ROW_BLOCK_MIN rows for every thread. Every thread reads all of W_hh in every step:
# for a cell that also has PARALLEL_UNITS kernels (the LSTM, where a thread reads only its own blocks'
# columns), rows are taken up to ROWS_MAX_HIDDEN units (4 * 320^2 float32, 1.6 MB, stays in a core's
# L2 cache), or from BLAS_STEP_MIN_BATCH rows, where a step does enough work per row of W_hh.
ROW_BLOCK_MIN = 3
ROWS_MAX_HIDDEN = 320
# PARALLEL_UNITS hands each thread blocks of about this many hidden units (whole float32 register
# tiles of columns, an equal share of them per thread: `kernels/lstm.py: unit_blocks`), and needs at
# least two blocks.
UNIT_BLOCK = 64
# A call of one step (a cell, or a layer fed one step at a time) starts and joins the threads of a
# parallel kernel for that step alone: it takes PARALLEL_ROWS or PARALLEL_UNITS only from this many
# rows and this many multiply-adds in its step product (batch x hidden x gate width). Smaller ones
# run PER_STEP: one product (matmul2d) and one serial kernel.
ONE_STEP_PARALLEL_MIN_BATCH = 128
ONE_STEP_PARALLEL_MIN_MACS = 3 * 1024 * 1024


def blas_step_cpu(cpu_name: str | None = None, vector_bytes: int | None = None) -> str:
    """The row of ``BLAS_STEP_MIN_WEIGHT_BYTES`` for a CPU (default: this one, as Numba compiles for it).

    ``cpu_name`` is LLVM's name of the CPU, ``vector_bytes`` the width of its SIMD registers.

    Example::

        >>> blas_step_cpu("znver5", 64), blas_step_cpu("rocketlake", 64), blas_step_cpu("haswell", 32)
        ('zen', 'avx512', 'avx2')
    """
    if cpu_name is None and vector_bytes is None:
        return _this_cpu_row()
    if cpu_name is None:
        cpu_name = host_cpu_name()
    if vector_bytes is None:
        vector_bytes = vector_lanes(np.uint8)  # lanes of one byte: the register's width in bytes
    if cpu_name.startswith("znver"):
        return "zen"
    return "avx512" if vector_bytes >= 64 else "avx2"


@functools.cache
def _this_cpu_row() -> str:
    """``blas_step_cpu()`` of this machine: asked once (``plan`` runs on every layer call)."""
    return blas_step_cpu(host_cpu_name(), vector_lanes(np.uint8))


class Strategy(Enum):
    """How a fused layer runs its time loop (chosen by ``plan``)."""

    PER_STEP = "per_step"              # a Python loop: per step one matmul2d product and one kernel call
    SEQUENCE = "sequence"              # the whole time loop inside one serial kernel
    PARALLEL_UNITS = "parallel_units"  # the whole loop in one kernel, each step split across threads by units
    PARALLEL_ROWS = "parallel_rows"    # the whole loop in one kernel, the batch split across threads by rows


def plan(mode: str, dtype: Any, batch: int, hidden: int, *, steps: int | None = None,
         threads: int | None = None, cpu: str | None = None) -> Strategy:
    """The strategy for a fused layer of this cell, dtype and size, with ``threads`` threads.

    ``steps`` is the sequence's length (None: long), ``threads`` (Numba's usable threads)
    defaults to this machine's, ``cpu`` (a row of
    ``BLAS_STEP_MIN_WEIGHT_BYTES``) to ``blas_step_cpu()``. The CPU enters only there: the register
    tile runs in vector registers on AVX2 as on AVX-512 (``kernels/gemm.py``). The rules, in order:

    1. a batch of one row whose ``W_hh`` is over ``GEMV_WEIGHTS_MIN_BYTES``: ``PER_STEP`` (a
       matrix-vector product on all threads);
       one step (``steps=1``) below ``ONE_STEP_PARALLEL_MIN_BATCH`` rows or ``ONE_STEP_PARALLEL_MIN_MACS``
       multiply-adds: no parallel kernel (rules 2 and 4 are skipped);
    2. cells with row-split kernels, float32, two threads or more:
       ``BLAS_STEP_MIN_BATCH`` rows and ``W_hh`` over the CPU's ``BLAS_STEP_MIN_WEIGHT_BYTES``: ``PER_STEP``;
       ``ROW_BLOCK_MIN`` rows per thread: ``PARALLEL_ROWS``, except that a cell with units kernels
       too (the LSTM) needs at most ``ROWS_MAX_HIDDEN`` units or ``BLAS_STEP_MIN_BATCH`` rows;
    3. other tiny layers (``batch * hidden`` within ``SEQUENCE_KERNEL_MAX``, doubled for batches up to 4): ``SEQUENCE``,
       unless the sequence has one step (a cell, or a layer fed one step at a time): ``SEQUENCE``
       first copies ``W_hh`` transposed for its loop, and one step is one product (``PER_STEP``);
    4. cells with units kernels, as in rule 2, and at least two blocks of ``UNIT_BLOCK`` units: ``PARALLEL_UNITS``;
    5. float32, a gate width within ``SEQUENCE_KERNEL_MAX_GATE_WIDTH``, a hidden
       size that is a multiple of ``SEQUENCE_KERNEL_HIDDEN_MULTIPLE`` and, with several threads, a step
       output (``batch`` x gate width) below ``SEQUENCE_KERNEL_MAX_STEP_OUTPUTS``: ``SEQUENCE``
       (again not for one step);
    6. otherwise ``PER_STEP``.

    Example::

        >>> plan("lstm", np.float64, batch=1, hidden=32).value
        'sequence'
        >>> plan("lstm", np.float64, batch=1, hidden=32, steps=1).value  # an LSTMCell
        'per_step'
        >>> plan("lstm", np.float32, 32, 256, threads=2).value
        'parallel_rows'
        >>> plan("lstm", np.float32, 32, 256, steps=1, threads=2).value  # an LSTMCell of that size
        'per_step'
        >>> plan("lstm", np.float32, 32, 512, threads=2).value
        'parallel_units'
        >>> plan("gru", np.float64, 32, 256).value
        'per_step'
        >>> plan("lstm", np.float32, 1, 512).value  # W_hh is 4 MiB: a matrix-vector product on every thread
        'per_step'
        >>> plan("lstm", np.float32, 64, 650, threads=2, cpu="avx512").value  # W_hh 6.4 MiB
        'per_step'
        >>> plan("lstm", np.float32, 64, 650, threads=2, cpu="zen").value
        'parallel_rows'
    """
    if cpu is not None and cpu not in BLAS_STEP_MIN_WEIGHT_BYTES:
        raise ValueError(f"plan: unknown cpu {cpu!r}; expected one of {tuple(BLAS_STEP_MIN_WEIGHT_BYTES)} "
                         "(or None: this CPU, blas_step_cpu())")
    threads = num_threads() if threads is None else threads
    return _decide(mode, np.dtype(dtype), batch, hidden, steps == 1, threads, blas_step_cpu() if cpu is None else cpu)


@functools.lru_cache(maxsize=4096)
def _decide(mode: str, dtype: np.dtype, batch: int, hidden: int, one_step: bool, threads: int,
            cpu: str) -> Strategy:
    """``plan``'s rules, for every argument given (remembered: a cell asks on every call)."""
    cell = describe(mode)
    float32 = dtype == np.float32
    weight_bytes = cell.num_gates * hidden * hidden * dtype.itemsize
    if batch == 1 and weight_bytes > GEMV_WEIGHTS_MIN_BYTES:
        return Strategy.PER_STEP
    step_macs = batch * hidden * cell.num_gates * hidden  # the step product's multiply-adds
    big_step = batch >= ONE_STEP_PARALLEL_MIN_BATCH and step_macs >= ONE_STEP_PARALLEL_MIN_MACS
    threaded = float32 and threads > 1 and (big_step or not one_step)
    has_units = threaded and cell.kernels.parallel_forward is not None
    if threaded and cell.kernels.rows_forward is not None:
        blas_step_min = BLAS_STEP_MIN_WEIGHT_BYTES[cpu]
        if batch >= BLAS_STEP_MIN_BATCH and blas_step_min is not None and weight_bytes > blas_step_min:
            return Strategy.PER_STEP
        if batch >= ROW_BLOCK_MIN * threads and (not has_units or hidden <= ROWS_MAX_HIDDEN
                                                 or batch >= BLAS_STEP_MIN_BATCH):
            return Strategy.PARALLEL_ROWS
    if batch * hidden <= (2 if batch <= 4 else 1) * SEQUENCE_KERNEL_MAX:
        return Strategy.PER_STEP if one_step else Strategy.SEQUENCE
    if has_units and hidden >= 2 * UNIT_BLOCK:
        return Strategy.PARALLEL_UNITS
    if (not one_step and float32 and cell.num_gates * hidden <= SEQUENCE_KERNEL_MAX_GATE_WIDTH
            and hidden % SEQUENCE_KERNEL_HIDDEN_MULTIPLE == 0
            and (threads == 1 or batch * cell.num_gates * hidden < SEQUENCE_KERNEL_MAX_STEP_OUTPUTS)):
        return Strategy.SEQUENCE
    return Strategy.PER_STEP
