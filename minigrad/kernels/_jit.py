"""The one decorator every kernel uses: a lazily compiled, disk-cached Numba function.

Why lazy: ``import minigrad`` must stay fast and compile nothing. Importing Numba alone costs
a few hundred milliseconds, so we do not even import it until the first kernel is called.
On that first call the plain Python function is handed to ``numba.njit(cache=True)``; Numba
then compiles one machine-code version per dtype signature (float32 and float64) and keeps it
in ``__pycache__`` so later processes load it instead of compiling again (``cached_njit``: an edit
of any kernel file makes every kernel compile once more). Who compiles, and
what runs meanwhile, is the compile mode (``MINIGRAD_COMPILE``, see ``_background.py``): by
default a helper process compiles while the kernel's NumPy reference runs here. The mode is
read when a kernel meets argument types it has no machine code for.

With ``NUMBA_DISABLE_JIT=1`` Numba returns the Python function unchanged, so every kernel also
runs (slowly) as ordinary Python: the test-suite runs that way too.

Example::

    from minigrad.kernels._jit import kernel

    @kernel
    def add_one(x, out):
        for i in range(x.size):
            out.flat[i] = x.flat[i] + 1.0
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
import types
from collections.abc import Callable
from typing import Any

# Every kernel registers itself here so that `python -m minigrad warmup` can compile them all.
REGISTRY: list[LazyKernel] = []
_lock = threading.RLock()  # re-entrant: a helper may compile while a kernel is being built

# Kernels write their parallel loops as `for u in prange(n)`. Here (plain Python, and the serial
# compilation of a kernel) `prange` is `range`; the parallel compilation swaps in `numba.prange`.
prange = range

# While a kernel's machine code is being compiled elsewhere, how often (seconds) to look for it in the cache.
LOOK_INTERVAL = 0.2


_jit_disabled: bool | None = None  # None: not read yet


def cached_njit(fn: Callable, **options: Any) -> Any:
    """``numba.njit(cache=True, **options)(fn)``, with a disk cache that also knows the other kernel files.

    Numba keys a function's cached machine code by the time stamp of the file it is written in and
    by its own bytecode. A kernel's machine code also holds the helpers it calls, which may be in
    other files (``lstm.py``'s kernels inline ``gemm.py``'s tile): edit a helper, and the kernel
    would load its old machine code. Rule: every cache entry is also stamped with a digest of all
    of ``minigrad/kernels/*.py``, so any edit there compiles each kernel once more.

    Example::

        >>> from minigrad.kernels.gemm import matmul
        >>> compiled = cached_njit(matmul.py_func, **matmul.options)  # compiles on its first call
        >>> callable(compiled)
        True
    """
    import numba

    dispatcher = numba.njit(cache=True, **options)(fn)
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)  # none without the JIT
    if cache_file is not None and hasattr(cache_file, "_source_stamp"):
        cache_file._source_stamp = (cache_file._source_stamp, kernels_digest())
    return dispatcher


@functools.lru_cache(maxsize=1)
def kernels_digest() -> str:
    """A SHA-256 of the source of every file of ``minigrad/kernels``, in name order.

    Example::

        >>> len(kernels_digest())
        64
    """
    import hashlib
    from pathlib import Path

    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def jit_disabled() -> bool:
    """True when NUMBA_DISABLE_JIT is set: kernels then run as plain Python.

    Read once per process, on the first call (before the first kernel imports Numba), as Numba
    reads it once when it is imported.
    """
    global _jit_disabled
    if _jit_disabled is None:
        _jit_disabled = os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")
    return _jit_disabled


# ---------------------------------------------------------------------------------- threads
# Parallel kernels (``@kernel(parallel=True)``) run their ``prange`` loops on Numba's thread
# pool, but only where that is safe; otherwise the same kernel runs compiled serially:
# - the threading layer must allow calls from several Python threads at once (TBB or OpenMP;
#   Numba's fallback "workqueue" layer aborts the process on concurrent use);
# - never in a child made by fork(): GNU OpenMP cannot be used there once the parent used it;
# - with more than one thread (``NUMBA_NUM_THREADS`` / ``numba.set_num_threads``);
# - ``MINIGRAD_NUM_THREADS=1`` turns them off by hand (e.g. when other processes hold the cores).
_threads_state: bool | None = None  # None: not checked yet

# Only the explicit `prange` loops run in parallel: Numba's other parallel passes would turn array
# expressions and slice assignments (`a[:] = 0`) inside a thread's share of the work into
# parallel loops of their own, nested in the prange loop, where there is nothing left to share.
_PRANGE_ONLY = {"prange": True, "comprehension": False, "setitem": False, "reduction": False,
                "numpy": False, "stencil": False, "fusion": False, "inplace_binop": False}


def _no_threads_in_child() -> None:
    global _threads_state, _numba_pool
    _threads_state = False
    _numba_pool = None  # (the child asks Numba's public function again)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_no_threads_in_child)


def threads_usable() -> bool:
    """Whether parallel kernels run on several threads here (see the rules above).

    Example::

        >>> threads_usable() in (True, False)
        True
    """
    global _threads_state
    if _threads_state is None:
        with _lock:
            if _threads_state is None:
                _threads_state = _check_threads()
    if not _threads_state:
        return False
    return numba_threads() > 1


def numba_threads() -> int:
    """``numba.get_num_threads()``: how many threads Numba's ``prange`` loops use in this thread.

    Numba's function takes two locks on every call to make sure its thread pool has started; once
    it has, the threading layer is asked directly: the same number, per thread as
    ``numba.set_num_threads`` sets it. (Parallel kernels and the fused layers' plan ask it on every
    call.) Where Numba's internals are not as expected, its public function answers.

    Example::

        >>> numba_threads() >= 1
        True
    """
    parallel = _numba_pool
    if parallel is not None:
        return parallel._get_num_threads()
    import numba

    count = numba.get_num_threads()  # starts the pool on the first call
    _remember_pool()
    return count


# Set once a parallel kernel has run on Numba's threads in this process (``LazyKernel.__call__``).
_pool_awake = False


def pool_awake() -> bool:
    """Whether Numba's thread pool has run a parallel kernel in this process (then it spin-waits for more).

    ``kernels/products.py`` reads it: from then on, a product BLAS would run on threads of its own
    runs on ours, so that two pools never spin on the same cores.

    Example::

        >>> isinstance(pool_awake(), bool)
        True
    """
    return _pool_awake


def _remember_pool() -> None:
    global _numba_pool
    from numba.np.ufunc import parallel

    if getattr(parallel, "_is_initialized", False) and callable(getattr(parallel, "_get_num_threads", None)):
        _numba_pool = parallel


_numba_pool: Any = None  # numba.np.ufunc.parallel, once its thread pool runs (numba_threads)


def _check_threads() -> bool:
    if jit_disabled() or os.environ.get("MINIGRAD_NUM_THREADS", "") == "1":
        return False
    try:
        import numba
        from numba.np.ufunc import parallel

        if numba.config.NUMBA_NUM_THREADS < 2:
            return False
        parallel._launch_threads()  # picks the threading layer (what the first parallel loop would do)
        return numba.threading_layer() in ("tbb", "omp")
    except Exception:  # no usable threading layer: serial kernels are always correct
        return False


class LazyKernel:
    """A Python function that becomes a Numba function the first time it is called.

    Until its machine code is ready it may run its NumPy reference instead (``reference``; see
    ``_background.py`` for when), or its stand-in if its module defines one: ``<name>_stand_in``,
    the same arguments, computing the same with kernels that the default warmup compiles (a
    row-split parallel kernel's stand-in is the serial kernel). The fast path is one attribute
    read and the Numba call.
    """

    def __init__(self, py_func: Callable, options: dict[str, Any], warmup: Callable | None):
        self.py_func = py_func
        self.options = dict(options)
        self.parallel = bool(self.options.pop("parallel", False))
        self.warmup_fn = warmup
        self._compiled: Callable | None = None
        self._compiled_parallel: Callable | None = None
        # The dispatcher to call directly, per variant (False: serial, True: parallel); None while
        # the variant is not built yet or some signature of it is still being compiled elsewhere.
        self._ready: dict[bool, Any] = {False: None, True: None}
        # Per variant: the signatures being compiled by the helper, and when to look in the cache next.
        self._pending: dict[bool, set] = {False: set(), True: set()}
        self._next_look: dict[bool, float] = {False: 0.0, True: 0.0}
        self._reference: Callable | None = None
        self._stand_in: Callable | None = None
        functools.update_wrapper(self, py_func)

    @property
    def name(self) -> str:
        """``module.function``: how the helper process finds this kernel."""
        return f"{self.py_func.__module__}.{self.py_func.__name__}"

    @property
    def reference(self) -> Callable:
        """The NumPy function computing the same as this kernel, with the same arguments."""
        if self._reference is None:
            from minigrad.kernels._references import reference_of

            self._reference = reference_of(self)
        return self._reference

    @property
    def stand_in(self) -> Callable:
        """What runs while the helper compiles this kernel: ``<name>_stand_in`` if defined, else ``reference``."""
        if self._stand_in is None:
            module = sys.modules[self.py_func.__module__]
            self._stand_in = getattr(module, self.py_func.__name__ + "_stand_in", None) or self.reference
        return self._stand_in

    def compiled(self) -> Callable:
        """The serial machine code (for a parallel kernel: its ``prange`` loops run as ``range``)."""
        if self._compiled is None:
            with _lock:  # two threads must not compile the same kernel at once
                if self._compiled is None:
                    self._compiled = cached_njit(self.py_func, **self.options)
        return self._compiled

    def compiled_parallel(self) -> Callable:
        """The version whose ``prange`` loops run on Numba's threads (parallel kernels only)."""
        if self._compiled_parallel is None:
            with _lock:
                if self._compiled_parallel is None:
                    import numba

                    # A copy of the function that sees `prange = numba.prange`, under its own name:
                    # Numba's disk cache is keyed by the function's name, not by `parallel=True`.
                    f = self.py_func
                    glob = dict(f.__globals__, prange=numba.prange)
                    copy = types.FunctionType(f.__code__, glob, f.__name__, f.__defaults__, f.__closure__)
                    copy.__qualname__ = f.__qualname__ + "_parallel"
                    copy.__module__ = f.__module__
                    self._compiled_parallel = cached_njit(copy, parallel=_PRANGE_ONLY, **self.options)
        return self._compiled_parallel

    def __call__(self, *args):
        global _pool_awake
        parallel = self.parallel and threads_usable()
        if parallel:
            _pool_awake = True  # (kernels/products.py: one pool at a time)
        fn = self._ready[parallel]
        if fn is not None:
            try:
                return fn(*args)
            except TypeError:  # in `background` mode: no machine code for these argument types yet
                if getattr(fn, "_can_compile", True):
                    raise
        return self._call_slow(parallel, args)

    def serial(self, *args):
        """Call the serial variant on this thread: a parallel kernel's ``prange`` loops as plain loops, for work
        too small to repay waking Numba's pool; no thread count is set and set back.

        Example::

            >>> import numpy as np
            >>> from minigrad.kernels.gemv import matmul_few_rows
            >>> out = np.empty((1, 70), np.float32)
            >>> matmul_few_rows.serial(np.ones((1, 3), np.float32), np.ones((3, 70), np.float32), False, out, 2)
            >>> float(out[0, 69])
            3.0
        """
        fn = self._ready[False]
        if fn is not None:
            try:
                return fn(*args)
            except TypeError:  # as in __call__: no machine code for these argument types yet
                if getattr(fn, "_can_compile", True):
                    raise
        return self._call_slow(False, args)

    def _call_slow(self, parallel: bool, args: tuple) -> Any:
        """The first call of a variant, or a call while its machine code is not ready."""
        from minigrad.kernels import _background as bg

        mode = bg.compile_mode()
        if mode == "off":
            return self.reference(*args)
        dispatcher = self.compiled_parallel() if parallel else self.compiled()
        if jit_disabled() or not hasattr(dispatcher, "_can_compile"):  # Numba gave the Python function back
            return dispatcher(*args)
        signature = tuple(dispatcher.typeof_pyval(a) for a in args)
        if mode == "wait":
            if signature not in dispatcher.overloads and not bg.in_disk_cache(dispatcher, signature):
                bg.announce_compiling_here(self.name, bg.cache_location(dispatcher))
            dispatcher._can_compile = True
            self._ready[parallel] = dispatcher
            return dispatcher(*args)
        dispatcher._can_compile = False  # compiling happens in the helper process, never here
        if signature not in dispatcher.overloads:
            with _lock:
                found = self._find_machine_code(dispatcher, parallel, signature)
            if not found:
                return self.stand_in(*args)
        return dispatcher(*args)

    def _find_machine_code(self, dispatcher: Any, parallel: bool, signature: tuple) -> bool:
        """Load ``signature`` from the disk cache if it is there; otherwise have the helper compile it.

        True when the machine code is loaded. Looks in the cache at most every ``LOOK_INTERVAL``
        seconds per variant while it waits; when the helper has stopped without it, compiles here.
        """
        from minigrad.kernels import _background as bg

        pending = self._pending[parallel]
        now = time.monotonic()
        if signature in pending and now < self._next_look[parallel]:
            return False
        self._next_look[parallel] = now + LOOK_INTERVAL
        if bg.in_disk_cache(dispatcher, signature):
            bg.load_from_disk_cache(dispatcher, signature)
        elif signature in pending and bg.HELPER.stopped():
            print(f"minigrad: the background compiler stopped (exit code {bg.HELPER.exit_code()}); "
                  f"compiling {self.name} here (once)", file=sys.stderr, flush=True)
            dispatcher._can_compile = True
            dispatcher.compile(signature)
        else:
            pending.add(signature)
            bg.HELPER.request(self.py_func.__module__, self.py_func.__name__, parallel, signature,
                              bg.cache_location(dispatcher))
            return False
        pending.discard(signature)
        self._ready[parallel] = None if pending else dispatcher
        return True

    def __repr__(self) -> str:
        state = "compiled" if self._compiled is not None else "not compiled yet"
        return f"<kernel {self.py_func.__module__}.{self.py_func.__qualname__} ({state})>"


def kernel(fn: Callable | None = None, *, warmup: Callable | None = None, **options) -> Any:
    """Mark ``fn`` as a Numba kernel: compiled lazily with ``cache=True`` on first call.

    ``warmup`` is a function taking a NumPy dtype that calls the kernel on tiny arrays of that
    dtype; ``python -m minigrad warmup`` runs it for float32 (and float64 with ``--dtypes``). Extra keyword
    arguments go to ``numba.njit``. With ``parallel=True`` the kernel's ``prange`` loops (import
    ``prange`` from this module) run on Numba's threads where ``threads_usable()``, and as plain
    loops everywhere else (a forked child, one thread, no thread-safe threading layer).
    """

    def wrap(f: Callable) -> LazyKernel:
        k = LazyKernel(f, options, warmup)
        REGISTRY.append(k)
        return k

    return wrap(fn) if fn is not None else wrap


class Inline:
    """A helper that kernels can call: compiled by Numba when a kernel using it compiles.

    Numba can only call other Numba functions. ``_numba_type_`` is the hook Numba's ``typeof``
    asks a global for, so a kernel referring to a helper compiles the helper on the spot (and
    ``import minigrad`` still imports no Numba). From Python (or with NUMBA_DISABLE_JIT=1) the
    helper is an ordinary function. ``make_jit`` builds the compiled version when it is not
    simply ``numba.njit(fn, **options)`` (e.g. a Numba intrinsic). A helper compiles without
    the wrappers that let Python call machine code (``no_cpython_wrapper``, ``no_cfunc_wrapper``):
    only kernels ever call it, and each of them links the helper's code into its own.

    Rule: where a helper is also called with run-time integers, pass constants as ``np.int64(0)``,
    not ``0``. Numba compiles a helper once per distinct argument types, and a bare literal has a
    type of its own (``Literal[int](0)``): one more copy of the helper to compile.

    Example::

        @Inline.with_options({"nogil": True})
        def _twice(x):
            return x + x
    """

    def __init__(self, fn: Callable, options: dict[str, Any] | None = None,
                 make_jit: Callable | None = None) -> None:
        self.py_func = fn
        self.options = dict(options or {})
        self._make_jit = make_jit
        self._dispatcher: Any = None
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__

    @classmethod
    def with_options(cls, options: dict[str, Any]) -> Callable[[Callable], Inline]:
        """A decorator: ``@Inline.with_options(opts)`` on a function makes it an ``Inline`` helper."""
        return lambda fn: cls(fn, options)

    @property
    def _numba_type_(self) -> Any:
        import numba

        if self._dispatcher is None:
            with _lock:
                if self._dispatcher is None:
                    if self._make_jit is not None:
                        self._dispatcher = self._make_jit()
                    else:  # no wrappers: only kernels call a helper's machine code (Python calls py_func)
                        self._dispatcher = cached_njit(self.py_func, no_cpython_wrapper=True, no_cfunc_wrapper=True,
                                                       **self.options)
        if isinstance(self._dispatcher, numba.core.dispatcher.Dispatcher):
            return numba.typeof(self._dispatcher)
        from numba.core.registry import cpu_target  # an intrinsic: typed by its registered template

        typing_context = cpu_target.typing_context
        typing_context.refresh()  # picks up intrinsics registered since Numba started
        return typing_context.resolve_value_type(self._dispatcher)

    def __call__(self, *args: Any) -> Any:
        return self.py_func(*args)


def _borrow_python(a: Any) -> Any:
    """The plain-Python ``borrow``: the array itself."""
    return a


def _make_borrow() -> Any:
    """The compiled ``borrow``: a copy of the array struct whose reference-count pointer is null."""
    from numba import types
    from numba.extending import intrinsic
    from numba.np.arrayobj import make_array, populate_array

    @intrinsic
    def borrow(typingctx, arr):
        if not isinstance(arr, types.Array):
            return None

        def codegen(context, builder, sig, args):
            src = make_array(arr)(context, builder, value=args[0])
            view = make_array(arr)(context, builder)
            populate_array(view, data=src.data, shape=src.shape, strides=src.strides,
                           itemsize=src.itemsize, meminfo=None)
            return view._getvalue()

        return arr(arr), codegen

    return borrow


# `a = borrow(a)` inside a kernel: the same array, without a reference count. Every slice of an
# array (`h_all[t, b]`) is a new view that increments and decrements the array's reference count,
# an atomic instruction. Threads slicing the same arrays in a parallel loop then fight over the
# cache line of that count, which can make two threads slower than one. Views of a borrowed array
# carry no count at all. Only for arrays that outlive the kernel
# call (its arguments): nothing may keep a borrowed view after the kernel returns.
borrow = Inline(_borrow_python, make_jit=_make_borrow)
