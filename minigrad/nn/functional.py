"""``mg.nn.functional`` (usually imported as ``F``): layers and losses as plain functions.

The layers in ``minigrad.nn`` hold parameters and call these. Each function with its own
gradient is one ``Function`` node in the graph (``linear``, ``embedding``, ``dropout`` and every
loss), with the forward written next to its backward; the activations are the Tensor methods.

Example::

    >>> import minigrad as mg
    >>> import minigrad.nn.functional as F
    >>> logits = mg.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
    >>> loss = F.cross_entropy(logits, mg.tensor([0]))
    >>> round(loss.item(), 4)
    0.2413
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from minigrad._allocator import RECYCLE_MIN_BYTES, empty, empty_aligned, zeros_aligned
from minigrad.autograd import Function
from minigrad.autograd.stacked_products import rows_product
from minigrad.errors import ShapeError, not_in_minigrad
from minigrad.kernels.bias_rows import add_in_place, sum_rows
from minigrad.kernels.products import matmul2d
from minigrad.kernels.scatter import scatter_add_rows
from minigrad.nn._checks import (  # noqa: F401 - re-exported: layers and tests use F._check_p and friends
    _REDUCTIONS,
    _as_tensor,
    _broadcast_target,
    _check_floating,
    _check_p,
    _check_reduction,
    _check_targets,
    _expected_target_shape,
    _legacy_reduction,
    _maybe_inplace,
    _reduce,
    _unreduce,
    class_targets,
    loss_total,
    ones_constant,
    value_range,
)
from minigrad.nn.functional_activations import (
    cosine_similarity,
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    logsigmoid,
    normalize,
    relu6,
    silu,
    softplus,
)
from minigrad.nn.functional_classification_losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    kl_div,
    nll_loss,
)
from minigrad.nn.functional_cross_entropy import cross_entropy
from minigrad.nn.functional_layers import batch_norm, dropout1d, dropout2d, layer_norm, pad
from minigrad.nn.functional_regression_losses import huber_loss, l1_loss, mse_loss, smooth_l1_loss
from minigrad.ops.indexing import IndexAdd
from minigrad.random import rng
from minigrad.tensor import Tensor

__all__ = [
    "linear", "mse_loss", "cross_entropy", "binary_cross_entropy_with_logits", "l1_loss", "dropout",
    "embedding", "sigmoid", "tanh", "relu", "softmax", "log_softmax", "one_hot",
    # from functional_activations.py, functional_layers.py, functional_cross_entropy.py and functional_*_losses.py
    "leaky_relu", "elu", "gelu", "softplus", "silu", "logsigmoid", "hardtanh", "relu6", "normalize",
    "cosine_similarity", "layer_norm", "batch_norm", "dropout1d", "dropout2d",
    "nll_loss", "binary_cross_entropy", "smooth_l1_loss", "huber_loss", "kl_div", "pad",
]

# ================================================================================================
# Linear:  y = x W^T + b
# ================================================================================================


def _memory_order(x: np.ndarray) -> tuple[int, ...] | None:
    """An order of ``x``'s batch dimensions (all but the last) in which ``x`` is C-contiguous.

    None when ``x`` already is, or when no order of the batch dimensions makes it so. A
    ``batch_first`` RNN's output is a ``(B, T, H)`` view of a time-major ``(T, B, H)`` array:
    ``(1, 0, 2)``. Its rows read in that order need no copy; flattened as ``(B*T, H)`` they do.

    Example::

        >>> _memory_order(np.zeros((5, 3, 4)).transpose(1, 0, 2))
        (1, 0, 2)
    """
    if x.ndim < 3 or x.flags.c_contiguous:
        return None
    batch = sorted(range(x.ndim - 1), key=lambda d: x.strides[d], reverse=True)
    order = (*batch, x.ndim - 1)
    return order if x.transpose(order).flags.c_contiguous else None


class Linear(Function):
    """``y = x @ W.T + b`` as one node; leading dimensions of ``x`` are batch dimensions."""

    name = "linear"

    def forward(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        # The rows of x in the order they lie in memory when that saves flattening (copying) x:
        # y and dL/dx then come out in that order too (views in x's order). Only when y is no
        # wider than x: backward flattens dL/dy in that order, a copy of y's size.
        order = _memory_order(x) if x.ndim > 2 and w.shape[0] <= w.shape[1] else None
        xm = x if order is None else x.transpose(order)
        # All batch dims flattened into rows (a copy if xm is a strided view); a matrix already is.
        x2 = xm if xm.ndim == 2 else xm.reshape(-1, w.shape[1])
        # The rows, so that backward does not flatten (copy) x again; x itself only if it is not x2.
        if x2 is x:
            self.save_for_backward(x2, w)
        else:
            self.save_for_backward(x2, w, x)
        self.order, self.xm_shape = order, xm.shape
        y = matmul2d(x2, w.T)
        if y.ndim != len(xm.shape):
            y = y.reshape(*xm.shape[:-1], w.shape[0])
        if b is not None:
            add_in_place(y, b)  # y += b, in one loop (kernels/bias_rows.py)
        return y if order is None else y.transpose(np.argsort(order))

    def backward(self, grad: np.ndarray):
        saved = self.saved_tensors
        x2, w = saved[0], saved[1]
        if self.create_graph:
            return self._backward_tensors(grad, saved[2] if len(saved) == 3 else x2, w)
        order = self.order
        g2 = grad if grad.ndim == 2 else (grad if order is None else grad.transpose(order)).reshape(-1, w.shape[0])
        gx = None  # (g2: the rows of dL/dy in x2's order; a matrix already is)
        if self.needs_input_grad[0]:
            gx = matmul2d(g2, w)  # dL/dx = g W
            if gx.shape != self.xm_shape:
                gx = gx.reshape(self.xm_shape)
            gx = gx if order is None else gx.transpose(np.argsort(order))
        gw = rows_product(g2, x2) if self.needs_input_grad[1] else None  # dL/dW = g^T x (stacked_products.py)
        gb = None
        if self.needs_input_grad[2]:  # dL/db = sum over rows of g
            gb = sum_rows(g2)
        return gx, gw, gb

    def _backward_tensors(self, grad: Tensor, x: Tensor, w: Tensor):
        """The same three formulas in Tensor ops (create_graph=True), with the rows in plain order."""
        g2 = grad.reshape(-1, w.shape[0])
        gx = (g2 @ w).reshape(x.shape) if self.needs_input_grad[0] else None
        gw = g2.T @ x.reshape(-1, w.shape[1]) if self.needs_input_grad[1] else None
        gb = g2.sum(0) if self.needs_input_grad[2] else None
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply ``y = x W^T + b``; ``x`` is (*, in_features), ``W`` (out_features, in_features).

    Example::

        >>> import minigrad as mg
        >>> y = mg.nn.functional.linear(mg.ones(2, 3), mg.ones(4, 3), mg.zeros(4))
        >>> y.shape, y[0, 0].item()
        ((2, 4), 3.0)
    """
    if isinstance(input, Tensor) and isinstance(weight, Tensor) and (bias is None or isinstance(bias, Tensor)):
        x, w = input._array, weight._array  # all the checks below at once, for the usual case
        if (x.dtype.kind == "f" and x.dtype == w.dtype and w.ndim == 2 and x.ndim and x.shape[-1] == w.shape[1]
                and (bias is None or bias._array.shape == (w.shape[0],))):
            return Linear.apply(input, weight, bias)
    input, weight = _as_tensor(input, "linear"), _as_tensor(weight, "linear", "weight")
    x, w = input._array, weight._array
    if x.dtype.kind != "f":
        _check_floating(input, "linear")
    if w.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ShapeError(f"linear: input of shape {input.shape} does not fit weight of shape {weight.shape}: "
                         f"the input's last dimension must be in_features={weight.shape[1]}")
    if x.dtype != w.dtype:  # PyTorch refuses too: a silent upcast would hide a model/data mismatch
        raise TypeError(f"linear: input has dtype {input.dtype} but the weight has dtype {weight.dtype}; convert "
                        f"one of them (e.g. x.to(mg.{weight.dtype}) or model.to(mg.{input.dtype}))")
    if bias is not None:
        bias = _as_tensor(bias, "linear", "bias")
        if bias._array.shape not in ((w.shape[0],), ()):
            raise ShapeError(f"linear: bias of shape {bias.shape} does not fit weight of shape {weight.shape}: "
                             f"expected ({weight.shape[0]},)")
    return Linear.apply(input, weight, bias)


