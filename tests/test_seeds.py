"""The worked examples of the source articles (/work/shared/seeds), through LSTMCell and LSTM, both impls.

1. seeds/004: a single-unit LSTM with hand-picked weights (StatQuest's stock example). One step
   from x=1, h=1, c=2 gives c ~ 2.96 and h ~ 0.98 (the article rounds every intermediate to two
   digits; the exact values are 2.9476 and 0.9862). Companies A [0, 0.5, 0.25, 1] and
   B [1, 0.5, 0.25, 1] from h = c = 0 end with h ~ 0.0 (A) and h ~ 1.0 (0.97, B).
2. seeds/000: one step of a 2-input, 3-unit LSTM from h0 = c0 = 0. The article's printed numbers
   are wrong (e.g. its first forget-gate entry is sigma(0.1*0.5 - 0.3*1.0 + 0.2) = sigma(-0.05)
   = 0.4875, printed as 0.38); we test the correct values, computed independently with NumPy
   below and pinned by hand.

The articles write one weight matrix per gate; PyTorch's layout stacks them in the order i, f, g, o:
``weight_ih = [W_i; W_f; W_c; W_o]`` (weights on x), ``weight_hh`` the same for h, ``bias_ih`` the
biases and ``bias_hh = 0``.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.recurrent import LSTM, LSTMCell

IMPLS = ("reference", "fused")


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def numpy_lstm_step(x, h, c, W, U, b):
    """The textbook step with one matrix per gate (dicts keyed 'f', 'i', 'c', 'o'), plain NumPy."""
    f = sigmoid(W["f"] @ x + U["f"] @ h + b["f"])
    i = sigmoid(W["i"] @ x + U["i"] @ h + b["i"])
    c_tilde = np.tanh(W["c"] @ x + U["c"] @ h + b["c"])
    o = sigmoid(W["o"] @ x + U["o"] @ h + b["o"])
    c_new = f * c + i * c_tilde
    return o * np.tanh(c_new), c_new, {"f": f, "i": i, "c~": c_tilde, "o": o}


def _load(module: mg.nn.Module, W: dict, U: dict, b: dict, suffix: str = "") -> None:
    """Article weights -> PyTorch layout (rows in the order i, f, g, o; bias_hh = 0)."""
    order = ("i", "f", "c", "o")
    sd = {
        "weight_ih" + suffix: np.concatenate([np.atleast_2d(W[k]) for k in order]),
        "weight_hh" + suffix: np.concatenate([np.atleast_2d(U[k]) for k in order]),
        "bias_ih" + suffix: np.concatenate([np.atleast_1d(b[k]) for k in order]),
        "bias_hh" + suffix: np.zeros(sum(np.atleast_1d(b[k]).size for k in order)),
    }
    module.load_state_dict(sd)


# ================================================================================================ seeds/004

# (short-term memory weight, input weight, bias) per gate, as in the article's figures.
STATQUEST = {"f": (2.70, 1.63, 1.62), "i": (2.00, 1.65, 0.62), "c": (1.41, 0.94, -0.32), "o": (4.38, -0.19, 0.59)}
SQ_U = {k: np.array([[v[0]]]) for k, v in STATQUEST.items()}
SQ_W = {k: np.array([[v[1]]]) for k, v in STATQUEST.items()}
SQ_B = {k: np.array([v[2]]) for k, v in STATQUEST.items()}
COMPANY_A = [0.0, 0.5, 0.25, 1.0]
COMPANY_B = [1.0, 0.5, 0.25, 1.0]


def _sq_cell(impl: str) -> LSTMCell:
    cell = LSTMCell(1, 1, dtype=mg.float64, impl=impl)
    _load(cell, SQ_W, SQ_U, SQ_B)
    return cell


def _sq_layer(impl: str) -> LSTM:
    lstm = LSTM(1, 1, dtype=mg.float64, impl=impl)
    _load(lstm, SQ_W, SQ_U, SQ_B, suffix="_l0")
    return lstm


@pytest.mark.parametrize("impl", IMPLS)
def test_statquest_single_step(impl: str) -> None:
    x, h0, c0 = (mg.tensor([[v]], dtype=mg.float64) for v in (1.0, 1.0, 2.0))
    h, c = _sq_cell(impl)(x, (h0, c0))
    # The article: forget gate sigma(1*2.70 + 1*1.63 + 1.62) = sigma(5.95) = 0.997 -> 2 * 0.997 = 1.99;
    # candidate tanh(2.03) = 0.97, input gate ~1.0 -> c = 1.99 + 0.97 = 2.96; h = 0.99 * tanh(2.96) = 0.98.
    assert abs(c.item() - 2.96) < 0.02 and abs(h.item() - 0.98) < 0.01
    # Exact values (computed by hand, no rounding of intermediates):
    #   f = sigma(5.95) = 0.99740093, i = sigma(4.27) = 0.98621101, g = tanh(2.03) = 0.96608693,
    #   c = 2 * f + i * g = 2.94756743, o = sigma(4.78) = 0.99167391, h = o * tanh(c) = 0.98622913
    assert c.item() == pytest.approx(2.947567431895319, abs=1e-12)
    assert h.item() == pytest.approx(0.9862291254174954, abs=1e-12)
    h_np, c_np, gates = numpy_lstm_step(np.array([1.0]), np.array([1.0]), np.array([2.0]), SQ_W, SQ_U, SQ_B)
    assert gates["f"][0] == pytest.approx(0.997, abs=5e-4) and 2 * gates["f"][0] == pytest.approx(1.99, abs=0.01)
    assert gates["c~"][0] == pytest.approx(0.97, abs=0.005)
    np.testing.assert_allclose([h.item(), c.item()], [h_np[0], c_np[0]], atol=1e-14)


@pytest.mark.parametrize("impl", IMPLS)
def test_statquest_companies_with_the_cell(impl: str) -> None:
    cell = _sq_cell(impl)
    xs = mg.tensor(np.array([COMPANY_A, COMPANY_B]).T[:, :, None], dtype=mg.float64)  # (4 days, 2 companies, 1)
    state = None
    for day in range(4):
        state = cell(xs[day], state)
        if day == 0:  # day 1 of A: long-term memory -0.20, short-term memory -0.13
            assert state[1]._array[0, 0] == pytest.approx(-0.20, abs=0.005)
            assert state[0]._array[0, 0] == pytest.approx(-0.13, abs=0.005)
            assert state[1]._array[0, 0] == pytest.approx(-0.20124714108443564, abs=1e-12)
            assert state[0]._array[0, 0] == pytest.approx(-0.1277553207642879, abs=1e-12)
    h = state[0]._array[:, 0]
    assert h[0] == pytest.approx(0.0, abs=0.01)   # A: predicts day 5 = 0
    assert h[1] == pytest.approx(0.97, abs=0.005)  # B: predicts day 5 = 1 (0.97)
    np.testing.assert_allclose(h, [0.0063931582408056405, 0.9693934616407679], atol=1e-12)


@pytest.mark.parametrize("impl", IMPLS)
def test_statquest_companies_with_the_layer(impl: str) -> None:
    lstm = _sq_layer(impl)
    xs = mg.tensor(np.array([COMPANY_A, COMPANY_B])[:, :, None], dtype=mg.float64)  # (2 companies, 4 days, 1)
    lstm.batch_first = True
    out, (h_n, c_n) = lstm(xs)
    np.testing.assert_allclose(h_n._array[0, :, 0], [0.0063931582408056405, 0.9693934616407679], atol=1e-12)
    np.testing.assert_allclose(out._array[:, -1, 0], h_n._array[0, :, 0], atol=0)
    # Day by day, as in the article's unrolled figure, checked against plain NumPy.
    for b, seq in enumerate((COMPANY_A, COMPANY_B)):
        h, c = np.zeros(1), np.zeros(1)
        for day, x in enumerate(seq):
            h, c, _ = numpy_lstm_step(np.array([x]), h, c, SQ_W, SQ_U, SQ_B)
            assert out._array[b, day, 0] == pytest.approx(h[0], abs=1e-14)
        assert c_n._array[0, b, 0] == pytest.approx(c[0], abs=1e-14)
    # Unbatched input works too: company A alone.
    out_a, (h_a, _) = lstm(xs[0])
    assert h_a._array[0, 0] == pytest.approx(0.0063931582408056405, abs=1e-12)


# ================================================================================================ seeds/000

ART_W = {"f": np.array([[0.1, -0.3], [-0.2, 0.4], [0.5, -0.1]]),
         "i": np.array([[-0.2, 0.3], [0.4, -0.1], [-0.3, 0.2]]),
         "c": np.array([[0.2, 0.1], [-0.3, 0.4], [0.1, -0.2]]),
         "o": np.array([[-0.4, 0.2], [0.3, -0.1], [0.1, 0.5]])}
ART_B = {"f": np.array([0.2, 0.1, -0.3]), "i": np.array([-0.1, 0.2, 0.4]),
         "c": np.array([0.3, -0.2, 0.1]), "o": np.array([-0.2, 0.3, -0.4])}
# h0 = 0, so the recurrent weights cannot matter; random ones prove it.
ART_U = {k: np.random.default_rng(i).uniform(-1, 1, (3, 3)) for i, k in enumerate("fico")}
ART_X = np.array([0.5, 1.0])

# The correct values, computed by hand (pre-activations W @ x + b first):
#   forget  [0.1*0.5 - 0.3*1.0 + 0.2, -0.2*0.5 + 0.4*1.0 + 0.1, 0.5*0.5 - 0.1*1.0 - 0.3] = [-0.05, 0.40, -0.15]
#   input   [-0.2*0.5 + 0.3*1.0 - 0.1, 0.4*0.5 - 0.1*1.0 + 0.2, -0.3*0.5 + 0.2*1.0 + 0.4] = [0.10, 0.30, 0.45]
#   cand.   [0.2*0.5 + 0.1*1.0 + 0.3, -0.3*0.5 + 0.4*1.0 - 0.2, 0.1*0.5 - 0.2*1.0 + 0.1]  = [0.50, 0.05, -0.05]
#   output  [-0.4*0.5 + 0.2*1.0 - 0.2, 0.3*0.5 - 0.1*1.0 + 0.3, 0.1*0.5 + 0.5*1.0 - 0.4] = [-0.20, 0.35, 0.15]
F_1 = [0.48750260351578967, 0.5986876601124521, 0.46257015465625045]   # sigma(forget)
I_1 = [0.52497918747893999, 0.574442516811659, 0.610639233949222]      # sigma(input)
G_1 = [0.46211715726000974, 0.04995837495787996, -0.04995837495787998]  # tanh(cand.)
O_1 = [0.45016600268752216, 0.5866175789173301, 0.5374298453437496]    # sigma(output)
C_1 = [0.2426018897384374, 0.02869821464662512, -0.03050654381362783]  # c1 = f*0 + i*g
H_1 = [0.10711782529682633, 0.01683025705234246, -0.01639004297894577]  # h1 = o * tanh(c1)
# What the article printed (wrong): f1 = [0.38, 0.59, 0.31], c1 = [0.22, 0.13, -0.06], h1 = [0.09, 0.07, -0.02].


def _article_cell(impl: str) -> LSTMCell:
    cell = LSTMCell(2, 3, dtype=mg.float64, impl=impl)
    _load(cell, ART_W, ART_U, ART_B)
    return cell


def test_article_values_independently_in_numpy() -> None:
    h, c, g = numpy_lstm_step(ART_X, np.zeros(3), np.zeros(3), ART_W, ART_U, ART_B)
    np.testing.assert_allclose(g["f"], F_1, atol=1e-15)
    np.testing.assert_allclose(g["i"], I_1, atol=1e-15)
    np.testing.assert_allclose(g["c~"], G_1, atol=1e-15)
    np.testing.assert_allclose(g["o"], O_1, atol=1e-15)
    np.testing.assert_allclose(c, C_1, atol=1e-15)
    np.testing.assert_allclose(h, H_1, atol=1e-15)
    assert g["f"][0] == pytest.approx(0.4875, abs=1e-4)  # sigma(-0.05), not the printed 0.38
    assert abs(g["f"][0] - 0.38) > 0.1 and abs(c[1] - 0.13) > 0.1


@pytest.mark.parametrize("impl", IMPLS)
def test_article_step_with_the_cell(impl: str) -> None:
    cell = _article_cell(impl)
    x = mg.tensor(ART_X, dtype=mg.float64)  # unbatched
    h, c = cell(x)                          # h0 = c0 = 0
    np.testing.assert_allclose(c._array, C_1, atol=1e-14)
    np.testing.assert_allclose(h._array, H_1, atol=1e-14)
    # The gates themselves, read off the cell equations: with c0 = 1, c1 = f + i*g, so f = c1(c0=1) - c1(c0=0);
    # and o = h1 / tanh(c1).
    _, c_one = cell(x, (mg.zeros(3, dtype=mg.float64), mg.ones(3, dtype=mg.float64)))
    np.testing.assert_allclose(c_one._array - c._array, F_1, atol=1e-14)
    np.testing.assert_allclose(h._array / np.tanh(c._array), O_1, atol=1e-12)
    np.testing.assert_allclose(c._array, np.array(I_1) * np.array(G_1), atol=1e-14)


@pytest.mark.parametrize("impl", IMPLS)
def test_article_step_with_the_layer(impl: str) -> None:
    lstm = LSTM(2, 3, dtype=mg.float64, impl=impl)
    _load(lstm, ART_W, ART_U, ART_B, suffix="_l0")
    out, (h_n, c_n) = lstm(mg.tensor(ART_X[None, None, :], dtype=mg.float64))  # T=1, B=1
    np.testing.assert_allclose(out._array[0, 0], H_1, atol=1e-14)
    np.testing.assert_allclose(h_n._array[0, 0], H_1, atol=1e-14)
    np.testing.assert_allclose(c_n._array[0, 0], C_1, atol=1e-14)
