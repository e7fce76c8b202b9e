"""Thread-local modes: grad on/off, the current scope, anomaly detection, and the Recorder hook.

Each thread has its own switches (``_mode``), so two threads training two models never disturb
each other. The graph (``function.py``) and the engine (``engine.py``) read them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from minigrad.autograd.function import Function


class _Mode(threading.local):
    """Per-thread switches, so two threads training two models never disturb each other."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.scope: list[str] = []
        self.scope_name = ""
        self.anomaly = False
        self.anomaly_checks_nan = True  # anomaly mode's NaN/Inf checks (check_nan=False: traces only)
        self.recorder: Recorder | None = None
        # True while backward(create_graph=True) runs: a NumPy function applied to a Tensor in the
        # graph would silently cut it (Tensor.__array__ refuses then).
        self.recording_backward = False
        # Any of the three above on (a scope, anomaly mode, a recorder): ``Function.apply``
        # checks this one switch, and the three only when it is set. Kept by ``refresh_traced``.
        self.traced = False
        # While the engine walks a graph: the transposed copies of weights it keeps (kept_transposes.py).
        self.transposes: dict | None = None

    def refresh_traced(self) -> None:
        """Set ``traced`` after a change of ``scope_name``, ``anomaly`` or ``recorder``."""
        self.traced = bool(self.scope_name or self.anomaly or self.recorder is not None)


