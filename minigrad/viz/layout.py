"""Layout: Graphviz attributes that keep time flowing left to right and each step's h chain straight."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from minigrad.viz import colors as C
from minigrad.viz.model import _PARAMS_BOX, _Edge, _Model, _Node

# =============================================================================================
# 3. Layout rules and DOT text
# =============================================================================================


def _cluster_id(path: tuple[str, ...]) -> str:
    return "cluster_" + re.sub(r"\W", "_", "__".join(path)) if path else ""


def _share_copies(m: _Model) -> None:
    """Give every time step its own copy of the parameters it uses (ops view).

    Parameters (and what is computed from parameters alone, like the gate blocks that
    ``weight.chunk(4)`` makes once per layer) feed *every* time step. Drawn once, they would
    send an edge into every step: spaghetti. Drawn once per step, as in textbook unrolled
    pictures, each step reads on its own, and the dashed outline says "the same tensor". The
    original node stays (with its shape and gradient) beside the steps.
    """
    nodes = m.nodes
    preds: dict[str, list[str]] = defaultdict(list)
    succ: dict[str, list[_Edge]] = defaultdict(list)
    for e in m.edges:
        preds[e.dst].append(e.src)
        succ[e.src].append(e)
    # parameter-derived: a leaf, or an op outside the time steps whose inputs are all
    # parameter-derived (Kahn's order over the drawing, an explicit queue)
    indeg = {k: len(preds[k]) for k in nodes}
    queue = [k for k, d in indeg.items() if d == 0]
    derived: dict[str, bool] = {}
    while queue:
        k = queue.pop()
        n = nodes[k]
        if n.kind in ("param", "input"):
            derived[k] = n.step_of is None
        elif n.kind == "op" and n.step_of is None and preds[k]:
            derived[k] = all(derived.get(p, False) for p in preds[k])
        else:
            derived[k] = False
        for e in succ[k]:
            indeg[e.dst] -= 1
            if indeg[e.dst] == 0:
                queue.append(e.dst)
    for key in [k for k, d in derived.items() if d]:
        by_step: dict[tuple, list[_Edge]] = defaultdict(list)
        for e in succ[key]:
            d = nodes[e.dst]
            if d.step_of is not None:
                by_step[d.step_of].append(e)
        if len(by_step) < 2:
            continue
        src = nodes[key]
        title = src.title
        if src.kind == "op":
            title = f"{src.title}({', '.join(nodes[p].title for p in preds[key])})"
        if src.cluster == () and src.kind == "param" and all(nodes[e.dst].step_of is not None for e in succ[key]):
            src.cluster = _PARAMS_BOX  # every use becomes a copy: the box says why this node has no edges
        for i, (step_of, edges) in enumerate(by_step.items()):
            first = nodes[edges[0].dst]
            ghost = m.add(_Node(f"{key}_s{i}", src.kind, title, [], first.cluster, step_of,
                                tooltip=f"{title}: the same tensor in every time step"))
            ghost.mark = "shared"
            for e in edges:
                e.src = ghost.key
                m._edge_set.add((ghost.key, e.dst))


def _gather_outside(m: _Model) -> None:
    """An op that gathers the results of several steps of a layer (the output sequence, a stack of
    h_t) is drawn just outside the layer's box: inside it, its arrows would have to pass around the
    later steps and push them into a staircase."""
    sources: dict[str, set] = defaultdict(set)
    for e in m.edges:
        s = m.nodes[e.src]
        if s.step_of is not None:
            sources[e.dst].add(s.step_of)
    for key, steps in sources.items():
        n = m.nodes[key]
        layers = {layer for layer, _ in steps}
        if n.kind in ("op", "eq") and n.step_of is None and len(steps) > 1 and layers == {n.cluster}:
            n.cluster = n.cluster[:-1]


def _layout(m: _Model, view: str) -> None:
    """Attributes that make the unrolled graph read left to right (see docs/visualization.md)."""
    if view == "ops":
        _gather_outside(m)
    nodes = m.nodes
    # Direction of each layer: do its h edges go from t to t+1 or from t to t-1?
    inc: dict[tuple[str, ...], int] = defaultdict(int)
    dec: dict[tuple[str, ...], int] = defaultdict(int)
    fan: dict[str, set] = defaultdict(set)
    for e in m.edges:
        s, d = nodes[e.src], nodes[e.dst]
        if d.step_of is not None:
            fan[e.src].add(d.step_of)
        if s.step_of and d.step_of and s.step_of[0] == d.step_of[0] and s.step_of[1] != d.step_of[1]:
            (inc if s.step_of[1] < d.step_of[1] else dec)[s.step_of[0]] += 1
    reverse = {layer for layer in dec if dec[layer] > inc[layer]}

    for e in m.edges:
        s, d = nodes[e.src], nodes[e.dst]
        a = e.attrs
        if e.kind == "param":
            a.setdefault("color", C.PARAM_EDGE_COLOR)
        both = s.step_of is not None and d.step_of is not None
        cross_layer = both and s.step_of[0] != d.step_of[0]
        recurrent = both and not cross_layer and s.step_of[1] != d.step_of[1]
        scatter = s.step_of is None and len(fan[e.src]) >= 2
        if cross_layer or scatter:
            a["constraint"] = "false"
        if recurrent:  # the path BPTT walks back along: bold, and kept straight
            a.setdefault("color", C.RECURRENT_EDGE_COLOR)
            a["penwidth"] = "2"
            a["weight"] = "8"
        elif d.step_of is None and s.step_of is not None:  # a step's result gathered outside: don't pull
            a["weight"] = "0"
        # Mirror the reverse direction of a bidirectional layer: its edges point right to left.
        if d.step_of is not None and d.step_of[0] in reverse and a.get("constraint") != "false":
            layer = d.step_of[0]
            inside = (s.step_of is not None and s.step_of[0] == layer) or (
                s.step_of is None and s.cluster[: len(layer)] == layer)
            if inside:
                a["_flip"] = "1"

    # Keep time steps in order: invisible edges from each step to the next one of the same layer.
    steps: dict[tuple, list[str]] = defaultdict(list)
    for n in nodes.values():
        if n.step_of is not None:
            steps[n.step_of].append(n.key)
    succ: dict[str, list[str]] = defaultdict(list)   # inside one step, in layout direction
    fwd: dict[str, list[str]] = defaultdict(list)    # inside one step, in data direction
    back: dict[str, list[str]] = defaultdict(list)
    has_pred: set[str] = set()
    by_pair: dict[tuple[str, str], _Edge] = {}
    entries: dict[tuple, list[tuple[str, str]]] = defaultdict(list)  # (node, the node feeding it)
    exits: dict[tuple, list[str]] = defaultdict(list)
    for e in m.edges:
        s, d = nodes[e.src], nodes[e.dst]
        if e.attrs.get("weight") == "8":  # recurrent
            entries[d.step_of].append((e.dst, e.src))
            exits[s.step_of].append(e.src)
        if e.attrs.get("constraint") == "false" or s.step_of is None or s.step_of != d.step_of:
            continue
        a, b = (e.dst, e.src) if e.attrs.get("_flip") else (e.src, e.dst)
        succ[a].append(b)
        has_pred.add(b)
        fwd[e.src].append(e.dst)
        back[e.dst].append(e.src)
        by_pair[(e.src, e.dst)] = e
    layers: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for layer, t in steps:
        layers[layer].append(t)
    for layer, ts in layers.items():
        ts.sort()
        for ta, tb in zip(ts, ts[1:]):
            last = _deepest(steps[(layer, ta)], succ, has_pred)
            for k in steps[(layer, tb)]:
                if k not in has_pred:
                    m.edge(last, k, "invis", style="invis", weight="0")
            # Steps on one row: a heavy invisible edge from h_t to h_{t+1} holds them level.
            ha = [k for k in steps[(layer, ta)] if nodes[k].mark == "h"]
            hb = [k for k in steps[(layer, tb)] if nodes[k].mark == "h"]
            if len(ha) == 1 and len(hb) == 1 and view == "ops":
                m.edge(ha[0], hb[0], "invis", style="invis", weight="20")
    # Line the layers up: step t of every layer (and direction) starts in the same column.
    if len(layers) > 1:
        by_t: dict[int, list[str]] = defaultdict(list)
        for (layer, t), members in steps.items():
            if any(key[0] == layer for key in m.greyed_steps):
                continue  # an earlier window of truncated BPTT comes before this one, not above it
            starts = [k for k in members if k not in has_pred]
            spine = [k for k in starts if nodes[k].kind in ("input", "cell", "op", "eq") and nodes[k].mark != "shared"]
            by_t[t].append((spine or starts or members)[0])
        for t in sorted(by_t):
            if len(by_t[t]) > 1:
                m.global_ranks.append(by_t[t])
    # The spine: inside each step, the path that carries h_{t-1} to h_t (and c_{t-1} to c_t) gets
    # weight and a Graphviz group, so that the chains h_0 -> h_1 -> ... (and c) are straight lines.
    for key, members in steps.items():
        if len(members) < 2:
            continue
        marked = {nodes[k].mark: k for k in members if nodes[k].mark in ("h", "c")}
        end = marked.get("h") or (exits[key][0] if exits.get(key) else None)
        ins = entries.get(key, ())
        reach_c = _reach([d for d, src in ins if nodes[src].mark == "c"], fwd)
        reach_h = _reach([d for d, src in ins if nodes[src].mark != "c"], fwd)
        depth = _depths(members, fwd)
        base = _cluster_id(key[0]) or "spine"
        if "c" in marked:
            _spine(marked["c"], base + "_c", nodes, back, by_pair,
                   lambda p, rc=reach_c, d=depth: (p in rc, d.get(p, 0)), only=reach_c)
        if end is not None and not nodes[end].group:
            _spine(end, base, nodes, back, by_pair,
                   lambda p, rh=reach_h, rc=reach_c, d=depth: (p in rh and p not in rc, p in rh, d.get(p, 0)))


def _reach(starts: list[str], fwd: dict[str, list[str]]) -> set[str]:
    """Everything reachable from ``starts`` inside one step (explicit stack)."""
    seen = set(starts)
    todo = list(starts)
    while todo:
        for n in fwd.get(todo.pop(), ()):
            if n not in seen:
                seen.add(n)
                todo.append(n)
    return seen


def _spine(end: str, group: str, nodes: dict[str, _Node], back: dict[str, list[str]],
           by_pair: dict[tuple[str, str], _Edge], score: Any, only: set[str] | None = None) -> None:
    """Walk back from ``end`` through not-yet-grouped inputs (best ``score`` first), grouping them."""
    node = end
    nodes[node].group = group
    while True:
        free = [p for p in back.get(node, ()) if not nodes[p].group and (only is None or p in only)]
        if not free:
            return
        prev = max(free, key=score)
        by_pair[(prev, node)].attrs.setdefault("weight", "4")
        node = prev
        nodes[node].group = group


def _depths(keys: list[str], succ: dict[str, list[str]]) -> dict[str, int]:
    """Longest-path depth of each node inside one time step (Kahn's order, no recursion)."""
    members = set(keys)
    indeg = {k: 0 for k in keys}
    for k in keys:
        for n in succ.get(k, ()):
            if n in members:
                indeg[n] += 1
    depth = {k: 0 for k in keys}
    ready = [k for k in keys if indeg[k] == 0]
    while ready:
        k = ready.pop()
        for n in succ.get(k, ()):
            if n in members:
                depth[n] = max(depth[n], depth[k] + 1)
                indeg[n] -= 1
                if indeg[n] == 0:
                    ready.append(n)
    return depth


def _deepest(keys: list[str], succ: dict[str, list[str]], has_pred: set[str]) -> str:
    """The node at the end of the longest path inside one time step."""
    if len(keys) == 1:
        return keys[0]
    depth = _depths(keys, succ)
    return max(keys, key=lambda k: (depth[k], k in has_pred))
