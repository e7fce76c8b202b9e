"""Optimizer step speed: fused Numba kernels vs NumPy expressions vs torch.optim.

    .venv/bin/python benchmarks/bench_optim.py              # full run
    .venv/bin/python benchmarks/bench_optim.py --quick      # fewer repetitions

Cases (medians of many repetitions, after a warm-up; the parameters keep their values between
repetitions, exactly as in training):

1. Adam on one float32 parameter of 1M elements:
   - ``kernel``: the fused kernel alone (minigrad.kernels.optim.adam_step)
   - ``mg.optim.Adam.step()``: the same plus the optimizer's Python bookkeeping
   - ``numpy``: the same update as NumPy expressions (adam_step_ref, the kernel's reference)
   - ``torch.optim.Adam`` default (single-tensor on CPU), ``foreach=True`` and ``fused=True``
2. SGD with momentum (nesterov) on the same parameter.
3. Adam over many small parameters (100 x 1000 elements): per-parameter call overhead.

The kernels are single-threaded; torch uses its intra-op thread pool (the thread count is shown;
``--torch-threads 1`` compares like with like, and is steadier on a busy machine).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import minigrad as mg  # noqa: E402
from minigrad.kernels import optim as K  # noqa: E402


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _mg_setup(opt_cls, shapes, **kw):
    rng = np.random.default_rng(0)
    params = [mg.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
    for p in params:
        p.grad = mg.tensor(rng.standard_normal(p.shape).astype(np.float32))
    return opt_cls(params, **kw)


def _torch_setup(torch, opt_cls, shapes, **kw):
    rng = np.random.default_rng(0)
    params = [torch.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
    for p in params:
        p.grad = torch.tensor(rng.standard_normal(p.shape).astype(np.float32))
    return opt_cls(params, **kw)


def bench_adam_1m(repeats: int, torch) -> list[tuple[str, float]]:
    n = 1_000_000
    rng = np.random.default_rng(0)
    p = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    m, v = np.zeros(n, np.float32), np.zeros(n, np.float32)
    vmax = np.empty(0, np.float32)
    s = K.adam_scalars(np.float32, 1e-3, 0.9, 0.999, 1e-8, 0.0, 10)
    rows = [
        ("kernel adam_step (fused, 1 thread)", median_ms(lambda: K.adam_step(p, g, m, v, vmax, *s, False, False, False),
                                                         repeats)),
        ("mg.optim.Adam.step()", median_ms(_mg_setup(mg.optim.Adam, [(n,)], lr=1e-3).step, repeats)),
        ("NumPy expressions (adam_step_ref)",
         median_ms(lambda: K.adam_step_ref(p, g, m, v, None, *s, False, False, False), max(5, repeats // 4))),
    ]
    if torch is not None:
        for label, kw in (("default (single-tensor)", {}), ("foreach=True", {"foreach": True}),
                          ("fused=True", {"fused": True})):
            try:
                opt = _torch_setup(torch, torch.optim.Adam, [(n,)], lr=1e-3, **kw)
                rows.append((f"torch.optim.Adam {label}", median_ms(opt.step, repeats)))
            except (RuntimeError, ValueError) as e:  # e.g. fused not available on this build
                rows.append((f"torch.optim.Adam {label}: unavailable ({e})", float("nan")))
    return rows


def bench_sgd_1m(repeats: int, torch) -> list[tuple[str, float]]:
    n = 1_000_000
    rng = np.random.default_rng(1)
    p = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    buf = np.zeros(n, np.float32)
    t = np.float32
    rows = [
        ("kernel sgd_step (fused, 1 thread)",
         median_ms(lambda: K.sgd_step(p, g, buf, t(0.1), t(0.9), t(1), t(0), True, False, False), repeats)),
        ("mg.optim.SGD.step()",
         median_ms(_mg_setup(mg.optim.SGD, [(n,)], lr=0.1, momentum=0.9, nesterov=True).step, repeats)),
        ("NumPy expressions (sgd_step_ref)",
         median_ms(lambda: K.sgd_step_ref(p, g, buf, 0.1, 0.9, 1.0, 0.0, True, False, False), max(5, repeats // 4))),
    ]
    if torch is not None:
        for label, kw in (("default", {}), ("foreach=True", {"foreach": True})):
            opt = _torch_setup(torch, torch.optim.SGD, [(n,)], lr=0.1, momentum=0.9, nesterov=True, **kw)
            rows.append((f"torch.optim.SGD {label}", median_ms(opt.step, repeats)))
    return rows


def bench_many_small(repeats: int, torch) -> list[tuple[str, float]]:
    shapes = [(1000,)] * 100
    rows = [("mg.optim.Adam.step() 100 x 1000", median_ms(_mg_setup(mg.optim.Adam, shapes, lr=1e-3).step, repeats))]
    if torch is not None:
        for label, kw in (("default", {}), ("foreach=True", {"foreach": True})):
            opt = _torch_setup(torch, torch.optim.Adam, shapes, lr=1e-3, **kw)
            rows.append((f"torch.optim.Adam {label} 100 x 1000", median_ms(opt.step, repeats)))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch.set_num_threads(N) first (0: torch's default); 1 compares like with like")
    args = parser.parse_args(argv)
    repeats = 15 if args.quick else 60
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    K._warmup_adam(np.dtype(np.float32))  # compile (or load from cache) before timing
    K._warmup_sgd(np.dtype(np.float32))

    print(f"# bench_optim: {platform.processor() or platform.machine()}, numpy {np.__version__}"
          + (f", torch {torch.__version__} ({torch.get_num_threads()} threads)" if torch else ", torch: not installed"))
    for title, fn in (("Adam, 1M float32 parameters", bench_adam_1m),
                      ("SGD momentum+nesterov, 1M float32 parameters", bench_sgd_1m),
                      ("Adam, 100 parameters of 1000 float32", bench_many_small)):
        rows = fn(repeats, torch)
        base = rows[0][1]
        print(f"\n## {title} (median ms; ratio = time / first row)")
        for label, ms in rows:
            print(f"  {label:48s} {ms:9.3f} ms   x{ms / base:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
