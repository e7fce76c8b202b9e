"""The NumPy reference of every kernel: what runs while its machine code is not ready.

By the kernel modules' rule each kernel ``k`` has a NumPy function ``k_ref`` next to it taking the
same arguments. A few row kernels predate the rule: their references return a new array where the
kernel writes into ``out``. The adapters below give those the kernel's arguments.

Example::

    >>> import numpy as np
    >>> from minigrad.kernels import softmax
    >>> x, out = np.zeros((1, 2)), np.empty((1, 2))
    >>> reference_of(softmax.softmax_rows_kernel)(x, out)
    >>> out.tolist()
    [[0.5, 0.5]]
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np


def _softmax_rows(x: np.ndarray, out: np.ndarray) -> None:
    from minigrad.kernels.softmax import softmax_rows_ref

    out[...] = softmax_rows_ref(x)


def _log_softmax_rows(x: np.ndarray, out: np.ndarray) -> None:
    from minigrad.kernels.softmax import log_softmax_rows_ref

    out[...] = log_softmax_rows_ref(x)


def _scatter_add_rows(out: np.ndarray, indices: np.ndarray, src: np.ndarray) -> None:
    from minigrad.kernels.scatter import scatter_add_rows_ref

    scatter_add_rows_ref(out, indices, src)


# Kernels whose reference is not simply `<name>_ref` in their module.
ADAPTERS: dict[str, Callable[..., Any]] = {
    "minigrad.kernels.softmax.softmax_rows_kernel": _softmax_rows,
    "minigrad.kernels.softmax.log_softmax_rows_kernel": _log_softmax_rows,
    "minigrad.kernels.scatter.scatter_add_rows_kernel": _scatter_add_rows,
}


def reference_of(kernel: Any) -> Callable[..., Any]:
    """The NumPy function that computes what ``kernel`` computes, called with the same arguments."""
    if kernel.name in ADAPTERS:
        return ADAPTERS[kernel.name]
    module = importlib.import_module(kernel.py_func.__module__)
    reference = getattr(module, kernel.py_func.__name__ + "_ref", None)
    if reference is None:
        raise LookupError(f"kernel {kernel.name} has no NumPy reference: write "
                          f"{kernel.py_func.__name__}_ref next to it (same arguments)")
    return reference
