"""``mg.autograd.functional``: derivatives of a whole function, as ``torch.autograd.functional``.

Every helper here is a few calls of ``grad``; the second-order ones use ``create_graph=True``:

- ``vjp(f, x, v)``: ``v^T J``, one backward pass.
- ``jvp(f, x, v)``: ``J v``, by the *double-vjp trick*: ``g(u) = u^T J`` is linear in ``u``, so
  differentiating it with respect to ``u`` along ``v`` gives ``J v`` (two backward passes).
- ``vhp(f, x, v)`` and ``hvp(f, x, v)``: ``v^T H`` and ``H v`` of a scalar ``f``: the gradient
  of ``grad(f) . v`` (H is symmetric for the smooth functions autograd differentiates).
- ``jacobian(f, x)`` and ``hessian(f, x)``: the full matrices, one backward pass per output
  element: for small inputs.

Inputs and results follow PyTorch's conventions: a Tensor in, a Tensor out; a tuple in, a tuple
out; results are detached unless ``create_graph=True``; ``strict=True`` raises when an output
does not depend on an input instead of returning zeros.

Example::

    >>> import minigrad as mg
    >>> from minigrad.autograd.functional import hvp
    >>> x = mg.tensor([1.0, 2.0])
    >>> value, hv = hvp(lambda t: (t ** 3).sum(), x, mg.tensor([1.0, 0.0]))   # H = diag(6 x)
    >>> value.item(), hv.tolist()
    (9.0, [6.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.autograd.engine import grad
from minigrad.autograd.modes import enable_grad

__all__ = ["vjp", "jvp", "vhp", "hvp", "jacobian", "hessian"]


def _tensor() -> type:
    from minigrad.tensor import Tensor

    return Tensor


def _as_tuple(value: Any, who: str, what: str) -> tuple[bool, tuple]:
    """``(was_tuple, items)``: one Tensor or a tuple/list of Tensors, checked."""
    Tensor = _tensor()
    was_tuple = isinstance(value, (tuple, list))
    items = tuple(value) if was_tuple else (value,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: the {what} must be a Tensor or a tuple of Tensors, but {what} {i} is a "
                            f"{type(t).__name__}")
    return was_tuple, items


def _prepare_inputs(inputs: tuple, create_graph: bool) -> tuple:
    """Fresh leaves to differentiate with respect to; under create_graph, still connected to the originals."""
    prepared = []
    for t in inputs:
        if create_graph and t.requires_grad:
            prepared.append(t.reshape(t.shape))  # an alias in the graph: higher derivatives reach the original
        else:
            prepared.append(_tensor()(t._array, dtype=None).requires_grad_(t.dtype.kind == "f"))
    return tuple(prepared)


def _check_v(v: Any, like: tuple, who: str, what: str) -> tuple:
    _, vs = _as_tuple(v, who, "v")
    if len(vs) != len(like):
        raise RuntimeError(f"{who}: v has {len(vs)} tensor(s) but the {what} has {len(like)}")
    for i, (a, b) in enumerate(zip(vs, like)):
        if a.shape != b.shape:
            raise RuntimeError(f"{who}: v {i} has shape {a.shape} but {what} {i} has shape {b.shape}; they must "
                               "match")
    return vs


def _default_v(like: tuple, who: str, what: str) -> tuple:
    """v may be left out only when the function's {what} is a single one-element tensor, as in PyTorch."""
    if len(like) != 1 or like[0].numel() != 1:
        raise RuntimeError(f"{who}: v can only be omitted when the {what} is a single Tensor with one element; "
                           f"got {len(like)} tensor(s) of shapes {[tuple(t.shape) for t in like]}")
    return (_tensor()(np.ones_like(like[0]._array)),)


def _call(func: Callable[..., Any], inputs: tuple, who: str) -> tuple[bool, tuple]:
    with enable_grad():
        out = func(*inputs)
    return _as_tuple(out, who, "outputs of the function")


