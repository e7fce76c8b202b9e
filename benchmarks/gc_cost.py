"""What Python's cycle collector costs a train step: collections per step and their time, by generation.

A minigrad graph is Python objects (a node, its output Tensor, a weak reference, tuples of edges
and saved values), and those a forward pass makes survive until backward frees them: the cycle
collector meets them in its young generations, promotes them, and every so often walks every
tracked object of the process (Numba's included) in a full collection. PyTorch's graph lives in
C++. This times ``steps`` train steps of a ``models.py`` model with ``gc.callbacks`` watching.

``--freeze`` calls ``gc.freeze()`` after the warm-up steps (every object alive then is left out
of later collections): an experiment that shows what the full collections cost, not something a
library may do to its user's process.

``--toggle R``: the collector's share of the step, measured instead of summed from callbacks: R
rounds of two bursts of steps, one with the collector enabled and one with it disabled, the order
alternating; each burst's mean step (so that the rare full collections count), the median ratio
on / off and its quartiles.

    .venv/bin/python benchmarks/gc_cost.py d2l_lstm_scratch
    .venv/bin/python benchmarks/gc_cost.py d2l_lstm_scratch --freeze
    .venv/bin/python benchmarks/gc_cost.py d2l_lstm_scratch --torch
    .venv/bin/python benchmarks/gc_cost.py d2l_lstm_scratch --toggle 20
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models import MODELS  # noqa: E402


def watch(step: Any, steps: int) -> tuple[float, dict[int, tuple[float, float]]]:
    """Mean ms per step, and per generation: collections per step and their ms per step."""
    spent = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
    started = [0.0]

    def callback(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            entry = spent[info["generation"]]
            entry[0] += 1
            entry[1] += time.perf_counter() - started[0]

    gc.callbacks.append(callback)
    try:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        total = time.perf_counter() - t0
    finally:
        gc.callbacks.remove(callback)
    return total / steps * 1e3, {g: (n / steps, s / steps * 1e3) for g, (n, s) in spent.items()}


def toggle(step: Any, rounds: int, burst: float) -> tuple[float, float, list[float]]:
    """Mean ms per step with the collector on and off (medians of the bursts), and each round's on / off."""
    means: dict[bool, list[float]] = {True: [], False: []}
    try:
        for r in range(rounds):
            for enabled in (True, False) if r % 2 == 0 else (False, True):
                (gc.enable if enabled else gc.disable)()
                n, t0 = 0, time.perf_counter()
                while n < 3 or time.perf_counter() - t0 < burst:
                    step()
                    n += 1
                means[enabled].append((time.perf_counter() - t0) / n * 1e3)
    finally:
        gc.enable()
    ratios = sorted(on / off for on, off in zip(means[True], means[False]))
    return statistics.median(means[True]), statistics.median(means[False]), ratios


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=list(MODELS))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after the warm-up (see above)")
    parser.add_argument("--torch", action="store_true", help="time PyTorch instead")
    parser.add_argument("--toggle", type=int, metavar="ROUNDS", help="on/off bursts in turns (see above)")
    parser.add_argument("--burst", type=float, default=1.5, help="seconds per --toggle burst (default 1.5)")
    args = parser.parse_args(argv)
    if args.torch:
        import torch as lib
    else:
        import minigrad as lib
    step = MODELS[args.model](lib)
    for _ in range(3):
        step()
    if args.toggle:
        on, off, ratios = toggle(step, args.toggle, args.burst)
        q = len(ratios) // 4
        print(f"{args.model} ({'PyTorch' if args.torch else 'minigrad'}): {on:.2f} ms per step with the collector, "
              f"{off:.2f} without; on / off {statistics.median(ratios):.3f} (quartiles {ratios[q]:.3f}-"
              f"{ratios[-1 - q]:.3f}, {len(ratios)} rounds)")
        return
    if args.freeze:
        gc.freeze()
    ms, spent = watch(step, args.steps)
    print(f"{args.model} ({'PyTorch' if args.torch else 'minigrad'}{', frozen' if args.freeze else ''}): "
          f"{ms:.2f} ms per step, {len(gc.get_objects())} tracked objects; per step: "
          + ", ".join(f"generation {g} {n:.2f} collections {s:.3f} ms" for g, (n, s) in spent.items()))
    if args.freeze:
        gc.unfreeze()


if __name__ == "__main__":
    main()
