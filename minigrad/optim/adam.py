"""Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), with PyTorch's exact update.

For each parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``::

    g   = g + weight_decay * p                         Adam: L2 penalty inside the gradient
    p   = p * (1 - lr * weight_decay)                  AdamW: decay applied to p directly
    m_t = beta1 * m_{t-1} + (1 - beta1) * g            first moment  (state 'exp_avg')
    v_t = beta2 * v_{t-1} + (1 - beta2) * g^2          second moment (state 'exp_avg_sq')
    m^  = m_t / (1 - beta1^t),  v^ = v_t / (1 - beta2^t)       bias corrections (m_0 = v_0 = 0)
    p_t = p - lr * m^ / (sqrt(v^) + eps)

With ``amsgrad`` the running maximum of ``v_t`` (state 'max_exp_avg_sq') replaces ``v_t`` in the
denominator, so the effective step size never grows. Why AdamW: with Adam's L2 penalty the
decay is divided by ``sqrt(v^)`` like the gradient, so weights with large gradients are barely
regularised; decoupling applies the same relative decay to every weight.

The per-element work runs in one fused Numba kernel (minigrad/kernels/optim.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.kernels import optim as K
from minigrad.optim.optimizer import (
    Optimizer,
    ParamsT,
    grad_array,
    require_number,
    run_update,
    scalar_dtype,
    state_buffer,
)
from minigrad.tensor import Tensor

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    maximize=False, decoupled_weight_decay=False)``, as ``torch.optim.Adam``.

    State per parameter: ``step`` (a 0-d float32 Tensor, as in PyTorch), ``exp_avg``,
    ``exp_avg_sq`` and, with amsgrad, ``max_exp_avg_sq``. ``foreach``/``fused`` are accepted and
    ignored (the update is always one fused kernel per parameter).

    Example::

        >>> import minigrad as mg
        >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = mg.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()                       # first step moves each weight by ~lr against its gradient
        >>> [round(v, 4) for v in w.tolist()]
        [0.9, -1.9]
    """

    kernel = staticmethod(K.adam_step)
    kernel_ref = staticmethod(K.adam_step_ref)

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False, impl: str = "fused") -> None:
        del foreach, fused
        if capturable or differentiable:
            raise NotImplementedError(f"{type(self).__name__}: capturable/differentiable are not supported "
                                      "by minigrad")
        try:
            betas = tuple(betas)
        except TypeError:
            raise TypeError(f"Invalid betas: expected a pair (beta1, beta2), got {betas!r}") from None
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        _check(defaults)
        super().__init__(params, defaults, impl=impl)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check(group)

    def _update_group(self, group: dict[str, Any], kernel: Callable[..., None]) -> None:
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad, maximize = bool(group["amsgrad"]), bool(group["maximize"])
        decoupled = bool(group.get("decoupled_weight_decay", False))
        scalars_cache: dict[tuple, tuple] = {}  # usually every parameter is at the same step
        for p in group["params"]:
            if p.grad is None:
                continue
            g = grad_array(p, f"{type(self).__name__}.step")
            state = self.state[p]
            if len(state) == 0:  # lazy initialisation, on the parameter's first gradient
                state["step"] = Tensor(np.zeros((), dtype=scalar_dtype()))
            m = state_buffer(state, "exp_avg", p)
            v = state_buffer(state, "exp_avg_sq", p)
            vmax = state_buffer(state, "max_exp_avg_sq", p) if amsgrad else np.empty(0, p.dtype)

            step_t = state["step"]
            # Keep it a 0-d array (0-d arithmetic alone would give back a NumPy scalar).
            step_t._array = np.array(step_t._array + 1, dtype=step_t._array.dtype)
            key = (p.dtype, float(step_t._array))
            scalars = scalars_cache.get(key)
            if scalars is None:
                scalars = scalars_cache[key] = K.adam_scalars(p.dtype, lr, beta1, beta2, eps, wd, key[1])
            run_update(p, kernel, g, m, v, vmax, *scalars, amsgrad, maximize, decoupled)


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
    maximize=False)``: Adam with decoupled weight decay ``p <- p * (1 - lr * weight_decay)``.

    Example::

        >>> import minigrad as mg
        >>> w = mg.tensor([1.0], requires_grad=True)
        >>> opt = mg.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = mg.tensor([0.0])        # no gradient signal: only the decay acts
        >>> opt.step(); round(w.item(), 4)    # 1 * (1 - 0.1 * 0.5)
        0.95
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None, impl: str = "fused") -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True, impl=impl)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # as torch's AdamW.__setstate__: always decoupled
            group["decoupled_weight_decay"] = True


def _check(group: dict[str, Any]) -> None:
    lr, eps, betas, wd = group["lr"], group["eps"], group["betas"], group["weight_decay"]
    for value, what in ((lr, "learning rate"), (eps, "epsilon value"), (wd, "weight_decay value")):
        require_number(value, what)
    if not isinstance(betas, (tuple, list)):
        raise TypeError(f"Invalid betas: expected a pair (beta1, beta2), got {betas!r}")
    for i, b in enumerate(betas):
        require_number(b, f"beta parameter at index {i}")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if len(betas) != 2:
        raise ValueError(f"Invalid betas: expected a pair (beta1, beta2), got {betas}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= wd:
        raise ValueError(f"Invalid weight_decay value: {wd}")
