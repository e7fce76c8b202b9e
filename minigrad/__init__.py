"""minigrad: a small deep learning framework for seeing backpropagation through time.

    >>> import minigrad as mg
    >>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2., 4., 6.])

Layout: ``tensor.py`` and ``tensor_array.py`` (the Tensor), ``autograd/`` (graph, engine, no_grad, gradcheck),
``ops/`` (differentiable ops by kind), ``kernels/`` (Numba), ``nn/``, ``optim/``, ``viz/``.
"""

from __future__ import annotations

import importlib
from typing import Any

from minigrad import autograd
from minigrad._allocator import tune_malloc, tune_malloc_if_asked
from minigrad.autograd import (
    enable_grad,
    inference_mode,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    scope,
    set_grad_enabled,
)
from minigrad.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    numel,
    ones,
    ones_like,
    tensor,
    zeros,
    zeros_like,
)
from minigrad.devices import accelerator, backends, cuda, device, get_default_device, set_default_device
from minigrad.dtypes import (
    bool_,
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    uint8,
)
from minigrad.errors import ShapeError, not_in_minigrad
from minigrad.legacy import (
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)
from minigrad.legacy import PublicTensor as Tensor  # isinstance works; calling it is torch.Tensor(...)
from minigrad.ops.comparison import (
    allclose,
    eq,
    equal,
    ge,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    ne,
)
from minigrad.ops.einsum import einsum
from minigrad.ops.elementwise import (
    abs,
    add,
    clamp,
    clamp_max,
    clamp_min,
    clone,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    softplus,
    sqrt,
    sub,
    tanh,
    tril,
    triu,
    where,
)
from minigrad.ops.gather import (
    flip,
    gather,
    index_put,
    index_select,
    masked_fill,
    masked_select,
    narrow,
    roll,
    scatter,
    scatter_add,
    unbind,
)
from minigrad.ops.index_ops import index_add, index_copy, index_fill, repeat_interleave
from minigrad.ops.indexing import getitem, nonzero
from minigrad.ops.linalg import bmm, matmul, mm
from minigrad.ops.reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    softmax,
    std,
    sum,
    var,
)
from minigrad.ops.scan import cumprod, cumsum, prod
from minigrad.ops.shape import (
    cat,
    chunk,
    expand,
    flatten,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    t,
    transpose,
    unsqueeze,
    view,
)
from minigrad.ops.sorting import argsort, sort, topk, unique
from minigrad.ops.unary import (
    acos,
    asin,
    atan,
    ceil,
    cos,
    cosh,
    expm1,
    floor,
    fmod,
    log1p,
    log2,
    log10,
    reciprocal,
    remainder,
    round,
    rsqrt,
    sign,
    sin,
    sinh,
    square,
    tan,
    trunc,
)
from minigrad.ops.vectors import dot, ger, mv, outer
from minigrad.printing import set_printoptions
from minigrad.random import get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from minigrad.sampling import (
    bernoulli,
    multinomial,
    normal,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
)
from minigrad.threads import get_num_threads, set_num_threads

# Importing minigrad leaves the process as it was: malloc tuning (see _allocator.py) is opt-in,
# with mg.tune_malloc() or MINIGRAD_MALLOC_TUNING=1.
tune_malloc_if_asked()

bool = bool_  # noqa: A001 - PyTorch's spelling, mg.bool
float = float32  # noqa: A001 - mg.float is float32 as in PyTorch
clip = clamp
concat = concatenate = cat
arctan, arcsin, arccos, negative = atan, asin, acos, neg
swapaxes = swapdims = transpose
broadcast_to = expand  # broadcast_to(x, shape): expand takes the shape as one tuple too
detect_anomaly = autograd.detect_anomaly
set_anomaly_enabled = autograd.set_detect_anomaly  # PyTorch's torch.set_anomaly_enabled(enabled, check_nan=True)

__version__ = "0.1.0"

# Submodules and checkpoint functions load on first use, so `import minigrad` stays fast.
_LAZY_MODULES = {"nn", "optim", "viz", "kernels", "serialization", "onnx", "jit", "utils"}
_LAZY_ATTRS = {"save": "minigrad.serialization", "load": "minigrad.serialization",
               "Generator": "minigrad.utils.generator", "compile": "minigrad.jit"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"minigrad.{name}")
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(_LAZY_ATTRS[name]), name)
    if name.startswith("__"):  # Python's own protocol look-ups (e.g. __path__): a plain miss
        raise AttributeError(f"module 'minigrad' has no attribute {name!r}")
    raise not_in_minigrad(f"torch.{name}", name)


def is_tensor(obj: Any) -> bool:
    """True for a minigrad Tensor (PyTorch's ``torch.is_tensor``).

    Example::

        >>> import minigrad as mg
        >>> mg.is_tensor(mg.ones(1)), mg.is_tensor([1.0])
        (True, False)
    """
    return isinstance(obj, Tensor)


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY_MODULES) + list(_LAZY_ATTRS))