def _finish(grads: tuple, inputs: tuple, create_graph: bool, strict: bool, who: str, what: str) -> tuple:
    """Zeros for None (or an error when strict); detached unless create_graph."""
    Tensor = _tensor()
    out = []
    for i, (g, t) in enumerate(zip(grads, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{who}: {what} of input {i} is independent of it (strict=True): the output "
                                   "does not depend on this input")
            g = Tensor(np.zeros_like(t._array))
        out.append(g if create_graph else g.detach())
    return tuple(out)


def _detach_all(tensors: tuple, create_graph: bool) -> tuple:
    return tuple(t if create_graph else t.detach() for t in tensors)


def _shape_like(was_tuple: bool, items: tuple) -> Any:
    return items if was_tuple else items[0]


def vjp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v^T J)``: the vector-Jacobian product, one backward pass.

    Example::

        >>> import minigrad as mg
        >>> _, g = vjp(lambda t: t * t, mg.tensor([1.0, 2.0]), mg.tensor([1.0, 1.0]))
        >>> g.tolist()
        [2.0, 4.0]
    """
    in_tuple, inputs = _as_tuple(inputs, "vjp", "inputs")
    xs = _prepare_inputs(inputs, create_graph)
    out_tuple, outs = _call(func, xs, "vjp")
    vs = _default_v(outs, "vjp", "output") if v is None else _check_v(v, outs, "vjp", "output")
    used = [(o, u) for o, u in zip(outs, vs) if o.requires_grad]
    grads = grad([o for o, _ in used], xs, [u for _, u in used], create_graph=create_graph,
                 allow_unused=True) if used else (None,) * len(xs)
    result = _finish(grads, inputs, create_graph, strict, "vjp", "the vector-Jacobian product")
    return _shape_like(out_tuple, _detach_all(outs, create_graph)), _shape_like(in_tuple, result)


def jvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp trick.

    ``u^T J`` is linear in ``u``; its gradient with respect to ``u`` along ``v`` is ``J v``.

    Example::

        >>> import minigrad as mg
        >>> _, jv = jvp(lambda t: t * t, mg.tensor([1.0, 2.0]), mg.tensor([1.0, 0.0]))
        >>> jv.tolist()
        [2.0, 0.0]
    """
    Tensor = _tensor()
    in_tuple, inputs = _as_tuple(inputs, "jvp", "inputs")
    vs = _default_v(inputs, "jvp", "input") if v is None else _check_v(v, inputs, "jvp", "input")
    xs = _prepare_inputs(inputs, create_graph)
    out_tuple, outs = _call(func, xs, "jvp")
    us = tuple(Tensor(np.zeros_like(o._array), requires_grad=True) for o in outs)  # the dummy u
    used = [(o, u) for o, u in zip(outs, us) if o.requires_grad]
    with enable_grad():
        grads = grad([o for o, _ in used], xs, [u for _, u in used], create_graph=True,
                     allow_unused=True) if used else (None,) * len(xs)
    pairs = [(g, w) for g, w in zip(grads, vs) if g is not None and g.requires_grad]
    if pairs:
        jv = grad([g for g, _ in pairs], list(us), [w for _, w in pairs], create_graph=create_graph,
                  allow_unused=True)
    else:
        jv = (None,) * len(us)
    result = _finish(jv, outs, create_graph, strict, "jvp", "the Jacobian-vector product")
    return _shape_like(out_tuple, _detach_all(outs, create_graph)), _shape_like(out_tuple, result)


def _scalar_output(func: Callable[..., Any], xs: tuple, who: str) -> Any:
    out_tuple, outs = _call(func, xs, who)
    if out_tuple or outs[0].numel() != 1:
        raise RuntimeError(f"{who}: the function must return a single Tensor with one element, got "
                           f"{len(outs)} tensor(s) of shapes {[tuple(o.shape) for o in outs]}")
    return outs[0]


def vhp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v^T H)`` for a scalar ``func``: the gradient of ``grad(func) . v``.

    Example::

        >>> import minigrad as mg
        >>> _, vh = vhp(lambda t: (t ** 3).sum(), mg.tensor([1.0, 2.0]), mg.tensor([1.0, 1.0]))
        >>> vh.tolist()
        [6.0, 12.0]
    """
    in_tuple, inputs = _as_tuple(inputs, "vhp", "inputs")
    vs = _default_v(inputs, "vhp", "input") if v is None else _check_v(v, inputs, "vhp", "input")
    xs = _prepare_inputs(inputs, create_graph)
    out = _scalar_output(func, xs, "vhp")
    if not out.requires_grad:
        grads = (None,) * len(xs)
    else:
        with enable_grad():
            grads = grad(out, xs, create_graph=True, allow_unused=True)
    pairs = [(g, w) for g, w in zip(grads, vs) if g is not None and g.requires_grad]
    if pairs:
        with enable_grad():
            dot = sum((g * w).sum() for g, w in pairs)
        second = grad(dot, xs, create_graph=create_graph, allow_unused=True)
    else:
        second = (None,) * len(xs)
    result = _finish(second, inputs, create_graph, strict, "vhp", "the vector-Hessian product")
    return (out if create_graph else out.detach()), _shape_like(in_tuple, result)


def hvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), H v)`` for a scalar ``func``; equal to ``vhp`` since H is symmetric.

    Example::

        >>> import minigrad as mg
        >>> _, hv = hvp(lambda t: t[0] * t[1], mg.tensor([1.0, 2.0]), mg.tensor([1.0, 0.0]))
        >>> hv.tolist()
        [0.0, 1.0]
    """
    value, result = vhp(func, inputs, v, create_graph, strict)
    return value, result


