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
"""

from __future__ import annotations

import contextlib
import gc
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


# --------------------------------------------------------------------------------------------
# Thread-local modes: grad on/off, the current scope, anomaly detection
# --------------------------------------------------------------------------------------------


class _Mode(threading.local):
    """Per-thread switches, so two threads training two models never disturb each other."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.scope: list[str] = []
        self.scope_name = ""
        self.anomaly = False
        self.recorder: Recorder | None = None


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


@contextlib.contextmanager
def scope(name: str) -> Iterator[None]:
    """Tag every node created inside with ``name``; nested scopes join with "/".

    The recurrent layers open one scope per layer and time step ("lstm/l0/t3"), which is how
    drawings group the unrolled graph and how ``detect_anomaly`` says *where* a NaN appeared.

    Example::

        >>> import minigrad as mg
        >>> x = mg.ones(2, requires_grad=True)
        >>> with mg.scope("rnn"), mg.scope("t0"):
        ...     y = x * 2
        >>> y.grad_fn.scope
        'rnn/t0'
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"scope: name must be a non-empty string, got {name!r}")
    _mode.scope.append(name)
    previous = _mode.scope_name
    _mode.scope_name = f"{previous}/{name}" if previous else name
    try:
        yield
    finally:
        _mode.scope.pop()
        _mode.scope_name = previous


def current_scope() -> str:
    """The scope new nodes get right now ("" outside any ``scope``)."""
    return _mode.scope_name


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise as soon as an op's forward or backward produces NaN or Inf, naming the op and scope.

    Example::

        >>> import minigrad as mg
        >>> x = mg.tensor([-1.0], requires_grad=True)
        >>> with mg.autograd.detect_anomaly():
        ...     x.log()                                        # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        RuntimeError: log produced nan in forward
    """
    previous = _mode.anomaly
    _mode.anomaly = True
    try:
        yield
    finally:
        _mode.anomaly = previous


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
    try:
        yield recorder
    finally:
        _mode.recorder = previous


def _where(fn: Function) -> str:
    return f"{fn.name} at {fn.scope}" if fn.scope else fn.name


def _check_finite(fn: Function, arrays: Sequence[np.ndarray | None], phase: str, what: str) -> None:
    for i, a in enumerate(arrays):
        if a is None or a.dtype.kind != "f" or np.isfinite(a).all():
            continue
        bad = "nan" if np.isnan(a).any() else "inf"
        detail = f" ({what} {i})" if len(arrays) > 1 else ""
        raise RuntimeError(f"{_where(fn)} produced {bad} in {phase}{detail}")


# --------------------------------------------------------------------------------------------
# The one central un-broadcasting rule
# --------------------------------------------------------------------------------------------


