"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay (PyTorch's SGD).

For each parameter ``p`` with gradient ``g`` (see minigrad/kernels/optim.py for the kernel)::

    g_t = g_t + weight_decay * p_{t-1}                         (L2 penalty, if weight_decay)
    b_1 = g_1                                                   (first step: no dampening)
    b_t = momentum * b_{t-1} + (1 - dampening) * g_t            (momentum buffer)
    g_t = g_t + momentum * b_t   if nesterov   else   g_t = b_t
    p_t = p_{t-1} - lr * g_t

Note this is PyTorch's form of momentum (lr multiplies the buffer), not Sutskever's
``v = mu * v - lr * g``; the two agree while lr is constant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.kernels import optim as K
from minigrad.optim.optimizer import Optimizer, ParamsT, grad_array, require_number, run_update, state_buffer

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD with optional momentum: ``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False, *, maximize=False)``.

    ``foreach``/``fused``/``differentiable`` of PyTorch's signature are accepted and ignored:
    the update always runs as one fused Numba kernel per parameter.

    Example::

        >>> import minigrad as mg
        >>> w = mg.tensor([1.0, -1.0], requires_grad=True)
        >>> opt = mg.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()     # grad = 2w
        ...     opt.step()
        >>> [round(v, 4) for v in w.tolist()]
        [0.46, -0.46]
    """

    kernel = staticmethod(K.sgd_step)
    kernel_ref = staticmethod(K.sgd_step_ref)

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False, fused: bool | None = None,
                 impl: str = "fused") -> None:
        del foreach, fused
        if differentiable:
            raise NotImplementedError("SGD: differentiable=True is not supported by minigrad")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        _check(defaults)
        super().__init__(params, defaults, impl=impl)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check(group)

    def _update_group(self, group: dict[str, Any], kernel: Callable[..., None]) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, wd = float(group["dampening"]), float(group["weight_decay"])
        nesterov, maximize = bool(group["nesterov"]), bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            g = grad_array(p, "SGD.step")
            if momentum != 0:
                # PyTorch keeps state only when there is momentum: plain SGD has none.
                state = self.state[p]
                first = state.get("momentum_buffer") is None
                if first:
                    state.pop("momentum_buffer", None)
                buf = state_buffer(state, "momentum_buffer", p)
            else:
                first, buf = True, np.empty(0, p.dtype)
            t = p.dtype.type
            run_update(p, kernel, g, buf, t(lr), t(momentum), t(1 - dampening), t(wd), nesterov, maximize, first)


def _check(group: dict[str, Any]) -> None:
    lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
    for value, what in ((lr, "learning rate"), (momentum, "momentum value"), (group["dampening"], "dampening value"),
                        (wd, "weight_decay value")):
        require_number(value, what)
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= momentum:
        raise ValueError(f"Invalid momentum value: {momentum}")
    if not 0.0 <= wd:
        raise ValueError(f"Invalid weight_decay value: {wd}")
    if group["nesterov"] and (momentum <= 0 or group["dampening"] != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening "
                         f"(got momentum={momentum}, dampening={group['dampening']})")
