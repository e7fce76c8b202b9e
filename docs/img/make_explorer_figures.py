"""The explorer screenshots of docs/visualization.md and docs/bptt.md (PNG, made in headless chromium).

    PYTHONPATH=. python docs/img/make_explorer_figures.py

Needs Graphviz, Playwright (pip install playwright) and Debian's chromium (apt-get install chromium);
never `playwright install`. Prints the numbers the lessons quote. Seeded: the same every time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import minigrad as mg

HERE = Path(__file__).resolve().parent
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def lstm_page(out_dir: Path) -> Path:
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4, num_layers=2)
    out, _ = lstm(mg.randn(6, 2, 3))
    ex = mg.viz.explore(out[-1].sum(), out_dir / "lstm.html", params=lstm, view="cells",
                        title="2-layer LSTM, 6 steps, loss = sum of the last step's output")
    return ex.path


def vanishing_page(out_dir: Path) -> Path:
    mg.manual_seed(0)
    rnn = mg.nn.RNN(3, 8)
    out, _ = rnn(mg.randn(30, 1, 3))
    loss = out[-1].sum()
    ex = mg.viz.explore(loss, out_dir / "vanishing.html", params=rnn,
                        title="RNN, 30 steps, loss on the last step only")
    norms = {f.cell[1] + 1: f.grad_norm for f in ex.frames if f.phase == "backward" and f.cell is not None}
    parts = mg.viz.grad_contributions(loss, rnn.weight_hh_l0)
    share = [float(np.linalg.norm(p)) for p in parts]
    print("RNN ||dL/dh_t|| at t = 30, 25, 20, 10, 1:", [norms[t] for t in (30, 25, 20, 10, 1)])
    print("RNN ||term_t of dL/dW_hh|| at t = 30, 25, 20, 10:", [f"{share[t - 1]:.3g}" for t in (30, 25, 20, 10)])
    return ex.path


def truncated_page(out_dir: Path) -> Path:
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4)
    stream = mg.randn(12, 1, 3)
    _, state = lstm(stream[:6])                       # window 1
    state = mg.nn.utils.detach_state(state)          # the cut
    out, _ = lstm(stream[6:], state)                 # window 2: what we explore
    ex = mg.viz.explore((out * out).sum(), out_dir / "truncated.html", params=lstm,
                        title="Truncated BPTT: the second window of 6 steps")
    return ex.path


def ops_page(out_dir: Path) -> Path:
    mg.manual_seed(0)
    rnn = mg.nn.RNN(2, 3, impl="reference")
    out, _ = rnn(mg.randn(8, 1, 2))
    ex = mg.viz.explore(out[-1].sum(), out_dir / "ops.html", params=rnn, view="ops", window=(7, 8),
                        title="RNN (reference ops), steps 7-8 of 8")
    return ex.path


def shoot(page, path: Path, frame: str, name: str, width: int = 1280, height: int = 720) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto(path.as_uri())
    page.wait_for_function("window.minigradExplorer !== undefined")
    page.evaluate(f"window.minigradExplorer.goto({frame})")
    page.screenshot(path=str(HERE / name))
    print("wrote", HERE / name)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        out_dir = Path(tmp)
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        shoot(page, lstm_page(out_dir), "19", "explorer-lstm-cells.png")
        shoot(page, vanishing_page(out_dir), "window.minigradExplorer.length - 1", "explorer-vanishing.png",
              height=900)
        shoot(page, truncated_page(out_dir), "window.minigradExplorer.length - 1", "explorer-truncated.png")
        shoot(page, ops_page(out_dir), "60", "explorer-ops.png")
        browser.close()


if __name__ == "__main__":
    main()
