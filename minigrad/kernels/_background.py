"""Compiling kernels in a helper process while NumPy (or a serial kernel) stands in: no wait for the compiler.

Compiling a kernel takes Numba from a fraction of a second to several seconds; the machine code
is then kept in Numba's disk cache and later processes load it in milliseconds. The environment
variable ``MINIGRAD_COMPILE`` chooses what happens when a kernel is called and its machine code is
neither in this process nor in the disk cache:

- ``background`` (the default): the kernel's NumPy reference (``<name>_ref``, same arguments) runs
  now (or its stand-in ``<name>_stand_in`` where there is one: a parallel kernel's is the serial
  kernel, which the default warmup compiles), and one helper process (``python -m minigrad warmup
  --requests -``) compiles the kernel into the disk cache. The kernel switches to the machine code
  as soon as the cache has it. The user's process never waits and never holds its GIL for the
  compiler; a separate process (never a ``fork`` of the user's process, whose threads and locks
  must not be copied) uses the other core.
- ``wait``: compile here and now, as Numba does by itself. Results are then bitwise the same
  from the first call on (the reference rounds differently); the test-suite runs this way.
- ``off``: never compile; every kernel runs its NumPy reference.

The first time a helper starts, one line on stderr says so. Nothing here runs at import.

Example::

    >>> compile_mode() in MODES
    True
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ENV_VAR = "MINIGRAD_COMPILE"
MODES = ("background", "wait", "off")
_forced: list[str] = []  # set by `forced_mode`: overrides the environment variable


def compile_mode() -> str:
    """The compile mode chosen by ``MINIGRAD_COMPILE`` (``background`` when unset).

    Example::

        >>> os.environ.get(ENV_VAR, "background") == compile_mode()
        True
    """
    if _forced:
        return _forced[-1]
    mode = os.environ.get(ENV_VAR, "").strip().lower() or "background"
    if mode not in MODES:
        raise ValueError(f"{ENV_VAR}={mode!r} is not a compile mode: expected one of {', '.join(MODES)}")
    return mode


@contextlib.contextmanager
def forced_mode(mode: str) -> Iterator[None]:
    """Within the ``with`` block, kernels compile in ``mode`` whatever ``MINIGRAD_COMPILE`` says.

    ``warmup`` uses ``forced_mode("wait")``: warming up means compiling here.

    Example::

        >>> with forced_mode("off"):
        ...     compile_mode()
        'off'
    """
    if mode not in MODES:
        raise ValueError(f"forced_mode({mode!r}): expected one of {', '.join(MODES)}")
    _forced.append(mode)
    try:
        yield
    finally:
        _forced.pop()


# ----------------------------------------------------------------------- Numba's disk cache
def in_disk_cache(dispatcher: Any, signature: tuple) -> bool:
    """Whether Numba's disk cache holds machine code of ``dispatcher`` for ``signature``.

    Reads the function's cache index (a small file) and compiles nothing. The index is keyed by the
    signature, the CPU and the function's bytecode, and is void when the source file changed.
    """
    cache = dispatcher._cache
    key = cache._index_key(signature, dispatcher.targetctx.codegen())
    return key in cache._cache_file._load_index()


def load_from_disk_cache(dispatcher: Any, signature: tuple) -> None:
    """Give ``dispatcher`` the cached machine code for ``signature`` (``in_disk_cache`` was True).

    ``Dispatcher.compile`` looks in the disk cache before it compiles, so it loads here.
    """
    can_compile = dispatcher._can_compile
    dispatcher._can_compile = True
    try:
        dispatcher.compile(signature)
    finally:
        dispatcher._can_compile = can_compile


def cache_location(dispatcher: Any) -> str:
    """The folder where Numba keeps this kernel's machine code."""
    return str(dispatcher._cache.cache_path)


_announced_here = False


