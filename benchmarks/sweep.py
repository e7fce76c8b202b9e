"""Every layer shape, not the tuned ones: minigrad's fused layers against PyTorch over a grid.

The grid: cell {RNN, LSTM, GRU} x hidden {32, 50, 100, 128, 200, 256, 300, 512, 650} x batch
{1, 8, 20, 64} x layers {1, 2, 2 with dropout 0.2} x bidirectional {no, yes}: 648 cells. Each
cell times a float32 train step: ``zero_grad``, forward over T=35 steps (input size = hidden),
MSE of the whole output against a fixed target, backward, SGD step.

    .venv/bin/python benchmarks/sweep.py --quick                 # a subset (108 cells), a few minutes
    .venv/bin/python benchmarks/sweep.py --cells gru --hidden 100 300 --batch 64
    .venv/bin/python benchmarks/sweep.py --quick --cpu avx2      # as on a CPU without AVX-512
    .venv/bin/python benchmarks/sweep.py --cells lstm --hidden 300 --batch 64 --strategy parallel_units
                                                                 # A/B of the plan's choices

How it times: minigrad and PyTorch (default threads) each run in their own processes, as users
run them. The cells are cut into chunks; per block, a chunk is timed by a minigrad process and a
PyTorch process in turn (the order alternating), so that a burst of load on the shared machine
hits both alike. Odd blocks run a chunk's cells in reverse order: a framework's time for a cell can
depend on the cells before it in its process, and each cell's median then mixes two such
neighbourhoods (``--chunk 1`` times every cell alone, as a user's script runs one model, at the
cost of a process start per cell). Each cell's number is the median of all its timed steps. The
report lists the worst ratios (minigrad / PyTorch) first and is written to
``benchmarks/results/sweep_<cpu>.json``.

On a machine shared with other busy processes, thread pools that spin-wait for each other make
wall-clock times of multi-threaded runs meaningless (a 7 ms step can take 300 ms). There,
``--threads 1 --clock cpu`` compares the work each framework does: one thread each (BLAS, OpenMP,
MKL, Numba and ``torch.set_num_threads(1)``) and the process's CPU time per step.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # benchmarks/ and the checkout (minigrad)
from cpu_profile import add_cpu_arguments, describe_host  # noqa: E402
from run import worker_env  # noqa: E402  (one rule for the timing processes' environment)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

CELLS = ("rnn", "lstm", "gru")
HIDDEN = (32, 50, 100, 128, 200, 256, 300, 512, 650)
BATCH = (1, 8, 20, 64)
STACKS = ("1", "2", "2d")  # one layer; two; two with dropout 0.2 between them
QUICK = {"hidden": (50, 128, 300), "batch": (1, 20, 64), "stacks": ("1", "2d"), "bidirectional": (False, True)}
STEPS = 35


@dataclass(frozen=True)
class Cell:
    """One cell of the grid."""

    cell: str
    hidden: int
    batch: int
    stack: str
    bidirectional: bool
    steps: int = STEPS
    impl: str = "fused"  # minigrad's layers; "reference" for the textbook ones (toggle_ab.py's "ref")

    @property
    def name(self) -> str:
        return (f"{self.cell} H={self.hidden} B={self.batch} L={self.stack}"
                f"{' bi' if self.bidirectional else ''}{' ref' if self.impl == 'reference' else ''}")


def build_step(framework: str, c: Cell, seed: int = 0):
    """The train step of ``c`` in ``framework`` (``"minigrad"`` or ``"torch"``)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((c.steps, c.batch, c.hidden)).astype(np.float32)
    target = rng.standard_normal((c.steps, c.batch, c.hidden * (2 if c.bidirectional else 1))).astype(np.float32)
    layers, dropout = (1, 0.0) if c.stack == "1" else (2, 0.2 if c.stack == "2d" else 0.0)
    if framework == "torch":
        import torch as lib

        lib.manual_seed(seed)
        to_tensor = lib.from_numpy
    else:
        import minigrad as lib

        lib.manual_seed(seed)
        to_tensor = lib.tensor
    cls = {"rnn": lib.nn.RNN, "lstm": lib.nn.LSTM, "gru": lib.nn.GRU}[c.cell]
    impl = {} if framework == "torch" else {"impl": c.impl}
    model = cls(c.hidden, c.hidden, num_layers=layers, dropout=dropout, bidirectional=c.bidirectional, **impl)
    opt = lib.optim.SGD(model.parameters(), lr=0.01)
    x, target = to_tensor(x), to_tensor(target)
    mse = lib.nn.functional.mse_loss

    def step():
        opt.zero_grad()
        loss = mse(model(x)[0], target)
        loss.backward()
        opt.step()
        return loss

    return step


ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                      "NUMBA_NUM_THREADS", "MINIGRAD_NUM_THREADS")}
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_step(step, now, budget_s: float, max_steps: int) -> list[float]:
    """Times of ``step()`` after two untimed calls: at least 3, then until ``budget_s`` or ``max_steps``."""
    step()
    step()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_steps and (len(times) < 3 or time.perf_counter() - start < budget_s):
        t0 = now()
        step()
        times.append(now() - t0)
    return times


