"""Regenerate the conceptual cell diagrams (docs/img/{lstm,gru}-cell*.svg). Needs Graphviz.

    python docs/img/make_cell_diagrams.py

One picture of each cell, then one per gate with that gate highlighted (``mg.viz.cell_diagram``).
"""

from __future__ import annotations

from pathlib import Path

import minigrad as mg
from minigrad.viz.diagram import GATES

HERE = Path(__file__).resolve().parent


def main() -> None:
    for kind, gates in GATES.items():
        for gate in (None, *gates):
            name = f"{kind}-cell" + (f"-{gate}" if gate else "")
            path = mg.viz.cell_diagram(kind, highlight=gate).render(filename=name, directory=str(HERE), format="svg")
            print("wrote", path)


if __name__ == "__main__":
    main()
