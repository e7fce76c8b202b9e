"""The engine: gradients flow from the outputs back to the leaves in reverse topological order.

An explicit stack, never recursion: BPTT graphs are thousands of nodes deep.

Two number types flow through it. Normally gradients are NumPy arrays and nothing is recorded:
the fast path. With ``create_graph=True`` they are Tensors, every op's backward runs with grad
mode on, and so the backward pass itself becomes a graph that can be differentiated again
(Hessian-vector products, gradient penalties, Newton's method).
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad._quiet import IGNORE_ALL, NUMPY_ERRORS
from minigrad.autograd.anomaly import add_forward_trace
from minigrad.autograd.function import Function, _check_finite, _tensor_class, _where, sum_to_shape
from minigrad.autograd.kept_transposes import kept_transposes
from minigrad.autograd.modes import _mode
from minigrad.autograd.sole_reference import sole_reference
from minigrad.autograd.stacked_products import ProductSum, TransposedProduct

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


class cycle_collector_paused:
    """Pause Python's cyclic garbage collector inside the block, and put it back as it was.

    Rule: only around minigrad's own loops that build or walk a graph (backward, a reference
    recurrent layer's time loop, drawing). A graph has no reference cycles, so reference counting
    frees all of it; but while thousands of its nodes are alive, every few hundred allocations
    make the collector scan them again, and every few thousand scan every object of the process.
    (A user's cell runs inside the time loop too: cyclic garbage it makes waits for the end of the
    loop.) A collector the user turned off stays off. A class, not a ``contextlib.contextmanager``
    generator: every ``backward()`` enters it, so entering it must cost little.

    Example::

        >>> import gc
        >>> with cycle_collector_paused():
        ...     gc.isenabled()
        False
    """

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc_info: object) -> None:
        if self.was_enabled:
            gc.enable()


def _collect(roots: Sequence[Function]) -> dict[Function, int]:
    """Every node reachable from ``roots`` with the number of gradients it waits for.

    A plain explicit stack instead of recursion: a 100,000-step chain is fine.
    """
    waiting: dict[Function, int] = dict.fromkeys(roots, 0)  # (a node in it has been seen)
    stack = list(waiting)
    while stack:
        fn = stack.pop()
        for edge in fn._edges:
            if edge is None:
                continue
            # An edge is a node (its output 0), a (node, output index) pair, or a leaf tensor.
            parent = edge[0] if type(edge) is tuple else edge if isinstance(edge, Function) else None
            if parent is not None:
                count = waiting.get(parent)
                if count is None:  # met for the first time: its own inputs are walked too
                    waiting[parent] = 1
                    stack.append(parent)
                else:
                    waiting[parent] = count + 1
    return waiting


def _add(buffer: list, index: int, grad: Any) -> None:
    old = buffer[index]
    buffer[index] = grad if old is None else old + grad


def run_backward(roots: Sequence[Tensor], root_grads: Sequence[Any], retain_graph: bool = False,
                 capture: dict[int, int] | None = None, create_graph: bool = False) -> list[Any] | None:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Normally gradients arriving at leaves are accumulated into ``leaf.grad``. With ``capture``
    (``id(tensor) -> position``, used by ``grad()``), gradients of those tensors are returned in
    a list instead and no ``.grad`` is touched. With ``create_graph`` the gradients are Tensors
    with a graph of their own (arrays given as ``root_grads`` are wrapped as constants).
    """
    if create_graph:
        Tensor = _tensor_class()
        root_grads = [g if isinstance(g, Tensor) else Tensor(np.asarray(g)) for g in root_grads]
    # Grad mode is on exactly when the backward pass is recorded. The walk allocates a gradient per
    # node: the cycle collector is paused meanwhile (cycle_collector_paused). NumPy is quiet for the
    # whole walk, as in an op's forward (Function.apply): the ops' backward, the sums of their
    # gradients (and the hooks, which run inside the walk) give inf and nan without warnings.
    was_recording, was_grad_enabled = _mode.recording_backward, _mode.grad_enabled
    _mode.recording_backward = create_graph or was_recording
    _mode.grad_enabled = create_graph
    token = NUMPY_ERRORS.set(IGNORE_ALL)
    try:
        with cycle_collector_paused(), kept_transposes():
            return _run_backward(roots, root_grads, retain_graph, capture, create_graph)
    finally:
        NUMPY_ERRORS.reset(token)
        _mode.recording_backward, _mode.grad_enabled = was_recording, was_grad_enabled


