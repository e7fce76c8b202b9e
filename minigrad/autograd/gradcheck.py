"""Gradient checks: the tests every op must pass.

``gradcheck`` compares first derivatives with central finite differences; ``gradgradcheck``
does the same for second derivatives, by checking the gradient as a function of the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad.autograd.engine import _capture_keys, grad, run_backward
from minigrad.autograd.modes import enable_grad, is_grad_enabled, no_grad

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
    *,
    _who: str = "gradcheck",
) -> bool:
    """Compare autograd's gradients with central finite differences (float64).

    Every input that requires grad is perturbed element by element; ``fn`` may return a tensor
    of any shape (it is reduced with a fixed random weighting so that every output counts).
    Each output element's change is taken before the weighted sum, so a small change is not lost
    in the rounding of a big output elsewhere (``sum(w * (f(x + e) - f(x - e)))``, not
    ``sum(w * f(x + e)) - sum(w * f(x - e))``). Returns True or raises ``GradcheckError`` naming
    the worst mismatch.

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
        raise ValueError(f"{_who}: no input requires grad")
    for t in wrt:
        if t.dtype != np.float64:
            raise ValueError(f"{_who}: inputs must be float64 for accurate differences, got {t.dtype}")

    def outputs_of() -> list[Tensor]:
        out = fn(*inputs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]

    with enable_grad():
        outs = outputs_of()
    rng = np.random.default_rng(1234)
    weights = [rng.standard_normal(o.shape) for o in outs]

    def output_values() -> list[np.ndarray]:
        with no_grad():  # copies: an output may be a view of the input about to be perturbed back
            return [np.array(o._array, dtype=np.float64) for o in outputs_of()]

    # Analytical: one backward of sum(w * out).
    usable = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
    analytic = [np.zeros(t.shape) for t in wrt]
    if usable:
        captured = run_backward(
            [o for o, _ in usable],
            [np.asarray(w, dtype=o.dtype) for o, w in usable],
            capture=_capture_keys(wrt),
        )
        analytic = [np.zeros(t.shape) if g is None else np.asarray(g, dtype=np.float64) for t, g in
                    zip(wrt, captured)]

    worst = None
    for k, t in enumerate(wrt):
        for idx in np.ndindex(t.shape):  # (nditer refuses zero-size arrays)
            old = t._array[idx].copy()
            t._array[idx] = old + eps
            plus = output_values()
            t._array[idx] = old - eps
            minus = output_values()
            t._array[idx] = old
            numeric = sum(float((w * (p - m)).sum()) for p, m, w in zip(plus, minus, weights)) / (2 * eps)
            a = analytic[k][idx]
            err = abs(a - numeric)
            if err > atol + rtol * abs(numeric):
                score = err - (atol + rtol * abs(numeric))
                if worst is None or score > worst[0]:
                    worst = (score, k, idx, a, numeric)
    if worst is not None:
        _, k, idx, a, numeric = worst
        raise GradcheckError(
            f"{_who}: gradient mismatch for input {k} (shape {wrt[k].shape}) at index {idx}: "
            f"analytical {a:.10g} vs numerical {numeric:.10g} (atol={atol}, rtol={rtol})"
        )
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare autograd's second derivatives with central finite differences (float64).

    The gradient ``v . d fn / d inputs`` (``v``: ``grad_outputs``, random by default) is itself
    a function of the inputs, built with ``create_graph=True``; ``gradcheck`` then checks *its*
    gradient against finite differences of it. Returns True or raises ``GradcheckError`` naming
    the worst mismatch.

    Example::

        >>> import minigrad as mg
        >>> x = mg.randn(3, dtype=mg.float64, requires_grad=True)
        >>> mg.autograd.gradgradcheck(lambda t: (t * t).tanh(), [x])
        True
    """
    from minigrad.tensor import Tensor

    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradgradcheck: no input requires grad")
    with enable_grad():
        out = fn(*inputs)
    outs = [o for o in (list(out) if isinstance(out, (tuple, list)) else [out])
            if isinstance(o, Tensor) and o.dtype.kind == "f"]
    if grad_outputs is None:
        rng = np.random.default_rng(4321)
        vectors = [Tensor(rng.standard_normal(o.shape).astype(o.dtype)) for o in outs]
    else:
        vectors = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
        if len(vectors) != len(outs):
            raise ValueError(f"gradgradcheck: got {len(vectors)} grad_outputs for {len(outs)} outputs")

    def first_gradient(*args: Any) -> list[Tensor]:
        # Recorded when gradcheck asks for the analytical answer; plain when it takes differences.
        recorded = is_grad_enabled()
        with enable_grad():
            out = fn(*args)
            outs = [o for o in (list(out) if isinstance(out, (tuple, list)) else [out])
                    if isinstance(o, Tensor) and o.dtype.kind == "f"]
            used = [(o, v) for o, v in zip(outs, vectors) if o.requires_grad]
            if not used:
                return [Tensor(np.zeros(t.shape)) for t in wrt]
            grads = grad([o for o, _ in used], wrt, [v for _, v in used], create_graph=recorded,
                         materialize_grads=True)
        return list(grads)

    return gradcheck(first_gradient, inputs, eps=eps, atol=atol, rtol=rtol, _who="gradgradcheck")
