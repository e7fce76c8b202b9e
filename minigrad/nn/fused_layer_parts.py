"""What the two fused layer nodes share: ``FusedRNNLayer`` (``fused_rnn.py``) and ``FusedProjectedLSTMLayer``.

The dtypes their kernels compute in, the ``lengths`` of full sequences, the one bias each step
kernel adds, and the buffer backward writes the gate gradients into (over the saved gates, where
the kernels work in place and the graph is freed), with the error for a second backward after that.

Example::

    >>> import numpy as np
    >>> bias, bias_hn = layer_biases(np.ones(6, np.float32), np.ones(6, np.float32), 6, 2, np.dtype(np.float32))
    >>> bias.tolist(), bias_hn.shape
    ([2.0, 2.0, 2.0, 2.0, 2.0, 2.0], (0,))
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from minigrad.autograd import Function


@functools.lru_cache(maxsize=8)
def _no_bias_hn(dtype: np.dtype) -> np.ndarray:
    """The empty ``bias_hn`` of cells without GRU's ``b_hn``; shared (nothing writes to it)."""
    return np.zeros(0, dtype)


LAYER_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))  # what the kernels compute in


@functools.lru_cache(maxsize=64)
def full_lengths(batch: int, steps: int) -> np.ndarray:
    """``lengths`` when every sequence has all its steps; shared between calls (the kernels only read it).

    Example: ``full_lengths(3, 5).tolist()`` -> ``[5, 5, 5]``.
    """
    return np.full(batch, steps, np.int64)


def layer_biases(b_ih: np.ndarray | None, b_hh: np.ndarray | None, G: int, H: int, dtype: np.dtype,
                 hidden_n: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The bias each kernel adds: ``b_ih + b_hh``, except GRU's ``b_hn`` (``hidden_n``), which sits inside
    ``r * (...)`` and comes back apart; zeros for a bias the layer does not have.

    Example: see the module docstring.
    """
    if not hidden_n and b_ih is not None and b_hh is not None:  # the common case, in one add
        return b_ih + b_hh, _no_bias_hn(dtype)
    bias = np.zeros(G, dtype)
    bias_hn = np.zeros(H if hidden_n else 0, dtype)
    if b_ih is not None:
        bias += b_ih
    if b_hh is not None:
        if hidden_n:
            bias[:-H] += b_hh[:-H]
            bias_hn += b_hh[-H:]
        else:
            bias += b_hh
    return bias, bias_hn


def gate_gradients_buffer(node: Function, in_place: bool, gates: np.ndarray,
                          alloc: Callable[..., np.ndarray]) -> np.ndarray:
    """Where a fused layer's backward writes the gradients of the gate pre-activations.

    Kernels that work in place (``in_place``: the LSTM's) overwrite the saved gates when the graph
    is freed after this backward (``Function.retain_graph`` False; ``node`` then remembers it, see
    ``refuse_spent_gates``), else a copy of them, so that the gates stay for another backward and
    for ``step_values``. Other kernels get a fresh buffer.

    Example: ``FusedRNNLayer.backward`` sets ``a.dgates = gate_gradients_buffer(self, in_place, gates, alloc)``.
    """
    if in_place and not node.retain_graph:
        node._gates_spent = True
        return gates
    buffer = alloc(gates.shape, gates.dtype)
    if in_place:
        np.copyto(buffer, gates)
    return buffer


def refuse_spent_gates(node: Function) -> None:
    """The error for a backward after an earlier one (without retain_graph) overwrote the saved gates.

    Example: the first line of both fused nodes' ``backward`` is ``refuse_spent_gates(self)``.
    """
    if node._gates_spent:
        raise RuntimeError(f"{node.name}: backward through the graph a second time, but the first backward "
                           "(without retain_graph=True) already overwrote the saved gates; call it "
                           "with retain_graph=True to backward twice")