def _run_backward(roots, root_grads, retain_graph, capture, graph):
    captured: list[Any] | None = [None] * len(capture) if capture is not None else None
    pending: dict[Function, list] = {}  # node -> gradient buffer, one slot per output
    # Leaf -> [leaf, its gradient so far (a ProductSum while weight-gradient terms are stacked: see
    # stacked_products.py), who made that array]: a leaf's gradient is delivered once,
    # summed, after the walk (its hooks see the total, as in PyTorch, where they run when the
    # leaf's AccumulateGrad node runs).
    leaves: dict[int, list] = {}
    for t, g in zip(roots, root_grads):
        if t.grad_fn is None:
            if id(t) in leaves:
                _add_to_leaf(leaves[id(t)], g, graph)
            else:
                leaves[id(t)] = [t, g, _CALLER]
            continue
        buf = pending.setdefault(t.grad_fn, [None] * t.grad_fn.n_outputs)
        _add(buf, t._output_index, g)

    waiting = _collect(list(pending))
    ready = [fn for fn in pending if waiting[fn] == 0]
    # A node's own gradient is complete once every consumer in the graph has run; a root that is
    # also consumed by another root waits for it. `ready` is a stack: any order that respects
    # the dependency counts is a valid reverse topological order.

    recorder, anomaly = _mode.recorder, _mode.anomaly
    check_nan = anomaly and _mode.anomaly_checks_nan
    while ready:
        fn = ready.pop()
        grads = pending.pop(fn, None) or [None] * fn.n_outputs
        if fn.watched or capture is not None:
            grads = _run_output_hooks(fn, grads, capture, captured, graph)
        if fn.released:
            _ = fn.saved_tensors  # raises the "backward twice" error with the node's name
        fn.retain_graph = retain_graph
        fn.create_graph = graph
        if recorder is not None:
            recorder.on_backward(fn, [None if g is None else _values(g) for g in grads])
        if anomaly:
            in_grads = _traced_backward(fn, grads, graph)
        elif graph:
            in_grads = _graph_backward(fn, grads)
        else:
            in_grads = fn.backward(grads[0]) if len(grads) == 1 else fn.backward(*grads)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        if len(in_grads) != len(fn._edges):
            raise RuntimeError(
                f"internal: {fn.name}.backward returned {len(in_grads)} gradients for "
                f"{len(fn._edges)} inputs"
            )
        if check_nan:
            in_grads = tuple([np.asarray(g) if type(g) is TransposedProduct else g for g in in_grads])
            _check_finite(fn, [None if g is None else _values(g) for g in in_grads], "backward",
                          "gradient for input")
        if not retain_graph:
            fn.release()
        in_grads = list(in_grads)  # the engine's own list: each gradient is taken out of it (see sole_reference)
        for i, edge in enumerate(fn._edges):
            g, in_grads[i] = in_grads[i], None
            if edge is None:
                continue
            if type(edge) is tuple:  # (node, output index)
                parent, index = edge
            elif isinstance(edge, Function):  # a node's output 0
                parent, index = edge, 0
            else:  # a leaf tensor
                parent = None
            meta = fn.input_meta[i]
            if g is not None:
                shape, dtype = meta
                if graph:
                    g = _graph_gradient(fn, i, g, shape, dtype)
                else:
                    if type(g) is not np.ndarray and not (parent is None and _leaf_term(g, meta)):
                        g = np.asarray(g)  # (a TransposedProduct is multiplied here, unless a leaf stacks it)
                    if g.shape != shape:
                        g = sum_to_shape(g, shape)
                    if g.dtype != dtype:
                        g = g.astype(dtype)
            if parent is not None:
                if g is not None:
                    buf = pending.get(parent)
                    if buf is None:
                        buf = pending[parent] = [None] * parent.n_outputs
                    old = buf[index]
                    buf[index] = g if old is None else old + g
                left = waiting[parent] - 1
                waiting[parent] = left
                if left == 0:
                    ready.append(parent)
            elif g is not None:
                entry = leaves.get(id(edge))
                if entry is None:
                    leaves[id(edge)] = [edge, g, _NODE]
                else:
                    _add_to_leaf(entry, g, graph)
    for entry in leaves.values():
        t, g, maker = entry
        entry[1] = None  # (`sole_reference` then sees this variable's reference alone)
        if type(g) is ProductSum or type(g) is TransposedProduct:
            g = g.result()  # the weight gradients stacked for this leaf, multiplied at last (stacked_products.py)
        # Asked before the call: as an argument already on the call's stack, g would count once more.
        owned = not graph and (maker == _SUM or (maker == _NODE and sole_reference(g)))
        _deliver_to_leaf(t, g, capture, captured, graph, owned=owned)
    return captured


