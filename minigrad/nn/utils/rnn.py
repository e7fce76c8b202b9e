"""Variable-length sequences for recurrent layers, and the helper for truncated BPTT.

A batch of sequences of different lengths is stored *padded* in a rectangle ``(T, B, *)``
(time-major) or ``(B, T, *)`` (``batch_first=True``); the steps after a sequence's end are
filler. A recurrent layer must not run over that filler: it would change the final state and
the gradients. PyTorch's answer, copied here name for name, is the **packed** layout:

    padded (T=3, B=3), lengths [3, 2, 1]      packed data (6 rows), batch_sizes [3, 2, 1]
        t=0:  a0  b0  c0                          a0 b0 c0 | a1 b1 | a2
        t=1:  a1  b1  .
        t=2:  a2  .   .

``data`` holds only the real steps, time step after time step, and ``batch_sizes[t]`` says how
many sequences are still running at step ``t``. Sequences are sorted longest first so that the
running ones are always the first ``batch_sizes[t]`` (``sorted_indices`` remembers the order the
user gave, ``unsorted_indices`` undoes it).

Every function here is differentiable: packing is a *gather* of rows and padding a *scatter*, and
their backward passes are each other.

Example::

    >>> import minigrad as mg
    >>> from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    >>> x = mg.arange(6.0).reshape(3, 2, 1)              # T=3, B=2
    >>> packed = pack_padded_sequence(x, [3, 1])
    >>> packed.batch_sizes.tolist(), packed.data.reshape(-1).tolist()
    ([2, 1, 1], [0.0, 1.0, 2.0, 4.0])
    >>> padded, lengths = pad_packed_sequence(packed)
    >>> padded.reshape(-1).tolist(), lengths.tolist()
    ([0.0, 1.0, 2.0, 0.0, 4.0, 0.0], [3, 1])
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.errors import ShapeError
from minigrad.ops import grad_math as G
from minigrad.tensor import Tensor

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "pack_sequence",
    "unpad_sequence",
    "unpack_sequence",
    "detach_state",
]


# ------------------------------------------------------------------------------------------------
# The two differentiable primitives: gather rows, scatter rows
# ------------------------------------------------------------------------------------------------


class GatherRows(Function):
    """``out = x.reshape(-1, *F)[index]``: pick rows of a padded tensor (packing).

    ``x`` has shape ``(n0, n1, *F)`` (time and batch in either order); ``index`` numbers its
    ``n0 * n1`` rows. Backward puts each row's gradient back where the row came from; the
    filler rows that were not picked get gradient 0.
    """

    name = "pack_padded_sequence"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.in_shape = x.shape
        return x.reshape((-1,) + x.shape[2:])[self.index]

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self.create_graph:  # scattering back is ScatterRows, as an op: differentiable again
            return ScatterRows.apply(grad, index=self.index, out_shape=self.in_shape[:2], padding_value=0.0)
        full = np.zeros((self.in_shape[0] * self.in_shape[1],) + self.in_shape[2:], dtype=grad.dtype)
        full[self.index] = grad  # every row is picked at most once, so assignment is enough
        return full.reshape(self.in_shape)


class ScatterRows(Function):
    """``out.reshape(-1, *F)[index] = data``, the rest ``padding_value``: unpack into a rectangle.

    The exact reverse of ``GatherRows``: its backward gathers the gradient rows back.
    """

    name = "pad_packed_sequence"

    def forward(self, data: np.ndarray) -> np.ndarray:
        rows = self.out_shape[0] * self.out_shape[1]
        out = np.full((rows,) + data.shape[1:], self.padding_value, dtype=data.dtype)
        out[self.index] = data
        return out.reshape(self.out_shape[:2] + data.shape[1:])

    def backward(self, grad: np.ndarray) -> np.ndarray:
        if self.create_graph:  # gathering back is GatherRows, as an op: differentiable again
            return GatherRows.apply(grad, index=self.index)
        return grad.reshape((-1,) + grad.shape[2:])[self.index]


def _row_index(batch_sizes: np.ndarray, batch_of_slot: np.ndarray, n_batch: int, n_time: int,
               batch_first: bool) -> np.ndarray:
    """For every packed row, its row number in a padded ``(T, B)`` or ``(B, T)`` rectangle.

    Packed row ``j`` is time step ``t`` of the sequence in sorted slot ``s`` (``s < batch_sizes[t]``);
    ``batch_of_slot[s]`` is that sequence's column in the rectangle.
    """
    t = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    s = np.concatenate([np.arange(n) for n in batch_sizes]) if len(batch_sizes) else np.zeros(0, np.int64)
    b = batch_of_slot[s]
    return (b * n_time + t) if batch_first else (t * n_batch + b)


def _as_lengths(lengths: Any, who: str) -> np.ndarray:
    """Lengths given as a list, an ndarray or an integer Tensor -> 1-D int64 ndarray."""
    arr = lengths._array if isinstance(lengths, Tensor) else np.asarray(lengths)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError(f"{who}: lengths must be a 1-D sequence of integers, got {arr.dtype} array "
                        f"of shape {arr.shape}")
    return arr.astype(np.int64)


def _batch_sizes_from_lengths(sorted_lengths: np.ndarray) -> np.ndarray:
    """``batch_sizes[t]`` = how many sequences are longer than ``t`` (lengths sorted, longest first)."""
    steps = np.arange(int(sorted_lengths[0]) if sorted_lengths.size else 0)
    return (sorted_lengths[None, :] > steps[:, None]).sum(axis=1).astype(np.int64)


def _lengths_from_batch_sizes(batch_sizes: np.ndarray) -> np.ndarray:
    """The inverse: sorted length of slot ``s`` = number of steps at which ``s`` is still running."""
    n = int(batch_sizes[0]) if batch_sizes.size else 0
    return (batch_sizes[:, None] > np.arange(n)[None, :]).sum(axis=0).astype(np.int64)


# ------------------------------------------------------------------------------------------------
# PackedSequence
# ------------------------------------------------------------------------------------------------

_PackedSequenceBase = namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


def _check_batch_sizes(data: Any, batch_sizes: Tensor) -> None:
    """A hand-built PackedSequence must be consistent, or unpacking it would index out of range."""
    bs = batch_sizes._array
    ok = bs.ndim == 1 and bs.dtype.kind in "iu" and (bs > 0).all() and (np.diff(bs) <= 0).all()
    if not ok:
        raise ValueError("PackedSequence: batch_sizes must be a 1-D sequence of positive, non-increasing ints "
                         f"(the number of sequences still running at each time step), got {bs.tolist()}")
    rows = data.shape[0] if isinstance(data, Tensor) and data.ndim else None
    if rows is not None and int(bs.sum()) != rows:
        raise ShapeError(f"PackedSequence: batch_sizes {bs.tolist()} add up to {int(bs.sum())} rows, but data has "
                         f"shape {data.shape}; build packed sequences with pack_padded_sequence or pack_sequence")


class PackedSequence(_PackedSequenceBase):
    """A batch of variable-length sequences without padding (see the module docstring).

    Fields as in PyTorch: ``data`` (Tensor ``(sum(lengths), *)``), ``batch_sizes`` (int64 Tensor,
    one entry per time step), ``sorted_indices`` and ``unsorted_indices`` (int64 Tensors, or None
    when the batch was given already sorted). Do not build one by hand: use
    ``pack_padded_sequence`` or ``pack_sequence``.

    Example::

        >>> import minigrad as mg
        >>> p = pack_sequence([mg.ones(2, 1), mg.ones(3, 1)], enforce_sorted=False)
        >>> p.batch_sizes.tolist(), p.sorted_indices.tolist(), p.unsorted_indices.tolist()
        ([2, 2, 1], [1, 0], [1, 0])
    """

    __slots__ = ()

    def __new__(cls, data: Tensor, batch_sizes: Any = None, sorted_indices: Any = None,
                unsorted_indices: Any = None) -> PackedSequence:
        def as_index(v: Any) -> Tensor | None:
            if v is None:
                return None
            return v if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=np.int64))

        batch_sizes = as_index(batch_sizes)
        if batch_sizes is None:
            raise TypeError("PackedSequence: batch_sizes is required; build packed sequences with "
                            "pack_padded_sequence or pack_sequence")
        _check_batch_sizes(data, batch_sizes)
        sorted_indices = as_index(sorted_indices)
        unsorted_indices = as_index(unsorted_indices)
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = Tensor(np.argsort(sorted_indices._array).astype(np.int64))
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    # Casting keeps the bookkeeping and converts the data (differentiably), like PyTorch.
    def to(self, dtype: Any) -> PackedSequence:
        return type(self)(self.data.to(dtype), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def float(self) -> PackedSequence:
        return type(self)(self.data.float(), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def double(self) -> PackedSequence:
        return type(self)(self.data.double(), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    @property
    def is_cuda(self) -> bool:
        return False


# ------------------------------------------------------------------------------------------------
# pack / pad
# ------------------------------------------------------------------------------------------------


def pack_padded_sequence(input: Tensor, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (or ``(B, T, *)`` with ``batch_first``) of sequences.

    ``lengths[b]`` is the real length of sequence ``b``. With ``enforce_sorted=True`` they must
    be sorted longest first; with ``False`` the batch is sorted here and ``sorted_indices``
    records how. Differentiable with respect to ``input``.

    Example::

        >>> import minigrad as mg
        >>> x = mg.zeros(4, 2, 3)                         # T=4, B=2, 3 features
        >>> pack_padded_sequence(x, [4, 2]).data.shape
        (6, 3)
    """
    who = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ShapeError(f"{who}: input must have a time and a batch dimension, got shape {input.shape}")
    lengths = _as_lengths(lengths, who)
    n_time, n_batch = (input.shape[1], input.shape[0]) if batch_first else input.shape[:2]
    if lengths.shape[0] != n_batch:
        raise ShapeError(f"{who}: expected {n_batch} lengths (one per sequence of the batch of input "
                         f"shape {input.shape}, batch_first={batch_first}), got {lengths.shape[0]}")
    if n_batch and lengths.min() <= 0:
        raise ValueError("Length of all samples has to be greater than 0, but found an element in "
                         f"'lengths' that is <= 0 (lengths={lengths.tolist()})")
    if n_batch and lengths.max() > n_time:
        raise ValueError(f"{who}: a length ({lengths.max()}) is larger than the number of time steps "
                         f"({n_time}) of input of shape {input.shape} (batch_first={batch_first})")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True "
                f"(got {lengths.tolist()}). You can pass `enforce_sorted=False` to pack_padded_sequence "
                "and/or pack_sequence to sidestep this requirement."
            )
        sorted_indices = None
        order = np.arange(n_batch)
    else:
        # Longest first; a stable sort keeps equal lengths in their given order.
        order = np.argsort(-lengths, kind="stable").astype(np.int64)
        sorted_indices = order
    batch_sizes = _batch_sizes_from_lengths(lengths[order])
    index = _row_index(batch_sizes, order, n_batch, n_time, batch_first)
    data = GatherRows.apply(input, index=index)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of ``pack_padded_sequence``: returns ``(padded, lengths)`` in the original order.

    ``padded`` has ``total_length`` time steps if given (e.g. to match the input of a model),
    otherwise as many as the longest sequence; the filler is ``padding_value``.

    Example::

        >>> import minigrad as mg
        >>> p = pack_padded_sequence(mg.ones(3, 2, 1), [3, 2])
        >>> padded, lengths = pad_packed_sequence(p, batch_first=True, total_length=4)
        >>> padded.shape, lengths.tolist()
        ((2, 4, 1), [3, 2])
    """
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    batch_sizes = np.asarray(sequence.batch_sizes._array, dtype=np.int64)
    max_len = len(batch_sizes)
    n_batch = int(batch_sizes[0]) if max_len else 0
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in input, "
                f"but got total_length={total_length} and max sequence length being {max_len}"
            )
        n_time = int(total_length)
    else:
        n_time = max_len
    sorted_lengths = _lengths_from_batch_sizes(batch_sizes)
    if sequence.sorted_indices is not None:
        slot_to_batch = np.asarray(sequence.sorted_indices._array, dtype=np.int64)
    else:
        slot_to_batch = np.arange(n_batch)
    index = _row_index(batch_sizes, slot_to_batch, n_batch, n_time, batch_first)
    out_shape = (n_batch, n_time) if batch_first else (n_time, n_batch)
    padded = ScatterRows.apply(sequence.data, index=index, out_shape=out_shape,
                               padding_value=padding_value)
    lengths = np.empty(n_batch, dtype=np.int64)
    lengths[slot_to_batch] = sorted_lengths
    return padded, Tensor(lengths)


class PadSequence(Function):
    """Stack tensors of shapes ``(L_i, *)`` into one padded ``(max L, B, *)`` tensor."""

    name = "pad_sequence"

    def forward(self, *seqs: np.ndarray) -> np.ndarray:
        max_len = max(s.shape[0] for s in seqs)
        dtype = np.result_type(*seqs)
        out = np.full((max_len, len(seqs)) + seqs[0].shape[1:], self.padding_value, dtype=dtype)
        self.slices = []
        for b, s in enumerate(seqs):
            rows = slice(0, len(s)) if self.padding_side == "right" else slice(max_len - len(s), max_len)
            out[rows, b] = s
            self.slices.append(rows)
        return out.swapaxes(0, 1).copy() if self.batch_first else out

    def backward(self, grad: np.ndarray) -> tuple[np.ndarray, ...]:
        if self.batch_first:
            grad = G.permute(grad, (1, 0, *range(2, grad.ndim)))
        return tuple(grad[rows, b] for b, rows in enumerate(self.slices))  # (Tensors too: indexing)


def pad_sequence(sequences: Sequence[Tensor] | Tensor, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Pad a list of tensors ``(L_i, *)`` to one tensor ``(max L, B, *)`` (``(B, max L, *)`` if batch_first).

    Example::

        >>> import minigrad as mg
        >>> pad_sequence([mg.ones(3), mg.ones(1)], batch_first=True).tolist()
        [[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]
    """
    if isinstance(sequences, Tensor):
        sequences = [sequences[i] for i in range(sequences.shape[0])]
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: sequence {i} is a {type(s).__name__}, expected a Tensor")
        if s.ndim == 0:
            raise ShapeError(f"pad_sequence: sequence {i} is a 0-d tensor; each sequence needs a time dimension")
        if s.shape[1:] != sequences[0].shape[1:]:
            raise ShapeError(
                f"pad_sequence: all sequences must have the same trailing shape; sequence 0 has shape "
                f"{sequences[0].shape} but sequence {i} has shape {s.shape}"
            )
    return PadSequence.apply(*sequences, batch_first=batch_first, padding_value=padding_value,
                             padding_side=padding_side)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors ``(L_i, *)``: ``pack_padded_sequence(pad_sequence(seqs), lengths)``.

    Example::

        >>> import minigrad as mg
        >>> pack_sequence([mg.ones(3, 2), mg.ones(2, 2)]).batch_sizes.tolist()
        [2, 2, 1]
    """
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into a list of tensors of their real lengths.

    Example::

        >>> import minigrad as mg
        >>> [t.shape for t in unpad_sequence(mg.zeros(3, 2, 4), [3, 1])]
        [(3, 4), (1, 4)]
    """
    lengths = _as_lengths(lengths, "unpad_sequence")
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[b, : int(n)] for b, n in enumerate(lengths)]


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Split a PackedSequence back into the list of tensors it was packed from.

    Example::

        >>> import minigrad as mg
        >>> [t.shape for t in unpack_sequence(pack_sequence([mg.ones(2, 1), mg.ones(3, 1)], False))]
        [(2, 1), (3, 1)]
    """
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


# ------------------------------------------------------------------------------------------------
# Truncated backpropagation through time
# ------------------------------------------------------------------------------------------------


def detach_state(state: Any) -> Any:
    """Cut a recurrent state off from the graph that made it (truncated BPTT).

    Training on a long stream window by window, the final state of one window is the initial
    state of the next. Carried as it is, it would keep *every* earlier window's graph alive:
    memory grows without bound and each ``backward`` would run back to the beginning of the
    stream. Detaching keeps the *values* (the model still remembers) but drops the history
    (gradients stop at the window boundary): that is truncated BPTT.

    Accepts a Tensor, a tuple/list of them (LSTM's ``(h, c)``, nested as you like) or None.

    Example::

        >>> import minigrad as mg
        >>> lstm = mg.nn.LSTM(3, 4)
        >>> state = None
        >>> for window in mg.randn(10, 5, 1, 3):          # 10 windows of 5 steps, batch 1
        ...     out, state = lstm(window, state)
        ...     out.sum().backward()                       # BPTT over these 5 steps only
        ...     state = detach_state(state)                # carry the values, not the graph
        >>> state[0].requires_grad
        False
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected a Tensor, a tuple/list of Tensors or None, got {type(state).__name__}")
