"""Function: one node of the graph, and the one central un-broadcasting rule.

A node remembers where each input's gradient must go (``next_functions``) and what its backward
needs (``save_for_backward``), with the version of each saved tensor, so that backward refuses
values an in-place op has changed since.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad._quiet import IGNORE_ALL, NUMPY_ERRORS
from minigrad.autograd.anomaly import describe_forward, forward_trace
from minigrad.autograd.modes import _mode
from minigrad.autograd.shared_tuples import INPUT_ROLES, METAS, ONE_METAS, ONE_NEEDS, OUTPUT_ROLES, share, shared_meta

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


def _where(fn: Function) -> str:
    return f"{fn.name} at {fn.scope}" if fn.scope else fn.name


def _check_finite(fn: Function, arrays: Sequence[np.ndarray | None], phase: str, what: str) -> None:
    for i, a in enumerate(arrays):
        if a is None or a.dtype.kind != "f" or np.isfinite(a).all():
            continue
        bad = "nan" if np.isnan(a).any() else "inf"
        detail = f" ({what} {i})" if len(arrays) > 1 else ""
        trace = describe_forward(fn) if phase == "backward" else ""  # (in forward, the traceback is the user's)
        raise RuntimeError(f"{_where(fn)} produced {bad} in {phase}{detail}" + (f"\n\n{trace}" if trace else ""))


# --------------------------------------------------------------------------------------------
# The one central un-broadcasting rule
# --------------------------------------------------------------------------------------------


def sum_to_shape(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` back to ``shape``: the gradient rule of NumPy broadcasting.

    If ``x`` of shape (3, 1) was broadcast to (2, 3, 4) in the forward pass, every element of
    ``x`` was used 2*4 times, so its gradient is the sum over those copies. Ops never do this
    themselves; the engine applies it to every gradient an op returns. ``grad`` is a NumPy array,
    or a Tensor when the engine builds a graph of the backward pass (``create_graph=True``).

    Example::

        >>> sum_to_shape(np.ones((2, 3, 4)), (3, 1)).tolist()
        [[8.0], [8.0], [8.0]]
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    if not axes:
        out = grad
    elif type(grad) is np.ndarray:
        out = grad.sum(axis=axes, keepdims=True)
    else:  # a Tensor: the sum is an op of the new graph
        out = grad.sum(axes, keepdim=True)
    if extra:
        out = out.reshape(out.shape[extra:])
    if out.shape != shape:  # a bug in an op's backward, not a user error
        raise RuntimeError(f"internal: gradient of shape {grad.shape} cannot be summed to {shape}")
    return out


# --------------------------------------------------------------------------------------------
# Function: one node of the graph
# --------------------------------------------------------------------------------------------


class Function:
    """One operation in the graph. Subclasses write ``forward`` and ``backward`` side by side.

    ``forward`` takes and returns NumPy arrays; ``backward`` takes the gradient of each output
    and returns the gradient of each input (``None`` where an input needs none). Shapes may be
    broadcast: the engine sums them back (``sum_to_shape``). Both run with NumPy's floating-point
    warnings off (``minigrad/_quiet.py``): ``x / 0`` is ``inf`` and ``inf * 0`` is ``nan``,
    silently, as in PyTorch.

    Higher-order gradients: under ``backward(create_graph=True)`` the engine sets
    ``self.create_graph`` and passes Tensors instead of arrays; ``saved_tensors`` then gives the
    saved inputs as the input Tensors themselves and saved outputs as Tensors of this node's
    output slots, so the same arithmetic in ``backward`` builds a differentiable graph. A value
    saved that is neither (a mask, a scale) comes back as it was saved: it must be a constant of
    the op; anything computed from the inputs must be recomputed from the Tensors in that case.

    Example::

        >>> class Square(Function):
        ...     def forward(self, x):
        ...         self.save_for_backward(x)
        ...         return x * x
        ...     def backward(self, grad):
        ...         (x,) = self.saved_tensors
        ...         return 2 * x * grad
        >>> import minigrad as mg
        >>> x = mg.tensor([3.0], requires_grad=True)
        >>> Square.apply(x).backward(mg.ones(1)); x.grad.tolist()
        [6.0]
        >>> (gx,) = mg.autograd.grad(Square.apply(x).sum(), x, create_graph=True)  # the same backward, on Tensors
        >>> mg.autograd.grad(gx.sum(), x)[0].tolist()
        [2.0]
    """

    # Set by `apply` on every node it keeps, so slots rather than the instance dict (quicker to set
    # and to free); the op's own attributes (dim, saved shapes...) go into the dict as usual.
    __slots__ = ("needs_input_grad", "next_functions", "input_meta", "outputs", "__dict__", "__weakref__")

    # The name shown in drawings and error messages; subclasses may set it (default: lower-case class name).
    name: str = ""
    # The kind shown by repr, as ``<MulBackward>`` (default: the class name). Two classes for one
    # PyTorch op (``Mul`` and ``MulNumber``) show the same kind, as PyTorch shows one.
    kind: str = ""
    # Set by the engine just before it calls backward: False when the graph is freed right after
    # (the default ``backward()``), so backward may overwrite its saved arrays instead of
    # allocating new ones (the fused LSTM turns its saved gates into their gradients in place).
    # True for ``backward(retain_graph=True)``, and for anyone calling ``backward`` by hand.
    retain_graph: bool = True
    # True for ops whose output may share memory with input 0 (reshape, transpose, basic indexing):
    # such an output shares the input's version counter, so an in-place change through either is seen.
    is_view: bool = False
    # False for ops that only move or copy values (views, cat, stack, indexing, gather): with no
    # arithmetic there is nothing for NumPy to warn about, so apply does not switch its
    # floating-point warnings off around them (the switch is not free; tests/test_quiet.py lists them).
    computes: bool = True
    # Set by the engine just before it calls backward: True under ``create_graph=True``, when the
    # gradients are Tensors and backward must compute with Tensor ops (see the class docstring).
    create_graph: bool = False
    # Per-node state, with the value a new node starts from: apply sets only what differs.
    scope: str = ""  # the ``mg.scope`` the node was made in
    released: bool = False  # True once backward freed what was saved
    _saved: tuple = ()
    # (version counter, version at save time, role, place in _saved) for each saved value that is
    # an input's or an output's memory (``_bookkeeping_of_saved``).
    _saved_versions: tuple = ()
    # True once a hook or retain_grad() was put on one of this node's output tensors: only then
    # does the engine look at those tensors before running backward.
    watched: bool = False
    # False for an op with an __init__ of its own (set by __init_subclass__): `apply` must call it.
    _default_init: bool = True
    # Output index -> hooks registered on an output whose tensor an in-place op has since given a
    # new value (and a new node): they still see this node's gradient, as in PyTorch (ops/inplace.py).
    output_hooks: dict[int, list] | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__.lower()
        if not cls.__dict__.get("kind"):
            cls.kind = cls.__name__
        cls._default_init = cls.__init__ is Function.__init__

    def __init__(self, **params: Any) -> None:
        # Non-tensor parameters of the op (dim, keepdim, ...) become attributes.
        if params:
            self.__dict__.update(params)

    # -- to be written by each op --------------------------------------------------------
    def forward(self, *arrays: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        raise NotImplementedError

    def backward(self, *grads: np.ndarray | None) -> np.ndarray | None | tuple[np.ndarray | None, ...]:
        raise NotImplementedError

    # -- saving what backward needs ------------------------------------------------------
    def save_for_backward(self, *arrays: Any) -> None:
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        if self.released:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through {_where(self)}): its saved "
                "values were freed by the first backward. Pass retain_graph=True to the first "
                "backward() if you need to call it twice. In truncated BPTT, where a recurrent state "
                "carried over from the previous window leads back into its freed graph, detach the "
                "state between windows instead: state = mg.nn.utils.detach_state(state)."
            )
        for counter, version, (kind, index), k in self._saved_versions:
            if counter[0] != version:
                value = self._saved[k]
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: a {value.dtype} tensor of shape {value.shape}, which is {kind} {index} of "
                    f"{_where(self)}, is at version {counter[0]}; expected version {version} instead. Hint: "
                    f"{self.name} saved it for backward; change it only after backward, or use the out-of-place "
                    "form of the in-place op (y = y + 1 instead of y.add_(1)), or .clone() the tensor before "
                    "changing it."
                )
        if self.create_graph:
            return self._saved_as_tensors()
        return self._saved

    def _saved_as_tensors(self) -> tuple:
        """The saved values as Tensors in the graph: inputs as themselves, outputs attached to this node."""
        Tensor = _tensor_class()
        out = list(self._saved)  # constants of the op (and views of inputs) stay as they were saved
        for _, _, (kind, index), k in self._saved_versions:
            if kind == "input":
                out[k] = self.input_tensor(index, out[k])
            elif kind == "output":  # gradients reaching this Tensor flow back into this node's output slot
                out[k] = Tensor._from_op(out[k], self, index)
        return tuple(out)

    def input_tensor(self, i: int, array: np.ndarray) -> Tensor:
        """Input ``i`` (whose values are ``array``) as a Tensor at its place in the graph.

        A leaf is the leaf itself; an op's output is a Tensor of that op's output slot; an input
        that needs no gradient is a constant.
        """
        edge = self.next_functions[i]
        if edge is None:
            return _tensor_class()(array)
        if type(edge) is tuple:
            return _tensor_class()._from_op(array, edge[0], edge[1])
        return edge

    def release(self) -> None:
        """Free what only backward needed. The engine calls this unless ``retain_graph=True``."""
        self._saved = ()
        self.released = True

    # -- building the graph ----------------------------------------------------------------
    @classmethod
    def apply(cls, *inputs: Tensor | None, **params: Any) -> Any:
        """Run the op on Tensors; record a node when any input requires grad and grad is on."""
        # The hot path of every op. Rules: one pass over the inputs; no comprehensions on the path
        # of a one-output op (each is a function call of its own before Python 3.12); no node when
        # no input needs a gradient; the tuples a node keeps shared where they repeat (shared_tuples.py);
        # scope, anomaly mode and the recorder cost one check together when all are off.
        if cls._default_init:  # what Function.__init__ does, without the call
            fn = object.__new__(cls)
            if params:
                fn.__dict__.update(params)
        else:
            fn = cls(**params)
        mode = _mode
        if not mode.grad_enabled:
            arrays = []
            for t in inputs:
                arrays.append(None if t is None else t._array)
            needs = (False,) * len(inputs)
        elif len(inputs) == 1 and inputs[0] is not None:  # most ops: the loop below, for one input
            t = inputs[0]
            array = t._array
            arrays = (array,)
            need = t._requires_grad
            needs = ONE_NEEDS[need]
            edges = (None if not need else t if t.grad_fn is None else (t.grad_fn, t._output_index),)
            shape, dtype = array.shape, array.dtype
            meta = ONE_METAS.get(shape)
            if meta is None or meta[0][1] is not dtype:
                meta = share(ONE_METAS, shape, (shared_meta(shape, dtype),))
        else:
            # With each input: whether it needs a gradient; where that gradient goes (its creator's
            # output slot, or the input itself if a leaf); the shape and dtype it must have.
            arrays, needs, edges, meta = [], [], [], []
            for t in inputs:
                if t is None:
                    arrays.append(None)
                    needs.append(False)
                    edges.append(None)
                    meta.append(None)
                else:
                    array = t._array
                    arrays.append(array)
                    need = t._requires_grad
                    needs.append(need)
                    edges.append(None if not need else t if t.grad_fn is None else (t.grad_fn, t._output_index))
                    shape, dtype = array.shape, array.dtype
                    shared = METAS.get(shape)  # shared_meta's hit, written out: no call for the common case
                    meta.append(shared if shared is not None and shared[1] is dtype else shared_meta(shape, dtype))
            needs = tuple(needs)
        fn.needs_input_grad = needs
        traced = mode.traced
        if traced and mode.scope_name:
            fn.scope = mode.scope_name
        if cls.computes:
            token = NUMPY_ERRORS.set(IGNORE_ALL)  # an op's NumPy arithmetic never warns: x / 0 is inf, as in PyTorch
            try:
                raw = fn.forward(*arrays)
            finally:
                NUMPY_ERRORS.reset(token)
        else:
            raw = fn.forward(*arrays)
        single = type(raw) is np.ndarray
        if single:
            outputs = (raw,)
        elif type(raw) is tuple:
            outputs = tuple([a if type(a) is np.ndarray else np.asarray(a) for a in raw])
        else:
            # NumPy ufuncs on 0-d arrays return scalars (np.float64): keep them 0-d arrays with their dtype.
            outputs = (np.asarray(raw),)
            single = True
            if fn._saved:  # a saved output must stay *the* output (create_graph)
                fn._saved = tuple([outputs[0] if value is raw else value for value in fn._saved])
        if traced and mode.anomaly and mode.anomaly_checks_nan:
            _check_finite(fn, outputs, "forward", "output")

        Tensor = _Tensor or _tensor_class()
        if True not in needs:  # nothing to differentiate: plain tensors, no node kept
            outs = (Tensor(outputs[0]),) if single else tuple([Tensor(a) for a in outputs])
            if cls.is_view:
                _share_memory_bookkeeping(outs, inputs[0])
            return outs[0] if single else outs
        fn.next_functions = tuple(edges)
        fn.input_meta = tuple(meta)
        if single:
            out = Tensor._from_op(outputs[0], fn, 0)
            outs = (out,)
            fn.outputs = (weakref.ref(out),)
        else:
            made, refs = [], []
            for i, a in enumerate(outputs):
                t = Tensor._from_op(a, fn, i)
                made.append(t)
                refs.append(weakref.ref(t))
            outs, fn.outputs = tuple(made), tuple(refs)
        if cls.is_view:
            _share_memory_bookkeeping(outs, inputs[0])
        if fn._saved:
            fn._saved_versions = _bookkeeping_of_saved(fn._saved, inputs, arrays, outs)
        if traced:
            if mode.anomaly:  # where this node was made, for backward errors (anomaly.py)
                fn.forward_trace = forward_trace()
            if mode.recorder is not None:
                mode.recorder.on_forward(fn, outputs)
        return outs[0] if single else outs

    def __repr__(self) -> str:
        where = f" at {self.scope}" if getattr(self, "scope", "") else ""
        return f"<{self.kind}Backward{where}>"


def version_counter(t: Tensor) -> list[int]:
    """The one-item list counting in-place changes of ``t``'s memory (made on first need)."""
    counter = t._version_counter
    if counter is None:
        counter = t._version_counter = [0]
    return counter


