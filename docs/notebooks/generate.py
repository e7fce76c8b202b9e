"""Make the lesson notebooks from the markdown pages, so that notebook and page say the same thing.

    python docs/notebooks/generate.py            # rewrite docs/notebooks/*.ipynb
    python docs/notebooks/generate.py --check    # exit 1 if a committed notebook is out of date

Each notebook is a list of sections of one page (or the whole page). The page's text becomes
markdown cells and its ```python blocks become code cells, in order. Two HTML comments, invisible
on GitHub, steer the conversion:

- ``<!-- notebook: show-only -->`` on the line before a ```python block: the block is an excerpt
  that cannot run on its own (library source, a loop over undefined data); it stays text.
- ``<!-- notebook: output -->`` on the line before a ```text block: the block is what the code
  block before it prints. It stays in the text, and it is stored in that code cell's metadata
  (``minigrad.expected_output``); ``tests/test_notebooks.py`` runs every notebook and compares.

Relative links are rewritten for the notebooks' folder (``img/x.svg`` -> ``../img/x.svg``).
The notebooks are committed without outputs; only the standard library is needed here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = DOCS / "notebooks"


@dataclass(frozen=True)
class Lesson:
    """One notebook: a page and the level-2 sections of it to include (all of them when empty)."""

    notebook: str
    page: str
    sections: tuple[str, ...] = ()


LESSONS = (
    Lesson("autograd.ipynb", "autograd.md",
           ("1. Forward: every op records a node", "2. Backward: who is waiting for whom", "3. Running the nodes",
            "4. What you can see and control", "5. Writing your own op", "6. BPTT is just this")),
    Lesson("bptt.ipynb", "bptt.md",
           ("The unrolled graph", "BPTT is the chain rule on that graph", "Sum over paths: dL/dW_hh written out",
            "Autograd does exactly this, without being told")),
    Lesson("truncated-bptt.ipynb", "bptt.md", ("Truncated BPTT",)),
    Lesson("vanishing-gradients.ipynb", "bptt.md", ("Vanishing and exploding gradients",)),
    Lesson("lstm-gru-cells.ipynb", "rnn-lstm-gru.md",
           ("The equations, in the code's notation", "PyTorch's GRU is not the textbook GRU",
            "Worked example 1: a single-unit LSTM (StatQuest's two companies)",
            "Worked example 2: one step of a 2-input, 3-unit LSTM (a blog article's example)")),
)

SHOW_ONLY = "<!-- notebook: show-only -->"
OUTPUT = "<!-- notebook: output -->"
FENCE = re.compile(r"^```(\w*)\s*$")
RELATIVE_LINK = re.compile(r"\]\((?!https?:|#|/)([^)\s]+)\)")


def select_sections(text: str, lesson: Lesson) -> str:
    """The page's title and introduction plus the requested level-2 sections, in the page's order."""
    if not lesson.sections:
        return text
    lines = text.splitlines()
    chunks, current, keep = [], [], True                 # the title and introduction always come along
    for line in lines:
        if line.startswith("## "):
            if keep:
                chunks.extend(current)
            current, keep = [], line[3:].strip() in lesson.sections
        current.append(line)
    if keep:
        chunks.extend(current)
    found = {line[3:].strip() for line in chunks if line.startswith("## ")}
    missing = [s for s in lesson.sections if s not in found]
    if missing:
        raise SystemExit(f"generate.py: {lesson.page} has no section(s) {missing} for {lesson.notebook}; "
                         "update LESSONS in docs/notebooks/generate.py")
    return "\n".join(chunks) + "\n"


def split_cells(text: str) -> list[dict]:
    """Markdown and code cells from markdown text (see the module docstring for the two markers)."""
    cells: list[dict] = []
    prose: list[str] = []
    lines = text.splitlines()
    i = 0

    def flush_prose() -> None:
        body = "\n".join(prose).strip("\n")
        if body.strip():
            cells.append({"cell_type": "markdown", "metadata": {}, "source": RELATIVE_LINK.sub(r"](../\1)", body)})
        prose.clear()

    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match or not match.group(1):
            prose.append(lines[i])
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        block = lines[i + 1:end]
        markers = set()                                   # the HTML comments right above the fence
        for line in reversed(prose):
            if not line.strip().startswith("<!--"):
                break
            markers.add(line.strip())
        if match.group(1) == "python" and SHOW_ONLY not in markers:
            flush_prose()
            cells.append({"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                          "source": "\n".join(block)})
        else:
            if OUTPUT in markers:
                code = next((c for c in reversed(cells) if c["cell_type"] == "code"), None)
                if code is None:
                    raise SystemExit("generate.py: an output block with no code block before it")
                code["metadata"] = {"minigrad": {"expected_output": "\n".join(block) + "\n"}}
            prose.extend(lines[i:end + 1])
        i = end + 1
    flush_prose()
    for number, cell in enumerate(cells):                 # stable ids: regeneration gives the same file
        cell["id"] = f"cell-{number:03d}"
        source = cell["source"].splitlines(keepends=True)
        cell["source"] = source
    return cells


def build(lesson: Lesson) -> str:
    """The notebook's JSON text for ``lesson``."""
    page = (DOCS / lesson.page).read_text(encoding="utf-8")
    header = (f"*Generated from [{lesson.page}]({lesson.page}) by `docs/notebooks/generate.py`; "
              "edit the page, then run the script.*")
    cells = split_cells(header + "\n\n" + select_sections(page, lesson))
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description="Make docs/notebooks/*.ipynb from the markdown pages.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check that the committed notebooks are up to date")
    args = ap.parse_args()
    stale = []
    for lesson in LESSONS:
        path = NOTEBOOK_DIR / lesson.notebook
        text = build(lesson)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(lesson.notebook)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(DOCS.parent)}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python docs/notebooks/generate.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