# ================================================================================================
# Embedding: rows of a table picked by index
# ================================================================================================


class Embedding(Function):
    """``out[...] = weight[indices[...]]``; backward scatter-adds rows back (duplicates accumulate)."""

    name = "embedding"

    def forward(self, weight: np.ndarray) -> np.ndarray:
        self.weight_shape = weight.shape
        # Into a recycled buffer when big. mode="clip" only because it writes `out` directly ("raise"
        # goes through a temporary): the indices were range-checked by `embedding` (_check_indices).
        out = empty(self.indices.shape + weight.shape[1:], weight.dtype)
        return np.take(weight, self.indices, axis=0, out=out, mode="clip")

    def backward(self, grad: np.ndarray) -> np.ndarray:
        dim = self.weight_shape[1]
        if self.create_graph:  # the scatter-add as an op, so that it can be differentiated again
            idx = np.ascontiguousarray(self.indices.reshape(-1), dtype=np.int64)
            gw = IndexAdd.apply(grad.reshape(-1, dim), index=idx, shape=self.weight_shape)
            if self.padding_idx is not None:
                learned = np.ones((self.weight_shape[0], 1), dtype=bool)
                learned[self.padding_idx] = False
                gw = gw * learned
            return gw
        # A table's size, made in every step: recycled memory once big (empty_aligned's rule), not
        # pages fresh from the OS that fault again on first touch.
        gw = zeros_aligned(self.weight_shape, grad.dtype)
        order = _memory_order(grad)  # e.g. from a batch_first RNN: rows in memory order, no copy
        indices = self.indices if order is None else self.indices.transpose(order[:-1])
        grad = grad if order is None else grad.transpose(order)
        idx = np.ascontiguousarray(indices.reshape(-1), dtype=np.int64)
        scatter_add_rows(gw, idx, np.ascontiguousarray(grad.reshape(-1, dim)))
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0  # the padding row is never learned
        return gw


