"""In-place ops (``x.add_(y)``, ``x[i] = v``, ``x += 1``) and the rules that keep them honest.

An in-place op changes memory that something else may still need. PyTorch has three rules for
that, and minigrad follows them:

1. **Saved values are checked.** A node may have saved the very memory an in-place op changes
   (``y = x.exp()`` saves ``y`` for its backward). Every tensor carries a *version counter* that
   each in-place op bumps (views share it with the tensor they view). A node remembers the version
   of everything it saved, and backward raises "one of the variables needed for gradient
   computation has been modified by an inplace operation" instead of using changed numbers.
2. **Leaves that require grad are protected.** Changing a parameter in place while autograd is
   recording would lose the value its gradient is taken at, so it raises. Optimizers update
   parameters under ``mg.no_grad()`` (or through ``p.data``), where it is allowed.
3. **In-place ops are differentiable.** While autograd records, ``x.mul_(y)`` is computed as
   ``x * y`` on a snapshot of the old ``x``, the result is written into ``x``'s memory, and ``x``
   is moved onto the new node: exactly as if ``x = x * y`` had been written, but in ``x``'s memory.

Example::

    >>> import minigrad as mg
    >>> w = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> h = w * 3
    >>> h.add_(1)                        # differentiable: h = h + 1, in h's memory
    tensor([4., 7.], grad_fn=<AddBackward>)
    >>> h.sum().backward(); w.grad
    tensor([3., 3.])
"""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad import autograd
from minigrad.autograd import Function, is_grad_enabled, version_counter
from minigrad.errors import ShapeError
from minigrad.kernels.optim import add_scaled
from minigrad.ops.elementwise import Add, Sub
from minigrad.ops.indexing import _is_basic, normalize_index
from minigrad.tensor import Tensor, as_array


def _check_can_change(t: Tensor, op: str) -> None:
    """Rule 2, and memory that cannot be written at all (a broadcast view from expand)."""
    if not t._array.flags.writeable:
        raise RuntimeError(f"{op}: this tensor's memory (shape {t.shape}) is read-only, e.g. a broadcast view "
                           "made by expand(); change a copy made with .clone() instead")
    if not is_grad_enabled():
        return
    if t.requires_grad and t.grad_fn is None:
        raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation. "
                           "Update parameters under `with mg.no_grad():` (as optimizers do) or through "
                           "`p.data`, or change a copy made with .clone()")
    base = t._base
    if base is not None and base.requires_grad and base.grad_fn is None:
        raise RuntimeError(f"{op}: a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation. Do it under `with mg.no_grad():`, or change a .clone() of the leaf")


# Arithmetic in place must not change the kind of number a tensor holds (int += 0.5 is an error, as
# in PyTorch); copy_, fill_ and index assignment convert, as PyTorch's do.
CONVERTING_OPS = frozenset({"copy_", "fill_", "zero_", "uniform_", "normal_", "bernoulli_", "exponential_"})


# In-place ops whose result ignores the tensor's old values.
OVERWRITING_OPS = frozenset({"copy_", "fill_", "zero_"})


def _write(t: Tensor, result: Tensor, op: str) -> None:
    """Write ``result`` into ``t``'s memory: same shape, and (for arithmetic) the same kind of number."""
    if result._array.shape != t._array.shape:
        raise ShapeError(f"{op}: the result has shape {result.shape}, but an in-place op must keep the tensor's "
                         f"shape {t.shape} (the other operand may broadcast to it, not the other way round)")
    casting = "unsafe" if op in CONVERTING_OPS else "same_kind"
    new, old = result._array.dtype, t._array.dtype
    if new != old and not np.can_cast(new, old, casting=casting):
        raise RuntimeError(f"{op}: result type {result._array.dtype} can't be cast to the desired output type "
                           f"{t._array.dtype} of this in-place op; use the out-of-place form, which promotes")
    if result._array is not t._array:
        np.copyto(t._array, result._array, casting=casting)