_mode = _Mode()


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``.

    Example::

        >>> with no_grad():
        ...     is_grad_enabled()
        False
    """
    return _mode.grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager (and decorator) that sets grad mode and restores it on exit."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_mode.grad_enabled)
        _mode.grad_enabled = self.enabled

    def __exit__(self, *exc: object) -> None:
        _mode.grad_enabled = self._previous.pop()


def no_grad() -> _GradMode:
    """Run code without building a graph (evaluation, optimizer updates).

    Example::

        >>> import minigrad as mg
        >>> w = mg.ones(3, requires_grad=True)
        >>> with mg.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Turn graph building back on inside a ``no_grad()`` block.

    Example::

        >>> import minigrad as mg
        >>> with mg.no_grad(), mg.enable_grad():
        ...     (mg.ones(1, requires_grad=True) * 2).requires_grad
        True
    """
    return _GradMode(True)


class set_grad_enabled:  # noqa: N801 - PyTorch's name
    """Turn grad mode on or off: as a call (``mg.set_grad_enabled(False)``) or for a ``with`` block.

    Example::

        >>> import minigrad as mg
        >>> with mg.set_grad_enabled(False):
        ...     mg.is_grad_enabled()
        False
        >>> mg.is_grad_enabled()
        True
    """

    def __init__(self, mode: bool) -> None:
        self._previous = _mode.grad_enabled
        _mode.grad_enabled = bool(mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        _mode.grad_enabled = self._previous


def inference_mode(mode: bool = True) -> _GradMode:
    """PyTorch's faster ``no_grad`` for evaluation; here it is ``no_grad`` (``mode=False`` keeps grad on).

    Example::

        >>> import minigrad as mg
        >>> with mg.inference_mode():
        ...     (mg.ones(1, requires_grad=True) * 2).requires_grad
        False
    """
    return _GradMode(_mode.grad_enabled if not mode else False)


class scope:
    """Tag every node created inside with ``name``; nested scopes join with "/".

    The recurrent layers open one scope per layer and time step ("lstm/l0/t3"), which is how
    drawings group the unrolled graph and how ``detect_anomaly`` says *where* a NaN appeared.
    A class, not a ``contextlib.contextmanager`` generator: every time step of a reference layer
    and every cell call enters one, so entering it must cost little.

    Example::

        >>> import minigrad as mg
        >>> x = mg.ones(2, requires_grad=True)
        >>> with mg.scope("rnn"), mg.scope("t1"):
        ...     y = x * 2
        >>> y.grad_fn.scope
        'rnn/t1'
    """

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"scope: name must be a non-empty string, got {name!r}")
        self.name = name

    def __enter__(self) -> None:
        mode = _mode
        mode.scope.append(self.name)
        self.previous = previous = mode.scope_name
        mode.scope_name = f"{previous}/{self.name}" if previous else self.name
        mode.traced = True  # (refresh_traced's rule: a scope name is set)

    def __exit__(self, *exc_info: object) -> None:
        mode = _mode
        mode.scope.pop()
        mode.scope_name = self.previous
        if not self.previous:  # inside another scope, traced stays True
            mode.refresh_traced()


def current_scope() -> str:
    """The scope new nodes get right now ("" outside any ``scope``)."""
    return _mode.scope_name


@contextlib.contextmanager
def detect_anomaly(check_nan: bool = True) -> Iterator[None]:
    """Raise as soon as an op's forward or backward produces NaN or Inf, naming the op and scope.

    Every node made inside also remembers the line of your code that made it, and an error in its
    backward shows that line. ``check_nan=False`` keeps only that (PyTorch's flag): no NaN checks.

    Example::

        >>> import minigrad as mg
        >>> x = mg.tensor([-1.0], requires_grad=True)
        >>> with mg.autograd.detect_anomaly():
        ...     x.log()                                        # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        RuntimeError: log produced nan in forward
    """
    with set_detect_anomaly(True, check_nan):
        yield


class set_detect_anomaly:  # noqa: N801 - PyTorch's name
    """Turn anomaly detection on or off: as a call (``mg.autograd.set_detect_anomaly(True)``, for
    the rest of the program) or for a ``with`` block, as ``set_grad_enabled`` does for grad mode.

    Example::

        >>> import minigrad as mg
        >>> with mg.autograd.set_detect_anomaly(True):
        ...     mg.is_anomaly_enabled()
        True
        >>> mg.is_anomaly_enabled()
        False
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self._previous = (_mode.anomaly, _mode.anomaly_checks_nan)
        _mode.anomaly, _mode.anomaly_checks_nan = bool(mode), bool(check_nan)
        _mode.refresh_traced()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        _mode.anomaly, _mode.anomaly_checks_nan = self._previous
        _mode.refresh_traced()


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()`` or after ``set_detect_anomaly(True)``.

    Example: ``mg.is_anomaly_enabled()`` -> False.
    """
    return _mode.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """True when anomaly mode checks for NaN and Inf (its ``check_nan``; the default).

    Example: ``mg.is_anomaly_check_nan_enabled()`` -> True.
    """
    return _mode.anomaly_checks_nan


class Recorder:
    """What a drawing or the explorer asks the engine to tell it; the engine itself keeps nothing.

    While ``recording(recorder)`` is active, every new node calls ``on_forward`` with its output
    arrays, and the engine calls ``on_backward`` with a node's output gradients just before it runs
    that node's backward, in the engine's real order. Outside it, training pays nothing.
    """

    def on_forward(self, fn: Function, outputs: tuple[np.ndarray, ...]) -> None:
        """A node was recorded in the graph (called in the order the graph is built)."""

    def on_backward(self, fn: Function, grads: Sequence[np.ndarray | None]) -> None:
        """The engine is about to run ``fn.backward`` with these output gradients."""


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Tell ``recorder`` about every node built and every backward step run inside the block.

    Example::

        >>> import minigrad as mg
        >>> class Names(Recorder):
        ...     def __init__(self): self.seen = []
        ...     def on_forward(self, fn, outputs): self.seen.append(("forward", fn.name))
        ...     def on_backward(self, fn, grads): self.seen.append(("backward", fn.name))
        >>> x = mg.ones(2, requires_grad=True)
        >>> with recording(Names()) as r:
        ...     (x * 3).sum().backward()
        >>> r.seen
        [('forward', 'mul'), ('forward', 'sum'), ('backward', 'sum'), ('backward', 'mul')]
    """
    previous = _mode.recorder
    _mode.recorder = recorder
    _mode.refresh_traced()
    try:
        yield recorder
    finally:
        _mode.recorder = previous
        _mode.refresh_traced()
