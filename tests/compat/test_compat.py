"""Real PyTorch recurrent-model scripts, run on minigrad with only their imports swapped.

For every script in ``scripts/`` (see each file's header for its source, license and edits):

- ``test_runs_and_loss_falls``: the minigrad run exits 0 and its logged loss falls;
- ``test_script_runs_under_torch`` (only when torch is installed): the script itself is sound, it
  runs under real PyTorch and its loss falls;
- ``test_curve_tracks_torch`` (only when torch is installed): both runs logged the same number of
  losses, both curves fall, and the final losses agree within the script's tolerance.

Scripts that minigrad cannot run yet are marked ``xfail(strict=True)`` with the exact features they
are missing, so the mark turns red as soon as the gap is closed; then remove the mark. The full gap
list with one-line repros is in docs/pytorch-compat.md.
"""

from __future__ import annotations

import pytest

from compat.corpus import (
    DOCS_PAGE,
    REPO,
    SCRIPTS,
    SPECS,
    curve_falls,
    final_mean,
    run_script,
    script_names,
    torch_available,
)

# Missing or different features per script, found by running each script with a private shim that
# filled one gap at a time until the script ran to the end (see docs/pytorch-compat.md, "Missing").
GAPS: dict[str, str] = {}  # script -> what minigrad lacks for it (none today: all 15 run)


def _params(names: list[str]) -> list:
    marks = {n: pytest.mark.xfail(strict=True, reason=f"minigrad lacks: {GAPS[n]}") for n in GAPS}
    return [pytest.param(n, marks=marks.get(n, ()), id=n) for n in names]


def test_every_script_has_a_spec() -> None:
    assert sorted(SPECS) == script_names()
    assert set(GAPS) <= set(SPECS)


def test_docs_table_lists_every_script() -> None:
    """docs/pytorch-compat.md shows the whole corpus, and each script's header names its source and license."""
    doc = (REPO / DOCS_PAGE).read_text()
    missing = [n for n in script_names() if f"| `{n}` |" not in doc]
    assert not missing, f"add these scripts to the corpus table of {DOCS_PAGE}: {missing}"
    for name in script_names():
        head = (SCRIPTS / f"{name}.py").read_text().split("\n")[:4]
        assert head[0].startswith("# Source: https://github.com/"), f"{name}: the first line must give the source URL"
        assert any(ln.startswith("# License: ") and any(k in ln for k in ("MIT", "BSD", "Apache")) for ln in head), (
            f"{name}: a '# License: MIT|BSD|Apache' line must follow the source")


@pytest.mark.parametrize("name", _params(script_names()))
def test_runs_and_loss_falls(name: str) -> None:
    spec = SPECS[name]
    mg = run_script(name, "minigrad")
    assert mg.ok, f"{name} failed under minigrad: {mg.first_error}\n{mg.stderr[-2000:]}"
    assert len(mg.losses) >= 2 * spec.window, f"{name}: only {len(mg.losses)} losses logged:\n{mg.stdout[-2000:]}"
    assert curve_falls(mg.losses, spec), f"{name}: the loss does not fall by {spec.margin:.0%}: {mg.losses}"


needs_torch = pytest.mark.skipif(not torch_available(), reason="torch not installed: the torch runs are skipped")


@needs_torch
@pytest.mark.parametrize("name", script_names())
def test_script_runs_under_torch(name: str) -> None:
    """The corpus itself is sound: each script runs under real PyTorch and its loss falls."""
    spec = SPECS[name]
    tr = run_script(name, "torch")
    assert tr.ok, f"{name} failed under torch (the corpus script itself is broken): {tr.first_error}"
    assert len(tr.losses) >= 2 * spec.window, f"{name}: only {len(tr.losses)} losses logged:\n{tr.stdout[-2000:]}"
    assert curve_falls(tr.losses, spec), f"{name}: torch's loss does not fall by {spec.margin:.0%}: {tr.losses}"


@needs_torch
@pytest.mark.parametrize("name", _params(script_names()))
def test_curve_tracks_torch(name: str) -> None:
    spec = SPECS[name]
    tr = run_script(name, "torch")
    assert tr.ok and curve_falls(tr.losses, spec), f"{name}: see test_script_runs_under_torch"
    mg = run_script(name, "minigrad")
    assert mg.ok, f"{name} failed under minigrad: {mg.first_error}\n{mg.stderr[-2000:]}"
    assert len(mg.losses) == len(tr.losses), f"{name}: minigrad logged {len(mg.losses)} losses, torch {len(tr.losses)}"
    assert curve_falls(mg.losses, spec), f"{name}: minigrad's loss does not fall: {mg.losses}"
    ratio = final_mean(mg.losses, spec) / final_mean(tr.losses, spec)
    assert 1 / spec.ratio <= ratio <= spec.ratio, (
        f"{name}: final loss {final_mean(mg.losses, spec):.4g} vs torch {final_mean(tr.losses, spec):.4g} "
        f"(ratio {ratio:.2f}, allowed x{spec.ratio})\nminigrad {mg.losses}\ntorch    {tr.losses}")
