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
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

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

    Arrays of ``RECYCLE_MIN_BYTES`` or more reuse a buffer that nothing refers to any more
    (``_Recycler`` below), so their memory is usually warm, not fresh from the OS.

    Example::

        >>> a = empty_aligned((3, 5), np.float32)
        >>> a.shape, a.dtype, a.ctypes.data % CACHE_LINE, a.flags.c_contiguous
        ((3, 5), dtype('float32'), 0, True)
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize  # math.prod, not np.prod: this runs for every product
    if nbytes >= RECYCLE_MIN_BYTES:
        buffer, start = _recycler.take(nbytes)
    else:
        buffer, start = _aligned_buffer(nbytes)
    return np.ndarray(shape, dtype, buffer, start)  # (one call, where slicing, view and reshape are three)


def empty(shape: tuple[int, ...], dtype: object) -> np.ndarray:
    """``np.empty(shape, dtype)``, in a recycled buffer (``empty_aligned``) when it is big.

    For the big arrays a train step makes anew every time, such as a log-softmax over a
    vocabulary and its gradient: their memory is then warm instead of new pages from the OS.
    Small arrays skip the recycler's bookkeeping.

    Example::

        >>> empty((2, 3), np.float32).shape, empty((512, 1024), np.float32).ctypes.data % CACHE_LINE
        ((2, 3), 0)
    """
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize >= RECYCLE_MIN_BYTES:
        return empty_aligned(shape, dtype)
    return np.empty(shape, dtype)


def zeros(shape: tuple[int, ...], dtype: object) -> np.ndarray:
    """``np.zeros(shape, dtype)``, in a recycled buffer when it is big (as ``empty``).

    Example::

        >>> float(zeros((512, 1024), np.float32).sum())
        0.0
    """
    dtype = np.dtype(dtype)
    if math.prod(shape) * dtype.itemsize < RECYCLE_MIN_BYTES:
        return np.zeros(shape, dtype)
    a = empty_aligned(shape, dtype)
    a.fill(0)
    return a


def allocators_for(largest: int) -> tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]:
    """``(empty, zeros)`` for a group of arrays the largest of which has ``largest`` bytes.

    The rule of ``empty`` and ``zeros``, decided once for the group: NumPy's own functions when
    even the largest is small, the recycling ones otherwise (a caller making several small arrays
    per call skips the size check of each).

    Example::

        >>> allocators_for(1024) == (np.empty, np.zeros)
        True
    """
    return (np.empty, np.zeros) if largest < RECYCLE_MIN_BYTES else (empty, zeros)


def zeros_aligned(shape: tuple[int, ...], dtype: object) -> np.ndarray:
    """``np.zeros(shape, dtype)`` starting on a cache line, whatever its size (``empty_aligned``).

    Example::

        >>> z = zeros_aligned((3, 5), np.float32)
        >>> float(z.sum()), z.ctypes.data % CACHE_LINE
        (0.0, 0)
    """
    a = empty_aligned(shape, dtype)
    a.fill(0)
    return a


