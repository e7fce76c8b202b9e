"""Function: one node of the graph, and the one central un-broadcasting rule.

A node remembers where each input's gradient must go (``next_functions``, kept as ``_edges``)
and what its backward needs (``save_for_backward``), with the version of each saved tensor, so
that backward refuses values an in-place op has changed since.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad._quiet import IGNORE_ALL, NUMPY_ERRORS
from minigrad.autograd import shared_tuples as shared
from minigrad.autograd.anomaly import describe_forward, forward_trace
from minigrad.autograd.modes import _mode
from minigrad.autograd.versions import bookkeeping_of_saved, check_saved_versions, share_version_counter
from minigrad.kernels.bias_rows import sum_rows

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
    if type(grad) is np.ndarray and grad.ndim == 2 and grad.shape[1:] == shape:
        return sum_rows(grad)  # a bias's gradient, in one loop (kernels/bias_rows.py)
    extra = grad.ndim - len(shape)
    if extra > 0 and grad.shape[extra:] == shape and grad.shape[:extra] == (1,) * extra:
        return grad.reshape(shape)  # only leading dims of size 1 were added: nothing to sum
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
    __slots__ = ("needs_input_grad", "_edges", "input_meta", "_outputs", "__dict__", "__weakref__")

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
    # Flat, four items for each saved value that is an input's or an output's memory: its version
    # counter, its version at save time, its role, its place in _saved (versions.py).
    _saved_versions: tuple = ()
    # True once a hook or retain_grad() was put on one of this node's output tensors: only then
    # does the engine look at those tensors before running backward.
    watched: bool = False
    # False for an op with an __init__ of its own (set by __init_subclass__): `apply` must call it.
    _default_init: bool = True
    # How many outputs the node has (set by `apply` on the nodes of more than one).
    n_outputs: int = 1
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
        if self._saved_versions:
            check_saved_versions(self)
        if self.create_graph:
            return self._saved_as_tensors()
        return self._saved

    def _saved_as_tensors(self) -> tuple:
        """The saved values as Tensors in the graph: inputs as themselves, outputs attached to this node."""
        Tensor = _tensor_class()
        out = list(self._saved)  # constants of the op (and views of inputs) stay as they were saved
        versions = self._saved_versions
        for at in range(0, len(versions), 4):
            _, _, (kind, index), k = versions[at:at + 4]
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
        edge = self._edges[i]
        if edge is None:
            return _tensor_class()(array)
        if type(edge) is tuple:
            return _tensor_class()._from_op(array, edge[0], edge[1])
        if isinstance(edge, Function):
            return _tensor_class()._from_op(array, edge, 0)
        return edge

    @property
    def outputs(self) -> tuple:
        """Weak references to the node's output tensors, one per output (a lone one is kept bare).

        Weak: outputs keep their node alive (``grad_fn``), never the other way round, so a graph
        has no reference cycles and is freed as soon as its last tensor goes.

        Example: ``y.grad_fn.outputs[0]() is y`` while ``y`` lives.
        """
        refs = self._outputs
        return refs if type(refs) is tuple else (refs,)

    @outputs.setter
    def outputs(self, refs: tuple) -> None:
        self._outputs = refs[0] if len(refs) == 1 else tuple(refs)

    @property
    def next_functions(self) -> tuple:
        """Where each input's gradient goes, as PyTorch writes it: ``(node, output index)``, the
        tensor itself for a leaf, ``None`` where none is needed. (``_edges`` writes ``(node, 0)`` as
        the node alone: one tuple less per input for the cycle collector.)

        Example: ``(mg.ones(2, requires_grad=True) * 2).exp().grad_fn.next_functions`` -> ``((<MulBackward>, 0),)``.
        """
        return tuple([edge if edge is None or type(edge) is tuple or not isinstance(edge, Function) else (edge, 0)
                      for edge in self._edges])

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
        # no input needs a gradient; scope, anomaly mode and the recorder cost one check together
        # when all are off; and as few objects kept per node as can be, since Python's cycle
        # collector counts each: the tuples a node keeps shared where they repeat (shared_tuples.py),
        # no (node, 0) pair per input (`_edges`), a lone output's weak reference without a tuple.
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
            needs = shared.ONE_NEEDS[need]
            maker = t.grad_fn
            edges = (None if not need else t if maker is None else maker if t._output_index == 0
                     else (maker, t._output_index),)
            shape, dtype = array.shape, array.dtype
            meta = shared.ONE_METAS.get(shape)
            if meta is None or meta[0][1] is not dtype:
                meta = shared.share(shared.ONE_METAS, shape, (shared.shared_meta(shape, dtype),))
        elif len(inputs) == 2 and inputs[0] is not None and inputs[1] is not None:  # a binary op: the same, for two
            a, b = inputs
            arrays, shapes = (a._array, b._array), (a._array.shape, b._array.shape)
            needs = shared.TWO_NEEDS[a._requires_grad][b._requires_grad]
            edges = (None if not needs[0] else a if a.grad_fn is None else a.grad_fn if a._output_index == 0
                     else (a.grad_fn, a._output_index),
                     None if not needs[1] else b if b.grad_fn is None else b.grad_fn if b._output_index == 0
                     else (b.grad_fn, b._output_index))
            meta = shared.TWO_METAS.get(shapes)
            if meta is None or meta[0][1] is not arrays[0].dtype or meta[1][1] is not arrays[1].dtype:
                meta = shared.two_metas(shapes, arrays[0].dtype, arrays[1].dtype)
        else:
            # With each input: whether it needs a gradient; where that gradient goes (the node that
            # made it, with the output index unless 0; or the input itself if a leaf); its shape and dtype.
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
                    maker = t.grad_fn
                    edges.append(None if not need else t if maker is None else maker if t._output_index == 0
                                 else (maker, t._output_index))
                    shape, dtype = array.shape, array.dtype
                    kept = shared.METAS.get(shape)  # shared_meta's hit, written out: no call for the common case
                    meta.append(kept if kept is not None and kept[1] is dtype else shared.shared_meta(shape, dtype))
            needs = tuple(needs)
            kept = shared.NEEDS.get(needs)
            needs = kept if kept is not None else shared.shared_value(shared.NEEDS, needs)
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
                share_version_counter(outs, inputs[0])
            return outs[0] if single else outs
        fn._edges = edges if type(edges) is tuple else tuple(edges)
        if type(meta) is list:
            meta = tuple(meta)
            kept = shared.INPUT_METAS.get(meta)
            meta = kept if kept is not None else shared.shared_value(shared.INPUT_METAS, meta)
        fn.input_meta = meta
        if single:
            out = Tensor._from_op(outputs[0], fn, 0)
            outs = (out,)
            fn._outputs = weakref.ref(out)
        else:
            made, refs = [], []
            for i, a in enumerate(outputs):
                t = Tensor._from_op(a, fn, i)
                made.append(t)
                refs.append(weakref.ref(t))
            outs, fn._outputs, fn.n_outputs = tuple(made), tuple(refs), len(refs)
        if cls.is_view:
            share_version_counter(outs, inputs[0])
        if fn._saved:
            fn._saved_versions = bookkeeping_of_saved(fn._saved, inputs, arrays, outs)
        if traced:
            if mode.anomaly:  # where this node was made, for backward errors (anomaly.py)
                fn.forward_trace = forward_trace()
            if mode.recorder is not None:
                mode.recorder.on_forward(fn, outputs)
        return outs[0] if single else outs

    def __repr__(self) -> str:
        where = f" at {self.scope}" if getattr(self, "scope", "") else ""
        return f"<{self.kind}Backward{where}>"


def _tensor_class() -> type:
    """minigrad.tensor.Tensor (imported late: tensor.py imports this module)."""
    global _Tensor
    if _Tensor is None:
        from minigrad.tensor import Tensor

        _Tensor = Tensor
    return _Tensor


_Tensor: type | None = None
