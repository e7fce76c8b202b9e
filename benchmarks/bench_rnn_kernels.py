"""Fused recurrent layers vs PyTorch (and vs minigrad's reference path), forward + backward of one layer.

Run: ``.venv/bin/python benchmarks/bench_rnn_kernels.py [--repeats N] [--threads N]
[--sections workloads,threshold,memory] [--no-reference]``

``--threads 1`` compares single-threaded work; it is far less sensitive to other processes on a
shared machine than the default (multi-threaded BLAS and OpenMP spin-waits suffer under load).

- ``workloads``: the project's target sizes, float32, one layer, ``out.sum().backward()`` with ``x``
  requiring grad; each library in its own fresh process (medians, and the 20th percentile, which
  on a shared machine is closer to what a quiet one shows). Also the reference path (primitive
  ops per step) for the "fused >= 5x faster than reference" target.
- ``threshold``: the step-loop path vs the whole-sequence kernel over ``batch * hidden``; this is
  how ``SEQUENCE_KERNEL_MAX`` in ``minigrad/nn/fused_rnn.py`` was chosen.
- ``memory``: peak extra memory of one forward + backward on lstm_medium, for both libraries the
  growth of the RSS high-water mark in a fresh subprocess (tracemalloc cannot see torch's allocator).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# --threads N must take effect before NumPy loads OpenBLAS: read it before importing numpy.
if "--threads" in sys.argv:
    _n = sys.argv[sys.argv.index("--threads") + 1]
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _n

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import minigrad as mg  # noqa: E402
from minigrad.nn import fused_rnn, rnn_plan  # noqa: E402
from minigrad.nn.fused_rnn import fused_rnn_layer  # noqa: E402

WORKLOADS = {  # name: (mode, B, T, I, H)
    "lstm_tiny": ("lstm", 8, 20, 16, 32),
    "lstm_small": ("lstm", 32, 35, 64, 128),
    "lstm_medium": ("lstm", 32, 35, 256, 512),
    "gru_small": ("gru", 32, 35, 64, 128),
    "rnn_small": ("rnn_tanh", 32, 35, 64, 128),
    "lstm_long": ("lstm", 1, 1000, 8, 32),
}


def make_minigrad(mode: str, B: int, T: int, I: int, H: int, dtype=np.float32, seed: int = 0):
    rng = np.random.default_rng(seed)
    G = fused_rnn.describe(mode).num_gates * H
    k = 1 / np.sqrt(H)

    def p(*shape):
        return mg.Tensor(rng.uniform(-k, k, shape).astype(dtype), requires_grad=True)

    x = mg.Tensor(rng.standard_normal((T, B, I)).astype(dtype), requires_grad=True)
    h0 = mg.Tensor(np.zeros((B, H), dtype))
    c0 = mg.Tensor(np.zeros((B, H), dtype)) if mode == "lstm" else None
    return x, h0, c0, p(G, I), p(G, H), p(G), p(G)


def minigrad_step(args, mode: str, impl: str = "fused"):
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = args
    for t in (x, w_ih, w_hh, b_ih, b_hh):
        t.grad = None
    if impl == "fused":
        out, _, _ = fused_rnn_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    else:
        from minigrad.nn.recurrent import reference_rnn_layer

        out, _, _ = reference_rnn_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    out.sum().backward()


def make_torch(mode: str, B: int, T: int, I: int, H: int):
    import torch

    torch.manual_seed(0)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(mode)
    m = cls(I, H) if cls else torch.nn.RNN(I, H, nonlinearity=mode[4:])
    x = torch.randn(T, B, I, requires_grad=True)
    return m, x


def torch_step(m, x):
    m.zero_grad(set_to_none=True)
    x.grad = None
    out, _ = m(x)
    out.sum().backward()


def time_ms(fn, repeats: int) -> tuple[float, float]:
    """(median, 20th percentile) ms of ``fn`` after two warm-up calls (compile, allocate)."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3), float(np.percentile(times, 20) * 1e3)


def _child(spec: str, repeats: int) -> None:
    """``--child lib:workload``: time one library on one workload in this (fresh) process."""
    lib, name = spec.split(":")
    mode, B, T, I, H = WORKLOADS[name]
    if lib == "torch":
        import torch

        if os.environ.get("OPENBLAS_NUM_THREADS"):
            torch.set_num_threads(int(os.environ["OPENBLAS_NUM_THREADS"]))
        m, x = make_torch(mode, B, T, I, H)
        fn = lambda: torch_step(m, x)  # noqa: E731
    else:
        args = make_minigrad(mode, B, T, I, H)
        fn = lambda: minigrad_step(args, mode, "fused" if lib == "minigrad" else "reference")  # noqa: E731
    print(json.dumps(time_ms(fn, repeats)))