# Who made the array a leaf has received so far: one node's backward (the leaf may keep it if nobody
# else refers to it, `sole_reference`), the engine's sum of several (the leaf may keep it, and later
# gradients are added into it), or the caller of backward() (always copied).
_NODE, _SUM, _CALLER = 0, 1, 2


def _add_to_leaf(entry: list, g: Any, graph: bool) -> None:
    """Add ``g`` to what a leaf has received in this backward (``entry``: [leaf, gradient, maker])."""
    total = entry[1]
    if type(total) is ProductSum:
        total.add(g)
    elif type(g) is TransposedProduct or type(total) is TransposedProduct:  # a stack begins (stacked_products.py)
        first, second = (total, g) if type(total) is TransposedProduct else (g, total)
        entry[1], entry[2] = ProductSum(first), _SUM
        entry[1].add(second)
    elif entry[2] == _SUM and not graph:
        entry[1] += g  # the engine's own array (same shape and dtype: both were made the leaf's)
    else:
        entry[1] = None  # (sole_reference then counts `total` alone)
        if (not graph and entry[2] == _NODE and type(total) is np.ndarray and type(g) is np.ndarray
                and sole_reference(total)):
            total += g  # a node's fresh array nobody else sees (a tied weight's first term): the sum goes into it
        else:
            total = total + g  # a new array (a new Tensor under create_graph): the engine's own
        entry[1], entry[2] = total, _SUM


def _leaf_term(g: Any, meta: tuple) -> bool:
    """Whether ``g``, going to a leaf, is a weight-gradient term it can stack: in the leaf's shape and dtype."""
    return type(g) is TransposedProduct and g.shape == meta[0] and g.dtype == meta[1]


def _traced_backward(fn: Function, grads: list, graph: bool) -> Any:
    """Anomaly mode: an error raised by ``fn``'s backward also shows where ``fn`` was made (its forward line)."""
    try:
        return _graph_backward(fn, grads) if graph else fn.backward(*grads)
    except Exception as error:
        add_forward_trace(error, fn)
        raise


def _values(g: Any) -> np.ndarray:
    """The array of a gradient, whichever of the two number types it is."""
    return g if type(g) is np.ndarray else g._array


# --------------------------------------------------------------------------------------------
# create_graph=True: the backward pass as a graph
# --------------------------------------------------------------------------------------------

# Nodes whose backward is a NumPy/Numba kernel with no Tensor formula, by module, and what to do instead.
# (A node can lift this by defining ``backward_create_graph(*grads)`` with differentiable Tensor ops.)
NUMPY_ONLY_BACKWARDS: dict[str, str] = {}


def _graph_backward(fn: Function, grads: list) -> Any:
    """``fn.backward`` on Tensor gradients, or a clear error when this node cannot build a graph."""
    custom = getattr(fn, "backward_create_graph", None)
    if custom is not None:
        return custom(*grads)
    advice = NUMPY_ONLY_BACKWARDS.get(type(fn).__module__)
    if advice is not None:
        raise RuntimeError(f"{_where(fn)}: create_graph=True is not supported by this node, whose backward is a "
                           f"NumPy kernel; {advice}")
    try:
        return fn.backward(*grads)
    except (TypeError, ValueError, AttributeError, IndexError) as e:
        raise RuntimeError(f"{_where(fn)}: its backward failed on Tensor gradients (create_graph=True); it is "
                           f"probably written for NumPy arrays only ({type(e).__name__}: {e})") from e


def _graph_gradient(fn: Function, i: int, g: Any, shape: tuple[int, ...], dtype: np.dtype) -> Tensor:
    """One input gradient under create_graph=True: a Tensor, summed to the input's shape, in its dtype."""
    if not isinstance(g, _tensor_class()):
        raise RuntimeError(f"{_where(fn)}: backward returned a {type(g).__name__} for input {i} under "
                           "create_graph=True, where a Tensor is needed; this op's backward has no Tensor "
                           "formula yet, so its gradient cannot be differentiated again")
    g = sum_to_shape(g, shape)
    return g if g.dtype == dtype else g.to(dtype)


# --------------------------------------------------------------------------------------------
# Where gradients end: hooks, retain_grad, leaves, grad()'s capture
# --------------------------------------------------------------------------------------------


