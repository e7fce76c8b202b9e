"""``mg.multinomial``: the distributions it draws from, the order of draws, and its errors.

Draws are random, so the checks are statistical: each compares observed frequencies with the exact
probabilities, with a tolerance of five standard errors (a false failure about once in 1.7 million).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad.sampling as sampling

WEIGHTS = np.array([1.0, 0.0, 2.0, 3.0, 4.0])  # category 1 can never be drawn


def _assert_frequencies(draws: np.ndarray, probabilities: np.ndarray) -> None:
    n = draws.size
    observed = np.bincount(draws.ravel(), minlength=len(probabilities))[: len(probabilities)] / n
    tolerance = 5 * np.sqrt(probabilities * (1 - probabilities) / n) + 1e-12
    assert np.all(np.abs(observed - probabilities) <= tolerance), (observed, probabilities)


@pytest.mark.parametrize("compare_all", [True, False], ids=["one-comparison", "binary-search"])
def test_with_replacement_draws_each_category_in_proportion_to_its_weight(monkeypatch, compare_all):
    # Both ways of finding a draw's category (all comparisons at once, or searchsorted per row).
    monkeypatch.setattr(sampling, "_COMPARE_ALL_UP_TO", 1 << 40 if compare_all else 0)
    mg.manual_seed(0)
    weights = mg.tensor(np.tile(WEIGHTS, (3, 1)))
    draws = mg.multinomial(weights, 20_000, replacement=True)
    assert draws.shape == (3, 20_000) and draws.dtype == mg.int64
    _assert_frequencies(draws.numpy(), WEIGHTS / WEIGHTS.sum())


@pytest.mark.parametrize("categories", [5, 2_000], ids=["sorted-whole", "partitioned"])
def test_without_replacement_draws_in_order_as_one_draw_after_another(categories):
    # First draw ~ w / sum(w); second draw given the first was k ~ w / (sum(w) - w_k). Padding the
    # row with zero weights sends it down the partition path (rows longer than sorting's limit).
    weights = np.concatenate([WEIGHTS, np.zeros(categories - len(WEIGHTS))])
    mg.manual_seed(1)
    draws = mg.multinomial(mg.tensor(np.tile(weights, (40_000, 1))), 3).numpy()
    assert draws.shape == (40_000, 3)
    assert np.all(draws < 5) and not np.any(draws == 1)  # zero weights never drawn
    assert np.all((draws[:, 0] != draws[:, 1]) & (draws[:, 0] != draws[:, 2]) & (draws[:, 1] != draws[:, 2]))
    _assert_frequencies(draws[:, 0], WEIGHTS / WEIGHTS.sum())
    after_4 = draws[draws[:, 0] == 4, 1]
    _assert_frequencies(after_4, np.where(np.arange(5) == 4, 0.0, WEIGHTS / (WEIGHTS.sum() - 4.0)))


def test_without_replacement_takes_every_positive_category_when_asked_for_all_of_them():
    mg.manual_seed(2)
    draws = mg.multinomial(mg.tensor(np.tile(WEIGHTS, (200, 1))), 4).numpy()
    assert {tuple(sorted(row)) for row in draws.tolist()} == {(0, 2, 3, 4)}


def test_a_draw_at_the_very_top_of_the_running_total_takes_the_last_positive_category(monkeypatch):
    # u * total may round up to the total itself; trailing zero weights must still never be drawn.
    class TopOfTheRange:
        def random(self, shape):
            return np.full(shape, np.nextafter(1.0, 0.0))

    monkeypatch.setattr(sampling, "numpy_rng", lambda op, generator: TopOfTheRange())
    weights = mg.tensor([[0.1, 0.7, 0.2, 0.0, 0.0], [0.3, 0.0, 0.0, 0.0, 0.0]], dtype=mg.float64)
    assert mg.multinomial(weights, 2, replacement=True).tolist() == [[2, 2], [0, 0]]


def test_shapes_dtypes_and_seeding():
    for dtype in (mg.float16, mg.float32, mg.float64):
        assert mg.multinomial(mg.ones(7, dtype=dtype), 3).shape == (3,)
    assert mg.multinomial(mg.ones(0, 4), 2).shape == (0, 2)  # no rows: no draws, as in PyTorch
    mg.manual_seed(3)
    first = mg.multinomial(mg.ones(2, 50), 5).tolist()
    mg.manual_seed(3)
    assert mg.multinomial(mg.ones(2, 50), 5).tolist() == first
    g = mg.Generator().manual_seed(4)
    again = mg.Generator().manual_seed(4)
    assert mg.multinomial(mg.ones(30), 4, generator=g).tolist() == mg.multinomial(mg.ones(30), 4,
                                                                                  generator=again).tolist()


@pytest.mark.parametrize("weights, num_samples, kwargs, message", [
    ([1.0, float("nan")], 1, {}, "multinomial: weights must be finite and non-negative"),
    ([1.0, -0.5], 1, {}, "multinomial: weights must be finite and non-negative"),
    ([1.0, float("inf")], 1, {}, "multinomial: weights must be finite and non-negative"),
    ([1e308, 1e308], 1, {"dtype": mg.float64}, r"multinomial: row 0 of the weights sums to more than float64"),
    ([[1.0, 1.0], [0.0, 0.0]], 1, {}, r"multinomial: row 1 of the weights sums to 0.0"),
    ([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]], 2, {}, "multinomial: row 1 has 1 non-zero weights, fewer than the 2"),
    ([1.0, 1.0], 3, {}, "multinomial: cannot draw 3 samples without replacement from 2 categories"),
    ([[], []], 1, {}, r"multinomial: cannot draw 1 samples without replacement from 0 categories"),
    ([1.0, 1.0], 0, {}, "multinomial: num_samples must be a positive int, got 0"),
])
def test_bad_weights_get_a_clear_error(weights, num_samples, kwargs, message):
    with pytest.raises(ValueError, match=message):
        mg.multinomial(mg.tensor(weights, **kwargs), num_samples)


def test_no_categories_with_replacement_is_refused_too():
    with pytest.raises(ValueError, match=r"multinomial: weights of shape \(2, 0\) have no categories"):
        mg.multinomial(mg.ones(2, 0), 1, replacement=True)


def _second_draw_probabilities(p: np.ndarray) -> np.ndarray:
    """P(second draw = j) without replacement: sum over first draws k != j of p_k * p_j / (1 - p_k)."""
    return np.array([sum(p[k] * p[j] / (1 - p[k]) for k in range(len(p)) if k != j) for j in range(len(p))])


def test_pytorch_draws_from_the_same_distributions():
    torch = pytest.importorskip("torch")
    p = np.array([0.05, 0.0, 0.15, 0.3, 0.5])
    exact = {True: [p, p], False: [p, _second_draw_probabilities(p)]}
    torch.manual_seed(0)
    mg.manual_seed(0)
    for replacement in (True, False):
        theirs = torch.multinomial(torch.tensor(np.tile(p, (30_000, 1))), 2, replacement=replacement).numpy()
        ours = mg.multinomial(mg.tensor(np.tile(p, (30_000, 1))), 2, replacement=replacement).numpy()
        for column in range(2):
            _assert_frequencies(theirs[:, column], exact[replacement][column])
            _assert_frequencies(ours[:, column], exact[replacement][column])
