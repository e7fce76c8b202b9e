"""Differential fuzzing against live PyTorch: 2,000 random programs (tests/fuzz/), a few seconds.

Each program (random op, shapes from 0 to 4 dims with zero sizes, int64/float32/float64,
broadcasting, indexing, reductions, losses, shape ops) runs on minigrad and on PyTorch; values,
dtypes, shapes and float64 gradients must agree, errors must agree in kind, and minigrad's errors
must come from minigrad, not from inside NumPy or Numba. A failure prints a repro script.
Longer runs: ``python tests/fuzz/run.py --cases 100000 --seed 0``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
from programs import make_program  # noqa: E402
from runner import FAILURES, check  # noqa: E402

CHUNKS, PER_CHUNK = 20, 100  # 2,000 programs, reported in chunks so that one failure names its neighbourhood
SEED = 2026


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_fuzz_against_torch(torch, chunk):
    failures = []
    for index in range(chunk * PER_CHUNK, (chunk + 1) * PER_CHUNK):
        program = make_program(SEED, index)
        outcome = check(torch, program)
        if outcome.kind in FAILURES:
            failures.append(f"--- seed {SEED} index {index} [{program.family}] {outcome.kind}\n"
                            f"{outcome.detail}\n{program.repro()}")
    assert not failures, f"{len(failures)} of {PER_CHUNK} programs disagree with PyTorch:\n" + "\n\n".join(
        failures[:3])


def test_programs_are_reproducible():
    a, b = make_program(7, 123), make_program(7, 123)
    assert a.expr == b.expr and len(a.inputs) == len(b.inputs)
    assert all((x == y).all() for x, y in zip(a.inputs, b.inputs))
    assert "for L in (torch, mg):" in a.repro()
