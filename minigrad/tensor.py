"""The Tensor: a NumPy array plus what autograd needs to know about it.

A tensor is either a *leaf* (made by you: data, parameters) or the output of an op, in which
case ``grad_fn`` points at the ``Function`` node that made it. Every method here is a thin
front for an op in ``minigrad/ops/``, where each forward sits next to its backward.
What a tensor does as a plain array (shape, conversions, ``repr``, ``to``) is in tensor_array.py.

Example::

    >>> import minigrad as mg
    >>> w = mg.tensor([2.0, -1.0], requires_grad=True)
    >>> loss = (w * w).sum()
    >>> loss.backward()
    >>> w.grad
    tensor([ 4., -2.])
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad import autograd
from minigrad.dtypes import get_default_dtype, to_dtype
from minigrad.tensor_array import ArrayMethods


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Turn user data (lists, scalars, arrays, tensors) into an ndarray with PyTorch's dtype rules.

    Python floats become the default float dtype (float32), ints int64, bools bool; an ndarray
    keeps its dtype. Strings and other objects are refused with a TypeError.
    """
    if isinstance(data, Tensor):
        data = data._array
    if dtype is not None:
        dtype = to_dtype(dtype)
    if isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, as in torch.tensor(np.float64(1))
        arr = np.asarray(data)
    else:
        try:
            arr = np.asarray(data)
        except (ValueError, TypeError) as e:  # ragged nested lists
            raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__}: {e}") from None
        if arr.dtype.kind == "f" and dtype is None:
            arr = arr.astype(get_default_dtype())
    if arr.dtype.kind not in "fiub":
        raise TypeError(
            f"tensor: data of dtype {arr.dtype} ({type(data).__name__}) is not numeric; expected numbers, "
            "nested lists of numbers, or a numeric NumPy array"
        )
    if dtype is not None and arr.dtype != dtype:
        arr = arr.astype(dtype)
    return arr


class RemovableHandle:
    """Returned by ``register_hook``: ``handle.remove()`` takes the hook off again."""

    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Tensor(ArrayMethods):
    """An n-dimensional array that can remember how it was computed.

    Inside minigrad, ``Tensor(ndarray)`` wraps the array without copying (keeping its dtype). Users
    make tensors with ``mg.tensor(data)``, ``mg.from_numpy(a)`` or the factories; ``mg.Tensor(...)``
    is PyTorch's legacy constructor (see legacy.py), and ``isinstance(x, mg.Tensor)`` works as usual.
    Shape, conversions, ``repr`` and the dtype/device methods are inherited from ``ArrayMethods``
    (tensor_array.py); this class holds the autograd attributes and the fronts of the ops.
    """

    __slots__ = ("_array", "grad", "_requires_grad", "grad_fn", "_output_index", "_retains_grad", "_hooks",
                 "name", "_version_counter", "_base", "__weakref__")
    # Make NumPy defer to our operators in `ndarray + Tensor`.
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None):
        self._array = data if type(data) is np.ndarray and dtype is None else as_array(data, dtype)
        self._version_counter: list[int] | None = None  # made on first need; shared by views (inplace.py)
        self._base: Tensor | None = None  # the tensor this one is a view of, if any
        self.grad: Tensor | None = None
        self.grad_fn: autograd.Function | None = None
        self._output_index = 0
        self._retains_grad = False
        self._hooks: list[Callable] | None = None
        self.name = name
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _from_op(cls, data: np.ndarray, fn: autograd.Function, index: int) -> Tensor:
        """Fast constructor for an op's output (skips the checks of __init__)."""
        t = object.__new__(cls)
        t._array = data
        t._version_counter = None
        t._base = None
        t.grad = None
        t.grad_fn = fn
        t._output_index = index
        t._retains_grad = False
        t._hooks = None
        t.name = None
        t._requires_grad = True
        return t

    # ---------------------------------------------------------------- autograd attributes
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value and self._array.dtype.kind != "f":
            raise RuntimeError(
                f"only floating point tensors can require gradients, but this tensor has dtype {self.dtype}; "
                "convert it first with .float() or .double()"
            )
        if not value and self.grad_fn is not None:
            raise RuntimeError("requires_grad: you can only change requires_grad of leaf tensors; use .detach()")
        self._requires_grad = bool(value)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self (for leaf tensors)."""
        self.requires_grad = requires_grad
        return self

    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs: Any = None) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on.

        ``create_graph=True`` records the backward pass too, so ``.grad`` can be differentiated
        again (``retain_graph`` then defaults to True); ``inputs`` limits which tensors get ``.grad``.

        Example::

            >>> import minigrad as mg
            >>> x = mg.tensor(3.0, requires_grad=True)
            >>> (x * x).backward(); x.grad
            tensor(6.)
        """
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory and the version counter). Truncated BPTT uses this."""
        out = Tensor(self._array)
        out._version_counter = autograd.version_counter(self)
        return out

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward (e.g. to look at dL/dh_t)."""
        if self.grad_fn is None:
            return
        self._retains_grad = True
        self.grad_fn.watched = True  # the engine now looks at this output before its node's backward

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it.

        Returns a handle whose ``remove()`` unregisters the hook, as in PyTorch.

        Example::

            >>> import minigrad as mg
            >>> h = mg.tensor([1.0, 2.0], requires_grad=True)
            >>> handle = h.register_hook(lambda g: g * 10)
            >>> (h * h).sum().backward(); h.grad
            tensor([20., 40.])
            >>> handle.remove()
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        if self.grad_fn is not None:
            self.grad_fn.watched = True  # the engine now looks at this output before its node's backward
        return RemovableHandle(self._hooks, hook)

    # ---------------------------------------------------------------- .data, as in PyTorch
    @property
    def data(self) -> Tensor:
        """The same values as a detached Tensor that shares memory and does not require grad.

        Writing into it (``p.data.add_(...)``) changes this tensor, and autograd is *not* told:
        unlike ``detach()``, ``.data`` has its own version counter, exactly as in PyTorch. That is
        what optimizers written by hand rely on, and why new code should prefer ``no_grad()``.
        The NumPy array itself is ``.numpy()`` (or ``np.asarray(t)``).

        Example::

            >>> import minigrad as mg
            >>> w = mg.ones(2, requires_grad=True)
            >>> w.data[0] = 5.0
            >>> w
            tensor([5., 1.], requires_grad=True)
        """
        return Tensor(self._array)

    @data.setter
    def data(self, value: Any) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data: can only assign a Tensor to .data, got {type(value).__name__} "
                            "(wrap an array with mg.from_numpy or mg.tensor)")
        self._array = value._array

    @property
    def _version(self) -> int:
        """How many times this tensor's memory was changed in place (PyTorch's ``t._version``)."""
        return 0 if self._version_counter is None else self._version_counter[0]

    # ---------------------------------------------------------------- attribute look-up and hashing
    def __getattr__(self, name: str) -> Any:
        # Only reached when normal look-up fails: a PyTorch method minigrad lacks gets a plain answer.
        if name.startswith("_"):
            raise AttributeError(f"'Tensor' object has no attribute {name!r}")
        from minigrad.errors import not_in_minigrad

        raise not_in_minigrad(f"torch.Tensor.{name}", name)

    # __hash__ lives in the class that defines __eq__: Python makes such a class unhashable otherwise.
    def __hash__(self) -> int:
        return id(self)

    # ---------------------------------------------------------------- in-place ops (ops/inplace.py)
    def add_(self, *other: Any, alpha: Any = 1) -> Tensor:
        other, alpha = _In.split_alpha(other, alpha, "add_")
        return _In.arithmetic_(self, "add_", _E.add, np.add, other, alpha)

    def sub_(self, *other: Any, alpha: Any = 1) -> Tensor:
        other, alpha = _In.split_alpha(other, alpha, "sub_")
        return _In.arithmetic_(self, "sub_", _E.sub, np.subtract, other, alpha)

    def mul_(self, other: Any) -> Tensor:
        return _In.arithmetic_(self, "mul_", _E.mul, np.multiply, other)

    def div_(self, other: Any, *, rounding_mode: str | None = None) -> Tensor:
        if rounding_mode is None:
            return _In.arithmetic_(self, "div_", _E.div, np.true_divide, other)
        return _In.apply_inplace(self, "div_", lambda s: s.div(other, rounding_mode=rounding_mode), other)

    def pow_(self, exponent: Any) -> Tensor:
        return _In.apply_inplace(self, "pow_", lambda s: _E.pow(s, exponent), exponent)

    def addcmul_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        return _In.apply_inplace(self, "addcmul_", lambda s: s + _In.scaled(tensor1 * tensor2, value),
                                 tensor1, tensor2)

    def addcdiv_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        return _In.apply_inplace(self, "addcdiv_", lambda s: s + _In.scaled(tensor1 / tensor2, value),
                                 tensor1, tensor2)

    def lerp_(self, end: Any, weight: Any) -> Tensor:
        return _In.apply_inplace(self, "lerp_", lambda s: s + weight * (end - s), end, weight)

    def neg_(self) -> Tensor: return _In.apply_inplace(self, "neg_", _E.neg)
    def abs_(self) -> Tensor: return _In.apply_inplace(self, "abs_", _E.abs)
    def exp_(self) -> Tensor: return _In.apply_inplace(self, "exp_", _E.exp)
    def log_(self) -> Tensor: return _In.apply_inplace(self, "log_", _E.log)
    def sqrt_(self) -> Tensor: return _In.apply_inplace(self, "sqrt_", _E.sqrt)
    def tanh_(self) -> Tensor: return _In.apply_inplace(self, "tanh_", _E.tanh)
    def sigmoid_(self) -> Tensor: return _In.apply_inplace(self, "sigmoid_", _E.sigmoid)
    def relu_(self) -> Tensor: return _In.apply_inplace(self, "relu_", _E.relu)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002 - PyTorch's names
        return _In.apply_inplace(self, "clamp_", lambda s: _E.clamp(s, min, max))

    clip_ = clamp_

    def clamp_min_(self, min: Any) -> Tensor:  # noqa: A002
        return self.clamp_(min=min)

    def clamp_max_(self, max: Any) -> Tensor:  # noqa: A002
        return self.clamp_(max=max)

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        """Set the elements where ``mask`` is True to ``value`` (``mask`` broadcasts to this shape)."""
        mask = _In.as_mask(mask, self.shape, "masked_fill_")
        return _In.apply_inplace(self, "masked_fill_", lambda s: _E.where(mask, value, s), value)

    def zero_(self) -> Tensor:
        return _In.zero_(self)

    def fill_(self, value: Any) -> Tensor:
        return _In.fill_(self, value)

    def copy_(self, src: Any, non_blocking: bool = False) -> Tensor:
        """Copy ``src`` (broadcast to this shape, converted to this dtype) into this tensor's memory."""
        return _In.copy_(self, src)

    def uniform_(self, a: builtins.float = 0.0, b: builtins.float = 1.0, *, generator: Any = None) -> Tensor:
        return _In.random_fill(self, "uniform_", lambda shape: _In.rng(generator).uniform(a, b, size=shape))

    def normal_(self, mean: builtins.float = 0.0, std: builtins.float = 1.0, *, generator: Any = None) -> Tensor:
        return _In.random_fill(self, "normal_", lambda shape: _In.rng(generator).normal(mean, std, size=shape))

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Tensor:
        probability = p._array if isinstance(p, Tensor) else p
        return _In.random_fill(self, "bernoulli_",
                               lambda shape: _In.rng(generator).random(size=shape) < probability)

    def bernoulli(self, p: Any = None, *, generator: Any = None) -> Tensor:
        from minigrad.sampling import bernoulli

        return bernoulli(self, p, generator=generator)

    def exponential_(self, lambd: builtins.float = 1.0, *, generator: Any = None) -> Tensor:
        return _In.random_fill(self, "exponential_",
                               lambda shape: _In.rng(generator).exponential(1.0 / lambd, size=shape))

    def unsqueeze_(self, dim: int) -> Tensor: return _In.reshape_inplace(self, "unsqueeze_", lambda s: s.unsqueeze(dim))
    def squeeze_(self, dim: Any = None) -> Tensor:
        return _In.reshape_inplace(self, "squeeze_", lambda s: s.squeeze(dim))
    def t_(self) -> Tensor: return _In.reshape_inplace(self, "t_", lambda s: s.t())

    def transpose_(self, dim0: int, dim1: int) -> Tensor:
        return _In.reshape_inplace(self, "transpose_", lambda s: s.transpose(dim0, dim1))

    def __iadd__(self, other: Any) -> Tensor: return _In.arithmetic_(self, "add_", _E.add, np.add, other)
    def __isub__(self, other: Any) -> Tensor: return _In.arithmetic_(self, "sub_", _E.sub, np.subtract, other)
    def __imul__(self, other: Any) -> Tensor: return self.mul_(other)
    def __itruediv__(self, other: Any) -> Tensor: return self.div_(other)
    def __ipow__(self, other: Any) -> Tensor: return self.pow_(other)

    def __setitem__(self, index: Any, value: Any) -> None:
        _In.setitem(self, index, value)

    # ---------------------------------------------------------------- operators (see ops/)
    # (+ and * go straight to the op: add/mul only add their keyword arguments alpha= and out=.)
    def __add__(self, other): return _E.binary(_E.Add, "add", self, other)
    def __radd__(self, other): return _E.binary(_E.Add, "add", other, self)
    def __sub__(self, other): return _E.sub(self, other)
    def __rsub__(self, other): return _E.sub(other, self)
    def __mul__(self, other): return _E.binary(_E.Mul, "mul", self, other)
    def __rmul__(self, other): return _E.binary(_E.Mul, "mul", other, self)
    def __truediv__(self, other): return _E.div(self, other)
    def __rtruediv__(self, other): return _E.div(other, self)
    def __pow__(self, other): return _E.pow(self, other)
    def __rpow__(self, other): return _E.pow(other, self)
    def __neg__(self): return _E.neg(self)
    def __pos__(self): return self
    def __abs__(self): return _E.abs(self)
    def __matmul__(self, other): return _L.matmul(self, other)
    def __rmatmul__(self, other): return _L.matmul(other, self)

    def __lt__(self, other): return _E.compare(np.less, self, other)
    def __le__(self, other): return _E.compare(np.less_equal, self, other)
    def __gt__(self, other): return _E.compare(np.greater, self, other)
    def __ge__(self, other): return _E.compare(np.greater_equal, self, other)
    def __eq__(self, other): return _E.compare(np.equal, self, other)  # type: ignore[override]
    def __ne__(self, other): return _E.compare(np.not_equal, self, other)  # type: ignore[override]

    def __getitem__(self, index): return _I.getitem(self, index)


    # ---------------------------------------------------------------- elementwise methods
    def exp(self): return _E.exp(self)
    def log(self): return _E.log(self)
    def sqrt(self): return _E.sqrt(self)
    def abs(self): return _E.abs(self)
    def tanh(self): return _E.tanh(self)
    def sigmoid(self): return _E.sigmoid(self)
    def relu(self): return _E.relu(self)
    def softplus(self, beta: builtins.float = 1.0, threshold: builtins.float = 20.0):
        return _E.softplus(self, beta, threshold)
    def clamp(self, min=None, max=None): return _E.clamp(self, min, max)
    clip = clamp
    def pow(self, exponent): return _E.pow(self, exponent)
    def maximum(self, other): return _E.maximum(self, other)
    def minimum(self, other): return _E.minimum(self, other)

    # ---------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim: bool = False): return _R.sum(self, dim, keepdim)
    def mean(self, dim=None, keepdim: bool = False): return _R.mean(self, dim, keepdim)
    def var(self, dim=None, unbiased: bool = True, keepdim: bool = False, *, correction=None):
        return _R.var(self, dim, unbiased, keepdim, correction=correction)
    def max(self, dim=None, keepdim: bool = False): return _R.max(self, dim, keepdim)
    def min(self, dim=None, keepdim: bool = False): return _R.min(self, dim, keepdim)
    def argmax(self, dim=None, keepdim: bool = False): return _R.argmax(self, dim, keepdim)
    def argmin(self, dim=None, keepdim: bool = False): return _R.argmin(self, dim, keepdim)
    def norm(self, p=2, dim=None, keepdim: bool = False): return _R.norm(self, p, dim, keepdim)
    def softmax(self, dim: int): return _R.softmax(self, dim)
    def log_softmax(self, dim: int): return _R.log_softmax(self, dim)
    def logsumexp(self, dim, keepdim: bool = False): return _R.logsumexp(self, dim, keepdim)
    def all(self, dim=None, keepdim: bool = False): return _R.all(self, dim, keepdim)
    def any(self, dim=None, keepdim: bool = False): return _R.any(self, dim, keepdim)

    # ---------------------------------------------------------------- shape ops
    def reshape(self, *shape): return _S.reshape(self, *shape)
    def view(self, *shape): return _S.view(self, *shape)
    def transpose(self, dim0: int, dim1: int): return _S.transpose(self, dim0, dim1)
    def permute(self, *dims): return _S.permute(self, *dims)
    def t(self): return _S.t(self)
    @property
    def T(self): return _S.T(self)
    @property
    def mT(self): return _S.transpose(self, -2, -1)
    def squeeze(self, dim=None): return _S.squeeze(self, dim)
    def unsqueeze(self, dim: int): return _S.unsqueeze(self, dim)
    def expand(self, *sizes): return _S.expand(self, *sizes)
    def expand_as(self, other): return _S.expand(self, other.shape)
    def flatten(self, start_dim: int = 0, end_dim: int = -1): return _S.flatten(self, start_dim, end_dim)
    def split(self, split_size_or_sections, dim: int = 0): return _S.split(self, split_size_or_sections, dim)
    def chunk(self, chunks: int, dim: int = 0): return _S.chunk(self, chunks, dim)
    def contiguous(self): return self
    def matmul(self, other): return _L.matmul(self, other)
    def mm(self, other): return _L.matmul(self, other)

    # ---------------------------------------------------------------- more of PyTorch's tensor API
    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        return _R.std(self, dim, unbiased, keepdim, correction=correction)
    def add(self, other, *, alpha=1): return _E.add(self, other, alpha=alpha)
    def sub(self, other, *, alpha=1): return _E.sub(self, other, alpha=alpha)
    def mul(self, other): return _E.mul(self, other)
    def div(self, other, *, rounding_mode=None): return _E.div(self, other, rounding_mode=rounding_mode)
    def __floordiv__(self, other): return _E.div(self, other, rounding_mode="floor")
    def __rfloordiv__(self, other): return _E.div(other, self, rounding_mode="floor")
    def __mod__(self, other): return _U.remainder(self, other)
    def __rmod__(self, other): return _U.remainder(other, self)
    def remainder(self, other): return _U.remainder(self, other)
    def fmod(self, other): return _U.fmod(self, other)
    true_divide = divide = div
    multiply, subtract = mul, sub
    def eq(self, other): return _Cm.eq(self, other)
    def ne(self, other): return _Cm.ne(self, other)
    def lt(self, other): return _Cm.lt(self, other)
    def le(self, other): return _Cm.le(self, other)
    def gt(self, other): return _Cm.gt(self, other)
    def ge(self, other): return _Cm.ge(self, other)
    def clamp_min(self, min): return _E.clamp(self, min=min)
    def clamp_max(self, max): return _E.clamp(self, max=max)
    def log1p(self): return _U.log1p(self)
    def expm1(self): return _U.expm1(self)
    def sin(self): return _U.sin(self)
    def cos(self): return _U.cos(self)
    def floor(self): return _U.floor(self)
    def round(self, decimals: int = 0): return _U.round(self, decimals)
    def sign(self): return _U.sign(self)
    def reciprocal(self): return _U.reciprocal(self)
    def rsqrt(self): return _U.rsqrt(self)
    def square(self): return _U.square(self)
    def ceil(self): return _U.ceil(self)
    def trunc(self): return _U.trunc(self)
    def tan(self): return _U.tan(self)
    def atan(self): return _U.atan(self)
    def asin(self): return _U.asin(self)
    def acos(self): return _U.acos(self)
    def sinh(self): return _U.sinh(self)
    def cosh(self): return _U.cosh(self)
    def log2(self): return _U.log2(self)
    def log10(self): return _U.log10(self)
    arctan, arcsin, arccos = atan, asin, acos
    def neg(self): return _E.neg(self)
    negative = neg
    def logical_not(self): return _Cm.logical_not(self)
    def logical_and(self, other): return _Cm.logical_and(self, other)
    def logical_or(self, other): return _Cm.logical_or(self, other)
    def logical_xor(self, other): return _Cm.logical_xor(self, other)
    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _Cm.isclose(self, other, rtol, atol, equal_nan)
    def amax(self, dim=(), keepdim=False): return _R.amax(self, dim, keepdim)
    def amin(self, dim=(), keepdim=False): return _R.amin(self, dim, keepdim)
    def nonzero(self, *, as_tuple=False): return _I.nonzero(self, as_tuple=as_tuple)
    def dot(self, other): return _V.dot(self, other)
    def mv(self, vec): return _V.mv(self, vec)
    def where(self, condition, other): return _E.where(condition, self, other)
    def swapaxes(self, axis0: int, axis1: int): return _S.transpose(self, axis0, axis1)
    swapdims = swapaxes
    def multinomial(self, num_samples, replacement=False, *, generator=None):
        from minigrad.sampling import multinomial

        return multinomial(self, num_samples, replacement, generator=generator)
    def isnan(self): return _Cm.isnan(self)
    def isinf(self): return _Cm.isinf(self)
    def isfinite(self): return _Cm.isfinite(self)
    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return _Cm.allclose(self, other, rtol, atol, equal_nan)
    def equal(self, other): return _Cm.equal(self, other)
    def topk(self, k, dim=-1, largest=True, sorted=True): return _So.topk(self, k, dim, largest, sorted)
    def sort(self, dim=-1, descending=False, stable=False): return _So.sort(self, dim, descending, stable)
    def argsort(self, dim=-1, descending=False, stable=False): return _So.argsort(self, dim, descending, stable)
    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return _So.unique(self, sorted, return_inverse, return_counts, dim)
    def cumsum(self, dim, *, dtype=None): return _Sc.cumsum(self, dim, dtype=dtype)
    def cumprod(self, dim, *, dtype=None): return _Sc.cumprod(self, dim, dtype=dtype)
    def prod(self, dim=None, keepdim=False, *, dtype=None): return _Sc.prod(self, dim, keepdim, dtype=dtype)
    def gather(self, dim, index): return _G.gather(self, dim, index)
    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return _G.scatter(self, dim, index, src, value=value, reduce=reduce)
    def scatter_add(self, dim, index, src): return _G.scatter_add(self, dim, index, src)
    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return _In.apply_inplace(self, "scatter_", lambda s: _G.scatter(s, dim, index, src, value=value, reduce=reduce),
                                 src)
    def scatter_add_(self, dim, index, src):
        return _In.apply_inplace(self, "scatter_add_", lambda s: _G.scatter_add(s, dim, index, src), src)
    def index_add(self, dim, index, source, *, alpha=1): return _Ix.index_add(self, dim, index, source, alpha=alpha)
    def index_add_(self, dim, index, source, *, alpha=1):
        return _In.apply_inplace(self, "index_add_", lambda s: _Ix.index_add(s, dim, index, source, alpha=alpha),
                                 source)
    def index_copy(self, dim, index, source): return _Ix.index_copy(self, dim, index, source)
    def index_copy_(self, dim, index, source):
        return _In.apply_inplace(self, "index_copy_", lambda s: _Ix.index_copy(s, dim, index, source), source)
    def index_fill(self, dim, index, value): return _Ix.index_fill(self, dim, index, value)
    def index_fill_(self, dim, index, value):
        return _In.apply_inplace(self, "index_fill_", lambda s: _Ix.index_fill(s, dim, index, value), value)
    def repeat_interleave(self, repeats, dim=None): return _Ix.repeat_interleave(self, repeats, dim)
    def index_select(self, dim, index): return _G.index_select(self, dim, index)
    def index_put(self, indices, values, accumulate=False): return _G.index_put(self, indices, values, accumulate)
    def masked_fill(self, mask, value): return _G.masked_fill(self, mask, value)
    def masked_select(self, mask): return _G.masked_select(self, mask)
    def narrow(self, dim, start, length): return _G.narrow(self, dim, start, length)
    def unbind(self, dim=0): return _G.unbind(self, dim)
    def flip(self, *dims, **kw): return _G.flip(self, *dims, **kw)
    def repeat(self, *sizes): return _G.repeat(self, *sizes)
    def roll(self, shifts, dims=None): return _G.roll(self, shifts, dims)
    def bmm(self, other): return _L.bmm(self, other)
    def outer(self, vec2): return _V.outer(self, vec2)
    def tril(self, diagonal=0): return _E.tril(self, diagonal)
    def triu(self, diagonal=0): return _E.triu(self, diagonal)
    def view_as(self, other): return _S.view(self, other.shape)
    def reshape_as(self, other): return _S.reshape(self, other.shape)
    def type_as(self, other): return _E.cast(self, other.dtype)
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return _C.tensor(data, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return _C.zeros(*size, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)
    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return _C.ones(*size, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)
    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return _C.empty(*size, dtype=self.dtype if dtype is None else dtype, device=device, requires_grad=requires_grad)
    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return _C.full(size, fill_value, dtype=self.dtype if dtype is None else dtype, device=device,
                       requires_grad=requires_grad)


# Ops import Tensor, so they are bound here, after the class exists.
from minigrad.ops import elementwise as _E  # noqa: E402
from minigrad.ops import index_ops as _Ix  # noqa: E402
from minigrad.ops import indexing as _I  # noqa: E402
from minigrad.ops import inplace as _In  # noqa: E402
from minigrad.ops import linalg as _L  # noqa: E402
from minigrad.ops import reduce as _R  # noqa: E402
from minigrad.ops import shape as _S  # noqa: E402
from minigrad.ops import vectors as _V  # noqa: E402

# isort: split
# The fronts of "more of PyTorch's tensor API" above.
from minigrad import creation as _C  # noqa: E402
from minigrad.ops import comparison as _Cm  # noqa: E402
from minigrad.ops import gather as _G  # noqa: E402
from minigrad.ops import scan as _Sc  # noqa: E402
from minigrad.ops import sorting as _So  # noqa: E402
from minigrad.ops import unary as _U  # noqa: E402
