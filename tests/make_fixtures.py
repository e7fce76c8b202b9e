"""Regenerate the PyTorch parity fixtures in tests/fixtures/ (needs torch==2.13.0).

Each module in tests/fixture_makers/ has a function ``make(fixtures_dir: Path) -> list[Path]``
that runs PyTorch on fixed, seeded inputs and writes ``.npz`` files with the inputs and PyTorch's
outputs and gradients. The parity tests read them back, so they still run where torch is absent.

    .venv/bin/python tests/make_fixtures.py            # all areas
    .venv/bin/python tests/make_fixtures.py ops rnn    # some areas
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    import fixture_makers

    names = argv or [m.name for m in pkgutil.iter_modules(fixture_makers.__path__)]
    FIXTURES.mkdir(exist_ok=True)
    for name in names:
        module = importlib.import_module(f"fixture_makers.{name}")
        written = module.make(FIXTURES)
        for path in written:
            print(f"wrote {path.relative_to(HERE.parent)} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
