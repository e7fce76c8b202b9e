"""``mg.nn.Recurrent``: run any cell over sequences, as ``nn.LSTM`` runs the LSTM cell.

A cell is any ``Module`` with

- ``forward(x_t, state) -> state`` for one time step: ``x_t`` is ``(B, input_size)``; ``state``
  is a Tensor ``h`` or a tuple whose first element is ``h`` (e.g. ``(h, c)``), each ``(B, ...)``;
  ``h_t`` (the Tensor, or ``state[0]``) is the step's output;
- ``initial_state(batch_size) -> state``: the state before the first step (usually zeros).

``Recurrent`` adds what ``nn.LSTM`` adds to the LSTM step, with the same layer machinery
(``minigrad/nn/sequence.py``): the time loop with one scope per layer, direction and step
(``"recurrent/l0/t3"``), ``batch_first``, unbatched input, packed sequences, stacking with dropout
between layers, both directions, and ``(output, final state)`` results in PyTorch's layout.
A cell may also define ``start_sequence()``, called before each sequence (e.g. to draw the
masks of variational dropout).

Example::

    >>> import minigrad as mg
    >>> layer = mg.nn.Recurrent(lambda n: mg.nn.GRUCell(n, 8), num_layers=2, input_size=3, bidirectional=True)
    >>> out, h_n = layer(mg.randn(5, 2, 3))
    >>> out.shape, h_n.shape
    ((5, 2, 16), (4, 2, 8))
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

from minigrad.autograd import no_grad, scope
from minigrad.errors import ShapeError
from minigrad.nn.module import Module, ModuleList
from minigrad.nn.sequence import (
    SequenceBatch,
    State,
    check_int,
    check_sequence_input,
    check_stacking,
    run_direction,
    run_stack,
    stack_states,
    unstack_states,
)
from minigrad.nn.utils.rnn import PackedSequence
from minigrad.tensor import Tensor

__all__ = ["Recurrent", "fresh_copy"]


def _check_cell(cell: Any, who: str) -> Module:
    """A clear error unless ``cell`` follows the cell contract (see the module docstring)."""
    if not isinstance(cell, Module):
        raise TypeError(f"{who}: a cell must be an mg.nn.Module with forward(x_t, state) and "
                        f"initial_state(batch_size), got {type(cell).__name__}")
    if not callable(getattr(cell, "initial_state", None)):
        raise TypeError(f"{who}: the cell {type(cell).__name__} has no method initial_state(batch_size) -> state; "
                        "add one returning the state before the first step (e.g. zeros of shape (batch_size, H))")
    return cell


def _as_state(state: Any, who: str, what: str) -> State:
    """A cell's state as a tuple of Tensors (``(h,)`` for a lone Tensor), or a clear error."""
    parts = tuple(state) if isinstance(state, (tuple, list)) else (state,)
    if not parts or not all(isinstance(p, Tensor) for p in parts):
        got = type(state).__name__
        if isinstance(state, (tuple, list)):
            got = f"({', '.join(type(p).__name__ for p in parts)})"
        raise TypeError(f"{who}: {what} must return a Tensor h or a tuple of Tensors (h, ...), got {got}")
    if parts[0].ndim < 2:
        raise ShapeError(f"{who}: {what} must give batched states (B, features), got h of shape {parts[0].shape}")
    return parts


def fresh_copy(cell: Module) -> Module:
    """A deep copy of ``cell`` with freshly initialised parameters (the reverse direction of a layer).

    Calls ``reset_parameters()`` on every submodule that has one; warns when none has, since the copy
    then starts with the same values as the original.

    Example::

        >>> import minigrad as mg
        >>> cell = mg.nn.GRUCell(3, 4)
        >>> twin = fresh_copy(cell)
        >>> bool((twin.weight_hh == cell.weight_hh).all())
        False
    """
    twin = copy.deepcopy(cell)
    resettable = [m for m in twin.modules() if callable(getattr(m, "reset_parameters", None))]
    for m in resettable:
        m.reset_parameters()
    if not resettable and any(True for _ in twin.parameters()):
        warnings.warn(f"Recurrent: {type(cell).__name__} has no reset_parameters(); the reverse direction starts "
                      "as an exact copy of the forward one. Define reset_parameters() or pass a factory "
                      "make_cell(input_size).", stacklevel=3)
    return twin