def _check_indices(indices: Tensor | np.ndarray, num: int, who: str) -> np.ndarray:
    arr = indices._array if isinstance(indices, Tensor) else np.asarray(indices)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{who}: indices must be an integer tensor (int64 or int32), got {arr.dtype}; "
                        "use .long() to convert")
    if arr.size:
        lo, hi = value_range(arr)
        if lo < 0 or hi >= num:
            bad = int(lo) if lo < 0 else int(hi)
            raise IndexError(f"{who}: index {bad} is out of range for num_embeddings={num} "
                             f"(valid indices are 0..{num - 1})")
    return arr


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim) by the integer indices ``input``.

    The output has shape ``input.shape + (dim,)``. Row ``padding_idx`` receives no gradient.

    Example::

        >>> import minigrad as mg
        >>> table = mg.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]])
        >>> mg.nn.functional.embedding(mg.tensor([[2, 1]]), table).tolist()
        [[[3.0, 4.0], [1.0, 2.0]]]
    """
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    weight = _as_tensor(weight, "embedding", "weight")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got {weight.shape}")
    num = weight.shape[0]
    indices = _check_indices(input, num, "embedding")
    if padding_idx is not None:
        padding_idx = _normalize_padding_idx(padding_idx, num, "embedding")
    return Embedding.apply(weight, indices=indices, padding_idx=padding_idx)


def _normalize_padding_idx(padding_idx: int, num: int, who: str) -> int:
    """PyTorch's rule: negative padding_idx counts from the end; it must name an existing row."""
    if not -num <= padding_idx < num:
        raise ValueError(f"{who}: padding_idx={padding_idx} must be within num_embeddings={num} "
                         f"(between {-num} and {num - 1})")
    return padding_idx + num if padding_idx < 0 else padding_idx


# ================================================================================================
# Dropout (inverted): zero each element with probability p, scale survivors by 1/(1-p)
# ================================================================================================


class Dropout(Function):
    """``y = x * mask / (1 - p)`` with ``mask ~ Bernoulli(1 - p)``; the same mask scales the gradient.

    Rule: when its uniform numbers (float64) reach ``RECYCLE_MIN_BYTES``, the mask, the numbers and
    both results are written into ``empty_aligned``'s recycled memory: a layer's dropout makes
    arrays of the activations' size in every step, and memory the C library handed back to the OS
    would fault again on every page. Smaller ones use NumPy's own temporaries (less bookkeeping).
    """

    name = "dropout"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.recycled = x.size * 8 >= RECYCLE_MIN_BYTES  # the uniforms' bytes
        if self.p >= 1.0:
            scaled_mask = np.zeros_like(x)
        elif self.recycled:  # the same uniform numbers as rng().random(x.shape), in recycled memory
            uniform = rng().random(out=empty_aligned(x.shape, np.float64))
            scaled_mask = empty_aligned(x.shape, x.dtype)
            np.greater_equal(uniform, self.p, out=scaled_mask, casting="unsafe")  # keep: 1.0, drop: 0.0
            scaled_mask *= x.dtype.type(1.0 / (1.0 - self.p))
        else:
            scaled_mask = (rng().random(x.shape) >= self.p).astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        self.save_for_backward(scaled_mask)
        return self._times(x, scaled_mask)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        (scaled_mask,) = self.saved_tensors
        if self.create_graph:  # grad is a Tensor: the product is recorded (double backward)
            return grad * scaled_mask
        return self._times(grad, scaled_mask)

    def _times(self, a: np.ndarray, scaled_mask: np.ndarray) -> np.ndarray:
        """``a * scaled_mask``, into recycled memory when the inputs are big (the rule above)."""
        if self.recycled and a.dtype == scaled_mask.dtype:
            return np.multiply(a, scaled_mask, out=empty_aligned(a.shape, a.dtype))
        return a * scaled_mask


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: during training zero elements with probability ``p`` and scale the rest by
    ``1/(1-p)`` so the expected value is unchanged; the identity when ``training=False``.

    Example::

        >>> import minigrad as mg
        >>> x = mg.ones(1000)
        >>> y = mg.nn.functional.dropout(x, p=0.5)
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """
    p = _check_p(p, "dropout")
    input = _as_tensor(input, "dropout")
    if not training or p == 0.0:
        return input
    _check_floating(input, "dropout")
    if not inplace:
        return Dropout.apply(input, p=p)
    return _maybe_inplace(input, inplace, "dropout", lambda x: Dropout.apply(x, p=p))


# ================================================================================================
# Activations (Tensor methods) and one_hot
# ================================================================================================


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))`` elementwise. Example: ``F.sigmoid(mg.zeros(1)).item() == 0.5``."""
    return _as_tensor(input, "sigmoid").sigmoid()


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise. Example: ``F.tanh(mg.zeros(1)).item() == 0.0``."""
    return _as_tensor(input, "tanh").tanh()


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)`` elementwise. Example: ``F.relu(mg.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]``."""
    return _maybe_inplace(_as_tensor(input, "relu"), inplace, "relu", lambda x: x.relu())


def _softmax_dim(ndim: int, who: str) -> int:
    warnings.warn(f"Implicit dimension choice for {who} has been deprecated. Change the call to include dim=X "
                  "as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (optionally cast to ``dtype`` first).

    Example::

        >>> import minigrad as mg
        >>> mg.nn.functional.softmax(mg.zeros(1, 4), dim=1).tolist()
        [[0.25, 0.25, 0.25, 0.25]]
    """
    input = _as_tensor(input, "softmax")
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        dim = _softmax_dim(input.ndim, "softmax")
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``: log-probabilities, computed stably.

    Example::

        >>> import minigrad as mg
        >>> round(mg.nn.functional.log_softmax(mg.zeros(2), dim=0)[0].item(), 4)
        -0.6931
    """
    input = _as_tensor(input, "log_softmax")
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        dim = _softmax_dim(input.ndim, "log_softmax")
    return input.log_softmax(dim)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer class indices of shape (*) to an int64 tensor of shape (*, num_classes).

    ``num_classes=-1`` means ``max(tensor) + 1``.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.functional.one_hot(mg.tensor([0, 2]), 3).tolist()
        [[1, 0, 0], [0, 0, 1]]
    """
    arr = tensor._array if isinstance(tensor, Tensor) else np.asarray(tensor)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"one_hot: only integer (class index) tensors are accepted, got {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(arr.min())}")
    if num_classes == -1:
        if arr.size == 0:
            raise ValueError("one_hot: can not infer total number of classes from empty tensor; pass num_classes")
        num_classes = int(arr.max()) + 1
    elif arr.size and arr.max() >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}, "
                         f"got {int(arr.max())}")
    out = np.zeros(arr.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, arr[..., None].astype(np.int64), 1, axis=-1)
    return Tensor(out)


def __getattr__(name: str) -> Any:
    """A PyTorch function that minigrad lacks (``F.conv2d``) says so, without a misleading suggestion."""
    if name.startswith("_"):  # Python's own protocol look-ups and private names: a plain miss
        raise AttributeError(f"module 'minigrad.nn.functional' has no attribute {name!r}")
    raise not_in_minigrad(f"torch.nn.functional.{name}", name)
