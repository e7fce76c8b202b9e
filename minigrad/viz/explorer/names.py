"""Names of the weights on the page: from ``params=``, or declared by the library's own layers.

Never from the caller's variables: a name is either given, or certain.
"""

from __future__ import annotations

import re
from typing import Any

from minigrad.autograd import Function
from minigrad.tensor import Tensor
from minigrad.viz.explorer.record import BackwardTrace
from minigrad.viz.explorer.steps import cell_of, is_fused
from minigrad.viz.naming import param_pairs


def names_from_params(params: Any) -> dict[int, str]:
    """``id(tensor) -> name`` from a Module, a dict name -> Tensor, or (name, Tensor) pairs.

    Example::

        >>> import minigrad as mg
        >>> w = mg.ones(2, requires_grad=True)
        >>> names_from_params({"W": w})[id(w)]
        'W'
    """
    if params is None:
        return {}
    return {id(t): str(name) for name, t in param_pairs(params, "explore")}


_FUSED_WEIGHTS = {3: "weight_ih", 4: "weight_hh", 5: "bias_ih", 6: "bias_hh"}


def _fused_weight_names(trace: BackwardTrace) -> dict[int, str]:
    """PyTorch's names of the weights a fused layer reads (``weight_hh_l0``), from its inputs and scope."""
    # TODO(merge): read the parameter names the fused layer's declared interface gives.
    names: dict[int, str] = {}
    for fn in trace.order:
        if not is_fused(fn):
            continue
        layer = fn.scope.split("/")[-1] if fn.scope else ""
        suffix = f"_{layer}" if re.fullmatch(r"l\d+(_reverse)?", layer) else ""
        for k, role in _FUSED_WEIGHTS.items():
            edge = fn.next_functions[k] if k < len(fn.next_functions) else None
            if isinstance(edge, Tensor):
                names.setdefault(id(edge), role + suffix)
    return names


_SHAPE_ONLY = {"chunk", "split", "permute", "transpose", "reshape", "view"}


def _reference_weight_names(trace: BackwardTrace) -> dict[int, str]:
    """PyTorch's names of the weights of the library's reference layers, read off the step's structure.

    In every step ``x_t @ W_ih^T + b_ih + h_{t-1} @ W_hh^T + b_hh``: the weight multiplied by a state
    from another step is W_hh, the other W_ih; a bias added to ``x_t @ W_ih^T`` is b_ih, the other b_hh.
    Weights that fit no rule (or two weights that fit one) stay unnamed.
    """
    # TODO(merge): the reference path of the recurrent redesign tags its parameters; read the tags.
    consumers: dict[Any, list[tuple[Function, int]]] = {}
    for fn in trace.order:
        for k, e in enumerate(fn.next_functions):
            key = e[0] if type(e) is tuple else e if isinstance(e, Tensor) else None
            if key is not None:
                consumers.setdefault(id(key), []).append((fn, k))

    def uses(start: Any) -> list[tuple[Function, int]]:
        """The first ops past the shape-only ones (the split into gate blocks, the transpose)."""
        out, stack = [], [start]
        while stack:
            for fn, k in consumers.get(id(stack.pop()), []):
                (stack.append(fn) if fn.name in _SHAPE_ONLY else out.append((fn, k)))
        return out

    def recurrent(matmul: Function) -> bool | None:
        """Whether the matmul's other factor comes from another time step (None: it has no graph)."""
        e = matmul.next_functions[0]
        if type(e) is not tuple:
            return None
        return cell_of(e[0]) != cell_of(matmul)

    def weight_of(matmul: Function) -> int | None:
        """The leaf behind a matmul's second factor (through the gate split and the transpose)."""
        e = matmul.next_functions[1]
        while type(e) is tuple and e[0].name in _SHAPE_ONLY:
            e = e[0].next_functions[0]
        return id(e) if isinstance(e, Tensor) else None

    leaves = {id(e): e for fn in trace.order for e in fn.next_functions if isinstance(e, Tensor)}
    layer_of: dict[int, set[str]] = {}
    weights: dict[str, dict[int, bool]] = {}       # layer -> weight -> recurrent at some step
    adds: dict[int, list[Function]] = {}            # bias -> the ops it is added to
    for i, leaf in leaves.items():
        for fn, k in uses(leaf):
            key = cell_of(fn)
            if key is None or len(key[0]) < 2 or key[0][-2] not in ("rnn", "lstm", "gru"):
                continue
            layer_of.setdefault(i, set()).add(key[0][-1])
            if fn.name == "matmul" and k == 1:
                layer = weights.setdefault(key[0][-1], {})
                layer[i] = layer.get(i, False) or bool(recurrent(fn))
            elif fn.name == "add" and k in (0, 1) and type(fn.next_functions[1 - k]) is tuple:
                adds.setdefault(i, []).append(fn.next_functions[1 - k][0])
    names: dict[int, str] = {}
    for layer, found in weights.items():
        hh = [i for i, rec in found.items() if rec]
        ih = [i for i, rec in found.items() if not rec]
        if len(hh) == 1 and len(ih) == 1:
            names[hh[0]], names[ih[0]] = f"weight_hh_{layer}", f"weight_ih_{layer}"
    for i, partners in adds.items():
        if len(layer_of.get(i, ())) != 1:
            continue
        (layer,) = layer_of[i]
        with_ih = {p.name == "matmul" and names.get(weight_of(p), "").startswith("weight_ih") for p in partners}
        if len(with_ih) == 1:
            names[i] = ("bias_ih_" if with_ih.pop() else "bias_hh_") + layer
    taken = list(names.values())
    return {i: n for i, n in names.items() if taken.count(n) == 1 and len(layer_of.get(i, ())) == 1}


def declared_names(trace: BackwardTrace) -> dict[int, str]:
    """``id(leaf) -> name`` for the weights of the library's recurrent layers in the traced graph."""
    return {**_reference_weight_names(trace), **_fused_weight_names(trace)}