def announce_compiling_here(kernel_name: str, cache_dir: str) -> None:
    """In ``wait`` mode, say once per process on stderr that the program waits for the compiler.

    Silent inside ``forced_mode`` (``warmup`` reports for itself).
    """
    global _announced_here
    if _announced_here or _forced:
        return
    _announced_here = True
    print(f"minigrad: compiling Numba kernel {kernel_name} here, then the others this program needs "
          f"({ENV_VAR}=wait; once: they are cached in {cache_dir})", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------- the helper process
def encode_request(module: str, name: str, parallel: bool, signature: tuple) -> str:
    """One line of the helper's input: which kernel to compile, for which argument types.

    Numba's types pickle (its cache index stores them that way); base64 keeps the line one line.
    """
    sig = base64.b64encode(pickle.dumps(signature)).decode("ascii")
    return json.dumps({"module": module, "name": name, "parallel": parallel, "signature": sig})


def decode_request(line: str) -> tuple[str, str, bool, tuple]:
    """The inverse of ``encode_request``."""
    r = json.loads(line)
    return r["module"], r["name"], bool(r["parallel"]), pickle.loads(base64.b64decode(r["signature"]))


class Helper:
    """The helper process of this process: it compiles the kernels it is sent into the disk cache.

    Started on the first request (never at import), at most once per process; it reads one request
    per line on stdin and exits when stdin closes and its queue is done, so kernels requested just
    before the user's script ends are still compiled for the next run.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._requested: set[str] = set()
        self._lock = threading.Lock()

    def request(self, module: str, name: str, parallel: bool, signature: tuple, cache_dir: str) -> None:
        """Ask the helper to compile one kernel for one signature (repeats are ignored)."""
        line = encode_request(module, name, parallel, signature)
        with self._lock:
            if line in self._requested or self.stopped():
                return
            self._requested.add(line)
            if self._process is None:
                self._start(cache_dir)
            try:
                self._process.stdin.write(line + "\n")
                self._process.stdin.flush()
            except (BrokenPipeError, OSError):  # the helper died: `stopped()` now says so
                pass

    def stopped(self) -> bool:
        """True when a helper was started and has exited (its requests are done or it failed)."""
        return self._process is not None and self._process.poll() is not None

    def exit_code(self) -> int | None:
        """The helper's exit code once it has exited."""
        return None if self._process is None else self._process.poll()

    def _start(self, cache_dir: str) -> None:
        env = dict(os.environ)
        env[ENV_VAR] = "wait"  # the helper compiles; it must not start helpers of its own
        self._process = subprocess.Popen(
            self._start_command(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=env, text=True)
        print(f"minigrad: compiling Numba kernels in a background process (once; cached in {cache_dir}); "
              f"NumPy (or a serial kernel) runs their work until they are ready. {ENV_VAR}=wait compiles them "
              "here instead.",
              file=sys.stderr, flush=True)

    def _start_command(self) -> list[str]:
        return this_minigrad_command("warmup", "--requests", "-")

    def join(self, timeout: float | None = None) -> int | None:
        """Close the helper's input and wait for it to finish its queue; its exit code."""
        with self._lock:
            process = self._process
        if process is None:
            return None
        if process.stdin and not process.stdin.closed:
            try:
                process.stdin.close()
            except (BrokenPipeError, OSError):
                pass
        return process.wait(timeout)


def this_minigrad_command(*args: str) -> list[str]:
    """The command line of ``python -m minigrad ARGS`` for a helper process, run by this copy of minigrad.

    Rule: not ``-m minigrad`` itself, which imports the ``minigrad`` of the current directory
    first: in another checkout, the helper would compile that copy's kernels into that copy's
    cache, and this process would wait for kernels that never come. This package's own parent
    goes first on ``sys.path`` instead.

    Example::

        >>> command = this_minigrad_command("warmup", "--help")
        >>> command[1], command[2].endswith("sys.exit(main(['warmup', '--help']))")
        ('-c', True)
    """
    package_parent = str(Path(__file__).resolve().parents[2])
    code = (f"import sys; sys.path.insert(0, {package_parent!r}); "
            f"from minigrad.__main__ import main; sys.exit(main({list(args)!r}))")
    return [sys.executable, "-c", code]


HELPER = Helper()


def _new_helper_in_child() -> None:
    # A forked child cannot wait for its parent's helper: it starts its own when it needs one.
    global HELPER
    HELPER = Helper()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_helper_in_child)


def serve_requests(lines: Any) -> int:
    """The helper's side: compile each requested kernel into the disk cache.

    A request that fails to compile does not stop the others; the user's process, finding the
    helper stopped without that kernel, compiles it itself and shows the error there. Returns how
    many requests failed.
    """
    import importlib
    import traceback

    from minigrad.kernels._jit import LazyKernel

    failures = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            module, name, parallel, signature = decode_request(line)
            kernel = getattr(importlib.import_module(module), name)
            if not isinstance(kernel, LazyKernel):
                raise TypeError(f"{module}.{name} is not a kernel (got {type(kernel).__name__})")
            dispatcher = kernel.compiled_parallel() if parallel else kernel.compiled()
            dispatcher.compile(signature)
        except Exception:
            traceback.print_exc()
            failures += 1
    return failures
