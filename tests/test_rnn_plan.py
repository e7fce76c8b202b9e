"""rnn_plan.plan: the one place that picks how a fused layer runs, checked against a table."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import lstm as lstm_kernels
from minigrad.nn import fused_rnn, rnn_plan
from minigrad.nn.rnn_plan import Strategy, plan

F32, F64 = np.float32, np.float64
SEQ, STEP, PAR, ROWS = Strategy.SEQUENCE, Strategy.PER_STEP, Strategy.PARALLEL_UNITS, Strategy.PARALLEL_ROWS

# (cell, dtype, batch, hidden, threads) -> strategy, on a CPU of the "avx512" row of
# BLAS_STEP_MIN_WEIGHT_BYTES (the other rows differ only in the step to BLAS: BY_CPU below)
TABLE = [
    # tiny layers: the whole time loop in one kernel, whatever the CPU
    ("lstm", F64, 1, 32, 1, SEQ),
    ("lstm", F32, 1, 128, 2, SEQ),       # batch <= 4: the limit doubles (1 * 128 <= 512)
    ("gru", F32, 1, 200, 2, SEQ),        # W_hh 3 * 200 * 200 * 4 bytes = 469 KiB: still one kernel
    ("lstm", F32, 1, 200, 2, STEP),      # W_hh 625 KiB: one row streams it, BLAS's gemv on all threads
    ("lstm", F32, 1, 650, 2, STEP),      # ... also before PARALLEL_UNITS
    ("rnn_tanh", F64, 1, 300, 1, STEP),  # 703 KiB in float64
    ("lstm", F32, 2, 256, 2, SEQ),       # two rows: the gemv rule is for one (2 * 256 <= 512)
    ("gru", F64, 4, 128, 2, SEQ),        # 4 * 128 = 512
    ("gru", F64, 5, 64, 2, STEP),        # 5 * 64 = 320 > 256 (batches over 4 keep the plain limit)
    ("rnn_tanh", F64, 8, 32, 2, SEQ),    # 8 * 32 = 256
    ("rnn_relu", F64, 8, 33, 2, STEP),   # 264 > 256, float64: the per-step loop
    # float32 LSTM with threads: the batch split by rows, 3 rows or more per thread,
    # up to 320 units (every thread reads all of W_hh each step)
    ("lstm", F32, 6, 50, 2, ROWS),
    ("lstm", F32, 15, 128, 2, ROWS),
    ("lstm", F32, 20, 300, 2, ROWS),
    ("lstm", F32, 32, 256, 2, ROWS),
    ("lstm", F32, 32, 320, 2, ROWS),
    ("lstm", F32, 8, 16, 2, ROWS),       # before the tiny-layer rule (8 * 16 = 128)
    ("lstm", F32, 32, 8, 2, ROWS),
    ("lstm", F32, 64, 31, 2, ROWS),
    ("lstm", F32, 15, 300, 5, ROWS),     # 3 rows for each of 5 threads
    ("lstm", F32, 14, 300, 5, PAR),      # ... one row short: by units
    ("lstm", F32, 5, 16, 2, SEQ),        # 2 rows per thread, a tiny layer: one kernel
    ("lstm", F32, 4, 300, 2, PAR),       # 2 rows per thread: every step split by units
    ("lstm", F32, 4, 100, 2, SEQ),       # ... 4 * 100 <= 512: one kernel
    ("lstm", F32, 5, 100, 2, STEP),      # ... 500 > 256, too narrow for two blocks of units: BLAS's step
    # bigger layers: by blocks of hidden units (each thread reads only its own columns of W_hh)
    ("lstm", F32, 32, 321, 2, PAR),
    ("lstm", F32, 20, 512, 2, PAR),
    ("lstm", F32, 32, 650, 2, PAR),
    ("lstm", F32, 32, 512, 8, PAR),      # 8 threads need 24 rows, but 512 units are too many anyway
    # ... unless the batch has 64 rows: then rows again, or BLAS's step product once W_hh is over 6 MiB
    ("lstm", F32, 64, 512, 2, ROWS),
    ("lstm", F32, 128, 512, 2, ROWS),
    ("lstm", F32, 64, 650, 2, STEP),     # W_hh 6.4 MiB
    ("lstm", F32, 63, 650, 2, PAR),
    ("lstm", F32, 64, 64, 1, SEQ),       # one thread
    ("lstm", F32, 32, 256, 1, STEP),     # one thread; gate width 1024 > 512
    ("lstm", F64, 32, 256, 2, STEP),     # float64 never uses the tiled kernels
    # GRU and RNN: rows too (they have no units kernels), at any hidden size
    ("gru", F32, 16, 128, 2, ROWS),
    ("gru", F32, 8, 512, 2, ROWS),
    ("gru", F32, 64, 650, 2, ROWS),      # W_hh 3 * 650^2 * 4 bytes = 4.8 MiB
    ("gru", F32, 64, 800, 2, STEP),      # 7.3 MiB, 64 rows: BLAS's step product
    ("rnn_tanh", F32, 8, 650, 2, ROWS),
    ("rnn_tanh", F32, 64, 128, 2, ROWS),
    ("rnn_relu", F32, 32, 513, 2, ROWS),
    ("rnn_tanh", F32, 6, 16, 2, ROWS),   # 3 rows per thread: before the tiny-layer rule
    # ... with fewer rows, or one thread, narrow gate widths (multiples of 64 units) run in one kernel
    ("gru", F32, 5, 128, 2, SEQ),        # 3 * 128 = 384 <= 512; step output 5 * 384 < 8192
    ("gru", F32, 32, 128, 1, SEQ),       # one thread
    ("gru", F32, 5, 256, 2, STEP),       # 768 > 512
    ("gru", F32, 5, 100, 2, STEP),       # 300 <= 512, but 100 is not a multiple of 64
    ("rnn_tanh", F32, 4, 512, 2, SEQ),
    ("rnn_tanh", F32, 5, 300, 2, STEP),
]


@pytest.mark.parametrize("cell,dtype,batch,hidden,threads,expected", TABLE)
def test_plan_table(cell, dtype, batch, hidden, threads, expected):
    assert plan(cell, dtype, batch, hidden, threads=threads, cpu="avx512") is expected


# The step to BLAS by CPU: (cpu, cell, batch, hidden) -> strategy, float32, two threads
BY_CPU = [
    ("avx512", "lstm", 64, 512, ROWS),   # W_hh 4 MiB, within 6 MiB
    ("avx512", "lstm", 64, 650, STEP),   # 6.4 MiB
    ("avx2", "lstm", 64, 384, ROWS),     # 2.25 MiB, within 3 MiB
    ("avx2", "lstm", 64, 448, STEP),     # 3.06 MiB
    ("avx2", "lstm", 64, 650, STEP),
    ("avx2", "gru", 64, 512, ROWS),      # 3 MiB exactly: not over
    ("avx2", "gru", 64, 650, STEP),
    ("zen", "lstm", 64, 650, ROWS),      # never on Zen
    ("zen", "gru", 64, 800, ROWS),
    ("zen", "lstm", 63, 650, PAR),       # fewer rows: as on every CPU
    ("zen", "lstm", 1, 650, STEP),       # the gemv rule is not the step to BLAS
]


@pytest.mark.parametrize("cpu,cell,batch,hidden,expected", BY_CPU)
def test_plan_step_to_blas_by_cpu(cpu, cell, batch, hidden, expected):
    assert plan(cell, F32, batch, hidden, threads=2, cpu=cpu) is expected


@pytest.mark.parametrize("name,vector_bytes,row", [
    ("znver5", 64, "zen"), ("znver3", 32, "zen"), ("rocketlake", 64, "avx512"),
    ("sapphirerapids", 64, "avx512"), ("haswell", 32, "avx2"), ("", 32, "avx2"),
])
def test_blas_step_cpu_names_the_row(name, vector_bytes, row):
    assert rnn_plan.blas_step_cpu(name, vector_bytes) == row
    assert row in rnn_plan.BLAS_STEP_MIN_WEIGHT_BYTES


def test_plan_names_the_known_cpus_for_an_unknown_one():
    with pytest.raises(ValueError, match=r"plan: unknown cpu 'avx1024'; expected one of \('avx512', 'avx2', 'zen'\)"):
        plan("lstm", F32, 64, 650, threads=2, cpu="avx1024")


def test_plan_defaults_to_this_cpu():
    assert rnn_plan.blas_step_cpu() in rnn_plan.BLAS_STEP_MIN_WEIGHT_BYTES
    assert plan("lstm", F32, 64, 650, threads=2) is plan("lstm", F32, 64, 650, threads=2, cpu=rnn_plan.blas_step_cpu())


# A sequence of one step (a cell, or a layer fed one step at a time, as a seq2seq decoder does):
# never SEQUENCE, whose loop first copies W_hh transposed. (cell, dtype, batch, hidden, threads)
# -> strategy for one step; the same layers over a long sequence are in TABLE above.
ONE_STEP = [
    ("lstm", F64, 1, 32, 1, STEP),       # TABLE: SEQ
    ("lstm", F32, 1, 128, 2, STEP),      # TABLE: SEQ (rule 3)
    ("gru", F32, 5, 128, 2, STEP),       # TABLE: SEQ (rule 5)
    ("rnn_tanh", F32, 4, 512, 2, STEP),  # TABLE: SEQ (rule 5)
    ("lstm", F32, 1, 650, 2, STEP),
    # the parallel kernels start and join their threads for the one step: only for big steps,
    # from 128 rows and 3 Mi multiply-adds (batch * hidden * gate width)
    ("lstm", F32, 32, 256, 2, STEP),     # TABLE: ROWS
    ("lstm", F32, 20, 512, 2, STEP),     # TABLE: PAR
    ("lstm", F32, 97, 51, 2, STEP),      # pytorch/examples' time_sequence_prediction: TABLE ROWS
    ("lstm", F32, 127, 512, 2, STEP),    # one row short
    ("lstm", F32, 128, 64, 2, STEP),     # 128 * 64 * 256 = 2 Mi multiply-adds
    ("lstm", F32, 128, 128, 2, ROWS),    # 8 Mi
    ("lstm", F32, 256, 64, 2, ROWS),     # 4 Mi
    ("gru", F32, 256, 64, 2, ROWS),      # 256 * 64 * 192 = 3 Mi exactly
    ("gru", F32, 255, 64, 2, STEP),      # just under
    ("rnn_tanh", F32, 128, 256, 2, ROWS),  # 8 Mi
    ("rnn_tanh", F32, 128, 128, 2, STEP),  # 2 Mi
    ("lstm", F32, 128, 512, 1, STEP),    # one thread: as for a sequence
]


@pytest.mark.parametrize("cell,dtype,batch,hidden,threads,expected", ONE_STEP)
def test_plan_for_one_step(cell, dtype, batch, hidden, threads, expected):
    assert plan(cell, dtype, batch, hidden, steps=1, threads=threads, cpu="avx512") is expected
    assert plan(cell, dtype, batch, hidden, steps=2, threads=threads, cpu="avx512") is plan(
        cell, dtype, batch, hidden, threads=threads, cpu="avx512")  # two steps or more: as TABLE


def test_a_cell_step_runs_the_per_step_kernels(monkeypatch):
    """An LSTMCell's step is a sequence of one: the per-step kernels, not the sequence kernel."""
    import minigrad as mg

    calls = []
    for name in ("lstm_sequence_forward", "lstm_step_forward"):
        kernel = getattr(lstm_kernels, name)
        monkeypatch.setattr(lstm_kernels, name, lambda *a, kernel=kernel, name=name: calls.append(name) or kernel(*a))
    cell = mg.nn.LSTMCell(3, 4, dtype=mg.float64)
    h, c = cell(mg.randn(1, 3, dtype=mg.float64))
    assert calls == ["lstm_step_forward"]


