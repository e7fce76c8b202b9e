"""Threads: PyTorch's ``torch.set_num_threads`` and ``torch.get_num_threads``.

minigrad's parallel kernels (the recurrent layers' row and unit splits, big float32 matrix
products) run on Numba's thread pool. ``set_num_threads(n)`` sets how many of its threads they use
from then on, in the calling thread, as PyTorch's sets its intra-op threads; scripts written for
PyTorch often begin with it. Rules:

- Numba starts its pool with ``NUMBA_NUM_THREADS`` threads (one per core unless set) and can not
  add threads later: a bigger ``n`` uses them all, and ``get_num_threads()`` says how many that is;
- ``get_num_threads()`` is what the kernels really use: 1 where they run serially (one thread
  asked for, ``MINIGRAD_NUM_THREADS=1``, a child made by ``fork()``, no safe threading layer:
  ``kernels/_jit.py``), and the fused layers' plan follows it;
- NumPy's own products (its BLAS) keep their threads (``OPENBLAS_NUM_THREADS``).

The examples are in the two functions' docstrings.
"""

from __future__ import annotations

import numpy as np


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in minigrad's parallel kernels (at most Numba's pool, one per core by default).

    Example::

        >>> import minigrad as mg
        >>> before = mg.get_num_threads()
        >>> mg.set_num_threads(1)
        >>> mg.get_num_threads()
        1
        >>> mg.set_num_threads(before)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__} ({n!r})")
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    import numba

    numba.set_num_threads(min(int(n), numba.config.NUMBA_NUM_THREADS))


def get_num_threads() -> int:
    """How many threads minigrad's parallel kernels use (1 where they run serially).

    Example::

        >>> import minigrad as mg
        >>> mg.get_num_threads() >= 1
        True
    """
    from minigrad.kernels.products import num_threads

    return num_threads()
