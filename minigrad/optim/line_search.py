"""The strong-Wolfe line search of :class:`minigrad.optim.LBFGS` (PyTorch's, step for step).

Along a search direction ``d`` from the point ``x``, a step length ``t`` is acceptable when

- the loss fell enough (Armijo):      ``f(x + t d) <= f(x) + c1 * t * g(x).d``
- the slope flattened enough (curvature): ``|g(x + t d).d| <= c2 * |g(x).d|``

:func:`strong_wolfe` first grows ``t`` until it brackets such a point, then shrinks the bracket
("zoom"), each time trying the minimum of the cubic through the two ends' values and slopes
(:func:`cubic_interpolate`). Ported from PyTorch's torch/optim/lbfgs.py (itself ported from
Torch7's lswolfe.lua), with the same branches and the same arithmetic: numbers that are 0-d
tensors there are NumPy scalars of the parameters' dtype here, Python floats stay Python floats.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["cubic_interpolate", "strong_wolfe"]

# obj_func(x, t, d) -> (loss at x + t d, flat gradient there); it leaves the parameters at x.
ObjectiveT = Callable[[list[np.ndarray], Any, np.ndarray], tuple[float, np.ndarray]]


def cubic_interpolate(x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any,
                      bounds: tuple[Any, Any] | None = None) -> Any:
    """The minimiser of the cubic with values ``f1, f2`` and slopes ``g1, g2`` at ``x1, x2``, clamped to
    ``bounds`` (default: between x1 and x2); the middle of the bounds when the cubic has no minimum.

    Example::

        >>> # f(x) = (x - 1)^2: values 1, 1 and slopes -2, 2 at x = 0, 2 -> the minimum at 1
        >>> float(cubic_interpolate(0.0, 1.0, np.float64(-2.0), 2.0, 1.0, np.float64(2.0)))
        1.0
    """
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    # The cubic's minimum, with x2 the farther point:
    #   d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2);  d2 = sqrt(d1^2 - g1 g2)
    #   min_pos = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def strong_wolfe(obj_func: ObjectiveT, x: list[np.ndarray], t: Any, d: np.ndarray, f: float, g: np.ndarray,
                 gtd: Any, c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                 max_ls: int = 25) -> tuple[float, np.ndarray, Any, int]:
    """Search ``t`` along ``d`` from the parameters ``x`` (loss ``f``, flat gradient ``g``, slope ``gtd``).

    Returns ``(loss, flat gradient, t, number of evaluations)`` at the accepted step.

    Example::

        >>> def quadratic(x, t, d):             # f(p) = sum(p^2), seen from x[0] along d
        ...     p = x[0] + t * d
        ...     return float(p @ p), 2 * p
        >>> x = [np.array([3.0, -4.0])]
        >>> g = 2 * x[0]
        >>> f_new, g_new, t, evals = strong_wolfe(quadratic, x, 1.0, -g, 25.0, g, g @ -g)
        >>> float(t), f_new, evals                # the exact minimum, half a gradient step away
        (0.5, 0.0, 2)
    """
    d_norm = np.abs(d).max()
    g = g.copy()
    # evaluate objective and gradient using initial step
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    # Phase 1: grow t until [t_prev, t] brackets a point satisfying the Wolfe conditions.
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate: the cubic's minimum, kept within [t + 0.01 (t - t_prev), 10 t]
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

    if ls_iter == max_ls:  # out of evaluations: bracket from the start point
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # Phase 2 (zoom): shrink the bracket until its low end satisfies the conditions.
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:  # the bracket is too small
            break
        t = cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])

        # A t very close to an end of the bracket makes little progress: if that happens twice in a
        # row, or t is at (or beyond) an end, move it to 10% of the bracket's length from that end.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # not enough decrease, or not below the low end: t becomes the new high end
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # the Wolfe conditions hold
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # the minimum lies on the other side of t: the old high end becomes the low end
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            # t becomes the new low end
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals
