"""Side-by-side training-step benchmark: minigrad fused vs minigrad reference vs PyTorch CPU.

For each workload it times a full train step — zero_grad, forward, loss, backward, Adam step —
in float32, and reports medians and the ratios minigrad/PyTorch. The three implementations start
from the same weights and are timed in interleaved blocks, so a burst of load on this shared
machine hits all of them alike.

    .venv/bin/python benchmarks/run.py                  # everything, writes docs/performance.md table + JSON
    .venv/bin/python benchmarks/run.py --only lstm_tiny --repeats 20 --no-startup --no-write

Each implementation runs in its own process (see ``bench_workload``). Also measured, each in fresh
subprocesses: warm ``import`` time, cold start (empty Numba cache)
and warm start to the first finished train step, and peak resident memory of a train step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_profile import add_cpu_arguments, describe_host, profile_env  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- benchmark-table:begin -->", "<!-- benchmark-table:end -->"


@dataclass(frozen=True)
class Workload:
    name: str
    cell: str  # "lstm" | "gru" | "rnn" | "charlm"
    batch: int
    steps: int
    input: int
    hidden: int


WORKLOADS = [
    Workload("lstm_tiny", "lstm", 8, 20, 16, 32),
    Workload("lstm_small", "lstm", 32, 35, 64, 128),
    Workload("lstm_medium", "lstm", 32, 35, 256, 512),
    Workload("gru_small", "gru", 32, 35, 64, 128),
    Workload("rnn_small", "rnn", 32, 35, 64, 128),
    Workload("lstm_long", "lstm", 1, 1000, 8, 32),
    Workload("charlm", "charlm", 32, 64, 64, 256),  # Embedding(65,64) -> LSTM(64,256) -> Linear(256,65)
]
VOCAB = 65


def train_step(opt, compute_loss):
    """The step every implementation is timed on: zero_grad, forward + loss, backward, optimizer step."""
    def step():
        opt.zero_grad()
        loss = compute_loss()
        loss.backward()
        opt.step()
        return loss

    return step


# ------------------------------------------------------------------------------------ minigrad
def minigrad_step(w: Workload, impl: str, seed: int = 0):
    """Build a minigrad model for ``w`` and return (train_step, state_dict for copying)."""
    import minigrad as mg

    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    if w.cell == "charlm":
        emb = mg.nn.Embedding(VOCAB, w.input)
        rnn = mg.nn.LSTM(w.input, w.hidden, batch_first=True, impl=impl)
        head = mg.nn.Linear(w.hidden, VOCAB)
        params = list(emb.parameters()) + list(rnn.parameters()) + list(head.parameters())
        x = mg.tensor(rng.integers(0, VOCAB, (w.batch, w.steps)))
        y = mg.tensor(rng.integers(0, VOCAB, (w.batch * w.steps,)))
        opt = mg.optim.Adam(params, lr=1e-3)
        step = train_step(opt, lambda: mg.nn.functional.cross_entropy(head(rnn(emb(x))[0]).reshape(-1, VOCAB), y))
        modules = {"emb": emb, "rnn": rnn, "head": head}
    else:
        cls = {"lstm": mg.nn.LSTM, "gru": mg.nn.GRU, "rnn": mg.nn.RNN}[w.cell]
        rnn = cls(w.input, w.hidden, batch_first=True, impl=impl)
        x = mg.tensor(rng.standard_normal((w.batch, w.steps, w.input)).astype(np.float32))
        target = mg.tensor(rng.standard_normal((w.batch, w.hidden)).astype(np.float32))
        opt = mg.optim.Adam(rnn.parameters(), lr=1e-3)
        step = train_step(opt, lambda: mg.nn.functional.mse_loss(rnn(x)[0][:, -1], target))
        modules = {"rnn": rnn}
    weights = {f"{k}.{n}": p.detach().numpy().copy() for k, m in modules.items() for n, p in m.named_parameters()}
    return step, weights


# ------------------------------------------------------------------------------------ PyTorch
def torch_step(w: Workload, weights: dict[str, np.ndarray], seed: int = 0):
    import torch

    rng = np.random.default_rng(seed)
    if w.cell == "charlm":
        emb = torch.nn.Embedding(VOCAB, w.input)
        rnn = torch.nn.LSTM(w.input, w.hidden, batch_first=True)
        head = torch.nn.Linear(w.hidden, VOCAB)
        modules = {"emb": emb, "rnn": rnn, "head": head}
        x = torch.from_numpy(rng.integers(0, VOCAB, (w.batch, w.steps)))
        y = torch.from_numpy(rng.integers(0, VOCAB, (w.batch * w.steps,)))
    else:
        cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[w.cell]
        rnn = cls(w.input, w.hidden, batch_first=True)
        modules = {"rnn": rnn}
        x = torch.from_numpy(rng.standard_normal((w.batch, w.steps, w.input)).astype(np.float32))
        target = torch.from_numpy(rng.standard_normal((w.batch, w.hidden)).astype(np.float32))
    with torch.no_grad():
        for k, m in modules.items():
            for n, p in m.named_parameters():
                p.copy_(torch.from_numpy(weights[f"{k}.{n}"]))
    params = [p for m in modules.values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)

    if w.cell == "charlm":
        return train_step(opt, lambda: torch.nn.functional.cross_entropy(head(rnn(emb(x))[0]).reshape(-1, VOCAB), y))
    return train_step(opt, lambda: torch.nn.functional.mse_loss(rnn(x)[0][:, -1], target))


def have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------ timing
IMPLS = ("fused", "reference", "torch")


def build_step(w: Workload, impl: str):
    """The train-step function of one implementation; all three start from the same weights."""
    if impl == "torch":
        return torch_step(w, minigrad_step(w, "fused")[1])
    return minigrad_step(w, impl)[0]


def worker(impl: str, name: str, steps: int, budget_s: float) -> dict:
    """Run in a fresh process: warm up, then time ``steps`` train steps (or until ``budget_s``)."""
    w = next(w for w in WORKLOADS if w.name == name)
    step = build_step(w, impl)
    first_loss = float(step().detach())
    step()
    times = []
    start = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        if len(times) >= 3 and time.perf_counter() - start > budget_s:
            break
    return {"first_loss": first_loss, "times": times}


def worker_env(impl: str, cpu: str = "native", blas_defaults: bool = False) -> dict[str, str]:
    """The environment of a timing process on CPU profile ``cpu`` (``benchmarks/cpu_profile.py``).

    Both frameworks run with the allocator their users have: minigrad's malloc tuning
    (``minigrad/_allocator.py: tune_malloc``) is opt-in, so it is off here, even if the shell set it.

    Rule: timing processes measure the steady state. A kernel that is not in the disk cache yet
    (a new machine, the AVX2 profile's own cache, any edit of ``minigrad/kernels``) compiles in the
    process during its warm-up steps (``MINIGRAD_COMPILE=wait``), never in the background while
    steps are timed: those steps would time the NumPy references. The wait itself is measured
    apart, as the cold start (``first_step_time``).
    """
    env = profile_env(cpu, "torch" if impl == "torch" else "minigrad", blas_defaults=blas_defaults)
    return {**env, "MINIGRAD_MALLOC_TUNING": "0", "MINIGRAD_COMPILE": "wait"}


def bench_workload(w: Workload, repeats: int, budget_s: float, impls: list[str], blocks: int = 3,
                   cpu: str = "native", blas_defaults: bool = False) -> dict:
    """Each implementation in its own process (as users run them), in interleaved blocks.

    Separate processes matter: PyTorch's OpenMP workers (and OpenBLAS's) spin-wait after each
    parallel region, so timing two frameworks in one process would let one steal the other's core.
    Interleaving blocks (fused, reference, torch, fused, ...) spreads the machine's noise evenly.
    """
    per_block = max(repeats // blocks, 3)
    times: dict[str, list[float]] = {k: [] for k in impls}
    first: dict[str, float] = {}
    for _ in range(blocks):
        for impl in impls:
            out = subprocess.run([sys.executable, __file__, "--worker", impl, w.name, str(per_block),
                                  str(budget_s / blocks)], capture_output=True, text=True, cwd=ROOT,
                                 env=worker_env(impl, cpu, blas_defaults))
            if out.returncode != 0:
                raise RuntimeError(f"{impl} on {w.name} failed:\n{out.stderr[-2000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            times[impl] += result["times"]
            first[impl] = result["first_loss"]
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    row = {"workload": w.name, "cell": w.cell, "B": w.batch, "T": w.steps, "I": w.input, "H": w.hidden,
           "median_ms": med, "runs": {k: len(v) for k, v in times.items()}, "first_loss": first}
    if "torch" in med:
        row["fused_vs_torch"] = med["fused"] / med["torch"]
        if "reference" in med:
            row["reference_vs_torch"] = med["reference"] / med["torch"]
    if "reference" in med:
        row["reference_vs_fused"] = med["reference"] / med["fused"]
    return row


# ------------------------------------------------------------------------------------ startup, memory
def _run_py(code: str, env: dict | None = None) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})}, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1]


def import_time(module: str, runs: int = 5) -> float:
    code = f"import time; t=time.perf_counter(); import {module}; print(time.perf_counter()-t)"
    return statistics.median(float(_run_py(code)) for _ in range(runs))


_SETUP = {
    "minigrad": "from run import minigrad_step\nstep, _ = minigrad_step(w, 'fused')",
    "torch": "from run import torch_step, torch_weights\nstep = torch_step(w, torch_weights(w))",
}

_FIRST_STEP = """
import time; t0 = time.perf_counter()
import sys; sys.path.insert(0, {bench!r})
from run import WORKLOADS
w = [w for w in WORKLOADS if w.name == 'lstm_small'][0]
{setup}
step()
print(time.perf_counter() - t0)
"""


def first_step_time(framework: str, numba_cache: str | None = None, runs: int = 3) -> float:
    """Seconds from process start (before any import) to the first finished train step."""
    code = _FIRST_STEP.format(bench=str(ROOT / "benchmarks"), setup=_SETUP[framework])
    if framework == "minigrad":  # after the timing: a background compiler must finish before the next measurement
        code += "from minigrad.kernels._background import HELPER\nHELPER.join()\n"
    env = {"NUMBA_CACHE_DIR": numba_cache} if numba_cache else None
    return statistics.median(float(_run_py(code, env)) for _ in range(runs))


def torch_weights(w: Workload) -> dict[str, np.ndarray]:
    """Random weights with PyTorch's names (startup timing of torch must not import minigrad)."""
    import torch

    torch.manual_seed(0)
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[w.cell]
    m = cls(w.input, w.hidden, batch_first=True)
    return {f"rnn.{n}": p.detach().numpy().copy() for n, p in m.named_parameters()}


