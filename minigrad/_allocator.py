"""Keep freed memory for reuse instead of handing it back to the operating system (glibc only).

Why a deep learning framework cares: a train step allocates the same big arrays every time
(activations, gradients, products of a few MB each) and frees them at the end. By default
glibc's ``malloc`` gives large freed blocks back to the kernel (``munmap``, or trimming the
top of the heap) and asks for them again in the next step. Memory the kernel hands out is
new: every 4 KiB page faults on first touch and the kernel zeroes it, in every step. With the
settings below the memory stays in the heap and no step faults (docs/performance.md has the
numbers).

The settings are glibc's own knobs (``mallopt``), fixed at values its adaptive rule reaches
by itself after a few large frees:

- ``M_MMAP_THRESHOLD = 32 MiB``: blocks up to 32 MiB come from the heap, not from a fresh
  ``mmap`` each time (glibc's adaptive threshold stops at this value too);
- ``M_TRIM_THRESHOLD = 256 MiB``: up to 256 MiB of free memory stay at the top of the heap
  for the next step (the same bound as the fused layers' scratch pool).

Peak memory does not change (what a step needs it needs once); the process keeps up to 256 MiB
it no longer uses instead of returning it at once.

It is **opt-in**, because ``mallopt`` changes ``malloc`` for the whole process, which belongs to
the user: importing minigrad never calls it. Call ``minigrad.tune_malloc()`` in your training
script, or set ``MINIGRAD_MALLOC_TUNING=1`` before importing minigrad. Elsewhere (macOS, musl,
Windows) nothing changes.

Example::

    >>> import minigrad as mg
    >>> mg.tune_malloc() in (True, False)
    True
"""

from __future__ import annotations

import ctypes
import math
import os

import numpy as np

# mallopt parameter numbers, from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_THRESHOLD = 256 * 2**20

ENV_SWITCH = "MINIGRAD_MALLOC_TUNING"

_tuned: bool | None = None


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # not a GNU system
        return False


def tune_malloc() -> bool:
    """Apply the settings above once per process; True if they are in effect.

    Does nothing (and returns False) where the C library is not glibc.

    Example::

        >>> import minigrad as mg
        >>> mg.tune_malloc() in (True, False)
        True
    """
    global _tuned
    if _tuned is None:
        _tuned = False
        if _glibc():
            try:
                mallopt = ctypes.CDLL(None).mallopt
            except (OSError, AttributeError):
                return False
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            mallopt.restype = ctypes.c_int
            # mallopt returns 1 on success, 0 for a value out of range (then nothing changed).
            _tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _tuned


def tune_malloc_if_asked() -> bool:
    """Tune ``malloc`` at import only when the user set ``MINIGRAD_MALLOC_TUNING=1``."""
    return os.environ.get(ENV_SWITCH, "0").strip() == "1" and tune_malloc()


# --------------------------------------------------------------------------------------------
# Arrays that start on a cache line
# --------------------------------------------------------------------------------------------
# Rule: buffers the kernels stream through start on a 64-byte cache line. NumPy only promises
# 16-byte alignment; the kernels read and write 64-byte SIMD vectors, and on a misaligned array every
# one of them straddles two cache lines, and two threads writing neighbouring blocks of a row (the
# parallel LSTM kernels: 64 units each) share the line at the seam. (Measurements:
# docs/performance.md, "cache-line aligned buffers".)
CACHE_LINE = 64


def empty_aligned(shape: tuple[int, ...], dtype: object) -> np.ndarray:
    """Like ``np.empty(shape, dtype)``, but the data starts on a 64-byte cache line.

    Example::

        >>> a = empty_aligned((3, 5), np.float32)
        >>> a.shape, a.dtype, a.ctypes.data % CACHE_LINE, a.flags.c_contiguous
        ((3, 5), dtype('float32'), 0, True)
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize  # math.prod, not np.prod: this runs for every product
    buffer = np.empty(nbytes + CACHE_LINE, np.uint8)
    # The address through ctypes.c_char: `buffer.ctypes` and `__array_interface__` fill caches of
    # NumPy's a little more on each call (no leak, but it looks like one to a memory test).
    start = -ctypes.addressof(ctypes.c_char.from_buffer(buffer)) % CACHE_LINE
    return buffer[start:start + nbytes].view(dtype).reshape(shape)