def _share_memory_bookkeeping(outputs: Sequence[Tensor], source: Tensor) -> None:
    """Outputs of a view op that really share ``source``'s memory share its version counter too."""
    base = source._array if source._array.base is None else source._array.base
    for t in outputs:
        if t._array.base is not None and (t._array.base is base or t._array.base is source._array):
            t._version_counter = version_counter(source)
            t._base = source if source._base is None else source._base


def _bookkeeping_of_saved(saved: tuple, inputs: Sequence[Tensor | None], arrays: Sequence[np.ndarray | None],
                          outputs: Sequence[Tensor]) -> tuple:
    """What a node must know about the values it saved: which are inputs or outputs, at which version.

    One entry ``(counter, version, role, k)`` for each saved value ``saved[k]`` that is an input's
    or an output's memory: that tensor's version counter and its version now; the role is
    ``("input", i)`` or ``("output", j)`` when the value *is* that array (``arrays[i]`` is input
    ``i``'s), ``("a view of input", i)`` when it is a view of it. Backward compares the versions
    (``saved_tensors``): a saved array that an in-place op changed since would silently give a
    wrong gradient, so it raises instead, as PyTorch does. Under ``create_graph=True`` the inputs
    and outputs among the saved values become Tensors in the graph (``_saved_as_tensors``).
    Arrays are matched by identity: a live array is never another one.
    """
    entries = []
    n, m = len(arrays), len(outputs)
    for k, a in enumerate(saved):
        if type(a) is not np.ndarray:
            continue
        i = 0
        while i < n and a is not arrays[i]:
            i += 1
        if i < n:
            t = inputs[i]
            counter = t._version_counter or version_counter(t)
            entries.append((counter, counter[0], INPUT_ROLES[i] if i < len(INPUT_ROLES) else ("input", i), k))
            continue
        j = 0
        while j < m and a is not outputs[j]._array:
            j += 1
        if j < m:
            role = OUTPUT_ROLES[j] if j < len(OUTPUT_ROLES) else ("output", j)
            entries.append((version_counter(outputs[j]), 0, role, k))
            continue
        if a.base is not None:  # a view of an input (rare: checked last)
            i = 0
            while i < n and a.base is not arrays[i]:
                i += 1
            if i < n:
                t = inputs[i]
                counter = t._version_counter or version_counter(t)
                entries.append((counter, counter[0], ("a view of input", i), k))
    return tuple(entries)


def _tensor_class() -> type:
    """minigrad.tensor.Tensor (imported late: tensor.py imports this module)."""
    global _Tensor
    if _Tensor is None:
        from minigrad.tensor import Tensor

        _Tensor = Tensor
    return _Tensor


_Tensor: type | None = None
