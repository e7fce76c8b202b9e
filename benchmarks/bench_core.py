"""Core speed: import time, autograd overhead per op, long-chain backward, kernels vs NumPy.

    .venv/bin/python benchmarks/bench_core.py            # full run (< 2 minutes)
    .venv/bin/python benchmarks/bench_core.py --quick    # fewer repetitions

Four measurements (all medians over repetitions, after a warm-up):

a. ``import minigrad`` in a fresh interpreter (the first run is dropped: it may compile .pyc
   files). Also says whether Numba was imported (it must not be: kernels compile lazily).
b. Autograd overhead per op on tiny (4, 4) float32 tensors, where the arithmetic is free and
   only the framework's Python bookkeeping is measured: forward alone and forward + backward,
   next to PyTorch when it is installed.
c. Backward of a chain of 10,000 and 100,000 nodes (``y = y * 1.0001``). The engine is linear
   in the number of nodes, so the ratio time(100k) / time(10k) should stay near 10 (target <= 12).
   Python's cyclic GC is left on (as in training) but collected before each timed backward.
d. Every kernel of minigrad.kernels.{activations, softmax, scatter} against its NumPy reference
   (``<name>_kernel`` or ``<name>`` paired with ``<name>_ref``), at several sizes, float32 and
   float64: this is where the kernels' dispatch thresholds (EXP_KERNEL_MAX_SIZE) come from.

Prints markdown tables and writes benchmarks/results/core.json.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import minigrad as mg  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "core.json"
KERNEL_MODULES = ("activations", "softmax", "scatter")


def median_time(fn: Callable[[], object], repeats: int, number: int = 1, warmup: int = 2) -> float:
    """Median seconds per call of ``fn`` (each sample times ``number`` calls)."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def try_torch() -> Any:
    try:
        import torch

        torch.set_num_threads(1)  # tiny tensors: threads only add overhead; compare like with like
        return torch
    except ImportError:
        return None


# ------------------------------------------------------------------------------ (a) import time


def bench_import(runs: int) -> dict[str, Any]:
    code = (
        "import sys, time; t0 = time.perf_counter(); import minigrad; "
        "print(time.perf_counter() - t0, 'numba' in sys.modules)"
    )
    times, numba_loaded = [], False
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for i in range(runs + 1):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        t, numba = out.stdout.split()
        if i:  # the first run may write .pyc files
            times.append(float(t))
            numba_loaded |= numba == "True"
    return {"median_ms": statistics.median(times) * 1e3, "runs": runs, "numba_imported": numba_loaded}


# ------------------------------------------------------------------------------ (b) per-op overhead


def op_table(L: Any) -> dict[str, Callable]:
    idx = L.tensor([0, 2, 2, 1])
    return {
        "add": lambda a, b: a + b,
        "mul": lambda a, b: a * b,
        "tanh": lambda a, b: a.tanh(),
        "sigmoid": lambda a, b: a.sigmoid(),
        "matmul": lambda a, b: a @ b,
        "sum": lambda a, b: a.sum(),
        "softmax": lambda a, b: a.softmax(-1),
        "index": lambda a, b: a[idx],
    }


def bench_overhead(number: int, repeats: int, torch: Any) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    a_np = rng.standard_normal((4, 4)).astype(np.float32)
    b_np = rng.standard_normal((4, 4)).astype(np.float32)
    libs = [("minigrad", mg)] + ([("torch", torch)] if torch is not None else [])
    rows = []
    for name in op_table(mg):
        row: dict[str, Any] = {"op": name}
        for lib_name, L in libs:
            op = op_table(L)[name]
            a = L.tensor(a_np, requires_grad=True)
            b = L.tensor(b_np, requires_grad=True)
            with L.no_grad():
                g = L.ones_like(op(a, b))

            def forward(op=op, a=a, b=b):
                return op(a, b)

            def forward_backward(op=op, a=a, b=b, g=g):
                op(a, b).backward(g)

            row[f"{lib_name}_fwd_us"] = median_time(forward, repeats, number) * 1e6
            row[f"{lib_name}_fwd_bwd_us"] = median_time(forward_backward, repeats, number) * 1e6
        if torch is not None:
            row["ratio_fwd_bwd"] = row["minigrad_fwd_bwd_us"] / row["torch_fwd_bwd_us"]
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------ (c) long chains


