"""Where the warmup's time goes: each kernel's compile seconds, and LLVM's share by kind of library.

``python -m minigrad warmup`` compiles every kernel a layer may call (issue 17: at most 20 s on a
2-core machine). This script compiles the same jobs one after the other, in one process, from an
empty temporary Numba cache, and reports:

- per kernel, the seconds its first compile took (a helper shared by several kernels is compiled
  with the first of them, so the order is the warmup's own);
- with ``--llvm``, the seconds LLVM spent optimising (``opt``) and generating machine code
  (``codegen``), summed by kind of library: the kernels themselves, the helpers they call (Numba
  compiles each helper on its own, then again inside every kernel that links it), and the bodies of
  ``prange`` loops with their gufunc wrappers (compiled on their own, then again inside the kernel).
  What is left of the total is Numba's own Python: typing, lowering, the parfor passes, the cache.

    .venv/bin/python benchmarks/compile_times.py             # the default warmup's jobs, float32
    .venv/bin/python benchmarks/compile_times.py --llvm --all
    .venv/bin/python benchmarks/compile_times.py --only lstm_sequence_forward_rows matmul_blocks

CPU seconds of this process (``time.process_time``): steadier than wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def llvm_timers() -> dict[tuple[str, str], float]:
    """Wrap Numba's code-library steps so that each adds its CPU seconds to the returned dict.

    Keys are ``(step, kind)``: step ``opt`` (function and module passes) or ``codegen`` (machine
    code); kind ``kernel``, ``helper`` or ``prange body/wrapper``. Numba's internals, for this
    measuring process only.
    """
    from numba.core import codegen

    from minigrad.kernels import all_kernels

    kernel_names = {k.py_func.__name__ for k in all_kernels()}
    kernel_names |= {name + "_parallel" for name in kernel_names}
    seconds: dict[tuple[str, str], float] = collections.defaultdict(float)

    def kind(library) -> str:
        name = str(library.name)
        if "parfor" in name or "gufunc" in name.lower():
            return "prange body/wrapper"
        return "kernel" if name.rsplit(".", 1)[-1] in kernel_names else "helper"

    def timed(method, step: str):
        def run(library, *args, **kwargs):
            start = time.process_time()
            try:
                return method(library, *args, **kwargs)
            finally:
                seconds[(step, kind(library))] += time.process_time() - start
        return run

    cpu_library = codegen.CPUCodeLibrary
    cpu_library._optimize_functions = timed(cpu_library._optimize_functions, "opt")
    cpu_library._optimize_final_module = timed(cpu_library._optimize_final_module, "opt")
    codegen.JITCodeLibrary._finalize_specific = timed(codegen.JITCodeLibrary._finalize_specific, "codegen")
    return seconds


def measure(only: list[str], everything: bool, llvm: bool) -> None:
    """Compile the warmup's float32 jobs here (this process must have an empty cache) and print the report."""
    import numpy as np

    seconds = llvm_timers() if llvm else {}
    import minigrad.kernels as K
    from minigrad.kernels._background import forced_mode

    rows, start = [], time.process_time()
    with forced_mode("wait"):
        for k, dtype in K.warmup_jobs(("float32",), everything=everything):
            if only and k.py_func.__name__ not in only:
                continue
            warm = k.warmup_fn or K.EXTRA_WARMUPS[k.name]
            t0 = time.process_time()
            warm(np.dtype(dtype))
            rows.append((time.process_time() - t0, k.name, k.parallel))
    total = time.process_time() - start
    print("| kernel | parallel | CPU s |\n|---|---|---:|")
    for spent, name, parallel in sorted(rows, reverse=True):
        print(f"| `{name.removeprefix('minigrad.kernels.')}` | {'yes' if parallel else ''} | {spent:.2f} |")
    print(f"\n{len(rows)} kernels, {total:.1f} CPU s in all")
    if llvm:
        print("\n| LLVM step | kernels | helpers | prange bodies and wrappers |\n|---|---:|---:|---:|")
        for step in ("opt", "codegen"):
            cells = " | ".join(f"{seconds[(step, kind)]:.2f}" for kind in ("kernel", "helper", "prange body/wrapper"))
            print(f"| {step} | {cells} |")
        print(f"\nLLVM {sum(seconds.values()):.1f} s of {total:.1f}; the rest is Numba's Python")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", default=[], help="kernel names (e.g. matmul_blocks)")
    ap.add_argument("--all", action="store_true", help="also the kernels the default warmup leaves out")
    ap.add_argument("--llvm", action="store_true", help="LLVM's seconds by kind of library")
    ap.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # the measuring child process
    args = ap.parse_args()
    if args.here:
        measure(args.only, args.all, args.llvm)
        return
    print(f"Command: `python benchmarks/compile_times.py {' '.join(sys.argv[1:])}`".rstrip() + "  ")
    with tempfile.TemporaryDirectory(prefix="minigrad-compile-times-") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, __file__, "--here", *sys.argv[1:]], env=env, check=True)


if __name__ == "__main__":
    main()
