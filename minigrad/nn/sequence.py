"""The layer machinery shared by every recurrent layer: one piece per job, written once.

A recurrent layer over a whole sequence is built from four small pieces, modelled on PyTorch's
old ``Recurrent``/``StackedRNN`` split:

- ``SequenceBatch.of(input)``: whatever the user passed (time-major, ``batch_first``, unbatched,
  or a ``PackedSequence``) becomes one time-major rectangle ``(T, B, I)`` plus the lengths, and
  ``restore`` turns the results back into the user's layout;
- ``run_direction(step, x, state)``: one layer, one direction: the time loop over any step
  function ``step(x_t, state) -> state``, one scope per step, masking the steps past each
  sequence's end;
- ``run_stack(run_layer, x, states)``: layers on top of each other, both directions,
  dropout between layers;
- ``stack_states``/``unstack_states``: states as the user sees them, ``(num_layers * D, B, H)``
  per state tensor, to and from one tuple of ``(B, H)`` tensors per layer and direction.

``mg.nn.RNN``/``LSTM``/``GRU`` and ``mg.nn.Recurrent`` are all made of these pieces; they differ
only in the ``run_layer`` they pass (the textbook step of a built-in cell, the fused kernels, or
the user's cell).

Example::

    >>> import minigrad as mg
    >>> step = lambda x_t, state: ((x_t + state[0]).tanh(),)      # a tiny cell
    >>> out, (h,) = run_direction(step, mg.ones(4, 2, 3), (mg.zeros(2, 3),))
    >>> out.shape, h.shape, out.grad_fn is None
    ((4, 2, 3), (2, 3), True)
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import minigrad as mg
from minigrad.autograd import scope
from minigrad.autograd.engine import cycle_collector_paused
from minigrad.errors import ShapeError
from minigrad.nn.utils.rnn import GatherRows, PackedSequence, ScatterRows, _lengths_from_batch_sizes, _row_index
from minigrad.random import rng
from minigrad.tensor import Tensor
from minigrad.viz.marks import mark_state

State = tuple[Tensor, ...]
Step = Callable[[Tensor, State], State]
# run_layer(k, x, state, reverse=..., lengths=..., layer_scope=...) -> (output, final state), where
# k = layer * num_directions + direction indexes the layer's parameters and initial state.
RunLayer = Callable[..., tuple[Tensor, State]]


# ------------------------------------------------------------------------------------------------
# Constructor arguments: checked once, for every layer and cell
# ------------------------------------------------------------------------------------------------


def check_int(who: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int, or a clear error (PyTorch's wording) when it is not an int >= ``minimum``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{who}: {name} should be of type int, got: {type(value).__name__}")
    if value < minimum:
        bound = "greater than zero" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{who}: {name} must be {bound}, got {value}")
    return int(value)


def check_bool(who: str, name: str, value: Any) -> bool:
    """``value`` as a bool, or a TypeError naming the argument."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} should be of type bool, got: {type(value).__name__}")
    return bool(value)


def check_stacking(who: str, num_layers: Any, dropout: Any, batch_first: Any, bidirectional: Any,
                   stacklevel: int = 4) -> tuple[int, float, bool, bool]:
    """The options every stacked layer shares, checked as PyTorch does (the dropout warning included)."""
    num_layers = check_int(who, "num_layers", num_layers)
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ValueError(f"{who}: dropout should be a number in range [0, 1] representing the probability of an "
                         f"element being zeroed, got {dropout!r}")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                      f"expects num_layers greater than 1, but got dropout={dropout} and "
                      f"num_layers={num_layers}", stacklevel=stacklevel)
    return (num_layers, float(dropout), check_bool(who, "batch_first", batch_first),
            check_bool(who, "bidirectional", bidirectional))


# ------------------------------------------------------------------------------------------------
# The user's layout <-> one time-major rectangle
# ------------------------------------------------------------------------------------------------


