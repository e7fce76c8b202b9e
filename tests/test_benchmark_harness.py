"""The benchmark harness's rules that its numbers depend on (``benchmarks/run.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def run_module():
    """``benchmarks/run.py``, imported as the benchmarks import it; ``sys.path`` and the benchmark
    modules are put back afterwards (``run`` adds its folder to the path)."""
    path, modules = list(sys.path), set(sys.modules)
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import run

        yield run
    finally:
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            if getattr(sys.modules[name], "__file__", None) and Path(sys.modules[name].__file__).parent == BENCHMARKS:
                del sys.modules[name]


@pytest.mark.parametrize("impl", ["fused", "reference", "torch"])
@pytest.mark.parametrize("cpu", ["native", "avx2"])
def test_timing_processes_compile_before_they_time(run_module, impl, cpu):
    """A kernel missing from the cache compiles during the warm-up steps (``wait``), never in the
    background while steps are timed: those steps would time the NumPy references."""
    env = run_module.worker_env(impl, cpu)
    assert env["MINIGRAD_COMPILE"] == "wait"
    assert env["MINIGRAD_MALLOC_TUNING"] == "0"  # users' allocator: minigrad's malloc tuning is opt-in
