"""Cold start: how long a new user waits for Numba (issue 17, "no wait for the compiler").

Measures, each in a fresh process with an empty temporary ``NUMBA_CACHE_DIR`` (medians of
``--repeats``, the modes interleaved so that both see the same load on a shared machine):

- cold start to the first finished lstm_small train step (benchmarks/run.py's workload) with
  ``MINIGRAD_COMPILE=background`` (the default) and ``wait`` (compiling in the process);
- in background mode, when the helper process has compiled everything the step needs;
- warm start: the same with the cache filled (nothing compiles);
- ``python -m minigrad warmup`` (its defaults: float32, two processes) from an empty cache, wall
  and CPU seconds (CPU time does not grow when other processes share the cores).

Run: ``PYTHONPATH=$PWD python benchmarks/coldstart.py [--repeats 3] [--torch]``
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_FIRST_STEP = """
import time; t0 = time.perf_counter()
import sys; sys.path.insert(0, {bench!r})
from run import WORKLOADS, minigrad_step
w = [w for w in WORKLOADS if w.name == "lstm_small"][0]
step, _ = minigrad_step(w, "fused")
step()
first = time.perf_counter() - t0
from minigrad.kernels._background import HELPER
code = HELPER.join()  # not part of the first step: how long until the helper has compiled all of it
print(first, time.perf_counter() - t0, code)
"""

_TORCH_FIRST_STEP = """
import time; t0 = time.perf_counter()
import sys; sys.path.insert(0, {bench!r})
from run import WORKLOADS, torch_step, torch_weights
w = [w for w in WORKLOADS if w.name == "lstm_small"][0]
step = torch_step(w, torch_weights(w))
step()
print(time.perf_counter() - t0)
"""


def _python(code: str, env: dict[str, str]) -> str:
    environ = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environ,
                            timeout=900, check=True)
    return result.stdout


def first_step(mode: str, cache_dir: str) -> tuple[float, float]:
    """(seconds to the first finished step, seconds until the background helper was done)."""
    out = _python(_FIRST_STEP.format(bench=str(ROOT / "benchmarks")),
                  {"NUMBA_CACHE_DIR": cache_dir, "MINIGRAD_COMPILE": mode})
    first, done, _ = out.split()
    return float(first), float(done)


def warmup(cache_dir: str, *extra: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all its processes) of ``python -m minigrad warmup``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "minigrad", "warmup", *extra], check=True, timeout=900,
                   stdout=subprocess.DEVNULL,
                   env=dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=cache_dir))
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--torch", action="store_true", help="also time PyTorch's first step")
    args = parser.parse_args()
    results: dict[str, list] = {}

    def add(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)
        print(f"  {name}: {value:.2f}", flush=True)

    print(f"load average before: {os.getloadavg()}", flush=True)
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            first, done = first_step("background", cache)
            add("cold start, background: first step (s)", first)
            add("cold start, background: helper done (s)", done)
            add("warm start: first step (s)", first_step("background", cache)[0])
        with tempfile.TemporaryDirectory() as cache:
            add("cold start, wait: first step (s)", first_step("wait", cache)[0])
        with tempfile.TemporaryDirectory() as cache:
            wall, cpu = warmup(cache)
            add("warmup (float32, 2 processes): wall (s)", wall)
            add("warmup (float32, 2 processes): CPU (s)", cpu)
        if args.torch:
            add("PyTorch: first step (s)", float(_python(_TORCH_FIRST_STEP.format(bench=str(ROOT / "benchmarks")), {})))
    print(f"load average after: {os.getloadavg()}")
    print(f"\n| measurement (median of {args.repeats}) | seconds | all runs |\n|---|---|---|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} |")


if __name__ == "__main__":
    main()
