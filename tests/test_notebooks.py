"""The lesson notebooks (docs/notebooks/*.ipynb): each is generated from its markdown page, so the
committed file must equal a fresh generation; each executes without error (nbclient, a real
kernel); and every code cell whose page shows its output prints exactly that output."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "docs" / "notebooks"


def _generator():
    spec = importlib.util.spec_from_file_location("generate_notebooks", NOTEBOOK_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module                          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()
NAMES = [lesson.notebook for lesson in GENERATOR.LESSONS]


@pytest.mark.parametrize("lesson", GENERATOR.LESSONS, ids=NAMES)
def test_committed_notebook_equals_a_fresh_generation(lesson) -> None:
    committed = (NOTEBOOK_DIR / lesson.notebook).read_text(encoding="utf-8")
    assert committed == GENERATOR.build(lesson), (
        f"docs/notebooks/{lesson.notebook} is out of date with docs/{lesson.page}: "
        "run python docs/notebooks/generate.py")


def test_every_lesson_notebook_has_code_and_checked_output() -> None:
    checked = 0
    for name in NAMES:
        cells = json.loads((NOTEBOOK_DIR / name).read_text(encoding="utf-8"))["cells"]
        assert any(c["cell_type"] == "code" for c in cells), f"{name} has no code cell"
        checked += sum("minigrad" in c["metadata"] for c in cells)
    assert checked >= 5                      # the lessons' printed numbers are compared when run


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")


@pytest.mark.parametrize("name", NAMES)
def test_notebook_executes_and_prints_what_its_page_shows(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz 'dot' is needed to show the drawings inline")
    # The kernel is a new process: it must import this checkout's minigrad.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    notebook = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(notebook)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()                                         # raises CellExecutionError on any error
    for cell in notebook.cells:
        expected = cell.metadata.get("minigrad", {}).get("expected_output")
        if expected is not None:
            assert _stdout(cell) == expected, f"{name} {cell.id}: the page shows\n{expected}\nthe code prints\n" \
                                              f"{_stdout(cell)}"
    drawings = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs
                if "image/svg+xml" in o.get("data", {})]
    if name in ("autograd.ipynb", "bptt.ipynb", "lstm-gru-cells.ipynb"):
        assert drawings, f"{name}: the drawing cell showed no SVG"
