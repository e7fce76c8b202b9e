"""Gradient check: the test every op must pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad.autograd.engine import run_backward
from minigrad.autograd.modes import enable_grad, no_grad

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


class GradcheckError(AssertionError):
    """Analytical and numerical gradients disagree."""


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare autograd's gradients with central finite differences (float64).

    Every input that requires grad is perturbed element by element; ``fn`` may return a tensor
    of any shape (it is reduced with a fixed random weighting so that every output counts).
    Returns True or raises ``GradcheckError`` naming the worst mismatch.

    Example::

        >>> import minigrad as mg
        >>> x = mg.randn(3, dtype=mg.float64, requires_grad=True)
        >>> mg.autograd.gradcheck(lambda t: (t * t).tanh(), [x])
        True
    """
    from minigrad.tensor import Tensor

    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    for t in wrt:
        if t.dtype != np.float64:
            raise ValueError(f"gradcheck: inputs must be float64 for accurate differences, got {t.dtype}")

    def outputs_of() -> list[Tensor]:
        out = fn(*inputs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]

    with enable_grad():
        outs = outputs_of()
    rng = np.random.default_rng(1234)
    weights = [rng.standard_normal(o.shape) for o in outs]

    def objective() -> float:
        with no_grad():
            return float(sum((o._array * w).sum() for o, w in zip(outputs_of(), weights)))

    # Analytical: one backward of sum(w * out).
    usable = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
    analytic = [np.zeros(t.shape) for t in wrt]
    if usable:
        captured = run_backward(
            [o for o, _ in usable],
            [np.asarray(w, dtype=o.dtype) for o, w in usable],
            capture={id(t): i for i, t in enumerate(wrt)},
        )
        analytic = [np.zeros(t.shape) if g is None else np.asarray(g, dtype=np.float64) for t, g in
                    zip(wrt, captured)]

    worst = None
    for k, t in enumerate(wrt):
        for idx in np.ndindex(t.shape):  # (nditer refuses zero-size arrays)
            old = t._array[idx].copy()
            t._array[idx] = old + eps
            plus = objective()
            t._array[idx] = old - eps
            minus = objective()
            t._array[idx] = old
            numeric = (plus - minus) / (2 * eps)
            a = analytic[k][idx]
            err = abs(a - numeric)
            if err > atol + rtol * abs(numeric):
                score = err - (atol + rtol * abs(numeric))
                if worst is None or score > worst[0]:
                    worst = (score, k, idx, a, numeric)
    if worst is not None:
        _, k, idx, a, numeric = worst
        raise GradcheckError(
            f"gradcheck: gradient mismatch for input {k} (shape {wrt[k].shape}) at index {idx}: "
            f"analytical {a:.10g} vs numerical {numeric:.10g} (atol={atol}, rtol={rtol})"
        )
    return True