def sum_to_shape(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` back to ``shape``: the gradient rule of NumPy broadcasting.

    If ``x`` of shape (3, 1) was broadcast to (2, 3, 4) in the forward pass, every element of
    ``x`` was used 2*4 times, so its gradient is the sum over those copies. Ops never do this
    themselves; the engine applies it to every gradient an op returns.

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
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
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
    broadcast: the engine sums them back (``sum_to_shape``).

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
    """

    # The name shown in drawings and error messages; subclasses may set it (default: lower-case class name).
    name: str = ""
    # Set by the engine just before it calls backward: False when the graph is freed right after
    # (the default ``backward()``), so backward may overwrite its saved arrays instead of
    # allocating new ones (the fused LSTM turns its saved gates into their gradients in place).
    # True for ``backward(retain_graph=True)``, and for anyone calling ``backward`` by hand.
    retain_graph: bool = True
    # True for ops whose output may share memory with input 0 (reshape, transpose, basic indexing):
    # such an output shares the input's version counter, so an in-place change through either is seen.
    is_view: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__.lower()

    def __init__(self, **params: Any) -> None:
        # Non-tensor parameters of the op (dim, keepdim, ...) become attributes.
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
                "backward() if you need to call it twice."
            )
        for counter, version, what, shape, dtype in self._saved_versions:
            if counter[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: a {dtype} tensor of shape {shape}, which is {what} of {_where(self)}, is at "
                    f"version {counter[0]}; expected version {version} instead. Hint: {self.name} saved it for "
                    "backward; change it only after backward, or use the out-of-place form of the in-place op "
                    "(y = y + 1 instead of y.add_(1)), or .clone() the tensor before changing it."
                )
        return self._saved

    def release(self) -> None:
        """Free what only backward needed. The engine calls this unless ``retain_graph=True``."""
        self._saved = ()
        self.released = True

    # -- building the graph ----------------------------------------------------------------
    @classmethod
    def apply(cls, *inputs: Tensor | None, **params: Any) -> Any:
        """Run the op on Tensors; record a node when any input requires grad and grad is on."""
        fn = cls(**params)
        grad_on = _mode.grad_enabled
        arrays, needs = [], []
        for t in inputs:  # one pass over the inputs: this is the hot path of every op
            if t is None:
                arrays.append(None)
                needs.append(False)
            else:
                arrays.append(t._array)
                needs.append(grad_on and t._requires_grad)
        fn.needs_input_grad = tuple(needs)
        fn.scope = _mode.scope_name
        fn._saved = ()
        fn._saved_versions = ()
        fn.released = False
        raw = fn.forward(*arrays)
        if type(raw) is tuple:
            outputs = tuple(a if type(a) is np.ndarray else np.asarray(a) for a in raw)
        else:
            # NumPy ufuncs on 0-d arrays return scalars (np.float64): keep them 0-d arrays with their dtype.
            outputs = (raw if type(raw) is np.ndarray else np.asarray(raw),)
        if _mode.anomaly:
            _check_finite(fn, outputs, "forward", "output")

        Tensor = _tensor_class()
        if True not in needs:  # nothing to differentiate: plain tensors, no node kept
            outs = tuple(Tensor(a) for a in outputs)
            if cls.is_view:
                _share_memory_bookkeeping(outs, inputs[0])
            return outs if type(raw) is tuple else outs[0]

        fn.next_functions = tuple(_edge(t) if need else None for t, need in zip(inputs, needs))
        fn.input_meta = tuple((t._array.shape, t._array.dtype) if t is not None else None for t in inputs)
        outs = tuple(Tensor._from_op(a, fn, i) for i, a in enumerate(outputs))
        fn.outputs = tuple(weakref.ref(t) for t in outs)
        if cls.is_view:
            _share_memory_bookkeeping(outs, inputs[0])
        if fn._saved:
            fn._saved_versions = _versions_of_saved(fn._saved, inputs, outs)
        if _mode.recorder is not None:
            _mode.recorder.on_forward(fn, outputs)
        return outs if type(raw) is tuple else outs[0]

    def __repr__(self) -> str:
        where = f" at {self.scope}" if getattr(self, "scope", "") else ""
        return f"<{type(self).__name__}Backward{where}>"


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


def _versions_of_saved(saved: tuple, inputs: Sequence[Tensor | None], outputs: Sequence[Tensor]) -> tuple:
    """For each input or output whose memory a node saved: its counter and version now.

    Backward compares them (``saved_tensors``): a saved array that an in-place op changed since
    would silently give a wrong gradient, so it raises instead, as PyTorch does.
    """
    recorded = []
    for a in saved:
        if type(a) is not np.ndarray:
            continue
        for i, t in enumerate(inputs):
            if t is not None and (a is t._array or (a.base is not None and a.base is t._array)):
                counter = version_counter(t)
                recorded.append((counter, counter[0], f"input {i}", t._array.shape, t._array.dtype))
                break
        else:
            for j, t in enumerate(outputs):
                if a is t._array:
                    recorded.append((version_counter(t), 0, f"output {j}", a.shape, a.dtype))
                    break
    return tuple(recorded)


def _tensor_class() -> type:
    """minigrad.tensor.Tensor (imported late: tensor.py imports this module)."""
    global _Tensor
    if _Tensor is None:
        from minigrad.tensor import Tensor

        _Tensor = Tensor
    return _Tensor


_Tensor: type | None = None


def _edge(t: Tensor) -> Function | Tensor | tuple[Function, int]:
    """Where the gradient for input ``t`` goes: its creator's output slot, or ``t`` itself if a leaf."""
    return (t.grad_fn, t._output_index) if t.grad_fn is not None else t


# --------------------------------------------------------------------------------------------
# The engine: iterative reverse topological order
# --------------------------------------------------------------------------------------------


def _collect(roots: Sequence[Function]) -> dict[Function, int]:
    """Every node reachable from ``roots`` with the number of gradients it waits for.

    A plain explicit stack instead of recursion: a 100,000-step chain is fine.
    """
    waiting: dict[Function, int] = {}
    stack = list(roots)
    seen = set(roots)
    while stack:
        fn = stack.pop()
        for edge in fn.next_functions:
            if type(edge) is tuple:
                parent = edge[0]
                waiting[parent] = waiting.get(parent, 0) + 1
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
    for fn in seen:
        waiting.setdefault(fn, 0)
    return waiting


def _add(buffer: list, index: int, grad: np.ndarray) -> None:
    old = buffer[index]
    buffer[index] = grad if old is None else old + grad


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[np.ndarray],
    retain_graph: bool = False,
    capture: dict[int, int] | None = None,
) -> list[np.ndarray | None] | None:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Normally gradients arriving at leaves are accumulated into ``leaf.grad``. With ``capture``
    (``id(tensor) -> position``, used by ``grad()``), gradients of those tensors are returned in
    a list instead and no ``.grad`` is touched.
    """
    # The cyclic garbage collector would scan the whole graph again and again while backward
    # allocates gradients; nothing here makes cycles (reference counting frees everything), so
    # it is paused for the duration.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _run_backward(roots, root_grads, retain_graph, capture)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_backward(roots, root_grads, retain_graph, capture):
    captured: list[np.ndarray | None] | None = [None] * len(capture) if capture is not None else None
    pending: dict[Function, list] = {}  # node -> gradient buffer, one slot per output
    leaf_roots = []
    for t, g in zip(roots, root_grads):
        if t.grad_fn is None:
            leaf_roots.append((t, g))
            continue
        buf = pending.setdefault(t.grad_fn, [None] * len(t.grad_fn.outputs))
        _add(buf, t._output_index, g)

    waiting = _collect(list(pending))
    ready = [fn for fn in pending if waiting[fn] == 0]
    # A node's own gradient is complete once every consumer in the graph has run; a root that is
    # also consumed by another root waits for it. `ready` is a stack: any order that respects
    # the dependency counts is a valid reverse topological order.
    for t, g in leaf_roots:
        _deliver_to_leaf(t, g, capture, captured)

    while ready:
        fn = ready.pop()
        grads = pending.pop(fn, None) or [None] * len(fn.outputs)
        grads = _run_output_hooks(fn, grads, capture, captured)
        if fn.released:
            _ = fn.saved_tensors  # raises the "backward twice" error with the node's name
        fn.retain_graph = retain_graph
        if _mode.recorder is not None:
            _mode.recorder.on_backward(fn, grads)
        if len(grads) == 1:
            in_grads = fn.backward(grads[0])
        else:
            in_grads = fn.backward(*grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) != len(fn.next_functions):
            raise RuntimeError(
                f"internal: {fn.name}.backward returned {len(in_grads)} gradients for "
                f"{len(fn.next_functions)} inputs"
            )
        if _mode.anomaly:
            _check_finite(fn, in_grads, "backward", "gradient for input")
        if not retain_graph:
            fn.release()
        for edge, g, meta in zip(fn.next_functions, in_grads, fn.input_meta):
            if edge is None:
                continue
            if g is not None:
                shape, dtype = meta
                g = sum_to_shape(np.asarray(g), shape)
                if g.dtype != dtype:
                    g = g.astype(dtype)
            if type(edge) is tuple:
                parent, index = edge
                if g is not None:
                    buf = pending.get(parent)
                    if buf is None:
                        buf = pending[parent] = [None] * len(parent.outputs)
                    _add(buf, index, g)
                waiting[parent] -= 1
                if waiting[parent] == 0:
                    ready.append(parent)
            elif g is not None:
                _deliver_to_leaf(edge, g, capture, captured)
    return captured


def _run_output_hooks(fn: Function, grads: list, capture: dict | None, captured: list | None) -> list:
    """Hooks and retain_grad() of non-leaf outputs, once their gradient is complete."""
    from minigrad.tensor import Tensor

    for i, ref in enumerate(fn.outputs):
        t = ref()
        if t is None or grads[i] is None:
            continue
        for hook in t._hooks or ():
            replaced = hook(Tensor(grads[i]))
            if replaced is not None:
                grads[i] = replaced._array
        if capture is not None:
            pos = capture.get(id(t))
            if pos is not None:
                captured[pos] = grads[i] if captured[pos] is None else captured[pos] + grads[i]
        elif t._retains_grad:
            g = grads[i]
            if t.grad is None:
                t.grad = Tensor(g.copy())
            else:
                t.grad._array = t.grad._array + g
    return grads


def _deliver_to_leaf(t: Tensor, g: np.ndarray, capture: dict | None, captured: list | None) -> None:
    from minigrad.tensor import Tensor

    for hook in t._hooks or ():
        replaced = hook(Tensor(g))
        if replaced is not None:
            g = replaced._array
    if capture is not None:
        pos = capture.get(id(t))
        if pos is not None:
            captured[pos] = g if captured[pos] is None else captured[pos] + g
        return
    if t.grad is None:
        # Own a fresh contiguous copy: g may be a view shared with other gradients.
        t.grad = Tensor(np.array(g, dtype=t.dtype, copy=True))
    else:
        t.grad._array += g


def _root_gradient(t: Tensor, gradient: Any, who: str) -> np.ndarray:
    if gradient is None:
        if t._array.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs, but the output has "
                f"shape {t.shape}; pass gradient= (a tensor of that shape), or reduce it first (e.g. .sum())"
            )
        return np.ones_like(t._array)
    g = gradient._array if hasattr(gradient, "_array") else gradient
    g = np.asarray(g, dtype=t.dtype)
    if g.shape != t.shape:
        raise RuntimeError(f"{who}: gradient has shape {g.shape} but the output has shape {t.shape}")
    return g


def backward(tensor: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """``tensor.backward()``: accumulate d tensor / d leaf into every leaf's ``.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no grad_fn (was it made under "
            "no_grad(), detached, or from inputs that don't require grad?)"
        )
    g = _root_gradient(tensor, gradient, "backward")
    run_backward([tensor], [g], retain_graph=retain_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of stored in ``.grad``.

    Example::

        >>> import minigrad as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> (gx,) = mg.autograd.grad((x * x).sum(), x)
        >>> gx.tolist(), x.grad
        ([2.0, 4.0], None)
    """
    from minigrad.tensor import Tensor

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):  # one Tensor (or array) for one output
        grad_outputs = [grad_outputs]
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs must be Tensors, input {i} is a {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad; create it with "
                               "requires_grad=True or call .requires_grad_()")
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: outputs must be Tensors, output {i} is a {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} (shape {t.shape}) does not require grad and has no grad_fn "
                               "(was it made under no_grad(), detached, or from inputs that don't require grad?)")
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    root_grads = [_root_gradient(t, g, "grad") for t, g in zip(outputs, grad_outputs)]
    capture = {id(t): i for i, t in enumerate(inputs)}
    captured = run_backward(outputs, root_grads, retain_graph=bool(retain_graph), capture=capture)
    result = []
    for i, (t, g) in enumerate(zip(inputs, captured)):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; pass "
                "allow_unused=True to get None for it"
            )
        result.append(None if g is None else Tensor(np.array(g, dtype=t.dtype)))
    return tuple(result)


# --------------------------------------------------------------------------------------------
# Gradient check: the test every op must pass
# --------------------------------------------------------------------------------------------


class GradcheckError(AssertionError):
    """Analytical and numerical gradients disagree."""


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare autograd's gradients with central finite differences (float64).

    Every input that requires grad is perturbed element by element; ``fn`` may return a tensor
    of any shape (it is reduced with a fixed random weighting so that every output counts).
    Returns True or raises ``GradcheckError`` naming the worst mismatch.

    Example::

        >>> import minigrad as mg
        >>> x = mg.randn(3, dtype=mg.float64, requires_grad=True)
        >>> mg.autograd.gradcheck(lambda t: (t * t).tanh(), [x])
        True
    """
    from minigrad.tensor import Tensor

    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    for t in wrt:
        if t.dtype != np.float64:
            raise ValueError(f"gradcheck: inputs must be float64 for accurate differences, got {t.dtype}")

    def outputs_of() -> list[Tensor]:
        out = fn(*inputs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]

    with enable_grad():
        outs = outputs_of()
    rng = np.random.default_rng(1234)
    weights = [rng.standard_normal(o.shape) for o in outs]

    def objective() -> float:
        with no_grad():
            return float(sum((o._array * w).sum() for o, w in zip(outputs_of(), weights)))

    # Analytical: one backward of sum(w * out).
    usable = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
    analytic = [np.zeros(t.shape) for t in wrt]
    if usable:
        captured = run_backward(
            [o for o, _ in usable],
            [np.asarray(w, dtype=o.dtype) for o, w in usable],
            capture={id(t): i for i, t in enumerate(wrt)},
        )
        analytic = [np.zeros(t.shape) if g is None else np.asarray(g, dtype=np.float64) for t, g in
                    zip(wrt, captured)]

    worst = None
    for k, t in enumerate(wrt):
        for idx in np.ndindex(t.shape):  # (nditer refuses zero-size arrays)
            old = t._array[idx].copy()
            t._array[idx] = old + eps
            plus = objective()
            t._array[idx] = old - eps
            minus = objective()
            t._array[idx] = old
            numeric = (plus - minus) / (2 * eps)
            a = analytic[k][idx]
            err = abs(a - numeric)
            if err > atol + rtol * abs(numeric):
                score = err - (atol + rtol * abs(numeric))
                if worst is None or score > worst[0]:
                    worst = (score, k, idx, a, numeric)
    if worst is not None:
        _, k, idx, a, numeric = worst
        raise GradcheckError(
            f"gradcheck: gradient mismatch for input {k} (shape {wrt[k].shape}) at index {idx}: "
            f"analytical {a:.10g} vs numerical {numeric:.10g} (atol={atol}, rtol={rtol})"
        )
    return True


def __getattr__(name: str) -> Any:
    # `mg.autograd.Variable`, PyTorch's pre-0.4 wrapper, lives with the other legacy names.
    if name == "Variable":
        from minigrad.legacy import Variable

        return Variable
    raise AttributeError(f"module 'minigrad.autograd' has no attribute {name!r}")