@dataclass
class SequenceBatch:
    """An input sequence as the layers run it: time-major ``x`` ``(T, B, I)`` and its lengths.

    ``lengths`` is None when every sequence has all ``T`` steps; a packed input gives them (longest
    first, in the packed, sorted batch order; ``permutation`` is the packed ``sorted_indices``).

    Example::

        >>> import minigrad as mg
        >>> batch = SequenceBatch.of(mg.zeros(2, 5, 3), batch_first=True)
        >>> batch.x.shape, batch.lengths
        ((5, 2, 3), None)
    """

    x: Tensor
    lengths: np.ndarray | None = None
    packed: PackedSequence | None = None
    permutation: np.ndarray | None = None
    is_batched: bool = True
    batch_first: bool = False

    @classmethod
    def of(cls, input: Tensor | PackedSequence, batch_first: bool = False) -> SequenceBatch:
        """Bring a (checked) input to time-major order: ``(T, B, I)``, ``(B, T, I)``, ``(T, I)`` or packed."""
        if isinstance(input, PackedSequence):
            batch_sizes = np.asarray(input.batch_sizes._array, dtype=np.int64)
            n_batch = int(batch_sizes[0])
            # Unpack into a zero-padded time-major rectangle (T, B, I), keeping the sorted order.
            index = _row_index(batch_sizes, np.arange(n_batch), n_batch, len(batch_sizes), False)
            x = ScatterRows.apply(input.data, index=index, out_shape=(len(batch_sizes), n_batch),
                                  padding_value=0.0)
            permutation = (None if input.sorted_indices is None
                           else np.asarray(input.sorted_indices._array, dtype=np.int64))
            return cls(x, _lengths_from_batch_sizes(batch_sizes), input, permutation)
        if input.ndim == 2:  # unbatched (T, I) -> (T, 1, I); batch_first does not apply
            return cls(input.unsqueeze(1), is_batched=False)
        return cls(input.transpose(0, 1) if batch_first else input, batch_first=batch_first)

    def user_to_working(self, stacked: Tensor) -> Tensor:
        """A user's ``(L*D, B, H)`` state (``(L*D, H)`` unbatched) in the working batch order."""
        if not self.is_batched:
            stacked = stacked.unsqueeze(1)
        return stacked if self.permutation is None else stacked[:, self.permutation]

    def working_to_user(self, stacked: Tensor) -> Tensor:
        """The inverse of ``user_to_working``: back to the user's batch order and dimensions."""
        if self.packed is not None and self.packed.unsorted_indices is not None:
            stacked = stacked[:, np.asarray(self.packed.unsorted_indices._array, dtype=np.int64)]
        return stacked if self.is_batched else stacked.squeeze(1)

    def restore(self, output: Tensor) -> Tensor | PackedSequence:
        """The time-major output ``(T, B, F)`` in the layout of the input."""
        if self.packed is not None:
            batch_sizes = np.asarray(self.packed.batch_sizes._array, dtype=np.int64)
            n_time, n_batch = output.shape[:2]
            index = _row_index(batch_sizes, np.arange(n_batch), n_batch, n_time, False)
            return PackedSequence(GatherRows.apply(output, index=index), self.packed.batch_sizes,
                                  self.packed.sorted_indices, self.packed.unsorted_indices)
        if not self.is_batched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output


def stack_states(states: Sequence[State]) -> State:
    """One state per layer and direction -> one ``(L*D, B, ...)`` tensor per state component."""
    return tuple(mg.stack([s[i] for s in states], 0) for i in range(len(states[0])))


def unstack_states(stacked: State, count: int) -> list[State]:
    """The inverse of ``stack_states``: ``count`` states, one per layer and direction."""
    return [tuple(component[k] for component in stacked) for k in range(count)]


# ------------------------------------------------------------------------------------------------
# One layer, one direction: the time loop
# ------------------------------------------------------------------------------------------------


def _where_active(mask: np.ndarray, new: Tensor, old: Tensor) -> Tensor:
    """``new`` for the active rows of the batch, ``old`` for the rest (any number of feature dims)."""
    m = Tensor(mask.reshape(mask.shape + (1,) * (new.ndim - 1)))
    return mg.where(m, new, old)


def run_direction(step: Step, x: Tensor, state: State, *, reverse: bool = False,
                  lengths: np.ndarray | None = None, layer_scope: str = "") -> tuple[Tensor, State]:
    """Run ``step(x_t, state) -> state`` over the time-major ``x`` ``(T, B, I)``; return ``(output, state)``.

    ``output[t]`` is ``state[0]`` after step ``t``. ``reverse=True`` walks ``t = T-1, ..., 0``.
    With ``lengths`` (``(B,)`` ints) step ``t`` is *active* for sequence ``b`` iff
    ``t < lengths[b]``; an inactive step leaves the state unchanged and outputs 0, so the final
    state is each sequence's state after its own last step. Every step runs inside
    ``scope(layer_scope)`` and ``scope(f"t{t + 1}")`` for
    the row ``x[t]`` (time counts t = 1..T, as in the equations).

    Example::

        >>> import minigrad as mg
        >>> step = lambda x_t, state: (state[0] + x_t,)             # a running sum
        >>> out, (h,) = run_direction(step, mg.ones(3, 2, 1), (mg.zeros(2, 1),), lengths=np.array([3, 1]))
        >>> out[:, :, 0].tolist(), h[:, 0].tolist()
        ([[1.0, 1.0], [2.0, 0.0], [3.0, 0.0]], [3.0, 1.0])
    """
    n_time = x.shape[0]
    active = None if lengths is None else np.arange(n_time)[:, None] < np.asarray(lengths)[None, :]  # (T, B)
    outputs: list[Tensor | None] = [None] * n_time
    with scope(layer_scope) if layer_scope else contextlib.nullcontext(), cycle_collector_paused():
        for t in (range(n_time - 1, -1, -1) if reverse else range(n_time)):
            with scope(f"t{t + 1}"):  # time counts t = 1..T as in the equations; h_0 is the initial state
                new_state = step(x[t], state)
                h_t = new_state[0]
                mark_state(h_t, new_state[1] if len(new_state) > 1 else None)  # for drawings: h_t, c_t
                if active is None or active[t].all():
                    state, outputs[t] = new_state, h_t
                else:
                    # Steps past a sequence's end (t >= its length) keep its state and output zeros.
                    outputs[t] = _where_active(active[t], h_t, Tensor(np.zeros((), dtype=h_t.dtype)))
                    state = tuple(_where_active(active[t], new, old) for new, old in zip(new_state, state))
        output = mg.stack(outputs, 0)
    return output, state


