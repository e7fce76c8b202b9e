"""Paired timing: minigrad and PyTorch take turns, and each round of turns gives one ratio.

On a host that is fast one minute and slow the next (a shared VM), two frameworks timed minutes
apart can differ by more than they really do. Here a minigrad process and a PyTorch process each
build the model once (``benchmarks/models.py``'s models), then take turns at short bursts of train
steps, the order alternating from round to round. A round's ratio compares two bursts run next to
each other in time; the report gives the median of the rounds' ratios and their range.

    .venv/bin/python benchmarks/paired.py names_generation d2l_scratch
    .venv/bin/python benchmarks/paired.py d2l_scratch --cpu avx2 --rounds 12 --burst 0.5

The idle process waits on a pipe (no spinning thread of its own), and both run with
``benchmarks/run.py: worker_env`` (kernels compile before timing, the CPU profile's settings).

``--baseline DIR`` pairs this checkout's minigrad with the minigrad of another checkout (a ``git
worktree`` of an older commit, say) instead of PyTorch: the ratio is this / baseline, the way a
change is timed on a noisy host. ``--mean`` takes each burst's mean step instead of its median, so
that a rare pause (a full collection of Python's cycle collector) counts as often as it happens.

    git worktree add /tmp/base HEAD~1
    .venv/bin/python benchmarks/paired.py d2l_lstm_scratch --baseline /tmp/base --mean --rounds 20 --burst 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # benchmarks/ and the checkout (minigrad)
from cpu_profile import add_cpu_arguments  # noqa: E402
from models import MODELS  # noqa: E402
from run import worker_env  # noqa: E402


def worker(framework: str, name: str, mean: bool = False) -> None:
    """Build the model, two untimed steps; then for each burst length read from stdin, time steps for
    that long (at least 3) and print their median (or ``mean``) in seconds. ``framework``: "torch",
    "minigrad", or the directory of another checkout whose minigrad to run."""
    if framework == "torch":
        import torch as lib
    else:
        if framework != "minigrad":
            sys.path.insert(0, framework)  # (before the first import of minigrad in this process)
        import minigrad as lib
    step = MODELS[name](lib)
    step()
    step()
    for line in sys.stdin:
        burst = float(line)
        times: list[float] = []
        end = time.perf_counter() + burst
        while len(times) < 3 or time.perf_counter() < end:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        print(json.dumps(statistics.mean(times) if mean else statistics.median(times)), flush=True)


def paired(name: str, rounds: int, burst: float, cpu: str = "native", blas_defaults: bool = False,
           baseline: str | None = None, mean: bool = False) -> dict:
    """``rounds`` rounds of one burst per framework; per framework the median of its bursts' medians,
    and the median and range of the per-round ratios minigrad / PyTorch (minigrad / ``baseline``'s
    minigrad when given; its times are then reported as ``torch_ms``)."""
    sides = ("minigrad", baseline or "torch")
    procs = {}
    for fw in sides:
        env = worker_env("torch" if fw == "torch" else "fused", cpu, blas_defaults)
        command = [sys.executable, __file__, "--worker", fw, name] + (["--mean"] if mean else [])
        procs[fw] = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=HERE.parent, env=env)
    times: dict[str, list[float]] = {fw: [] for fw in sides}
    try:
        for r in range(rounds):
            for fw in sides if r % 2 == 0 else sides[::-1]:
                p = procs[fw]
                p.stdin.write(f"{burst}\n")
                p.stdin.flush()
                line = p.stdout.readline()
                if not line:
                    raise RuntimeError(f"{fw} on {name} stopped (run it alone: paired.py --worker {fw} {name})")
                times[fw].append(json.loads(line))
    finally:
        for p in procs.values():
            p.stdin.close()
            p.wait()
    ratios = [m / t for m, t in zip(times["minigrad"], times[sides[1]])]
    return {"model": name, "minigrad_ms": statistics.median(times["minigrad"]) * 1e3,
            "torch_ms": statistics.median(times[sides[1]]) * 1e3, "ratio": statistics.median(ratios),
            "ratio_min": min(ratios), "ratio_max": max(ratios), "rounds": rounds}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", choices=list(MODELS))
    p.add_argument("--rounds", type=int, default=10, help="rounds of one burst per framework (default 10)")
    p.add_argument("--burst", type=float, default=0.3, help="seconds of steps per burst (default 0.3)")
    p.add_argument("--baseline", metavar="DIR", help="another checkout's minigrad instead of PyTorch")
    p.add_argument("--mean", action="store_true", help="each burst's mean step, not its median")
    add_cpu_arguments(p)
    args = p.parse_args(argv)
    other = "baseline" if args.baseline else "PyTorch"
    print(f"| model | minigrad ms | {other} ms | ratio (median of rounds) | rounds' range |")
    print("|---|---|---|---|---|")
    for name in args.models:
        row = paired(name, args.rounds, args.burst, args.cpu, args.blas_defaults, args.baseline, args.mean)
        print(f"| {name} | {row['minigrad_ms']:.3f} | {row['torch_ms']:.3f} | **{row['ratio']:.2f}** | "
              f"{row['ratio_min']:.2f}-{row['ratio_max']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:  # (a timing process: paired() starts two)
        worker(sys.argv[2], sys.argv[3], mean="--mean" in sys.argv[4:])
        sys.exit(0)
    sys.exit(main())