def _run_child(spec: str, repeats: int) -> tuple[float, float]:
    r = subprocess.run([sys.executable, __file__, "--child", spec, "--repeats", str(repeats)],
                       capture_output=True, text=True, env=os.environ.copy())
    if r.returncode:
        raise RuntimeError(f"benchmark child {spec} failed:\n{r.stderr[-2000:]}")
    return tuple(json.loads(r.stdout.strip().splitlines()[-1]))


def bench_workloads(repeats: int, with_reference: bool) -> None:
    """Each library on each workload in its own process, one after the other.

    Not interleaved in one process: torch's OpenMP threads (and OpenBLAS's) keep spinning for a
    while after each call and would slow down whichever library runs next on 2 cores.
    """
    import torch

    print(f"torch {torch.__version__}; numpy {np.__version__}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'default')}")
    print(f"{'workload':13s} {'minigrad ms':>12s} {'torch ms':>9s} {'ratio':>6s} {'(p20 ratio)':>11s} "
          f"{'reference ms':>13s} {'fused speed-up':>14s}")
    for name, (_, _, T, _, H) in WORKLOADS.items():
        n = max(20, repeats // 4) if T >= 1000 or H >= 512 else repeats
        mg_ms, mg_p20 = _run_child(f"minigrad:{name}", n)
        t_ms, t_p20 = _run_child(f"torch:{name}", n)
        ref = ""
        if with_reference:
            ref_ms, _ = _run_child(f"reference:{name}", 3 if T >= 1000 else max(3, n // 10))
            ref = f"{ref_ms:13.2f} {ref_ms / mg_ms:13.1f}x"
        print(f"{name:13s} {mg_ms:12.3f} {t_ms:9.3f} {mg_ms / t_ms:6.2f} {mg_p20 / t_p20:11.2f} {ref}", flush=True)


def bench_threshold(repeats: int) -> None:
    """Step loop vs whole-sequence kernel: fwd+bwd ms for growing batch * hidden (T=35, I=16)."""
    print("batch*hidden  mode   dtype    step-loop ms  sequence ms")
    saved = rnn_plan.SEQUENCE_KERNEL_MAX
    try:
        for mode in ("lstm", "gru", "rnn_tanh"):
            for dtype in (np.float32, np.float64):
                for B, H in [(1, 32), (4, 32), (8, 32), (4, 128), (16, 32), (8, 64), (32, 32), (16, 64),
                             (8, 128), (32, 64), (32, 128)]:
                    args = make_minigrad(mode, B, 35, 16, H, dtype)
                    res = {}
                    for label, thr in (("loop", 0), ("seq", 10**9)):
                        rnn_plan.SEQUENCE_KERNEL_MAX = thr
                        res[label] = time_ms(lambda a=args, md=mode: minigrad_step(a, md), repeats)[0]
                    print(f"{B:3d}x{H:<4d}={B * H:5d} {mode:8s} {np.dtype(dtype).name:8s} {res['loop']:10.3f} "
                          f"{res['seq']:12.3f}")
    finally:
        rnn_plan.SEQUENCE_KERNEL_MAX = saved


_MEMORY_CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[2])
from bench_rnn_kernels import WORKLOADS, make_minigrad, minigrad_step, make_torch, torch_step
which, (mode, B, T, I, H) = sys.argv[1], WORKLOADS["lstm_medium"]
if which == "torch":
    torch_step(*make_torch(mode, 2, 3, 4, 5))  # initialise oneDNN on a tiny layer
    m, x = make_torch(mode, B, T, I, H)
    step = lambda: torch_step(m, x)
else:
    minigrad_step(make_minigrad(mode, 2, 3, 4, 5), mode)  # load the kernels (Numba cache) on tiny layers
    minigrad_step(make_minigrad(mode, 2, 3, 4, 300), mode)
    args = make_minigrad(mode, B, T, I, H)
    step = lambda: minigrad_step(args, mode)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def bench_memory() -> None:
    """Peak memory of one lstm_medium fwd+bwd: growth of the RSS high-water mark in a fresh process.

    Parameters and inputs exist before the measurement in both libraries; what is measured is
    everything the step itself needs at its peak (saved activations, gradients, workspaces).
    """
    here = str(Path(__file__).resolve().parent)
    for which in ("minigrad", "torch"):
        r = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, which, here], capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(Path(here).parent)})
        val = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-300:]
        print(f"lstm_medium {which:8s} peak RSS growth during one fwd+bwd: {val} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--sections", default="workloads,threshold,memory")
    ap.add_argument("--no-reference", action="store_true", help="skip the (slow) reference-path timings")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=None,
                    help="BLAS/torch threads for both libraries (default: each library's default)")
    a = ap.parse_args()
    if a.child:
        _child(a.child, a.repeats)
        return
    sections = a.sections.split(",")
    if "workloads" in sections:
        bench_workloads(a.repeats, not a.no_reference)
    if "threshold" in sections:
        bench_threshold(max(10, a.repeats // 4))
    if "memory" in sections:
        bench_memory()


if __name__ == "__main__":
    main()