# ------------------------------------------------------------------------------------------------
# Layers on top of each other, both directions
# ------------------------------------------------------------------------------------------------


def inter_layer_dropout(x: Tensor, p: float) -> Tensor:
    """Inverted dropout between stacked layers: zero each element with probability p, scale by 1/(1-p).

    Example::

        >>> import minigrad as mg
        >>> inter_layer_dropout(mg.ones(2, 3), 1.0).tolist()
        [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    keep = rng().random(x.shape) >= p
    mask = keep.astype(x.dtype) / (1.0 - p) if p < 1 else np.zeros(x.shape, dtype=x.dtype)
    return x * Tensor(mask)


def run_stack(run_layer: RunLayer, x: Tensor, states: Sequence[State], *, num_layers: int, bidirectional: bool,
              dropout: float = 0.0, training: bool = False,
              lengths: np.ndarray | None = None) -> tuple[Tensor, list[State]]:
    """Run ``num_layers`` layers (each in one or two directions) over ``x``; return ``(output, final states)``.

    ``states[k]`` is the initial state of layer ``k // D``, direction ``k % D`` (D = 2 when
    bidirectional); ``run_layer(k, x, state, reverse=, lengths=, layer_scope=)`` runs it, in the
    scope ``"l{layer}"`` (``"l{layer}_reverse"`` backwards). The directions' outputs are concatenated
    on the last axis; in training, ``dropout`` applies to every layer's output but the last.

    Example::

        >>> import minigrad as mg
        >>> def run_layer(k, x, state, **options):
        ...     return run_direction(lambda x_t, s: ((x_t.sum(-1, keepdim=True) + s[0]).tanh(),), x, state, **options)
        >>> out, finals = run_stack(run_layer, mg.ones(4, 2, 3), [(mg.zeros(2, 1),)] * 4, num_layers=2,
        ...                         bidirectional=True)
        >>> out.shape, len(finals)
        ((4, 2, 2), 4)
    """
    directions = 2 if bidirectional else 1
    finals: list[State] = []
    layer_input = x
    for layer in range(num_layers):
        if layer > 0 and dropout > 0 and training:
            layer_input = inter_layer_dropout(layer_input, dropout)  # between layers, never after the last
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            out, final = run_layer(k, layer_input, states[k], reverse=direction == 1, lengths=lengths,
                                   layer_scope=f"l{layer}" + ("_reverse" if direction else ""))
            outputs.append(out)
            finals.append(final)
        layer_input = outputs[0] if directions == 1 else mg.cat(outputs, 2)
    return layer_input, finals


def check_sequence_input(who: str, input: Any, input_size: int | None, batch_first: bool,
                         dtype: np.dtype | None) -> None:
    """Clear errors for an input that no recurrent layer can run: type, rank, size, length, dtype."""
    packed = isinstance(input, PackedSequence)
    x = input.data if packed else input
    what = "the data of a PackedSequence" if packed else "input"
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: {what} must be a Tensor or a PackedSequence, got {type(x).__name__} "
                        "(wrap arrays with mg.tensor(...))")
    expected_ndim = (2,) if packed else (3, 2)
    if x.ndim not in expected_ndim:
        want = " or ".join(f"{n}-D" for n in expected_ndim)
        raise ShapeError(f"{who}: expected {what} to be {want}, got {x.ndim}-D {what} of shape {x.shape}")
    if input_size is not None and x.shape[-1] != input_size:
        raise ShapeError(f"{who}: expected input of size {input_size} in the last dimension, got shape {x.shape}")
    if x.ndim == 3 and x.shape[1 if batch_first else 0] == 0 or x.ndim == 2 and x.shape[0] == 0:
        raise ShapeError(f"{who}: the input has 0 time steps (shape {x.shape}); expected at least one, "
                         "as PyTorch does")
    if x.dtype.kind != "f":
        to = f"mg.{dtype}" if dtype is not None else "a floating dtype"
        raise TypeError(f"{who}: {what} must be a floating tensor, got {x.dtype}; convert it with "
                        f".to({to}) (class indices go through an Embedding first)")
    if dtype is not None and x.dtype != dtype:
        raise ValueError(f"{who}: input dtype ({x.dtype}) does not match weight dtype ({dtype}). "
                         f"Convert input: input.to(mg.{dtype}), or convert model: model.to(mg.{x.dtype})")