def _snapshot(t: Tensor) -> Tensor:
    """The same place in the graph as ``t``, with a private copy of its current values.

    The op computing the new value may save its input for backward; it must save the *old*
    values, which ``t``'s memory is about to lose.
    """
    s = Tensor._from_op(t._array.copy(), t.grad_fn, t._output_index)
    s._requires_grad = t._requires_grad
    return s


def _rebase(t: Tensor, result: Tensor) -> None:
    """Make ``t`` the output of ``result``'s node: from now on, gradients for ``t`` flow into it.

    If the node saved its output (``exp_``, ``sqrt_``), it now saves ``t``'s memory, at ``t``'s
    version: a later in-place change of ``t`` is caught by backward, as in PyTorch.
    """
    if t.grad_fn is not None and (t._hooks or t._retains_grad):
        _leave_hooks_with_old_value(t)
    fn, index = result.grad_fn, result._output_index
    t.grad_fn, t._output_index, t._requires_grad = fn, index, True
    if t._hooks or t._retains_grad:
        fn.watched = True
    outputs = list(fn.outputs)
    outputs[index] = weakref.ref(t)
    fn.outputs = tuple(outputs)
    if fn._saved and any(a is result._array for a in fn._saved):
        fn._saved = tuple(t._array if a is result._array else a for a in fn._saved)
        counter = version_counter(t)
        versions = list(fn._saved_versions)  # flat: counter, version, role, k for each saved value
        for at in range(0, len(versions), 4):
            if versions[at + 2] == ("output", index):
                versions[at:at + 2] = counter, counter[0]
        fn._saved_versions = tuple(versions)


class _Gone:
    pass


_NO_TENSOR = weakref.ref(_Gone())  # a reference whose object is already gone: calling it gives None


def _leave_hooks_with_old_value(t: Tensor) -> None:
    """The hooks registered on ``t`` so far see the gradient of the value it had, as in PyTorch.

    They stay with the node that made that value (``Function.output_hooks``), which no longer
    points at ``t``; hooks registered from now on, and ``retain_grad``, follow ``t``'s new value.
    """
    fn, index = t.grad_fn, t._output_index
    if t._hooks:
        fn.output_hooks = {**(fn.output_hooks or {}), index: t._hooks}
        t._hooks = None
    outputs = list(fn.outputs)
    outputs[index] = _NO_TENSOR
    fn.outputs = tuple(outputs)


def _view_in_graph_error(op: str) -> RuntimeError:
    return RuntimeError(
        f"{op}: in-place change, recorded by autograd, of a view (made by indexing, reshape or transpose): "
        "minigrad cannot move the tensor it views onto the new node. Assign into that tensor itself "
        "(x[idx] = value), or use the out-of-place op")


def _any_requires_grad(operands: tuple) -> bool:
    for o in operands:
        if isinstance(o, Tensor) and o._requires_grad:
            return True
    return False


def apply_inplace(t: Tensor, op: str, compute: Callable[[Tensor], Tensor], *operands: Any,
                  saves_old: bool = True) -> Tensor:
    """``t = compute(t)``, written into ``t``'s memory, with PyTorch's three rules (module docstring).

    ``operands`` are the other tensors ``compute`` uses: if any of them (or ``t``) requires grad
    while autograd records, the change is differentiable. Every in-place method goes through here,
    so the rules live in one place. ``saves_old=False`` says that no node ``compute`` makes keeps
    ``t``'s old values for its backward (``t + c``, ``t - c``): ``compute`` then reads ``t``
    itself instead of a private copy of them.

    Example::

        >>> import minigrad as mg
        >>> x = mg.zeros(3)
        >>> apply_inplace(x, "add_", lambda s: s + 2)
        tensor([2., 2., 2.])
        >>> x._version
        1
    """
    _check_can_change(t, op)
    records = is_grad_enabled() and (t._requires_grad or _any_requires_grad(operands))
    if not records:  # optimizer updates, initialisation, data preparation: just change the memory
        with autograd.no_grad():
            _write(t, compute(t), op)
        version_counter(t)[0] += 1
        return t
    if t._base is not None:
        raise _view_in_graph_error(op)
    snapshot = _snapshot(t) if saves_old else t
    result = compute(snapshot)
    if not result.requires_grad or (op in OVERWRITING_OPS and snapshot.requires_grad):
        # The new value does not depend on t's old one (zero_, fill_, copy_), yet the old one stays in
        # the graph with a zero gradient, as in PyTorch: so backward still reaches, and checks, the
        # node that made it (which may have saved the very memory just overwritten).
        from minigrad.ops.elementwise import where

        result = where(np.ones(t.shape, dtype=bool), result, snapshot)
    _write(t, result, op)
    version_counter(t)[0] += 1
    _rebase(t, result)
    return t