def jacobian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Any:
    """The Jacobian ``d out_i / d in_j``: shape ``out.shape + in.shape``, one backward pass per output element.

    A Tensor in and a Tensor out give a Tensor; tuples give tuples (outputs first, then inputs).

    Example::

        >>> import minigrad as mg
        >>> jacobian(lambda t: t * t, mg.tensor([1.0, 2.0])).tolist()
        [[2.0, 0.0], [0.0, 4.0]]
    """
    if strategy != "reverse-mode":
        raise NotImplementedError(f"jacobian: minigrad computes Jacobians in reverse mode only, got "
                                  f"strategy={strategy!r}")
    Tensor = _tensor()
    in_tuple, inputs = _as_tuple(inputs, "jacobian", "inputs")
    xs = _prepare_inputs(inputs, create_graph)
    out_tuple, outs = _call(func, xs, "jacobian")
    rows = []  # rows[i][j]: d outs[i] / d inputs[j]
    for i, o in enumerate(outs):
        blocks: list[list] = [[] for _ in xs]
        for k in range(o.numel()):
            if not o.requires_grad:
                grads = (None,) * len(xs)
            else:
                pick = np.zeros(o.shape, dtype=o.dtype)
                pick.reshape(-1)[k] = 1
                with enable_grad():
                    grads = grad(o, xs, Tensor(pick), retain_graph=True, create_graph=create_graph,
                                 allow_unused=True)
            grads = _finish(grads, inputs, create_graph, strict, "jacobian", f"output {i}")
            for j, g in enumerate(grads):
                blocks[j].append(g)
        row = []
        for j, x in enumerate(inputs):
            if blocks[j]:
                with enable_grad():
                    from minigrad.ops.shape import stack

                    block = stack(blocks[j], 0).reshape(*o.shape, *x.shape)
            else:  # an empty output
                block = Tensor(np.zeros((*o.shape, *x.shape), dtype=x.dtype))
            row.append(block if create_graph else block.detach())
        rows.append(tuple(row))
    if not out_tuple:
        return _shape_like(in_tuple, rows[0])
    return tuple(_shape_like(in_tuple, r) for r in rows)


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode") -> Any:
    """The Hessian of a scalar ``func``: shape ``in.shape + in.shape`` (tuples: ``H[i][j]``).

    It is the Jacobian of the gradient, which ``grad(..., create_graph=True)`` makes differentiable.

    Example::

        >>> import minigrad as mg
        >>> hessian(lambda t: (t ** 3).sum(), mg.tensor([1.0, 2.0])).tolist()
        [[6.0, 0.0], [0.0, 12.0]]
    """
    in_tuple, inputs = _as_tuple(inputs, "hessian", "inputs")

    def gradient(*xs: Any) -> tuple:
        out = _scalar_output(func, xs, "hessian")
        if not out.requires_grad:
            if strict:
                raise RuntimeError("hessian: the function's output does not depend on its inputs (strict=True)")
            return tuple(_tensor()(np.zeros_like(x._array)) for x in xs)
        with enable_grad():
            grads = grad(out, xs, create_graph=True, allow_unused=True)
        return _finish(grads, xs, True, strict, "hessian", "the gradient")

    # The gradient is a tuple (one per input), so the Jacobian is a tuple over it: H[i] = d grad_i / d inputs.
    result = jacobian(gradient, inputs if in_tuple else inputs[0], create_graph=create_graph, strict=strict,
                      strategy=outer_jacobian_strategy)
    return result if in_tuple else result[0]
