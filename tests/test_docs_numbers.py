"""Numbers the lesson pages print without a code block to show them: recomputed here, and each must
appear in the page exactly as written."""

from __future__ import annotations

import math
from pathlib import Path

import minigrad as mg

DOCS = Path(__file__).resolve().parent.parent / "docs"


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_autograd_page_shows_the_example_gradients() -> None:
    page = (DOCS / "autograd.md").read_text(encoding="utf-8")
    a = mg.tensor([2.0, -3.0], requires_grad=True)
    b = mg.tensor([0.5, 4.0], requires_grad=True)
    d = (a * b).tanh() + a
    (d * d).sum().backward()
    a_grad, b_grad = a.grad.tolist(), b.grad.tolist()
    assert f"a.grad = [{a_grad[0]:.3f}, {a_grad[1]:.1f}]" in page
    assert f"b.grad = [{b_grad[0]:.3f}, {b_grad[1]:.1f}]" in page
    t = math.tanh(1.0)
    assert f"= [{2 * (t + 2):.4f}, -8.0]" in page                           # dL/dd = 2 d
    assert f"= [{2 * (t + 2) * (1 - t * t):.4f}, 0.0]" in page              # dL/dc


def test_worked_example_1_arithmetic() -> None:
    page = (DOCS / "rnn-lstm-gru.md").read_text(encoding="utf-8")
    f, i = sigmoid(2.70 + 1.63 + 1.62), sigmoid(2.00 + 1.65 + 0.62)
    g, o = math.tanh(1.41 + 0.94 - 0.32), sigmoid(4.38 - 0.19 + 0.59)
    c = f * 2 + i * g
    for line in (f"sigmoid(5.95) = {f:.5f}     f * c = {f * 2:.5f}",
                 f"sigmoid(4.27) = {i:.5f}",
                 f"tanh(2.03)    = {g:.5f}     i * g = {i * g:.5f}",
                 f"= {c:.5f}",
                 f"sigmoid(4.78) = {o:.5f}",
                 f"= {o:.5f} * {math.tanh(c):.5f} = {o * math.tanh(c):.5f}"):
        assert line in page, f"docs/rnn-lstm-gru.md should say {line!r}"
