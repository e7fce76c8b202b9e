"""Numba kernels: pure functions of NumPy arrays (no Tensor in sight).

Each kernel module pairs every fast kernel with a NumPy reference of the same name ending in
``_ref``; ``tests/kernels`` checks that both agree on contiguous, transposed and sliced inputs.
Kernels expect C-contiguous arrays: callers use ``np.ascontiguousarray`` first.
Nothing here is compiled at import time (see ``_jit.py``).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

# Modules that define kernels; `warmup()` imports them so that every kernel is registered.
KERNEL_MODULES = (
    "minigrad.kernels.activations",
    "minigrad.kernels.bias_rows",
    "minigrad.kernels.gelu",
    "minigrad.kernels.smooth_activations",
    "minigrad.kernels.scan",
    "minigrad.kernels.selection",
    "minigrad.kernels.layer_norm",
    "minigrad.kernels.softmax",
    "minigrad.kernels.scatter",
    "minigrad.kernels.loss",
    "minigrad.kernels.gemm",
    "minigrad.kernels.gemm_blocks",
    "minigrad.kernels.gemv",
    "minigrad.kernels.rnn",  # the recurrent kernels: rnn_common, lstm, gru, elman
    "minigrad.kernels.optim",
    "minigrad.kernels.transpose",
)

# float32 is minigrad's default dtype: the specialisations a new user's first script needs.
DEFAULT_DTYPES = ("float32",)


def _warm_matmul_blocks(dtype: Any) -> None:
    """``matmul_blocks`` as ``parallel_matmul`` calls it (a transposed operand, read-only blocks)."""
    import numpy as np

    from minigrad.kernels.products import parallel_matmul

    a, b = np.ones((6, 3), dtype), np.ones((70, 3), dtype)
    parallel_matmul(a, b.T, np.empty((6, 70), dtype))


def _warm_matmul_cols(dtype: Any) -> None:
    import numpy as np

    from minigrad.kernels.gemm import matmul_cols

    a, b = np.ones((5, 3), dtype), np.ones((3, 70), dtype)
    matmul_cols(a, b, np.empty((5, 70), dtype), 1, 69)


# Warmups for kernels whose module gives none (module.name -> function of a dtype).
EXTRA_WARMUPS = {"minigrad.kernels.gemm_blocks.matmul_blocks": _warm_matmul_blocks,
                 "minigrad.kernels.gemm.matmul_cols": _warm_matmul_cols}


# Kernels that no layer or op of minigrad calls (tests and benchmarks do): the default warmup
# leaves them out, and they compile in the background the first time something calls them.
NOT_CALLED_BY_LAYERS = frozenset({"minigrad.kernels.gemm.matmul", "minigrad.kernels.gemm.matmul_cols"})

# Kernels that the default warmup leaves out too, although ops call them; the first script that
# needs one compiles it in the background meanwhile (``_background.py``):
# - the recurrent layers' parallel kernels, which split every step across threads by blocks of
#   rows (most batched float32 layers) or of units (the LSTM over 320 units with small batches),
#   and the packing of W_hh they read: the longest compiles of all, and each has a stand-in, the
#   serial kernel of its cell (which the warmup compiles), so a layer runs on one thread until
#   its parallel kernel is ready;
# - the parallel float32 softmax kernels of big inputs (a language model's vocabulary), the
#   product of at most four rows by a big matrix (one sequence through a big layer, as when
#   sampling from a language model), the one-pass activations and their gradients (the fused
#   recurrent layers, which most scripts use, compute their gates in their own kernels), GELU's,
#   ELU's, softplus's, cumsum's, layer_norm's and softmax's gradient (seldom in recurrent models,
#   or small there), the one-pass `a += alpha * b` of hand-written update loops and `topk`'s pass
#   (sampling from the k most likely): few scripts need them, or need them much; NumPy computes
#   the same meanwhile (the product: NumPy's BLAS, about as fast; the others: NumPy's formulas, a
#   few passes instead of one; `topk`: a sort);
# - a bias added to every row and its gradient in one loop (`bias_rows.py`): small and quick to
#   compile, NumPy's own expressions meanwhile.
FIRST_USE_ONLY = frozenset({"minigrad.kernels.bias_rows.add_row_kernel",
                            "minigrad.kernels.bias_rows.add_row_in_place_kernel",
                            "minigrad.kernels.bias_rows.sum_rows_kernel",
                            "minigrad.kernels.optim.add_scaled_kernel",
                            "minigrad.kernels.activations.leaky_relu_kernel",
                            "minigrad.kernels.activations.leaky_relu_backward_kernel",
                            "minigrad.kernels.activations.sigmoid_kernel",
                            "minigrad.kernels.activations.relu_kernel",
                            "minigrad.kernels.activations.relu_backward_kernel",
                            "minigrad.kernels.activations.sigmoid_backward_kernel",
                            "minigrad.kernels.activations.tanh_backward_kernel",
                            "minigrad.kernels.gelu.gelu_kernel",
                            "minigrad.kernels.gelu.erf_kernel",
                            "minigrad.kernels.gelu.gelu_backward_kernel",
                            "minigrad.kernels.gelu.gelu_tanh_kernel",
                            "minigrad.kernels.gelu.gelu_tanh_backward_kernel",
                            "minigrad.kernels.smooth_activations.elu_kernel",
                            "minigrad.kernels.smooth_activations.elu_backward_kernel",
                            "minigrad.kernels.smooth_activations.softplus_kernel",
                            "minigrad.kernels.smooth_activations.softplus_backward_kernel",
                            "minigrad.kernels.scan.running_sum_kernel",
                            "minigrad.kernels.selection.top_k_rows_kernel",
                            "minigrad.kernels.layer_norm.layer_norm_forward_kernel",
                            "minigrad.kernels.layer_norm.layer_norm_backward_kernel",
                            "minigrad.kernels.softmax.softmax_backward_rows_kernel",
                            "minigrad.kernels.softmax.log_softmax_rows_parallel",
                            "minigrad.kernels.softmax.softmax_rows_parallel",
                            "minigrad.kernels.softmax.log_softmax_backward_rows_parallel",
                            "minigrad.kernels.lstm.lstm_sequence_forward_parallel",
                            "minigrad.kernels.lstm.lstm_sequence_backward_parallel",
                            "minigrad.kernels.lstm.lstm_sequence_forward_rows",
                            "minigrad.kernels.lstm.lstm_sequence_backward_rows",
                            "minigrad.kernels.gru.gru_sequence_forward_rows",
                            "minigrad.kernels.gru.gru_sequence_backward_rows",
                            "minigrad.kernels.elman.rnn_sequence_forward_rows",
                            "minigrad.kernels.elman.rnn_sequence_backward_rows",
                            "minigrad.kernels.rnn_common.packed_weight",
                            "minigrad.kernels.gemv.matmul_few_rows"})


def all_kernels() -> list:
    """Every kernel, in the order the kernel modules define them (imports those modules).

    Example::

        >>> len(all_kernels()) > 10
        True
    """
    from minigrad.kernels._jit import REGISTRY

    for name in KERNEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:  # a kernel module not written yet
            if e.name != name:
                raise
    return list(REGISTRY)


def warmup_jobs(dtypes: Sequence[str] = DEFAULT_DTYPES, everything: bool = False) -> list[tuple[Any, str]]:
    """The (kernel, dtype) pairs ``warmup`` compiles: all of the first dtype first, and within a
    dtype the parallel kernels first (the longest to compile: the two processes of ``warmup`` then
    end close together).

    Leaves out ``NOT_CALLED_BY_LAYERS`` and ``FIRST_USE_ONLY`` unless ``everything``.

    Example::

        >>> jobs = warmup_jobs(("float32", "float64"))
        >>> jobs[0][1], jobs[-1][1], jobs[0][0].parallel
        ('float32', 'float64', True)
    """
    left_out = NOT_CALLED_BY_LAYERS | FIRST_USE_ONLY
    kernels = [k for k in all_kernels() if everything or k.name not in left_out]
    kernels.sort(key=lambda k: not k.parallel)  # stable: otherwise in the modules' order
    return [(k, dtype) for dtype in dtypes for k in kernels]


def warmup(verbose: bool = False, dtypes: Sequence[str] = DEFAULT_DTYPES, processes: int = 1,
           everything: bool = False, claims: str | None = None) -> int:
    """Compile (or load from the on-disk cache) every kernel for each of ``dtypes``, here and now.

    ``processes > 1`` shares the work with ``processes - 1`` helper processes (``python -m minigrad
    warmup --claims DIR``), one per core: Numba compiles on one thread. Each process takes the next
    job nobody has taken yet (it claims job ``i`` by creating the file ``DIR/i``), so they stay
    busy until the list is done. ``everything`` includes ``NOT_CALLED_BY_LAYERS``. Returns the
    number of (kernel, dtype) jobs done here.

    Example::

        >>> import minigrad.kernels as K
        >>> K.warmup() > 0
        True
    """
    if processes > 1:
        with tempfile.TemporaryDirectory(prefix="minigrad-warmup-") as claims:
            helpers = [_start_helper(claims, dtypes, verbose, everything) for _ in range(processes - 1)]
            done = warmup(verbose, dtypes, 1, everything, claims)
            failed = [p.args for p in helpers if p.wait() != 0]
        if failed:
            raise RuntimeError(f"warmup: a helper process failed: {' '.join(failed[0])}")
        return len(warmup_jobs(dtypes, everything))  # all of them, here or in a helper

    import numpy as np

    from minigrad.kernels._background import forced_mode

    done = 0
    with forced_mode("wait"):
        for index, (k, dtype) in enumerate(warmup_jobs(dtypes, everything)):
            if claims is not None and not _claim(claims, index):
                continue
            warm = k.warmup_fn or EXTRA_WARMUPS.get(k.name)
            if warm is None:
                raise LookupError(f"kernel {k.name} has no warmup: give it one (@kernel(warmup=...)) "
                                  "or add it to minigrad.kernels.EXTRA_WARMUPS")
            warm(np.dtype(dtype))
            done += 1
            if verbose:
                print(f"  {k.name} ({dtype})", flush=True)
    return done


def _claim(claims: str, index: int) -> bool:
    """Take job ``index`` unless another process has: creating a file is atomic (O_EXCL)."""
    try:
        os.close(os.open(os.path.join(claims, str(index)), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _start_helper(claims: str, dtypes: Sequence[str], verbose: bool, everything: bool) -> subprocess.Popen:
    """A ``python -m minigrad warmup`` process (of this copy of minigrad) taking jobs from the same list."""
    from minigrad.kernels._background import this_minigrad_command

    options = (["--verbose"] if verbose else []) + (["--all"] if everything else [])
    return subprocess.Popen(this_minigrad_command("warmup", "--claims", claims, "--dtypes", *dtypes, *options))