_MEMORY = """
import resource, sys; sys.path.insert(0, {bench!r})
from run import WORKLOADS
w = [w for w in WORKLOADS if w.name == {name!r}][0]
{setup}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for _ in range(3):
    step()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before / 1024, peak / 1024)
"""


def peak_memory(framework: str, name: str = "lstm_medium") -> tuple[float, float]:
    """(peak RSS in MiB with the model built, after 3 train steps) in a fresh process."""
    code = _MEMORY.format(bench=str(ROOT / "benchmarks"), name=name, setup=_SETUP[framework])
    before, peak = map(float, _run_py(code).split())
    return before, peak


# ------------------------------------------------------------------------------------ report
def markdown(rows: list[dict], extra: dict, command: str) -> str:
    lines = [
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {describe_host()}, "
        f"Python {platform.python_version()}, NumPy {np.__version__}"
        + (f", torch {extra['torch_version']}" if extra.get("torch_version") else ""),
        f"Date: {time.strftime('%Y-%m-%d')}. Medians of full float32 train steps (zero_grad, forward, loss, "
        "backward, Adam step); each implementation in its own process, in interleaved blocks.",
        "",
        "| workload | B | T | I | H | fused ms | reference ms | PyTorch ms | fused / PyTorch | reference / fused |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m = r["median_ms"]
        def f(key, m=m):
            return f"{m[key]:.2f}" if key in m else "–"
        ratio = f"**{r['fused_vs_torch']:.2f}**" if "fused_vs_torch" in r else "–"
        rf = f"{r['reference_vs_fused']:.1f}x" if "reference_vs_fused" in r else "–"
        lines.append(f"| {r['workload']} | {r['B']} | {r['T']} | {r['I'] if r['cell'] != 'charlm' else '–'} | "
                     f"{r['H']} | {f('fused')} | {f('reference')} | {f('torch')} | {ratio} | {rf} |")
    if "import_s" in extra:
        lines += ["", "| startup and memory | minigrad | PyTorch |", "|---|---|---|"]
        t = extra
        nan = float("nan")
        lines.append(f"| warm `import` (s) | {t['import_s']['minigrad']:.3f} | {t['import_s'].get('torch', nan):.3f} |")
        lines.append(f"| warm start: process start to first finished lstm_small step (s) | "
                     f"{t['warm_start_s']['minigrad']:.2f} | {t['warm_start_s'].get('torch', float('nan')):.2f} |")
        lines.append(f"| cold start (empty Numba cache) to first step (s) | {t['cold_start_s']:.2f} | – |")
        mm, mt = t["memory_mib"]["minigrad"], t["memory_mib"].get("torch")
        lines.append(f"| lstm_medium peak RSS, whole process (MiB) | {mm[1]:.0f} | {mt[1] if mt else nan:.0f} |")
        lines.append(f"| lstm_medium: rise of the peak during 3 train steps over the built model's peak (MiB) | "
                     f"{mm[1] - mm[0]:.0f} | "
                     f"{(mt[1] - mt[0]) if mt else nan:.0f} |")
    return "\n".join(lines)


def write_doc_table(table: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="*", help="workload names (default: all)")
    p.add_argument("--repeats", type=int, default=30, help="rounds per workload (default 30)")
    p.add_argument("--budget", type=float, default=60.0, help="seconds per workload at most (default 60)")
    p.add_argument("--no-reference", action="store_true", help="skip the reference path (slow on long sequences)")
    p.add_argument("--no-startup", action="store_true", help="skip import/startup/memory measurements")
    p.add_argument("--no-torch", action="store_true", help="do not compare with PyTorch")
    p.add_argument("--no-write", action="store_true", help="print only; do not update docs/ and results/")
    add_cpu_arguments(p)
    p.add_argument("--worker", nargs=4, metavar=("IMPL", "WORKLOAD", "STEPS", "BUDGET"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        impl, name, steps, budget = args.worker
        print(json.dumps(worker(impl, name, int(steps), float(budget))))
        return 0

    torch_ok = not args.no_torch and have_torch()
    extra: dict = {}
    if torch_ok:
        import torch

        extra["torch_version"] = torch.__version__
        extra["torch_threads"] = torch.get_num_threads()
    rows = []
    for w in WORKLOADS:
        if args.only and w.name not in args.only:
            continue
        impls = ["fused"] + ([] if args.no_reference else ["reference"]) + (["torch"] if torch_ok else [])
        row = bench_workload(w, args.repeats, args.budget, impls, cpu=args.cpu, blas_defaults=args.blas_defaults)
        rows.append(row)
        m = row["median_ms"]
        print(f"{w.name:12s} " + "  ".join(f"{k} {v:8.2f} ms" for k, v in m.items()) +
              (f"  fused/torch {row['fused_vs_torch']:.2f}" if "fused_vs_torch" in row else ""), flush=True)

    if not args.no_startup:
        extra["import_s"] = {"minigrad": import_time("minigrad")}
        extra["warm_start_s"] = {"minigrad": first_step_time("minigrad")}
        with tempfile.TemporaryDirectory() as empty_cache:
            extra["cold_start_s"] = first_step_time("minigrad", numba_cache=empty_cache, runs=1)
        extra["memory_mib"] = {"minigrad": peak_memory("minigrad")}
        if torch_ok:
            extra["import_s"]["torch"] = import_time("torch")
            extra["warm_start_s"]["torch"] = first_step_time("torch")
            extra["memory_mib"]["torch"] = peak_memory("torch")
        print(json.dumps(extra, indent=1))

    command = "python benchmarks/run.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    table = markdown(rows, extra, command.strip())
    print(table)
    if args.cpu != "native" and not args.no_write:  # the doc's table is the native profile's
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"run_{args.cpu}.json").write_text(json.dumps({"rows": rows, **extra, "command": command}, indent=1))
    elif not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "run.json").write_text(json.dumps({"rows": rows, **extra, "command": command}, indent=1))
        write_doc_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
