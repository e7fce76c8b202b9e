"""Numba kernels: pure functions of NumPy arrays (no Tensor in sight).

Each kernel module pairs every fast kernel with a NumPy reference of the same name ending in
``_ref``; ``tests/kernels`` checks that both agree on contiguous, transposed and sliced inputs.
Kernels expect C-contiguous arrays: callers use ``np.ascontiguousarray`` first.
Nothing here is compiled at import time (see ``_jit.py``).
"""

from __future__ import annotations

import importlib

# Modules that define kernels; `warmup()` imports them so that every kernel is registered.
KERNEL_MODULES = (
    "minigrad.kernels.activations",
    "minigrad.kernels.softmax",
    "minigrad.kernels.scatter",
    "minigrad.kernels.loss",
    "minigrad.kernels.gemm",
    "minigrad.kernels.rnn",  # the recurrent kernels: rnn_common, lstm, gru, elman
    "minigrad.kernels.optim",
)


def warmup(verbose: bool = False) -> int:
    """Compile (or load from the on-disk cache) every kernel for float32 and float64.

    Returns the number of kernels warmed up. Example::

        >>> import minigrad.kernels as K
        >>> K.warmup() > 0
        True
    """
    import numpy as np

    from minigrad.kernels._jit import REGISTRY

    for name in KERNEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:  # a kernel module not written yet
            if e.name != name:
                raise
    count = 0
    for k in REGISTRY:
        if k.warmup_fn is None:
            k.compiled()
        else:
            for dtype in (np.float32, np.float64):
                k.warmup_fn(np.dtype(dtype))
        count += 1
        if verbose:
            print(f"  {k.py_func.__module__}.{k.py_func.__name__}")
    return count