STRATEGIES = ("plan", "per_step", "sequence", "parallel_units", "parallel_rows")
STRATEGY_ENV = "MINIGRAD_SWEEP_STRATEGY"  # how the parent hands --strategy to minigrad's workers


def force_strategy(name: str) -> None:
    """Make every fused layer run strategy ``name`` (``fused_rnn.Strategy``) instead of what ``plan()``
    picks, where its cell has the kernels for it (an A/B of the plan's choices)."""
    from minigrad.nn import fused_rnn

    planned, forced = fused_rnn.plan, fused_rnn.Strategy(name)

    def plan(mode, dtype, batch, hidden, **kwargs):
        kernels = fused_rnn.BUILTIN_CELLS[mode].kernels
        needed = {fused_rnn.Strategy.PARALLEL_UNITS: kernels.parallel_forward,
                  fused_rnn.Strategy.PARALLEL_ROWS: kernels.rows_forward}.get(forced, planned)
        return forced if needed is not None else planned(mode, dtype, batch, hidden, **kwargs)

    fused_rnn.plan = plan


def worker(framework: str, cells: list[Cell], budget_s: float, max_steps: int, clock: str = "wall"
           ) -> list[list[float]]:
    """In a fresh process: per cell, two warm-up steps, then up to ``max_steps`` timed steps or ``budget_s``."""
    if framework == "torch" and os.environ.get("OMP_NUM_THREADS") == "1":
        import torch

        torch.set_num_threads(1)
    if framework == "minigrad" and os.environ.get(STRATEGY_ENV, "plan") != "plan":
        force_strategy(os.environ[STRATEGY_ENV])
    now = CLOCKS[clock]
    results = []
    for c in cells:
        results.append(time_step(build_step(framework, c), now, budget_s, max_steps))
    return results


def grid(args: argparse.Namespace) -> list[Cell]:
    quick = QUICK if args.quick else {}
    hidden = args.hidden or quick.get("hidden", HIDDEN)
    batch = args.batch or quick.get("batch", BATCH)
    stacks = args.stacks or quick.get("stacks", STACKS)
    bidirectional = {"no": (False,), "yes": (True,), "both": (False, True)}[args.bidirectional]
    return [Cell(*k) for k in itertools.product(args.cells, hidden, batch, stacks, bidirectional)]