def bench_chain(n: int, repeats: int) -> dict[str, float]:
    builds, backwards, frees = [], [], []
    for _ in range(repeats):
        x = mg.tensor(1.0, dtype=mg.float64, requires_grad=True)
        t0 = time.perf_counter()
        y = x
        for _ in range(n):
            y = y * 1.0001
        t1 = time.perf_counter()
        gc.collect()  # start backward with fresh GC counters: time the engine, not a pending collection
        t1b = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
        del y
        t3 = time.perf_counter()
        assert abs(x.grad.item() - 1.0001**n) <= 1e-6 * 1.0001**n
        builds.append(t1 - t0)
        backwards.append(t2 - t1b)
        frees.append(t3 - t2)
        gc.collect()
    return {
        "nodes": n,
        "build_s": statistics.median(builds),
        "backward_s": statistics.median(backwards),
        "free_s": statistics.median(frees),
        "backward_us_per_node": statistics.median(backwards) / n * 1e6,
    }


# ------------------------------------------------------------------------------ (d) kernels


def _inputs(param_names: list[str], base: str, size: int, dtype: np.dtype, rng: np.random.Generator):
    """Arrays for a kernel's reference, by parameter name; None if a name is unknown."""
    cols = 64
    rows_out = max(size // cols // 4, 1)  # scatter: 4 source rows per output row on average
    shape = (max(size // cols, 1), cols) if "rows" in base else (size,)
    make = {
        "x": lambda: rng.standard_normal(shape).astype(dtype) * 3,
        "y": lambda: rng.uniform(-1, 1, shape).astype(dtype),
        "grad": lambda: rng.standard_normal(shape).astype(dtype),
        # `out` first: the array scatter-add adds into; elsewhere: the array a kernel writes (activations)
        "out": lambda: np.zeros((rows_out, cols), dtype) if param_names[0] == "out" else np.zeros(shape, dtype),
        "slope": lambda: dtype.type(0.01),
        "positive": lambda: rng.standard_normal(shape) > 0,
        "indices": lambda: rng.integers(0, rows_out, max(size // cols, 1)).astype(np.int64),
        "src": lambda: rng.standard_normal((max(size // cols, 1), cols)).astype(dtype),
    }
    if any(p not in make for p in param_names):
        return None
    return [make[p]() for p in param_names]


def kernel_pairs(module: Any) -> list[tuple[str, Callable, Callable]]:
    """(base name, kernel, reference) for every ``<base>_ref`` that has a kernel."""
    pairs = []
    for name in sorted(dir(module)):
        if not name.endswith("_ref"):
            continue
        base = name[:-4]
        fast = getattr(module, f"{base}_kernel", None) or getattr(module, base, None)
        if callable(fast):
            pairs.append((base, fast, getattr(module, name)))
    return pairs


def bench_kernels(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    rows = []
    rng = np.random.default_rng(0)
    for mod_name in KERNEL_MODULES:
        module = importlib.import_module(f"minigrad.kernels.{mod_name}")
        for base, fast, ref in kernel_pairs(module):
            ref_params = list(inspect.signature(ref).parameters)
            fast_params = list(inspect.signature(getattr(fast, "py_func", fast)).parameters)
            n_out = len(fast_params) - len(ref_params)  # trailing output arrays of the kernel
            for dtype in (np.float32, np.float64):
                for size in sizes:
                    args = _inputs(ref_params, base, size, np.dtype(dtype), rng)
                    if args is None or n_out < 0:
                        rows.append({"kernel": f"{mod_name}.{base}", "skipped": "no input recipe"})
                        break
                    ref_args = [a.copy() for a in args]
                    ret = ref(*ref_args)
                    # A reference that returns nothing writes into its `out` argument (scatter-add adds into it).
                    in_place = ret is None
                    written = ref_params.index("out") if in_place else 0
                    want = ref_args[written] if in_place else ret
                    outs = [] if in_place else [np.empty_like(ret) for _ in range(n_out)]
                    fast_args = [a.copy() for a in args]
                    try:
                        got = fast(*fast_args, *outs)
                    except Exception as e:  # a float32-only kernel (softmax's vectorised rows) given float64
                        rows.append({"kernel": f"{mod_name}.{base}", "dtype": np.dtype(dtype).name,
                                     "skipped": f"{type(e).__name__} (this dtype not compiled)"})
                        break
                    result = fast_args[written] if in_place else (outs[0] if outs else got)
                    tol = 1e-4 if dtype == np.float32 else 1e-10
                    agree = bool(np.allclose(result, want, rtol=tol, atol=tol))
                    t_fast = median_time(lambda f=fast, a=fast_args + outs: f(*a), repeats, warmup=3)
                    t_ref = median_time(lambda f=ref, a=args: f(*a), repeats, warmup=2)
                    rows.append({
                        "kernel": f"{mod_name}.{base}", "dtype": np.dtype(dtype).name, "size": size,
                        "kernel_us": t_fast * 1e6, "numpy_ref_us": t_ref * 1e6, "speedup": t_ref / t_fast,
                        "agree": agree,
                    })
    return rows


# ------------------------------------------------------------------------------ report


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args(argv)
    q = args.quick
    torch = try_torch()
    t_start = time.perf_counter()

    mg.kernels.warmup(everything=True)  # compile (or load the cached) kernels before timing any

    results: dict[str, Any] = {
        "meta": {
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": importlib.import_module("numba").__version__,
            "torch": getattr(torch, "__version__", None), "cpus": os.cpu_count(),
            "machine": platform.machine(), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "quick": q,
        }
    }

    results["import"] = bench_import(3 if q else 7)
    imp = results["import"]
    print(f"## (a) import minigrad\n\nmedian {imp['median_ms']:.1f} ms over {imp['runs']} fresh "
          f"interpreters; numba imported: {imp['numba_imported']}\n")

    results["overhead"] = bench_overhead(200 if q else 1000, 3 if q else 5, torch)
    cols = ["op", "minigrad_fwd_us", "minigrad_fwd_bwd_us"]
    if torch is not None:
        cols += ["torch_fwd_us", "torch_fwd_bwd_us", "ratio_fwd_bwd"]
    print("## (b) autograd overhead per op, (4, 4) float32, microseconds\n")
    print(table(results["overhead"], cols) + "\n")

    chains = [bench_chain(10_000, 3), bench_chain(100_000, 1 if q else 3)]
    ratio = chains[1]["backward_s"] / chains[0]["backward_s"]
    results["chain"] = {"runs": chains, "ratio_100k_10k": ratio, "target_ratio": 12.0}
    print("## (c) chain y = y * 1.0001: build, backward, free (seconds)\n")
    print(table(chains, ["nodes", "build_s", "backward_s", "free_s", "backward_us_per_node"]))
    print(f"\nbackward time(100k) / time(10k) = {ratio:.2f} (target <= 12)\n")

    sizes = [256, 4096, 65536] if not q else [4096, 65536]
    results["kernels"] = bench_kernels(sizes, 5 if q else 15)
    print("## (d) kernels vs their NumPy references (microseconds per call)\n")
    print(table(results["kernels"], ["kernel", "dtype", "size", "kernel_us", "numpy_ref_us", "speedup",
                                     "agree", "skipped"]))

    results["meta"]["total_s"] = time.perf_counter() - t_start
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)} in {results['meta']['total_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
