"""docs/bptt-exercises.md: every number in the answers is recomputed here and must appear in the page
as written (rounded the way the page rounds it)."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "bptt-exercises.md").read_text(encoding="utf-8")


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def sci(x: float) -> str:
    """Scientific notation as the page writes it: 3.1e-6, not 3.1e-06."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def assert_on_page(*texts: str) -> None:
    missing = [t for t in texts if t not in PAGE]
    assert not missing, f"docs/bptt-exercises.md should say {missing}"


def test_counting_paths() -> None:
    assert_on_page(f"{8 * 9 // 2} for T = 8", f"{100 * 101 // 2:,} for T = 100")


def test_one_unit_fifty_steps() -> None:
    saturated = 1.1 * (1 - 0.9 ** 2)
    assert_on_page(f"0.9^50 = {sci(0.9 ** 50)}", f"1.1^50 = {1.1 ** 50:.0f}",
                   f"= {saturated:.3f}, and {saturated:.3f}^50 = {sci(saturated ** 50)}")


def test_norm_or_eigenvalue() -> None:
    W = np.array([[0.5, 2.0], [0.0, 0.5]])
    norms = [np.linalg.norm(np.linalg.matrix_power(W, n), 2) for n in (1, 2, 3, 5, 10, 50)]
    written = ", ".join(f"{x:.2f}" if x > 1 else f"{x:.2g}" if x > 0.01 else sci(x) for x in norms)
    assert_on_page(f"‖W‖ = {np.linalg.norm(W, 2):.2f}", f"ρ(W) = {max(abs(np.linalg.eigvals(W))):.1f}",
                   f"is {written}")


def test_lstm_cell_path() -> None:
    f = sigmoid(2.0)
    assert_on_page(f"0.5^100 = {sci(0.5 ** 100)}", f"sigmoid(2) = {f:.3f} and {f:.3f}^100 = {sci(f ** 100)}")


def test_break_the_hand_written_backward() -> None:
    """Drop the h_{t+1} path from min_char_rnn's backward: the page names which gradients break and by how much."""
    spec = importlib.util.spec_from_file_location("min_char_rnn_for_exercise", ROOT / "examples" / "min_char_rnn.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    source = textwrap.dedent(inspect.getsource(module.loss_and_gradients))
    assert "dh = W_hy.T @ dy + dh_next" in source
    namespace = dict(vars(module))
    exec(source.replace("dh = W_hy.T @ dy + dh_next", "dh = W_hy.T @ dy"), namespace)

    rng = np.random.default_rng(1)                     # tests/test_min_char_rnn.py's small example
    params = module.init_params(vocab_size=7, hidden=5, rng=rng)
    params = {name: p + rng.normal(0, 0.5, p.shape) for name, p in params.items()}
    inputs, targets, h0 = [0, 3, 6, 2, 2], [3, 6, 2, 2, 1], rng.normal(0, 0.5, (5, 1))
    _, broken, _ = namespace["loss_and_gradients"](params, inputs, targets, h0)
    _, auto = module.autograd_gradients(params, inputs, targets, h0)
    diff = {name: float(np.max(np.abs(broken[name] - auto[name]))) for name in broken}
    assert diff["W_hy"] < 1e-15 and diff["b_y"] < 1e-15
    assert_on_page(", ".join(f"{diff[n]:.2f}" for n in ("W_xh", "W_hh", "b_h")) + f" and {diff['h_0']:.2f}")
