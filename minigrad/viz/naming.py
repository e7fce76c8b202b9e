"""Names of parameters in a drawing: from ``params=`` or from the modules holding them, never from variables."""

from __future__ import annotations

from typing import Any

from minigrad.tensor import Tensor

# =============================================================================================
# Names of parameters and inputs
# =============================================================================================


def _param_names(params: Any, leaves: list[Tensor], fns: list[Any] = ()) -> tuple[dict[int, str], set[int]]:
    """``id(tensor) -> name`` and the ids that are parameters.

    Explicit ``params`` (a Module, a dict name->Tensor, or (name, Tensor) pairs) name exactly the
    tensors listed. Without it, the modules holding the graph's leaves name them (``_module_names``),
    then the names a node declares for its parameters (``param_names`` of a fused layer).
    """
    if params is None:
        names, is_param = _module_names(leaves)
        for fn in fns:
            for role, edge in zip(getattr(fn, "input_roles", ()), fn.next_functions):
                declared = getattr(fn, "param_names", {}).get(role)
                if declared is not None and isinstance(edge, Tensor) and id(edge) not in names:
                    names[id(edge)] = declared
                    is_param.add(id(edge))
        return names, is_param
    names: dict[int, str] = {}
    for name, t in param_pairs(params, "draw_graph"):
        names.setdefault(id(t), str(name))
    return names, set(names)


def param_pairs(params: Any, who: str) -> list[tuple[str, Tensor]]:
    """``params=`` of a drawing as (name, Tensor) pairs: a Module, a dict name -> Tensor, or pairs.

    Example::

        >>> import minigrad as mg
        >>> [name for name, _ in param_pairs(mg.nn.Linear(2, 1), "draw_graph")]
        ['weight', 'bias']
    """
    if hasattr(params, "named_parameters"):
        pairs = list(params.named_parameters())
    elif isinstance(params, dict):
        pairs = list(params.items())
    else:
        try:
            pairs = [tuple(p) for p in params]
        except TypeError:
            pairs = None
    if pairs is None or not all(len(p) == 2 and isinstance(p[1], Tensor) for p in pairs):
        raise TypeError(f"{who}: params must be a Module, a dict name -> Tensor, or (name, Tensor) pairs, "
                        f"got {type(params).__name__}")
    return pairs


def _module_names(leaves: list[Tensor]) -> tuple[dict[int, str], set[int]]:
    """Names for the graph's leaves from the modules that hold them (``nn.module.live_modules``).

    Each parameter takes its name in the outermost module holding it (the longest dotted name:
    ``lstm.weight_ih_l0`` inside a model, ``weight_ih_l0`` for a lone layer). When the leaves belong
    to several unrelated modules, each name starts with its module's class (``lstm.``, ``linear.``,
    numbered when a class appears twice: ``lstm_2.``).
    """
    from minigrad.nn.module import live_modules

    wanted = {id(t) for t in leaves}
    best: dict[int, tuple[str, Any]] = {}  # id(param) -> (name, outermost module)
    for module in live_modules():
        for name, p in module.named_parameters():
            if id(p) in wanted and len(name) > len(best.get(id(p), ("",))[0]):
                best[id(p)] = (name, module)
    tops: list[Any] = []
    for t in leaves:  # in the order of the walk, so that numbering is stable
        if id(t) in best and not any(m is best[id(t)][1] for m in tops):
            tops.append(best[id(t)][1])
    prefixes: dict[int, str] = {}
    if len(tops) > 1:
        seen: dict[str, int] = {}
        for m in tops:
            cls = type(m).__name__.lower()
            seen[cls] = seen.get(cls, 0) + 1
            prefixes[id(m)] = f"{cls}." if seen[cls] == 1 else f"{cls}_{seen[cls]}."
    names = {pid: prefixes.get(id(m), "") + name for pid, (name, m) in best.items()}
    return names, set(names)


def _is_module(value: Any) -> bool:
    return not isinstance(value, type) and callable(getattr(value, "named_parameters", None))
