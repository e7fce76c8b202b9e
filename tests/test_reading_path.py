"""docs/reading-the-code.md lists files (or named functions of a file) with their line counts; the
counts must stay within 15% of the code, and the core must stay about the size the page says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reading-the-code.md"
# | [#] | [`path`](link) | all / `name`, `name` | lines |
ROW = re.compile(r"^\|(?: *\d+ *\|)? *\[`(?P<path>minigrad/[^`]+)`\]\([^)]*\) *\| *(?P<part>[^|]+?) *\| *"
                 r"(?P<lines>[\d,]+) *\|$")
TOLERANCE = 0.15


def measured_lines(path: str, part: str) -> int:
    """wc -l of the file, or the summed length of the named top-level functions/classes."""
    source = (ROOT / path).read_text(encoding="utf-8")
    if part == "all":
        return source.count("\n")
    names = re.findall(r"`([A-Za-z_]\w*)`", part)
    assert names, f"reading-the-code.md: part {part!r} of {path} is neither 'all' nor `names`"
    tops = {node.name: node for node in ast.parse(source).body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    missing = [n for n in names if n not in tops]
    assert not missing, f"reading-the-code.md names {missing} in {path}, which has no such function or class"
    return sum(tops[n].end_lineno - tops[n].lineno + 1 for n in names)


def rows() -> list[tuple[str, str, int]]:
    found = []
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line.strip())
        if match:
            found.append((match["path"], match["part"], int(match["lines"].replace(",", ""))))
    return found


def test_every_listed_count_is_within_15_percent() -> None:
    listed = rows()
    assert len(listed) >= 20
    wrong = []
    for path, part, stated in listed:
        actual = measured_lines(path, part)
        if abs(actual - stated) > TOLERANCE * actual:
            wrong.append(f"{path} ({part}): page says {stated}, now {actual}")
    assert not wrong, "update docs/reading-the-code.md:\n" + "\n".join(wrong)


def test_the_core_is_about_2000_lines_as_the_page_says() -> None:
    text = PAGE.read_text(encoding="utf-8")
    stated = int(re.search(r"## The core, in reading order \(about ([\d,]+) lines\)", text)[1].replace(",", ""))
    core_table = text.split("## The core", 1)[1].split("\n## ", 1)[0]
    core = sum(measured_lines(m["path"], m["part"])
               for m in (ROW.match(line.strip()) for line in core_table.splitlines()) if m)
    assert abs(core - stated) <= TOLERANCE * core, f"the core is {core} lines; the page says about {stated}"
    assert core < 2600                        # "read the code" must stay a weekend, not a month
    total = sum(p.read_text(encoding="utf-8").count("\n") for p in (ROOT / "minigrad").rglob("*.py"))
    stated_total = float(re.search(r"minigrad is about ([\d.,]+) lines", text)[1].replace(",", ""))
    assert abs(total - stated_total) <= TOLERANCE * total, f"the package is {total} lines, not ~{stated_total}"