def test_layer_follows_the_plan(monkeypatch):
    """The fused layer runs the strategy plan() names, in forward and backward."""
    import minigrad as mg

    calls = []
    for name in ("lstm_sequence_forward", "lstm_sequence_backward", "lstm_step_forward", "lstm_step_backward"):
        kernel = getattr(lstm_kernels, name)
        monkeypatch.setattr(lstm_kernels, name, lambda *a, kernel=kernel, name=name: calls.append(name) or kernel(*a))
    for strategy in (SEQ, STEP):
        calls.clear()
        monkeypatch.setattr(fused_rnn, "plan", lambda *a, strategy=strategy, **k: strategy)
        lstm = mg.nn.LSTM(2, 3)
        out, _ = lstm(mg.randn(4, 2, 2))
        out.sum().backward()
        kind = "sequence" if strategy is SEQ else "step"
        assert calls and all(kind in c for c in calls), (strategy, calls)


# PARALLEL_UNITS's blocks of units (kernels/lstm.py: unit_blocks): the kernels' prange gives each
# thread an equal run of blocks, so the blocks must share the register tiles out evenly by thread.
@pytest.mark.parametrize("tile_cols", [24, 64])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("hidden", [1, 23, 64, 100, 128, 200, 300, 448, 512, 650, 1000])
def test_unit_blocks_are_whole_tiles_shared_evenly_by_thread(hidden, threads, tile_cols):
    bounds = lstm_kernels.unit_blocks(hidden, 64, tile_cols=tile_cols, threads=threads).tolist()
    assert bounds[0] == 0 and bounds[-1] == hidden
    assert all(lo < hi for lo, hi in zip(bounds, bounds[1:]))
    assert all(b % tile_cols == 0 for b in bounds[:-1])  # every block but the last is whole tiles
    tiles = [-(-(hi - lo) // tile_cols) for lo, hi in zip(bounds, bounds[1:])]
    n_blocks = len(tiles)
    if sum(tiles) >= threads:
        assert n_blocks % threads == 0
        per_thread = [sum(tiles[t * n_blocks // threads:(t + 1) * n_blocks // threads]) for t in range(threads)]
        assert max(per_thread) - min(per_thread) <= 1, per_thread
    assert max(hi - lo for lo, hi in zip(bounds, bounds[1:])) <= 2 * 64 + tile_cols  # about 64 units a block


def test_unit_blocks_keep_64_unit_blocks_where_they_already_share_evenly():
    assert lstm_kernels.unit_blocks(512).tolist() == list(range(0, 513, 64))
    assert lstm_kernels.unit_blocks(650).tolist() == [*range(0, 577, 64), 650]  # 10 blocks, not 11
