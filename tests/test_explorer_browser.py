"""The explorer page in a real browser: Debian's chromium driven by Playwright (no downloaded browser).

Skips with the reason when Playwright, chromium or Graphviz is missing. Screenshots go to
tests/.artifacts/explorer/ (git-ignored): look at them after a change to the page.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from explorer_truth import lstm_truth

import minigrad as mg

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parent / ".artifacts" / "explorer"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install "
                               "playwright; never `playwright install`: the tests use Debian's chromium)")
pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed (apt-get install chromium)"),
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed"),
]

ALL_STATES = """() => {
  const e = window.minigradExplorer, out = [];
  for (let i = 0; i < e.length; i++) { e.goto(i); out.push(e.state()); }
  return out;
}"""


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def open_page(browser, path: Path, errors: list[str], width: int = 1400, height: int = 820):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("request", lambda r: errors.append(f"request: {r.url}") if not r.url.startswith(("file:", "data:"))
            else None)
    page.goto(path.as_uri())
    page.wait_for_function("window.minigradExplorer !== undefined")
    return page


def two_layer_lstm(impl: str, tmp_path: Path):
    mg.manual_seed(7)
    lstm = mg.nn.LSTM(3, 4, num_layers=2, impl=impl, dtype=mg.float64)
    x = np.random.default_rng(7).standard_normal((6, 2, 3))

    def loss_of(out):
        return (out * out).sum() + out[-1].sum()

    with mg.viz.record():  # the engine keeps no forward values unless asked
        out, _ = lstm(mg.tensor(x))
    loss = loss_of(out)
    ex = mg.viz.explore(loss, tmp_path / f"lstm_{impl}.html", params=lstm, view="cells")
    return lstm, x, loss_of, loss, ex


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_two_layer_lstm_steps_agree_with_autograd(browser, tmp_path: Path, impl: str) -> None:
    lstm, x, loss_of, loss, ex = two_layer_lstm(impl, tmp_path)
    html = ex.path.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html) and "<link" not in html and " src=" not in html
    errors: list[str] = []
    page = open_page(browser, ex.path, errors)
    api = page.evaluate("({length: window.minigradExplorer.length})")
    assert api["length"] == ex.length
    states = page.evaluate(ALL_STATES)
    truth = lstm_truth(lstm, x, loss_of, with_c=True)
    cell_frames = 0
    for i, (s, f) in enumerate(zip(states, ex.frames)):
        assert s["index"] == i and s["phase"] == f.phase and s["node"]["id"] == f.node
        if f.cell is None:
            continue
        cell_frames += 1
        layer = int(f.cell[0][-1][1:])
        h_norm, g_norm, c_norm, gc_norm = truth[(layer, f.cell[1])]
        assert s["node"]["scope"] == f"lstm/l{layer}/t{f.cell[1] + 1}"   # scopes count t = 1..T too
        assert s["node"]["label"] == f"h_{f.cell[1] + 1}"
        assert s["node"]["value"] == pytest.approx(h_norm, rel=1e-5)
        assert s["node"]["c_value"] == pytest.approx(c_norm, rel=1e-5)
        if f.phase == "backward":
            assert s["node"]["grad_norm"] == pytest.approx(g_norm, rel=1e-5)
            assert s["node"]["c_grad_norm"] == pytest.approx(gc_norm, rel=1e-5)
        else:
            assert s["node"]["grad_norm"] is None
    assert cell_frames == 24
    assert [s["phase"] for s in states] == sorted((s["phase"] for s in states), key=["forward", "backward"].index)

    # next / prev, and the page's own controls
    assert page.evaluate("window.minigradExplorer.goto(0).index") == 0
    assert page.evaluate("window.minigradExplorer.next().index") == 1
    assert page.evaluate("window.minigradExplorer.prev().index") == 0
    assert page.evaluate("window.minigradExplorer.prev().index") == 0  # clamped at the first frame
    page.click("#mg-next")
    assert page.evaluate("window.minigradExplorer.state().index") == 1
    page.fill("#mg-t", "3")
    page.click("#mg-jump-backward")
    s = page.evaluate("window.minigradExplorer.state()")
    assert s["phase"] == "backward" and s["t"] == 3
    assert "dL/dc_2 += dL/dc_3 ⊙ f_3" in page.inner_text("#mg-eq")  # the step's own equation beside the graph

    # per-step contributions sum to .grad
    lstm.zero_grad()
    loss.backward()
    for name, p in lstm.named_parameters():
        parts = np.array(page.evaluate(f"window.minigradExplorer.contributions({name!r})"))
        assert parts.shape == (6, p.numel())
        np.testing.assert_allclose(parts.sum(axis=0), p.grad.numpy().ravel(), rtol=0, atol=1e-10)
    page.evaluate("window.minigradExplorer.goto(window.minigradExplorer.length - 8)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"lstm2x6_{impl}_cells.png"))
    assert errors == []


def test_side_panel_names_each_number_by_what_it_is(browser, tmp_path: Path) -> None:
    """||h_3|| only for a step's hidden state; the head and the loss show ||output|| (issue 21)."""
    mg.manual_seed(3)
    rnn, head = mg.nn.RNN(2, 3), mg.nn.Linear(3, 1)
    with mg.viz.record():
        out, _ = rnn(mg.randn(4, 1, 2))
        loss = head(out).pow(2).sum()
    ex = mg.viz.explore(loss, tmp_path / "rnn_head.html", params=rnn, view="cells")
    errors: list[str] = []
    page = open_page(browser, ex.path, errors)
    kinds = set()
    for i, f in enumerate(ex.frames):
        page.evaluate(f"window.minigradExplorer.goto({i})")
        panel = page.inner_text("#mg-node")
        if f.cell is not None:
            t = f.cell[1] + 1
            assert f"||h_{t}||" in panel and f"time step t = {t}" in panel
            assert (f"||dL/dh_{t}||" in panel) == (f.phase == "backward")
            kinds.add("state")
        else:
            assert "||output||" in panel and "h_" not in panel, panel
            kinds.add("output")
    assert kinds == {"state", "output"}
    assert errors == []