def _capture_keys(tensors: Sequence[Tensor]) -> dict:
    """Where ``grad()`` collects each input's gradient: a leaf by identity, any other tensor by the
    node output it is (so two Tensor objects for one output slot are the same input, as in PyTorch)."""
    return {(id(t) if t.grad_fn is None else (id(t.grad_fn), t._output_index)): i for i, t in enumerate(tensors)}


def _run_output_hooks(fn: Function, grads: list, capture: dict | None, captured: list | None, graph: bool) -> list:
    """Hooks and retain_grad() of non-leaf outputs, once their gradient is complete."""
    Tensor = _tensor_class()
    for i, ref in enumerate(fn.outputs):
        t = ref()
        if grads[i] is None:
            continue
        hooks = t._hooks if t is not None else (fn.output_hooks or {}).get(i)
        for hook in hooks or ():
            replaced = hook(grads[i] if graph else Tensor(grads[i]))
            if replaced is not None:
                grads[i] = replaced if graph else replaced._array
        if capture is not None:
            pos = capture.get((id(fn), i))
            if pos is not None:
                captured[pos] = grads[i] if captured[pos] is None else captured[pos] + grads[i]
        elif t is not None and t._retains_grad:
            _accumulate(t, grads[i], graph)
    return grads


def _deliver_to_leaf(t: Tensor, g: Any, capture: dict | None, captured: list | None, graph: bool,
                     owned: bool = False) -> None:
    """Hooks, then ``t.grad += g`` (or ``grad()``'s capture). ``owned``: ``t.grad`` may keep ``g`` itself."""
    Tensor = _tensor_class()
    if t._hooks:
        owned = False  # a hook may keep the gradient it is shown
    for hook in t._hooks or ():
        replaced = hook(g if graph else Tensor(g))
        if replaced is not None:
            g = replaced if graph else replaced._array
    if capture is not None:
        pos = capture.get(id(t))
        if pos is not None:
            captured[pos] = g if captured[pos] is None else captured[pos] + g
        return
    _accumulate(t, g, graph, owned)


def _accumulate(t: Tensor, g: Any, graph: bool, owned: bool = False) -> None:
    """``t.grad += g``. Under create_graph the sum is recorded (a new Tensor), as in PyTorch.

    The first gradient is kept as it is when the engine ``owned`` it (nothing else refers to it)
    and it is contiguous in ``t``'s dtype; otherwise ``t.grad`` gets its own copy, because ``g`` may
    be shared with other gradients or the user.
    """
    if graph:
        t.grad = g.clone() if t.grad is None else t.grad + g
    elif t.grad is None:
        if owned and g.dtype == t.dtype and g.flags.c_contiguous:
            t.grad = _tensor_class()(g)
        else:
            t.grad = _tensor_class()(np.array(g, dtype=t.dtype, copy=True))
    else:
        t.grad._array += g


# --------------------------------------------------------------------------------------------
# The public entry points
# --------------------------------------------------------------------------------------------


def _root_gradient(t: Tensor, gradient: Any, who: str, graph: bool = False) -> Any:
    """The gradient fed into output ``t``: ones for a scalar, else the one given (checked)."""
    Tensor = _tensor_class()
    if gradient is None:
        if t._array.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs, but the output has "
                f"shape {t.shape}; pass gradient= (a tensor of that shape), or reduce it first (e.g. .sum())"
            )
        ones = np.ones(t._array.shape, t._array.dtype)  # (ones_like: the same, through more Python)
        return Tensor(ones) if graph else ones
    if graph and isinstance(gradient, Tensor):  # it may itself be in a graph (the double-vjp trick)
        g = gradient if gradient.dtype == t.dtype else gradient.to(t.dtype)
    else:
        g = np.asarray(gradient._array if isinstance(gradient, Tensor) else gradient, dtype=t.dtype)
        g = Tensor(g) if graph else g
    if g.shape != t.shape:
        raise RuntimeError(f"{who}: gradient has shape {g.shape} but the output has shape {t.shape}")
    return g


def _as_list(tensors: Any, who: str, what: str) -> list:
    """One Tensor or a sequence of them, as a list of Tensors (a clear error for anything else)."""
    Tensor = _tensor_class()
    items = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: {what} must be Tensors, {what[:-1]} {i} is a {type(t).__name__}")
    return items


def _check_requires_grad(tensors: list, who: str, what: str) -> None:
    for i, t in enumerate(tensors):
        if not t.requires_grad:
            if what == "inputs":
                raise RuntimeError(f"{who}: input {i} (shape {t.shape}) does not require grad; create it with "
                                   "requires_grad=True or call .requires_grad_()")
            raise RuntimeError(f"{who}: {what[:-1]} {i} (shape {t.shape}) does not require grad and has no grad_fn "
                               "(was it made under no_grad(), detached, or from inputs that don't require grad?)")