def run_chunk(framework: str, cells: list[Cell], args: argparse.Namespace) -> list[list[float]]:
    impl = "torch" if framework == "torch" else "fused"
    cmd = [sys.executable, __file__, "--worker", framework, json.dumps([asdict(c) for c in cells]),
           str(args.budget), str(args.max_steps), args.clock]
    env = worker_env(impl, args.cpu, args.blas_defaults)
    if args.threads == 1:
        env.update(ONE_THREAD)
    env[STRATEGY_ENV] = args.strategy
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{framework} on {[c.name for c in cells]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def sweep(cells: list[Cell], args: argparse.Namespace) -> list[dict]:
    """Time every cell in both frameworks: chunks of cells, interleaved blocks, medians."""
    times = {(fw, c): [] for fw in ("minigrad", "torch") for c in cells}
    chunks = [cells[i:i + args.chunk] for i in range(0, len(cells), args.chunk)]
    for n, chunk in enumerate(chunks):
        for block in range(args.blocks):
            order = ("minigrad", "torch") if (n + block) % 2 == 0 else ("torch", "minigrad")
            in_turn = chunk if block % 2 == 0 else chunk[::-1]  # each cell after other neighbours
            for fw in order:
                for c, t in zip(in_turn, run_chunk(fw, in_turn, args)):
                    times[(fw, c)] += t
        for c in chunk:
            m, t = (statistics.median(times[(fw, c)]) * 1e3 for fw in ("minigrad", "torch"))
            print(f"{c.name:32s} minigrad {m:8.2f} ms  torch {t:8.2f} ms  ratio {m / t:5.2f}", flush=True)
    rows = []
    for c in cells:
        m, t = (statistics.median(times[(fw, c)]) * 1e3 for fw in ("minigrad", "torch"))
        rows.append({**asdict(c), "name": c.name, "minigrad_ms": m, "torch_ms": t, "ratio": m / t,
                     "runs": {fw: len(times[(fw, c)]) for fw in ("minigrad", "torch")}})
    return rows


def report(rows: list[dict], worst: int) -> str:
    """Markdown: the ``worst`` cells by ratio, worst first, and a summary line."""
    rows = sorted(rows, key=lambda r: -r["ratio"])
    ratios = [r["ratio"] for r in rows]
    lines = [f"{len(rows)} cells; ratio minigrad / PyTorch: median {statistics.median(ratios):.2f}, "
             f"worst {ratios[0]:.2f}, cells above 1.0: {sum(r > 1.0 for r in ratios)}", "",
             "| cell | minigrad ms | PyTorch ms | ratio |", "|---|---|---|---|"]
    for r in rows[:worst]:
        lines.append(f"| {r['name']} | {r['minigrad_ms']:.2f} | {r['torch_ms']:.2f} | **{r['ratio']:.2f}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", nargs="*", choices=CELLS, default=list(CELLS))
    p.add_argument("--hidden", nargs="*", type=int)
    p.add_argument("--batch", nargs="*", type=int)
    p.add_argument("--stacks", nargs="*", choices=STACKS, help="1, 2 layers, or 2 with dropout 0.2 (2d)")
    p.add_argument("--bidirectional", choices=("no", "yes", "both"), default="both")
    p.add_argument("--quick", action="store_true", help=f"a subset: {QUICK}")
    p.add_argument("--blocks", type=int, default=2, help="timing processes per framework and chunk (default 2)")
    p.add_argument("--chunk", type=int, default=6, help="cells per timing process (default 6)")
    p.add_argument("--budget", type=float, default=0.4, help="seconds per cell and block (default 0.4)")
    p.add_argument("--max-steps", type=int, default=15, help="timed steps per cell and block at most")
    p.add_argument("--worst", type=int, default=20, help="cells in the report (default 20)")
    p.add_argument("--threads", type=int, choices=(1,), help="1: one thread in both frameworks (default: theirs)")
    p.add_argument("--clock", choices=tuple(CLOCKS), default="wall", help="wall (default) or cpu: process CPU time")
    p.add_argument("--strategy", choices=STRATEGIES, default="plan",
                   help="run minigrad's fused layers this way instead of plan()'s choice, where the cell can")
    p.add_argument("--out", help="JSON file (default benchmarks/results/sweep_<cpu>.json)")
    add_cpu_arguments(p)
    p.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        framework, cells, budget, max_steps, clock = args.worker
        cells = [Cell(**c) for c in json.loads(cells)]
        print(json.dumps(worker(framework, cells, float(budget), int(max_steps), clock)))
        return 0
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu needs --threads 1 (CPU time summed over spinning threads measures nothing)")

    cells = grid(args)
    command = "python benchmarks/sweep.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"{command}: {len(cells)} cells, CPU profile {args.cpu}, host {describe_host()}", flush=True)
    start = time.perf_counter()
    rows = sweep(cells, args)
    text = report(rows, args.worst)
    print(f"\n{text}\n\n({time.perf_counter() - start:.0f} s)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_1thread_cpu" if args.clock == "cpu" else ""
    out = Path(args.out) if args.out else RESULTS / f"sweep_{args.cpu}{suffix}.json"
    out.write_text(json.dumps({"command": command.strip(), "cpu": args.cpu, "clock": args.clock,
                               "host": describe_host(), "date": time.strftime("%Y-%m-%d %H:%M"),
                               "rows": sorted(rows, key=lambda r: -r["ratio"])}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
