"""Fused optimizer updates: one pass over a parameter's elements per step.

Written as NumPy expressions, one Adam step makes about ten temporary arrays the size of the
parameter and walks memory ~15 times (``m*beta1``, ``g*g``, ``sqrt(v)``, ``/``, ``+eps`` ...).
The kernels below read ``p, g, m, v`` once and write ``p, m, v`` once per element, so the
update runs at memory speed. The arithmetic follows PyTorch's single-tensor CPU code
(torch/optim/sgd.py and adam.py) operation by operation:

SGD (``momentum_buffer`` is ``b``)::

    g_t = -g_t                        if maximize
    g_t = g_t + weight_decay * p      if weight_decay != 0
    b_t = g_t                         on the first step (no dampening!)
    b_t = momentum * b_{t-1} + (1 - dampening) * g_t          later steps
    g_t = g_t + momentum * b_t  (nesterov)   or   g_t = b_t
    p_t = p_{t-1} - lr * g_t

Adam / AdamW (``exp_avg`` is ``m``, ``exp_avg_sq`` is ``v``)::

    p = p * (1 - lr * weight_decay)   AdamW (decoupled weight decay)
    g = g + weight_decay * p          Adam  (L2 penalty folded into the gradient)
    m_t = lerp(m_{t-1}, g, 1 - beta1) = beta1 * m_{t-1} + (1 - beta1) * g
    v_t = beta2 * v_{t-1} + (1 - beta2) * g * g
    vmax_t = max(vmax_{t-1}, v_t)     amsgrad only; then used instead of v_t below
    p_t = p - lr / (1 - beta1^t) * m_t / (sqrt(v_t) / sqrt(1 - beta2^t) + eps)

Scalars that depend only on the step (``lr / (1 - beta1^t)``, ``sqrt(1 - beta2^t)``, ...) are
computed once in Python (float64, as PyTorch does) and handed to the kernel already converted
to the parameter's dtype, so float32 parameters are updated in float32 arithmetic throughout.

The update a hand-written loop makes, ``p.data.add_(p.grad, alpha=-lr)``, is ``add_scaled`` at
the end of this file: ``a += alpha * b`` in one pass, where NumPy makes ``b * alpha`` a temporary.

Kernels take 1-D C-contiguous arrays of one dtype (callers flatten with ``reshape(-1)`` after
``np.ascontiguousarray``) and update them in place. ``*_ref`` are the NumPy references; they
accept arrays of any shape and layout and are also the fallback path.
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import jit_disabled, kernel

# ------------------------------------------------------------------------------------------------
# SGD
# ------------------------------------------------------------------------------------------------


def _warmup_sgd(dtype: np.dtype) -> None:
    p = np.zeros(4, dtype)
    g = np.ones(4, dtype)
    buf = np.zeros(4, dtype)
    t = dtype.type
    for first in (True, False):
        sgd_step(p, g, buf, t(0.1), t(0.9), t(1.0), t(0.0), False, False, first)


@kernel(warmup=_warmup_sgd, error_model="numpy")
def sgd_step(p, g, buf, lr, momentum, one_minus_dampening, weight_decay, nesterov, maximize, first_step):
    """One SGD step in place on ``p`` (and ``buf`` when momentum != 0).

    All arrays 1-D, same dtype and length; scalars already of that dtype. ``buf`` is ignored when
    ``momentum == 0`` (pass an empty array). ``first_step`` means "buf holds no history yet":
    it is set to the (decayed) gradient, as in PyTorch.
    """
    # Comparisons with 0 are fine; arithmetic with a float literal would turn float32 into float64,
    # which is why every constant arrives as an argument of the arrays' dtype.
    use_momentum = momentum != 0
    for i in range(p.shape[0]):
        gi = -g[i] if maximize else g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * p[i]
        if use_momentum:
            if first_step:
                bi = gi
            else:
                bi = buf[i] * momentum + one_minus_dampening * gi
            buf[i] = bi
            if nesterov:
                gi = gi + momentum * bi
            else:
                gi = bi
        p[i] = p[i] + (-lr) * gi


def sgd_step_ref(p: np.ndarray, g: np.ndarray, buf: np.ndarray, lr, momentum, one_minus_dampening,
                 weight_decay, nesterov: bool, maximize: bool, first_step: bool) -> None:
    """NumPy reference of :func:`sgd_step` (any shape/layout; updates ``p`` and ``buf`` in place)."""
    t = p.dtype.type
    lr, momentum, omd, wd = t(lr), t(momentum), t(one_minus_dampening), t(weight_decay)
    g = -g if maximize else g
    if wd != 0:
        g = g + wd * p
    if momentum != 0:
        if first_step:
            buf[...] = g
        else:
            buf[...] = buf * momentum + omd * g
        g = g + momentum * buf if nesterov else buf
    p[...] = p + (-lr) * g


# ------------------------------------------------------------------------------------------------
# Adam / AdamW
# ------------------------------------------------------------------------------------------------


def _warmup_adam(dtype: np.dtype) -> None:
    p = np.zeros(4, dtype)
    g = np.ones(4, dtype)
    m, v, vmax = np.zeros(4, dtype), np.zeros(4, dtype), np.zeros(4, dtype)
    adam_step(p, g, m, v, vmax, *adam_scalars(dtype, 1e-3, 0.9, 0.999, 1e-8, 0.0, 1), False, False, False)


@kernel(warmup=_warmup_adam, error_model="numpy")
def adam_step(p, g, m, v, vmax, decay, lerp_weight, one_minus_weight, beta2, one_minus_beta2, weight_decay,
              neg_step_size, bias_correction2_sqrt, eps, amsgrad, maximize, decoupled):
    """One Adam/AdamW step in place on ``p, m, v`` (and ``vmax`` when ``amsgrad``).

    Scalars (all of the arrays' dtype):
      decay                 = 1 - lr * weight_decay        (AdamW's multiplicative decay)
      lerp_weight           = 1 - beta1                    (m <- lerp(m, g, 1 - beta1))
      one_minus_weight      = 1 - lerp_weight              (the lerp's other form, for weights >= 0.5)
      beta2, one_minus_beta2
      weight_decay          (0 = off; Adam adds weight_decay * p to the gradient, AdamW multiplies p
                             by ``decay`` instead)
      neg_step_size         = -lr / (1 - beta1^t)
      bias_correction2_sqrt = sqrt(1 - beta2^t)
      eps
    ``vmax`` is ignored (may be empty) unless ``amsgrad``.
    """
    use_wd = weight_decay != 0
    # torch.lerp switches formula at weight 0.5 for accuracy; same here.
    small_weight = abs(lerp_weight) < 0.5
    for i in range(p.shape[0]):
        gi = -g[i] if maximize else g[i]
        pi = p[i]
        if use_wd:
            if decoupled:
                pi = pi * decay
            else:
                gi = gi + weight_decay * pi
        mi = m[i]
        if small_weight:
            mi = mi + lerp_weight * (gi - mi)
        else:
            mi = gi - (gi - mi) * one_minus_weight
        vi = v[i] * beta2
        vi = vi + one_minus_beta2 * gi * gi
        m[i] = mi
        v[i] = vi
        if amsgrad:
            vm = vmax[i]
            if vi > vm or vi != vi:  # torch.maximum propagates NaN
                vm = vi
            vmax[i] = vm
            vi = vm
        denom = np.sqrt(vi) / bias_correction2_sqrt + eps
        p[i] = pi + neg_step_size * mi / denom


def adam_step_ref(p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, vmax: np.ndarray | None,
                  decay, lerp_weight, one_minus_weight, beta2, one_minus_beta2, weight_decay, neg_step_size,
                  bias_correction2_sqrt, eps, amsgrad: bool, maximize: bool, decoupled: bool) -> None:
    """NumPy reference of :func:`adam_step` (any shape/layout; updates in place)."""
    t = p.dtype.type
    decay, w, omw = t(decay), t(lerp_weight), t(one_minus_weight)
    beta2, omb2 = t(beta2), t(one_minus_beta2)
    wd, nss, bc2s, eps = t(weight_decay), t(neg_step_size), t(bias_correction2_sqrt), t(eps)
    g = -g if maximize else g
    if wd != 0:
        if decoupled:
            p *= decay
        else:
            g = g + wd * p
    if abs(w) < 0.5:
        m[...] = m + w * (g - m)
    else:
        m[...] = g - (g - m) * omw
    v *= beta2
    v += omb2 * g * g
    if amsgrad:
        np.maximum(vmax, v, out=vmax)
        denom = np.sqrt(vmax) / bc2s + eps
    else:
        denom = np.sqrt(v) / bc2s + eps
    p += nss * m / denom


def adam_scalars(dtype: np.dtype, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                 step: float) -> tuple:
    """The per-step scalars of :func:`adam_step`, computed with Python floats as PyTorch does.

    Returns ``(decay, lerp_weight, one_minus_weight, beta2, one_minus_beta2, weight_decay,
    neg_step_size, bias_correction2_sqrt, eps)``, each converted to ``dtype``::

        >>> s = adam_scalars(np.float64, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0, step=1)
        >>> round(float(s[6]), 12)         # -lr / (1 - 0.9**1)
        -0.01
    """
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    t = np.dtype(dtype).type
    lerp_weight = t(1 - beta1)
    return (t(1 - lr * weight_decay), lerp_weight, t(1) - lerp_weight, t(beta2), t(1 - beta2),
            t(weight_decay), t(-step_size), t(bias_correction2 ** 0.5), t(eps))


# ------------------------------------------------------------------------------------------------
# a += alpha * b: the update of a hand-written optimizer loop
# ------------------------------------------------------------------------------------------------


def _warmup_add_scaled(dtype: np.dtype) -> None:
    a = np.zeros(3, dtype)
    add_scaled_kernel(a, np.ones(3, dtype), dtype.type(0.5))


@kernel(warmup=_warmup_add_scaled, error_model="numpy", nogil=True)
def add_scaled_kernel(a, b, alpha):
    # No "contract" (a fused multiply-add): the product and the sum are rounded apart, as NumPy's are.
    for i in range(a.size):
        a[i] += alpha * b[i]


def add_scaled_kernel_ref(a: np.ndarray, b: np.ndarray, alpha) -> None:
    np.add(a, b * alpha, out=a)


# The kernel from this many elements: below it NumPy's two passes over a few cache lines take less
# time than the checks and the call around one pass.
ADD_SCALED_MIN_SIZE = 4096


def add_scaled(a: np.ndarray, b: np.ndarray, alpha: float) -> None:
    """``a += alpha * b`` in place, rounded as NumPy's ``a += b * alpha`` (a product, then a sum, in a's dtype).

    One pass for C-contiguous float32/float64 arrays of one shape and dtype that do not overlap,
    from ``ADD_SCALED_MIN_SIZE`` elements (``p.data.add_(p.grad, alpha=-lr)`` of a weight); NumPy's
    two passes and a temporary otherwise.

    Example::

        >>> a = np.ones(3, np.float32); add_scaled(a, np.full(3, 2, np.float32), -0.5); a.tolist()
        [0.0, 0.0, 0.0]
    """
    if (a.size >= ADD_SCALED_MIN_SIZE and type(b) is np.ndarray and b.dtype == a.dtype and b.shape == a.shape
            and a.dtype.char in "fd" and a.flags.c_contiguous and b.flags.c_contiguous and not jit_disabled()
            and not np.may_share_memory(a, b)):  # (an overlapping b would be read after it was written)
        add_scaled_kernel(a.reshape(-1), b.reshape(-1), a.dtype.type(alpha))
    else:
        add_scaled_kernel_ref(a, b, alpha)
