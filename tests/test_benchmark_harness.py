"""The benchmark harness's rules that its numbers depend on (``benchmarks/run.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def run_module():
    """``benchmarks/run.py``, loaded from its file under a name of its own (another ``run`` may
    be imported already); ``sys.path`` and the modules it imported are put back afterwards."""
    path, modules = list(sys.path), set(sys.modules)
    spec = importlib.util.spec_from_file_location("_minigrad_benchmarks_run", BENCHMARKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up there)
    try:
        spec.loader.exec_module(module)  # run.py puts its folder on sys.path for cpu_profile
        yield module
    finally:
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            if Path(getattr(sys.modules[name], "__file__", None) or "/").parent == BENCHMARKS:
                del sys.modules[name]


@pytest.mark.parametrize("impl", ["fused", "reference", "torch"])
@pytest.mark.parametrize("cpu", ["native", "avx2"])
def test_timing_processes_compile_before_they_time(run_module, impl, cpu):
    """A kernel missing from the cache compiles during the warm-up steps (``wait``), never in the
    background while steps are timed: those steps would time the NumPy references."""
    env = run_module.worker_env(impl, cpu)
    assert env["MINIGRAD_COMPILE"] == "wait"
    assert env["MINIGRAD_MALLOC_TUNING"] == "0"  # users' allocator: minigrad's malloc tuning is opt-in
