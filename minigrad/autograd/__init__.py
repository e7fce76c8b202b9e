"""Reverse-mode automatic differentiation: the graph, the engine, and the modes around it.

How it works, in four sentences:

1. Every operation on tensors that require grad creates a ``Function`` node. The node remembers
   where each input's gradient must go (``next_functions``) and the arrays its backward needs
   (``save_for_backward``).
2. ``loss.backward()`` finds every node reachable from ``loss`` (an explicit stack, never
   recursion: BPTT graphs are thousands of nodes deep) and counts how many gradients each node
   still waits for.
3. Nodes whose gradients are complete are run, newest first; each ``backward`` turns the
   gradient of its outputs into gradients of its inputs. ``sum_to_shape`` — the one central
   un-broadcasting rule — sums each of them back to its input's shape.
4. Gradients reaching a leaf tensor (a parameter) are accumulated into its ``.grad``.

A Function holds only *weak* references to its outputs, so a graph is freed by reference
counting alone as soon as the last tensor that refers to it goes away.

The package, one idea per file:

- ``modes.py``: grad on/off, scopes, anomaly detection, the Recorder hook (all per thread);
- ``function.py``: ``Function``, one node, with saved values and their versions; ``sum_to_shape``;
- ``engine.py``: ``backward`` and ``grad``, the iterative reverse topological walk;
- ``gradcheck.py``: finite-difference checks of first and second derivatives;
- ``functional.py``: ``vjp``, ``jvp``, ``vhp``, ``hvp``, ``jacobian``, ``hessian`` of a whole function.
"""

from __future__ import annotations

from typing import Any

from minigrad.autograd import functional
from minigrad.autograd.engine import backward, grad, run_backward
from minigrad.autograd.function import Function, sum_to_shape
from minigrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from minigrad.autograd.modes import (
    Recorder,
    _Mode,
    _mode,
    current_scope,
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    recording,
    scope,
    set_detect_anomaly,
    set_grad_enabled,
)
from minigrad.autograd.versions import version_counter

__all__ = [
    "Function", "GradcheckError", "Recorder", "backward", "current_scope", "detect_anomaly", "enable_grad",
    "functional", "grad", "gradcheck", "gradgradcheck", "inference_mode", "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled", "is_grad_enabled", "no_grad", "recording", "run_backward", "scope", "set_detect_anomaly",
    "set_grad_enabled", "sum_to_shape", "version_counter",
]


def __getattr__(name: str) -> Any:
    # `mg.autograd.Variable`, PyTorch's pre-0.4 wrapper, lives with the other legacy names.
    if name == "Variable":
        from minigrad.legacy import Variable

        return Variable
    raise AttributeError(f"module 'minigrad.autograd' has no attribute {name!r}")
