"""Command line: run the compatibility corpus and print a table.

    python -m tests.compat.run               # every script, under torch (when installed) and minigrad
    python -m tests.compat.run word_language_model udacity_char_rnn
    python tests/compat/run.py --minigrad-only

Columns: script, torch final loss, minigrad final loss (mean of the last logged window), the number of
logged points of each, seconds, and ok/FAIL with minigrad's first error line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# The tests import this package as `compat` (tests/ is on pytest's path); do the same here, whether
# this file runs as `python tests/compat/run.py` or as `python -m tests.compat.run`.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compat.corpus import SPECS, curve_falls, final_mean, run_script, script_names, torch_available  # noqa: E402


def _fmt(losses: list[float], name: str) -> str:
    return f"{final_mean(losses, SPECS[name]):.4g}" if len(losses) >= SPECS[name].window else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.compat.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="scripts to run (default: all)")
    parser.add_argument("--minigrad-only", action="store_true", help="do not run the scripts under torch")
    args = parser.parse_args(argv)
    names = args.names or script_names()
    unknown = sorted(set(names) - set(SPECS))
    if unknown:
        parser.error(f"unknown script(s) {unknown}; known: {', '.join(script_names())}")
    with_torch = torch_available() and not args.minigrad_only
    print(f"{'script':42} {'torch':>9} {'minigrad':>9} {'points':>7} {'sec':>11}  result")
    failures = 0
    for name in names:
        mg = run_script(name, "minigrad")
        tr = run_script(name, "torch") if with_torch else None
        spec = SPECS[name]
        if not mg.ok:
            verdict = f"FAIL {mg.first_error}"
        elif not curve_falls(mg.losses, spec):
            verdict = f"FAIL loss does not fall: {mg.losses}"
        elif tr is not None and len(tr.losses) != len(mg.losses):
            verdict = f"FAIL {len(mg.losses)} logged losses, torch logged {len(tr.losses)}"
        elif tr is not None and not (1 / spec.ratio <= final_mean(mg.losses, spec) / final_mean(tr.losses, spec)
                                     <= spec.ratio):
            verdict = f"FAIL final loss differs from torch's by more than x{spec.ratio}"
        else:
            verdict = "ok"
        failures += verdict != "ok"
        t_loss = _fmt(tr.losses, name) if tr else "-"
        points = f"{len(tr.losses) if tr else '-'}/{len(mg.losses)}"
        secs = f"{tr.seconds:.1f}/{mg.seconds:.1f}" if tr else f"-/{mg.seconds:.1f}"
        print(f"{name:42} {t_loss:>9} {_fmt(mg.losses, name):>9} {points:>7} {secs:>11}  {verdict}", flush=True)
    print(f"\n{len(names) - failures} of {len(names)} scripts run on minigrad with only their imports swapped")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