def test_ops_view_window_and_play(browser, tmp_path: Path) -> None:
    mg.manual_seed(1)
    rnn = mg.nn.RNN(2, 3, impl="reference")
    out, _ = rnn(mg.randn(8, 1, 2))
    ex = mg.viz.explore(out[-1].sum(), tmp_path / "rnn_ops.html", params=rnn, view="ops", window=(6, 8))
    errors: list[str] = []
    page = open_page(browser, ex.path, errors)
    states = page.evaluate(ALL_STATES)
    for s, f in zip(states, ex.frames):
        assert s["node"]["value"] == f.value and s["node"]["grad_norm"] == f.grad_norm
    labels = {s["node"]["label"] for s in states}
    assert {"tanh = h_6", "tanh = h_7", "tanh = h_8"} <= labels
    page.evaluate("window.minigradExplorer.goto(0)")
    page.click("#mg-play")
    page.wait_for_function("window.minigradExplorer.state().index >= 2", timeout=5000)
    page.click("#mg-play")
    with pytest.raises(sync_api.Error, match="no weight named"):
        page.evaluate("window.minigradExplorer.contributions('nope')")
    errors = [e for e in errors if "no weight named" not in e]
    back = next(i for i, f in enumerate(ex.frames) if f.phase == "backward" and f.cell is not None)
    page.evaluate(f"window.minigradExplorer.goto({back + 3})")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "rnn_ops_window.png"))
    assert errors == []


def test_200_step_cells_view_paints_fast(browser, tmp_path: Path) -> None:
    mg.manual_seed(2)
    lstm = mg.nn.LSTM(4, 8, num_layers=2)
    out, _ = lstm(mg.randn(200, 2, 4))
    ex = mg.viz.explore(out[-1].sum(), tmp_path / "long.html", params=lstm)
    assert ex.view == "cells" and ex.model.steps == 200
    errors: list[str] = []
    started = time.perf_counter()
    page = open_page(browser, ex.path, errors)
    ready = time.perf_counter() - started
    # The page script can finish before the browser's first paint: wait for that entry to exist.
    page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0", timeout=10_000)
    paint = page.evaluate("""() => {
      const p = performance.getEntriesByName('first-contentful-paint')[0];
      return p ? p.startTime : null; }""")
    ready_in_page = page.evaluate("window.minigradExplorer.readyMs")
    assert paint is not None and paint < 2000, f"first contentful paint after {paint} ms"
    assert ready_in_page < 2000, f"explorer ready {ready_in_page} ms after navigation"
    stepping = page.evaluate("""() => {
      const e = window.minigradExplorer, t0 = performance.now();
      for (let i = 0; i < 100; i++) { e.next(); }
      return (performance.now() - t0) / 100; }""")
    assert stepping < 50, f"{stepping:.1f} ms per step"
    page.evaluate("window.minigradExplorer.goto(window.minigradExplorer.length - 150)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "lstm_200_cells.png"))
    (SHOTS / "lstm_200_timing.txt").write_text(f"first contentful paint {paint:.0f} ms; explorer ready "
                                               f"{ready_in_page:.0f} ms; loaded by Playwright in {ready:.2f} s; "
                                               f"{stepping:.2f} ms per step\n")
    assert errors == []