# --------------------------------------------------------------------------------------------
# x[index] = value
# --------------------------------------------------------------------------------------------


class IndexPut(Function):
    """``x[index] = value``, written into ``x``'s own memory (the output *is* ``x``'s array).

    Nothing is saved for backward, so writing in place is safe and costs only the assigned part,
    not a copy of the whole tensor: RNN loops fill a buffer step by step this way.
    Backward: the assigned positions of ``x`` were overwritten, so they get no gradient; ``value``
    gets the gradient of the positions it was written to (summed back to its shape by the engine
    when it was broadcast).
    """

    name = "index_put"

    def forward(self, x, value):
        x[self.index] = value
        return x

    def backward(self, grad):
        if self.create_graph:  # the same, from differentiable ops: a constant mask, and indexing
            from minigrad.ops.indexing import getitem

            kept = np.ones(grad.shape, dtype=bool)
            kept[self.index] = False
            return grad * kept, getitem(grad, self.index)
        grad_x = grad.copy()
        grad_x[self.index] = 0
        return grad_x, grad[self.index]


def setitem(t: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value``: in place, differentiable for both ``t`` and ``value`` while recording.

    Example::

        >>> import minigrad as mg
        >>> h = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> out = mg.zeros(3)
        >>> out[1:] = h * 2                  # common in RNN loops: collect states into a buffer
        >>> out.sum().backward(); h.grad
        tensor([2., 2.])
    """
    if type(value) in (int, builtins.float, bool) and _number_written_directly(t, index, value):
        return
    normalized = normalize_index(index, t.shape)
    value_t = value if isinstance(value, Tensor) else Tensor(as_array(value))
    try:
        selected = t._array[normalized]
    except IndexError as e:
        raise IndexError(f"setitem on a tensor of shape {t.shape}: {e}") from None
    try:
        np.broadcast_shapes(value_t.shape, np.shape(selected))
    except ValueError:
        raise ShapeError(f"setitem: value of shape {value_t.shape} cannot be assigned to the selected part of "
                         f"shape {np.shape(selected)} (of a tensor of shape {t.shape}); it must have that shape "
                         "or broadcast to it") from None
    if not np.can_cast(value_t._array.dtype, t._array.dtype, casting="same_kind") and value_t.ndim:
        raise RuntimeError(f"setitem: a value of dtype {value_t._array.dtype} can't be stored in a tensor of dtype "
                           f"{t._array.dtype}; convert it first (e.g. .to({t._array.dtype}))")

    _check_can_change(t, "setitem")
    records = is_grad_enabled() and (t.requires_grad or value_t.requires_grad)
    if records and t._base is not None:
        raise _view_in_graph_error("setitem")
    if records:
        alias = Tensor(t._array)  # t's memory and t's place in the graph, for IndexPut to write into
        alias.grad_fn, alias._output_index, alias._requires_grad = t.grad_fn, t._output_index, t._requires_grad
        _rebase(t, IndexPut.apply(alias, value_t, index=normalized))
    else:
        t._array[normalized] = value_t._array  # a plain write: nothing to differentiate
    version_counter(t)[0] += 1


def _number_written_directly(t: Tensor, index: Any, value: builtins.float | int | bool) -> bool:
    """``t[index] = number`` as NumPy's own assignment, if that is all it means; False if not done.

    A float tensor autograd does not watch and a basic index (ints, slices without a step), as
    in building one-hot inputs (``tensor[li][0][letter] = 1``): NumPy's meaning is PyTorch's.
    """
    a = t._array
    if a.dtype.kind != "f" or (t._requires_grad and is_grad_enabled()) or not _is_basic(index):
        return False
    _check_can_change(t, "setitem")
    try:
        a[index] = value
    except IndexError as e:
        raise IndexError(f"setitem on a tensor of shape {t.shape}: {e}") from None
    version_counter(t)[0] += 1
    return True


# --------------------------------------------------------------------------------------------
# The in-place methods, each the out-of-place op it mirrors
# --------------------------------------------------------------------------------------------


def _number(value: Any, op: str) -> builtins.float | int | bool:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise TypeError(f"{op}: expected a number or a one-element tensor, got a tensor of shape {value.shape}")
        return value.item()
    if not isinstance(value, (int, builtins.float, builtins.bool, np.number, np.bool_)):
        raise TypeError(f"{op}: expected a number, got {type(value).__name__}")
    return value


def split_alpha(args: tuple, alpha: Any, op: str) -> tuple[Any, Any]:
    """``add_(other, alpha=a)``, or the deprecated ``add_(alpha, other)`` that old tutorials use."""
    if len(args) == 2:
        if alpha != 1:
            raise TypeError(f"{op}: alpha given twice (as the first argument and as alpha=)")
        return args[1], _number(args[0], op)
    if len(args) != 1:
        raise TypeError(f"{op}: expected (other, *, alpha=1), got {len(args)} positional arguments")
    return args[0], alpha


def scaled(other: Any, alpha: Any) -> Any:
    """``alpha * other``, skipping the multiply for the usual alpha=1."""
    return other if alpha == 1 else other * alpha


def arithmetic_(t: Tensor, op: str, out_of_place: Callable, ufunc: np.ufunc, other: Any, alpha: Any = 1) -> Tensor:
    """``add_``, ``sub_``, ``mul_``, ``div_``: ``t = out_of_place(t, alpha * other)`` in ``t``'s memory.

    Hand-written optimizer loops (``p.data.add_(p.grad.data, alpha=-lr)``) change float tensors
    that autograd does not watch; there the change is one NumPy ufunc written straight into
    ``t``'s memory. Everything else (recording, integers, an ``other`` that would grow ``t``)
    takes ``apply_inplace`` and its rules.

    Example::

        >>> import minigrad as mg
        >>> w = mg.ones(2)
        >>> arithmetic_(w, "sub_", lambda a, b: a - b, np.subtract, mg.tensor([2.0, 4.0]), alpha=0.5)
        tensor([ 0., -1.])
    """
    if not _written_directly(t, ufunc, other, alpha) and not _recorded_into_memory(t, ufunc, other, alpha):
        # Recorded: t + alpha * other and t - alpha * other keep nothing of t for backward.
        apply_inplace(t, op, lambda s: out_of_place(s, scaled(other, alpha)), other,
                      saves_old=ufunc is not np.add and ufunc is not np.subtract)
    return t


class AddInto(Add):
    """``t += other`` recorded, with the sum written straight into ``t``'s memory; backward is Add's."""

    name, kind = "add", "Add"

    def forward(self, a, b):
        return np.add(a, b, out=a)


class SubInto(Sub):
    """``t -= other`` recorded, with the difference written straight into ``t``'s memory; backward is Sub's."""

    name, kind = "sub", "Sub"

    def forward(self, a, b):
        return np.subtract(a, b, out=a)


_INTO_MEMORY = {np.add: AddInto, np.subtract: SubInto}


def _recorded_into_memory(t: Tensor, ufunc: np.ufunc, other: Any, alpha: Any) -> bool:
    """Do a recorded ``t += other`` (``-=``) as one node that writes into ``t``'s memory; False if not done.

    Rule: only where ``apply_inplace`` would do exactly the same. Add and Sub save nothing, so
    ``t``'s old values need no snapshot; ``other`` has ``t``'s float dtype and shape (or is one
    number of no more dimensions), so the result needs no broadcasting check or cast; ``t`` is no
    view and has no hooks, so moving it onto the node is three assignments. The loss summed over a
    sequence (``loss += criterion(out, y)``) is this case; everything else takes ``apply_inplace``.

    Example::

        >>> import minigrad as mg
        >>> loss = mg.zeros(1)
        >>> loss += (mg.ones(2, requires_grad=True) * 2).sum()
        >>> loss.grad_fn, loss._version
        (<AddBackward>, 1)
    """
    node = _INTO_MEMORY.get(ufunc)
    if node is None or alpha != 1 or not isinstance(other, Tensor) or not is_grad_enabled():
        return False
    if not (t._requires_grad or other._requires_grad) or (t._requires_grad and t.grad_fn is None):
        return False  # nothing to record, or a leaf that requires grad (apply_inplace raises)
    a, b = t._array, other._array
    if b.dtype != a.dtype or a.dtype.kind != "f" or (b.shape != a.shape and (b.size != 1 or b.ndim > a.ndim)):
        return False
    if t._base is not None or t._hooks or t._retains_grad or not a.flags.writeable:
        return False
    fn = node.apply(t, other).grad_fn
    version_counter(t)[0] += 1
    t.grad_fn, t._output_index, t._requires_grad = fn, 0, True
    fn._outputs = weakref.ref(t)
    return True


def _written_directly(t: Tensor, ufunc: np.ufunc, other: Any, alpha: Any) -> bool:
    """Do ``ufunc(t, alpha * other, out=t)`` if that is all the op means; False if not done."""
    is_tensor = isinstance(other, Tensor)
    if is_grad_enabled() and (t._requires_grad or (is_tensor and other._requires_grad)):
        return False
    a = t._array
    if a.dtype.char not in "fd" or not a.flags.writeable or type(alpha) not in (int, builtins.float):
        return False
    if is_tensor:
        b = other._array
        # Float operands only, and a 0-d one of t's own dtype: NumPy would compute an integer or a
        # 0-d float64 operand with a float32 t in float64, where PyTorch keeps t's float type (the
        # last bit could differ).
        if b.dtype.char not in "fd" or (b.ndim == 0 and b.dtype != a.dtype) or (
                b.shape != a.shape and not _broadcasts_to(b.shape, a.shape)):
            return False
    elif type(other) in (int, builtins.float):
        b = other
    else:
        return False
    if alpha != 1 and type(b) is np.ndarray and (ufunc is np.add or ufunc is np.subtract):
        add_scaled(a, b, alpha if ufunc is np.add else -alpha)  # a + alpha b (a - alpha b), one pass
    else:
        ufunc(a, b if alpha == 1 else b * alpha, out=a)
    version_counter(t)[0] += 1
    return True


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def fill_(t: Tensor, value: Any) -> Tensor:
    """Every element set to ``value`` (a number or a one-element tensor, differentiable)."""
    if isinstance(value, Tensor) and value.requires_grad:
        if value.numel() != 1:
            raise RuntimeError(f"fill_: only supports a 0-dimensional value tensor, got shape {value.shape}")
        return apply_inplace(t, "fill_", lambda s: value.reshape(()).expand(*s.shape), value)
    number = _number(value, "fill_")
    if t._array.dtype.kind == "f" and not (t._requires_grad and is_grad_enabled()):
        return _fill_memory(t, number, "fill_")
    return apply_inplace(t, "fill_", lambda s: constant_like(s, number))


def zero_(t: Tensor) -> Tensor:
    """Every element set to 0 (``param.grad.zero_()`` between steps); recorded when autograd watches ``t``.

    Example::

        >>> import minigrad as mg
        >>> g = mg.ones(3)
        >>> zero_(g).tolist(), g._version
        ([0.0, 0.0, 0.0], 1)
    """
    if t._requires_grad and is_grad_enabled():
        return apply_inplace(t, "zero_", lambda s: constant_like(s, 0))
    return _fill_memory(t, 0, "zero_")


def _fill_memory(t: Tensor, number: Any, op: str) -> Tensor:
    """A number written into every element, nothing recorded, no new array made.

    Only for numbers NumPy's ``fill`` converts as ``apply_inplace`` would (``np.full``, then a copy):
    0 into any dtype, any number into a float tensor. (NaN into an integer tensor, say, they do not.)
    """
    _check_can_change(t, op)
    t._array.fill(number)
    version_counter(t)[0] += 1
    return t


def constant_like(t: Tensor, value: Any) -> Tensor:
    return Tensor(np.full(t.shape, value, dtype=t._array.dtype))


def copy_(t: Tensor, src: Any) -> Tensor:
    """Copy ``src`` (broadcast to ``t``'s shape, cast to its dtype) into ``t``; differentiable for ``src``."""
    src_t = src if isinstance(src, Tensor) else Tensor(as_array(src))
    try:
        fits = np.broadcast_shapes(src_t.shape, t.shape) == t.shape
    except ValueError:
        fits = False
    if not fits:
        raise ShapeError(f"copy_: source of shape {src_t.shape} cannot be copied into a tensor of shape "
                         f"{t.shape} (it must have that shape or broadcast to it)")

    def compute(s: Tensor) -> Tensor:
        if not is_grad_enabled():
            return Tensor(np.broadcast_to(src_t._array, s.shape))
        moved = src_t.to(s.dtype) if src_t.dtype != s.dtype else src_t.clone()  # a node of its own
        return moved.expand(*s.shape) if moved.shape != s.shape else moved

    return apply_inplace(t, "copy_", compute, src_t)


def as_mask(mask: Any, shape: tuple[int, ...], op: str) -> np.ndarray:
    """A boolean mask that broadcasts to ``shape`` (PyTorch refuses other dtypes for masks)."""
    array = mask._array if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype != np.bool_:
        raise RuntimeError(f"{op}: expected a mask of dtype bool, got {array.dtype}")
    try:
        np.broadcast_shapes(array.shape, shape)
    except ValueError:
        raise ShapeError(f"{op}: mask of shape {array.shape} does not broadcast to the tensor's shape "
                         f"{shape}") from None
    return array


def rng(generator: Any = None) -> np.random.Generator:
    """The library's random source, or the NumPy generator inside a ``generator=`` (``mg.Generator``)."""
    from minigrad.utils.generator import numpy_rng

    return numpy_rng(generator)


def random_fill(t: Tensor, op: str, draw: Callable[[tuple[int, ...]], np.ndarray]) -> Tensor:
    """Fill with random numbers from ``draw(shape)`` (``uniform_``, ``normal_``, ...): never differentiable."""
    if t._array.dtype.kind != "f":
        raise RuntimeError(f"{op}: expected a floating point tensor, got dtype {t._array.dtype}")
    with autograd.no_grad():
        return apply_inplace(t, op, lambda s: Tensor(np.asarray(draw(s.shape)).astype(s._array.dtype)))


def reshape_inplace(t: Tensor, op: str, view: Callable[[Tensor], Tensor]) -> Tensor:
    """``unsqueeze_``, ``squeeze_``, ``transpose_``, ``t_``: ``t`` becomes a view of itself in a new shape."""
    _check_can_change(t, op)
    result = view(t)
    t._array = result._array
    if result.requires_grad and is_grad_enabled():
        _rebase(t, result)
    return t