def contiguous_aligned(a: np.ndarray) -> np.ndarray:
    """``np.ascontiguousarray(a)``, but a copy, when one is needed, goes into ``empty_aligned``'s memory.

    Example::

        >>> t = np.ones((3, 4), np.float32).T          # a transposed view: copied
        >>> c = contiguous_aligned(t)
        >>> c.flags.c_contiguous, np.shares_memory(c, t)
        (True, False)
        >>> contiguous_aligned(c) is c                  # already contiguous: itself
        True
    """
    if a.flags.c_contiguous:
        return a
    out = empty_aligned(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def _aligned_buffer(nbytes: int) -> tuple[np.ndarray, int]:
    """A fresh byte buffer with room for ``nbytes`` from a cache line on, and where that line starts."""
    buffer = np.empty(nbytes + CACHE_LINE, np.uint8)
    # The address through ctypes.c_char: `buffer.ctypes` and `__array_interface__` fill caches of
    # NumPy's a little more on each call (no leak, but it looks like one to a memory test).
    return buffer, -ctypes.addressof(ctypes.c_char.from_buffer(buffer)) % CACHE_LINE


# --------------------------------------------------------------------------------------------
# Recycled buffers for big arrays
# --------------------------------------------------------------------------------------------
# Rule: big arrays that minigrad allocates itself (``empty_aligned``: products, the recurrent
# layers' buffers, fused losses) come from buffers it keeps, and a buffer is handed out again once
# nothing refers to it any more: no array, view or Tensor shows its memory. A train step
# allocates the same big arrays every time; memory freed back to the OS is new again on the next
# step, and every 4 KiB page of it faults on first touch (docs/performance.md, "recycled
# buffers"). This is minigrad's own cache, not a change to malloc: the process's allocator is
# untouched, and NumPy's own temporaries are not affected.
RECYCLE_MIN_BYTES = 64 * 2**10
RECYCLE_MAX_BYTES = 256 * 2**20  # per thread, buffers in use included
# Buffers kept per size: a request looks at each of them, so a program holding thousands of
# arrays of one size (a long unrolled graph) gets plain arrays beyond these, not a long search.
RECYCLE_MAX_PER_SIZE = 16


class _Recycler(threading.local):
    """Byte buffers by size, each handed out again when only this cache still refers to it.

    "Only this cache" is read from ``sys.getrefcount``: an array made by ``empty_aligned`` is a
    view whose ``base`` is the buffer, so every live array, view or Tensor showing that memory
    adds a reference to it. ``_FREE_COUNT`` is what a buffer nobody else holds shows in the same
    call, measured once (no interpreter's way of counting is assumed). One cache per thread: a
    buffer is never handed to two threads by a race.
    """

    def __init__(self) -> None:
        self.sizes: OrderedDict[int, list[tuple[np.ndarray, int]]] = OrderedDict()  # least recently used first
        self.nbytes = 0

    def take(self, nbytes: int) -> tuple[np.ndarray, int]:
        """A buffer of ``nbytes`` (plus alignment slack) that nothing else refers to, and its aligned start."""
        kept = self.sizes.get(nbytes)
        if kept is not None:
            self.sizes.move_to_end(nbytes)
            found = _first_free(kept)
            if found is not None:
                return found
        entry = _aligned_buffer(nbytes)
        size = entry[0].nbytes
        if size > RECYCLE_MAX_BYTES or _FREE_COUNT is None or (kept is not None and len(kept) >= RECYCLE_MAX_PER_SIZE):
            return entry  # too big to keep, no reference counts to go by, or enough of this size: a plain array
        while self.nbytes + size > RECYCLE_MAX_BYTES:  # forget the least recently used size
            _, old = self.sizes.popitem(last=False)
            self.forget(old)
        self.sizes.setdefault(nbytes, []).append(entry)
        self.nbytes += size
        _kept[id(entry[0])] = entry[0]
        return entry

    def forget(self, entries: list[tuple[np.ndarray, int]]) -> None:
        """Stop keeping ``entries``: buffers in use are freed by their last user, the others now."""
        for buffer, _ in entries:
            self.nbytes -= buffer.nbytes
            if _kept.get(id(buffer)) is buffer:
                del _kept[id(buffer)]

    def clear(self) -> None:
        for entries in self.sizes.values():
            self.forget(entries)
        self.sizes.clear()


def _first_free(entries: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, int] | None:
    """The most recently handed out entry whose buffer only ``entries`` refers to (``_FREE_COUNT``
    references in this call), moved to the end of ``entries``: its memory is the likeliest to be in cache."""
    for i in range(len(entries) - 1, -1, -1):
        entry = entries[i]
        if sys.getrefcount(entry[0]) <= _FREE_COUNT:
            if i != len(entries) - 1:
                del entries[i]
                entries.append(entry)
            return entry
    return None


def _free_count() -> int | None:
    """What ``_first_free`` counts for a buffer that only its list holds (None: not countable here)."""
    if not hasattr(sys, "getrefcount"):
        return None
    entries = [(np.empty(1, np.uint8), 0)]
    count = None
    for entry in entries:  # the same frame shape as _first_free: the list's tuple, the loop variable
        count = sys.getrefcount(entry[0])
    held = entries[0][0]  # one more holder must show as one more reference, or the counts mean nothing
    for entry in entries:
        if sys.getrefcount(entry[0]) != count + 1:
            return None
    del held
    return count


# The buffers the recyclers of all threads keep, by id: the engine discounts that one reference
# when it asks whether nobody else holds a gradient's memory (autograd/sole_reference.py). Weak
# references: a buffer whose thread ended and whose last user let go leaves no stale id behind.
_kept: weakref.WeakValueDictionary[int, np.ndarray] = weakref.WeakValueDictionary()
_FREE_COUNT = _free_count()
_recycler = _Recycler()


def kept_by_recycler(buffer: object) -> bool:
    """True when ``buffer`` (an array's ``base``) is one of the buffers ``empty_aligned`` recycles."""
    return buffer is not None and _kept.get(id(buffer)) is buffer  # (a missing id gets None: not None's)


def empty_cache() -> None:
    """Let go of this thread's recycled buffers: the free ones are returned to the C library now.

    Example::

        >>> a = empty_aligned((512, 512), np.float32)
        >>> del a
        >>> empty_cache()
    """
    _recycler.clear()
