"""In-process A/B of one of minigrad's constants: the same model, its train steps alternating between two values.

On a host whose speed changes by the minute, two processes timed apart can differ by 10% with the
same code. Here one process builds a model once (a ``benchmarks/models.py`` model or a
``sweep.py`` cell), then takes turns: a burst of train steps with the checkout's value of the
constant, a burst with the value given, the order alternating from round to round. Each burst
keeps its quickest step (a step that a neighbour's load slowed down is never the quickest), and
each round gives the ratio of the two bursts' quickest steps; the report is the median ratio and
its quartiles. Below 1: the given value is quicker.

    .venv/bin/python benchmarks/toggle_ab.py d2l_scratch minigrad.kernels.products.BANDS_MAX_PRODUCT=0
    .venv/bin/python benchmarks/toggle_ab.py "lstm H=300 B=1 L=2d bi" minigrad.kernels.blas.SWAP_MAX_ROWS=0
    .venv/bin/python benchmarks/toggle_ab.py d2l_scratch minigrad.kernels.products.BANDS_MAX_PRODUCT=0 --cpu avx2
    .venv/bin/python benchmarks/toggle_ab.py "lstm H=128 B=32 L=1 ref" "minigrad.kernels.activations.KERNEL_DTYPES=()"

The constant must be read when it is used (a module attribute looked up by the code that needs
it), not copied at import.

``--processes``: each burst in a fresh process instead, the constant set before the model is built.
For a change whose effect outlives a step, which one process cannot undo between bursts: one that
wakes Numba's pool, say (then every later mid-sized product of that process takes other threads).

    .venv/bin/python benchmarks/toggle_ab.py d2l_lstm_scratch minigrad.autograd.stacked_products.ROWS_PER_TERM=0 \
        --processes --rounds 8 --burst 2
"""

from __future__ import annotations

import argparse
import ast
import importlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_profile import add_cpu_arguments  # noqa: E402
from run import worker_env  # noqa: E402


def build(model: str) -> Callable[[], Any]:
    """A minigrad train step: a model of ``models.py`` by name, or a sweep cell (``"lstm H=300 B=1 L=2d bi"``;
    ``ref`` at the end: the layers' ``impl="reference"``)."""
    import minigrad

    if " H=" in model:
        from sweep import Cell, build_step

        parts = model.split()
        cell = Cell(parts[0], int(parts[1][2:]), int(parts[2][2:]), parts[3][2:], "bi" in parts[4:],
                    impl="reference" if "ref" in parts[4:] else "fused")
        return build_step("minigrad", cell)
    from models import tutorial_rnn_case, word_lm_case
    from script_models import SCRIPT_MODELS
    from user_models import USER_MODELS

    cases = {"word_lm": word_lm_case, "tutorial_rnn": tutorial_rnn_case, **SCRIPT_MODELS, **USER_MODELS}
    if model not in cases:
        raise SystemExit(f"toggle_ab: unknown model {model!r}; one of {sorted(cases)} or a sweep cell")
    return cases[model](minigrad)


def parse_setting(setting: str) -> tuple[Any, str, Any]:
    """``"package.module.NAME=value"`` -> (module, NAME, value); the value a Python literal."""
    target, _, text = setting.partition("=")
    module_name, _, name = target.rpartition(".")
    module = importlib.import_module(module_name)
    if not hasattr(module, name):
        raise SystemExit(f"toggle_ab: {module_name} has no {name}")
    return module, name, ast.literal_eval(text)


def alternate(step: Callable[[], Any], module: Any, name: str, value: Any, rounds: int,
              burst: float) -> tuple[list[float], list[float]]:
    """The quickest step of each burst, with the checkout's value and with ``value``, ``rounds`` each."""
    original = getattr(module, name)
    quickest: dict[bool, list[float]] = {False: [], True: []}
    try:
        for r in range(rounds):
            for given in ((False, True) if r % 2 else (True, False)):
                setattr(module, name, value if given else original)
                quickest[given].append(quickest_step(step, burst))
    finally:
        setattr(module, name, original)
    return quickest[False], quickest[True]


def quickest_step(step: Callable[[], Any], burst: float) -> float:
    """The quickest of the steps run in ``burst`` seconds."""
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < burst:
        t0 = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t0)
    return best


def alternate_processes(command: list[str], env: dict, rounds: int) -> tuple[list[float], list[float]]:
    """As ``alternate``, each burst in a fresh process (``command`` + ``--arm checkout|given``)."""
    quickest: dict[str, list[float]] = {"checkout": [], "given": []}
    for r in range(rounds):
        for arm in (("checkout", "given") if r % 2 else ("given", "checkout")):
            done = subprocess.run([*command, "--arm", arm], env=env, capture_output=True, text=True, check=True)
            quickest[arm].append(float(done.stdout.split()[-1]))
    return quickest["checkout"], quickest["given"]


def report(model: str, setting: str, checkout: list[float], given: list[float]) -> str:
    ratios = sorted(g / c for c, g in zip(checkout, given))
    q1, q3 = ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]
    return (f"{model}: checkout {statistics.median(checkout) * 1e3:.3f} ms, {setting} "
            f"{statistics.median(given) * 1e3:.3f} ms; ratio {statistics.median(ratios):.3f} "
            f"(quartiles {q1:.3f}-{q3:.3f}, {len(ratios)} rounds)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a models.py model or a sweep cell, e.g. \"gru H=50 B=1 L=1\"")
    parser.add_argument("setting", help="module.CONSTANT=value, e.g. minigrad.kernels.blas.SWAP_MAX_ROWS=0")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--burst", type=float, default=0.3, help="seconds of steps per burst")
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--processes", action="store_true", help="each burst in a fresh process (see above)")
    parser.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # the timing process itself
    parser.add_argument("--arm", choices=("checkout", "given"), help=argparse.SUPPRESS)  # one burst of --processes
    add_cpu_arguments(parser)
    args = parser.parse_args(argv)
    if not args.here:  # time in a process of its own, with run.py's timing environment and the CPU profile
        command = [sys.executable, __file__, *(argv if argv is not None else sys.argv[1:]), "--here"]
        env = worker_env("minigrad", args.cpu, args.blas_defaults)
        if args.processes:
            checkout, given = alternate_processes(command, env, args.rounds)
            print(report(args.model, args.setting, checkout, given) + ", a fresh process per burst")
            return 0
        return subprocess.run(command, env=env).returncode
    module, name, value = parse_setting(args.setting)
    if args.arm == "given":
        setattr(module, name, value)
    step = build(args.model)
    for _ in range(args.warmup_steps):
        step()
    if args.arm:
        print(quickest_step(step, args.burst))
        return 0
    checkout, given = alternate(step, module, name, value, args.rounds, args.burst)
    print(report(args.model, args.setting, checkout, given))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