def _grad_list(grads: Any, n: int, who: str) -> list:
    if grads is None:
        return [None] * n
    if not isinstance(grads, (list, tuple)):  # one Tensor (or array) for one output
        grads = [grads]
    if len(grads) != n:
        raise ValueError(f"{who}: got {len(grads)} gradients for {n} outputs")
    return list(grads)


def backward(tensors: Tensor | Sequence[Tensor], grad_tensors: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Tensor | Sequence[Tensor] | None = None) -> None:
    """Accumulate d tensors / d leaf into every leaf's ``.grad`` (``tensor.backward()`` calls this).

    ``create_graph=True`` records the backward pass, so the gradients can be differentiated again;
    ``retain_graph`` then defaults to True. ``inputs`` limits accumulation to those tensors.

    Example::

        >>> import minigrad as mg
        >>> a, b = mg.tensor([1.0], requires_grad=True), mg.tensor([2.0], requires_grad=True)
        >>> mg.autograd.backward((a * b).sum(), inputs=[a])
        >>> a.grad, b.grad
        (tensor([2.]), None)
    """
    roots = _as_list(tensors, "backward", "tensors")
    if not roots:
        raise RuntimeError("backward: no tensors given to differentiate")
    for t in roots:
        if not t.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no grad_fn (was it made under "
                "no_grad(), detached, or from inputs that don't require grad?)"
            )
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = [_root_gradient(t, g, "backward", create_graph)
                  for t, g in zip(roots, _grad_list(grad_tensors, len(roots), "backward"))]
    if create_graph:
        warnings.warn(
            "Using backward() with create_graph=True will create a reference cycle between the parameter and "
            "its gradient which can cause a memory leak. We recommend using autograd.grad when creating the "
            "graph to avoid this. If you have to use this function, make sure to reset the .grad fields of "
            "your parameters to None after use to break the cycle and avoid the leak.", UserWarning, stacklevel=3)
    if inputs is None:
        run_backward(roots, root_grads, retain_graph=retain_graph, create_graph=create_graph)
        return
    targets = _as_list(inputs, "backward", "inputs")
    if not targets:
        raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty")
    _check_requires_grad(targets, "backward", "inputs")
    captured = run_backward(roots, root_grads, retain_graph=retain_graph, create_graph=create_graph,
                            capture=_capture_keys(targets))
    for t, g in zip(targets, captured):
        if g is not None:
            _accumulate(t, g, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of stored in ``.grad``.

    With ``create_graph=True`` the gradients are Tensors with a graph of their own: take their
    gradient again for second derivatives. ``retain_graph`` defaults to ``create_graph``.

    Example::

        >>> import minigrad as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> (gx,) = mg.autograd.grad((x * x).sum(), x)
        >>> gx.tolist(), x.grad
        ([2.0, 4.0], None)
        >>> (g,) = mg.autograd.grad((x ** 3).sum(), x, create_graph=True)   # 3 x^2
        >>> mg.autograd.grad(g.sum(), x)[0].tolist()                       # 6 x
        [6.0, 12.0]
    """
    outputs = _as_list(outputs, "grad", "outputs")
    inputs = _as_list(inputs, "grad", "inputs")
    _check_requires_grad(inputs, "grad", "inputs")
    _check_requires_grad(outputs, "grad", "outputs")
    if materialize_grads and allow_unused is False:
        raise ValueError("grad: allow_unused must be True (or not given) when materialize_grads=True")
    allow_unused = materialize_grads or bool(allow_unused)
    grad_outputs = _grad_list(grad_outputs, len(outputs), "grad")
    if retain_graph is None:
        retain_graph = create_graph
    root_grads = [_root_gradient(t, g, "grad", create_graph) for t, g in zip(outputs, grad_outputs)]
    capture = _capture_keys(inputs)
    captured = run_backward(outputs, root_grads, retain_graph=bool(retain_graph), capture=capture,
                            create_graph=create_graph)
    Tensor = _tensor_class()
    result = []
    for i, (t, g) in enumerate(zip(inputs, captured)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; pass "
                    "allow_unused=True to get None for it"
                )
            result.append(Tensor(np.zeros_like(t._array)) if materialize_grads else None)
        elif create_graph:
            result.append(g if g.dtype == t.dtype else g.to(t.dtype))
        else:
            result.append(Tensor(np.array(g, dtype=t.dtype)))
    return tuple(result)
