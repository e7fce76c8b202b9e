"""Anomaly mode's memory of *where* each node was made: the user's forward line, shown when backward fails.

A backward error is raised deep inside the engine, long after the forward line that built the
failing node has returned; its traceback shows the engine, not your code. Under
``mg.autograd.detect_anomaly()``, every new node records a compact forward stack: only the
frames outside minigrad (your script, your model's ``forward``), innermost last. When that node's
backward raises or produces NaN/Inf, the error shows this stack and the node's scope (which names
the time step: ``lstm/l0/t7``), like PyTorch's "Traceback of forward call that caused the error".
Outside anomaly mode nodes record nothing.

Example::

    >>> import minigrad as mg
    >>> x = mg.tensor([0.0], requires_grad=True)
    >>> with mg.autograd.detect_anomaly():
    ...     y = (x * 0).sqrt()                    # fine forward; sqrt'(0) = inf in backward
    ...     y.sum().backward()                    # doctest: +ELLIPSIS
    Traceback (most recent call last):
    RuntimeError: sqrt produced inf in backward
    <BLANKLINE>
    Traceback of forward call that caused the error (sqrt):
    ...
        y = (x * 0).sqrt()                    # fine forward; sqrt'(0) = inf in backward
"""

from __future__ import annotations

import linecache
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from minigrad.autograd.function import Function

# Frames from files under this directory are minigrad's own and left out of forward traces.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# How many of the user's frames a node keeps (the innermost ones: the line, its function, its caller...).
TRACE_DEPTH = 6


def forward_trace() -> tuple[tuple[str, int, str], ...]:
    """``(file, line, function)`` of the user's frames calling into minigrad now, outermost first.

    If every frame is minigrad's own (a script inside the package), the innermost frames are kept.

    Example::

        >>> forward_trace()[-1][2]        # this doctest's own frame is a user frame
        '<module>'
    """
    frame = sys._getframe(1)
    user, inner = [], []
    while frame is not None and len(user) < TRACE_DEPTH:
        code = frame.f_code
        where = (code.co_filename, frame.f_lineno, code.co_name)
        if code.co_filename.startswith(_PACKAGE_DIR):
            if len(inner) < TRACE_DEPTH:
                inner.append(where)
        else:
            user.append(where)
        frame = frame.f_back
    return tuple(reversed(user or inner))


def describe_forward(fn: Function) -> str:
    """The recorded forward stack of ``fn`` as a traceback-like text ("" if none was recorded).

    Example::

        >>> import minigrad as mg
        >>> with mg.autograd.detect_anomaly():
        ...     y = mg.ones(1, requires_grad=True) * 2
        >>> print(describe_forward(y.grad_fn).splitlines()[0])
        Traceback of forward call that caused the error (mul):
    """
    trace = getattr(fn, "forward_trace", None)
    if not trace:
        return ""
    where = f"{fn.name} at {fn.scope}" if fn.scope else fn.name
    lines = [f"Traceback of forward call that caused the error ({where}):"]
    for filename, lineno, name in trace:
        lines.append(f'  File "{filename}", line {lineno}, in {name}')
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"    {source}")
    return "\n".join(lines)


def add_forward_trace(error: BaseException, fn: Function) -> None:
    """Attach ``fn``'s forward stack to an exception raised by its backward (shown under the traceback)."""
    text = describe_forward(fn)
    if not text:
        return
    if hasattr(error, "add_note"):  # Python 3.11+: printed with the traceback, the type is kept
        error.add_note(text)
    else:
        import warnings

        warnings.warn(f"Error detected in {fn.name}'s backward. {text}", UserWarning, stacklevel=3)