class Recurrent(Module):
    """Run a cell over sequences: stacked, in one or both directions, with PyTorch's conventions.

    ``cell`` is a cell ``Module`` (one layer; the reverse direction gets a ``fresh_copy``) or a
    factory ``make_cell(input_size) -> Module``, called once per layer and direction (needed for
    ``num_layers > 1``, whose layers see different input sizes). With a factory, pass
    ``input_size`` to build the cells at once; otherwise they are built by the first forward
    (from the input's last dimension), so make the optimizer after it.

    ``forward(input, hx=None)`` takes ``(T, B, I)`` (``(B, T, I)`` with ``batch_first``), unbatched
    ``(T, I)``, or a ``PackedSequence``; ``hx`` is the initial state stacked per layer and
    direction: ``(num_layers * D, B, ...)`` per state Tensor (a tuple of them for tuple states), or
    None for each cell's ``initial_state``. Returns ``(output, h_n)`` where ``output`` is
    ``(T, B, D * H)`` (or packed, or batch-first) and ``h_n`` has the layout of ``hx``.

    Example::

        >>> import minigrad as mg
        >>> lstm = mg.nn.Recurrent(mg.nn.LSTMCell(3, 4))
        >>> out, (h_n, c_n) = lstm(mg.randn(6, 2, 3))
        >>> out.shape, h_n.shape, out.grad_fn.scope
        ((6, 2, 4), (1, 2, 4), 'recurrent/l0')
    """

    _scope_name = "recurrent"

    def __init__(self, cell: Module | Callable[[int], Module], num_layers: int = 1, bidirectional: bool = False,
                 batch_first: bool = False, dropout: float = 0.0, *, input_size: int | None = None) -> None:
        super().__init__()
        who = "Recurrent"
        self.num_layers, self.dropout, self.batch_first, self.bidirectional = check_stacking(
            who, num_layers, dropout, batch_first, bidirectional, stacklevel=3)
        self.cells = ModuleList()
        self._make_cell: Callable[[int], Module] | None = None
        self.input_size = None if input_size is None else check_int(who, "input_size", input_size)
        if isinstance(cell, Module):
            if self.num_layers > 1:
                raise ValueError(f"{who}: num_layers={self.num_layers} needs a factory make_cell(input_size) -> cell, "
                                 f"since every layer needs its own cell and the layers' input sizes differ; got a "
                                 f"{type(cell).__name__} instance (e.g. pass lambda n: MyCell(n, hidden_size))")
            self.cells.append(_check_cell(cell, who))
            if self.bidirectional:
                self.cells.append(fresh_copy(cell))
        elif callable(cell):
            self._make_cell = cell
            if self.input_size is not None:
                self._build(self.input_size)
        else:
            raise TypeError(f"{who}: cell must be a cell Module or a factory make_cell(input_size) -> Module, "
                            f"got {type(cell).__name__}")

    def _build(self, input_size: int) -> None:
        """Make one cell per layer and direction with the factory; layer k+1 reads D times layer k's size."""
        assert self._make_cell is not None
        directions = 2 if self.bidirectional else 1
        layer_input = input_size
        for _ in range(self.num_layers):
            for _ in range(directions):
                made = self._make_cell(layer_input)
                self.cells.append(_check_cell(made, f"Recurrent: make_cell({layer_input})"))
            with no_grad():
                h = _as_state(self.cells[-1].initial_state(1), "Recurrent", "initial_state(1)")[0]
            layer_input = directions * h.shape[-1]
        self.input_size = input_size

    def extra_repr(self) -> str:
        s = f"num_layers={self.num_layers}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s

    # ------------------------------------------------------------------ states
    def _initial_states(self, hx: Any, batch: SequenceBatch) -> tuple[list[State], bool]:
        """One state per layer and direction, ``(B, ...)`` each; and whether the cells' states are tuples."""
        n_batch = batch.x.shape[1]
        first = self.cells[0].initial_state(n_batch)
        is_tuple = isinstance(first, (tuple, list))
        if hx is None:
            states = [_as_state(first, "Recurrent", f"{type(self.cells[0]).__name__}.initial_state")]
            for cell in list(self.cells)[1:]:
                states.append(_as_state(cell.initial_state(n_batch), "Recurrent",
                                        f"{type(cell).__name__}.initial_state"))
        else:
            n = len(self.cells)
            stacked = _as_state(hx, "Recurrent", "hx") if is_tuple else (hx,)
            if is_tuple and not isinstance(hx, (tuple, list)) or len(stacked) != len(first if is_tuple else (first,)):
                raise TypeError(f"Recurrent: hx must have the form of the cell's state stacked per layer and direction "
                                f"({'a tuple of ' + str(len(first)) + ' Tensors' if is_tuple else 'one Tensor'}), "
                                f"got {type(hx).__name__}")
            for i, t in enumerate(stacked):
                want = (n, n_batch) if batch.is_batched else (n,)
                if not isinstance(t, Tensor) or tuple(t.shape[:len(want)]) != want:
                    shape = t.shape if isinstance(t, Tensor) else type(t).__name__
                    raise ShapeError(f"Recurrent: hx[{i}] must start with {want} (num_layers * num_directions"
                                     f"{', batch' if batch.is_batched else ''}), got {shape}")
            states = unstack_states(tuple(batch.user_to_working(t) for t in stacked), n)
        for k, state in enumerate(states):
            if state[0].shape[0] != n_batch or state[0].dtype != batch.x.dtype:
                raise ValueError(f"Recurrent: the initial state of layer/direction {k} has h of shape "
                                 f"{state[0].shape} and dtype {state[0].dtype}; the input needs ({n_batch}, ...) "
                                 f"and {batch.x.dtype}")
        return states, is_tuple

    # ------------------------------------------------------------------ forward
    def forward(self, input: Tensor | PackedSequence, hx: Any = None) -> tuple[Any, Any]:
        """Run every layer and direction over ``input``; return ``(output, h_n)`` (see the class docstring)."""
        check_sequence_input("Recurrent", input, self.input_size, self.batch_first, None)
        if not len(self.cells):
            x = input.data if isinstance(input, PackedSequence) else input
            self._build(x.shape[-1])
        batch = SequenceBatch.of(input, self.batch_first)
        states, is_tuple = self._initial_states(hx, batch)
        for cell in self.cells:
            if callable(getattr(cell, "start_sequence", None)):
                cell.start_sequence()

        def run_layer(k: int, x: Tensor, state: State, **options: Any) -> tuple[Tensor, State]:
            cell = self.cells[k]

            def step(x_t: Tensor, state: State) -> State:
                new = cell(x_t, state if is_tuple else state[0])
                return _as_state(new, "Recurrent", f"{type(cell).__name__}.forward")

            return run_direction(step, x, state, **options)

        with scope(self._scope_name):
            output, finals = run_stack(run_layer, batch.x, states, num_layers=self.num_layers,
                                       bidirectional=self.bidirectional, dropout=self.dropout,
                                       training=self.training, lengths=batch.lengths)
            final = tuple(batch.working_to_user(s) for s in stack_states(finals))
        return batch.restore(output), (final if is_tuple else final[0])
