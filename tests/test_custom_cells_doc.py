"""docs/custom-cells.md: its code blocks run, in order, and the model it trains learns."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "custom-cells.md"


def test_the_docs_code_runs_and_trains() -> None:
    blocks = [b.split("\n", 1)[1] for b in DOC.read_text().split("```python")[1:]]
    blocks = [b.split("```", 1)[0] for b in blocks]
    assert len(blocks) >= 8
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(DOC), "exec"), namespace)
    lines = printed.getvalue().splitlines()
    assert "(4, 8) (4, 8)" in lines and "(4, 12, 16) (4, 4, 8)" in lines and "True" in lines
    first = float(next(line for line in lines if line.startswith("0 ")).split()[1])
    final = float(next(line for line in lines if line.startswith("final")).split()[1])
    assert final < 0.3 * first, (first, final)
    assert "4" in lines and "(6, 2, 8)" in lines
    assert "gradient colouring" in namespace["dot"]
