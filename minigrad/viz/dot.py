"""DOT output: the model written as Graphviz text (labels, clusters, legend)."""

from __future__ import annotations

import html
import re
from collections import defaultdict

from minigrad.viz import colors as C
from minigrad.viz.layout import _cluster_id
from minigrad.viz.model import _PARAMS_BOX, _Model, _Node, step_label
from minigrad.viz.walk import _STEP


def _esc(s: str) -> str:
    return html.escape(str(s), quote=True)


def _label(n: _Node, fontcolor: str | None = None) -> str:
    font = f' COLOR="{fontcolor}"' if fontcolor else ""
    out = f"<B>{_esc(n.title)}</B>"
    for line in n.lines:
        if line:
            out += f'<BR/><FONT POINT-SIZE="9"{font}>{_esc(line)}</FONT>'
    return f"<{out}>"


def _rows_label(n: _Node, fill: str) -> str:
    """One box holding a column of gates, one row (and Graphviz port) each, in the cell's order."""
    rows = []
    for port, title, lines in n.rows:
        text = f"<B>{_esc(title)}</B>" + "".join(f'<BR/><FONT POINT-SIZE="9">{_esc(x)}</FONT>' for x in lines if x)
        rows.append(f'<TR><TD PORT="{_esc(port)}" BGCOLOR="{fill}">{text}</TD></TR>')
    return ('<<TABLE BORDER="1" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" STYLE="ROUNDED" COLOR="#555555">'
            + "".join(rows) + "</TABLE>>")


def _attrs(d: dict[str, str]) -> str:
    return " ".join(f'{k}="{_esc(v)}"' if not v.startswith("<") else f"{k}={v}" for k, v in d.items())


def _emit(m: _Model, view: str, rankdir: str, scale: C.GradientScale | None) -> tuple[list[str], dict]:
    """DOT body lines (clusters nested by scope path, built with an explicit stack)."""
    nodes = m.nodes
    members: dict[tuple[str, ...], list[_Node]] = defaultdict(list)
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    known: set[tuple[str, ...]] = {()}
    for n in nodes.values():
        members[n.cluster].append(n)
        path = n.cluster
        while path not in known:  # register the path and all its prefixes
            known.add(path)
            children[path[:-1]].append(path)
            path = path[:-1]

    def sort_key(p: tuple[str, ...]) -> tuple:
        last = p[-1]
        if _STEP.fullmatch(last):
            return (1, int(last[1:]), "")
        # higher layers first (Graphviz puts the first cluster on top): l1 above l0
        digits = re.findall(r"\d+", last)
        return (0, -int(digits[0]) if digits else 0, last)

    # Graphviz keeps the input order where crossings allow: emit the clusters top to bottom as we
    # want them (higher layers first, forward before reverse), and the top-level parameters in the
    # order of the clusters they feed, so that each parameter sits next to its layer.
    order: dict[tuple[str, ...], int] = {}
    todo = [()]
    while todo:
        path = todo.pop()
        order[path] = len(order)
        todo += sorted(children.get(path, ()), key=sort_key, reverse=True)
    first_use: dict[str, int] = {}
    for e in m.edges:
        c = nodes[e.dst].cluster
        while c not in order:
            c = c[:-1]
        first_use[e.src] = min(first_use.get(e.src, 1 << 30), order[c])
    members[()].sort(key=lambda n: first_use.get(n.key, 1 << 30))

    ranks_in: dict[tuple[str, ...], list[list[str]]] = defaultdict(list)
    for keys in m.same_rank:
        keys = [k for k in keys if k in nodes]
        if len(keys) > 1:
            ranks_in[nodes[keys[0]].cluster].append(keys)
    lines: list[str] = []
    stack: list[tuple[str, tuple[str, ...]]] = [("open", ())]
    while stack:
        action, path = stack.pop()
        if action == "close":
            lines.append("\t}\n")
            continue
        kids = children.get(path, ())
        if path and not members.get(path) and len(kids) == 1 and not _STEP.fullmatch(kids[0][-1]) \
                and not _STEP.fullmatch(path[-1]):
            stack.append(("open", kids[0]))  # a box holding only one box: draw the inner one ("rnn/l0")
            continue
        if path:
            is_step = bool(_STEP.fullmatch(path[-1]))
            attrs = {"fontname": "Helvetica", "margin": "8"}
            if is_step:
                key = (path[:-1], int(path[-1][1:]))
                g = m.step_grads.get(key)
                fill = scale.color(g) if (scale is not None and key in m.step_grads) else C.CLUSTER_STEP_FILL
                if key in m.greyed_steps:
                    fill = "#fafafa"
                label = step_label(m.labels, key[1])
                attrs.update(label=f"t = {key[1]}" + (f"   x_{key[1]} = {label}" if label else ""),
                             style="rounded,filled", fillcolor=fill, color="#999999",
                             fontcolor="white" if C.is_dark(fill) else "black", fontsize="12")
                if key in m.greyed_steps:
                    attrs.update(fontcolor="#999999", style="rounded,filled,dashed")
                if g is not None:
                    attrs["tooltip"] = f"{'/'.join(path)}: ||dL/dh_t|| = {C.fmt(g)}"
            else:
                label = "/".join(path)
                if path == _PARAMS_BOX:
                    label = "parameters: a dashed copy is drawn in each step that uses one"
                if path in m.cluster_notes:
                    label += "    (each step: " + m.cluster_notes[path] + ")"
                if any(key[0] == path for key in m.greyed_steps):
                    label += "    previous window: not part of this backward pass"
                attrs.update(label=label, style="rounded,dashed", color="#777777", fontsize="12")
            lines.append(f"\tsubgraph {_cluster_id(path)} {{\n")
            lines.append(f"\t\tgraph [{_attrs(attrs)}]\n")
        for n in members.get(path, ()):
            shape, style, fill = C.NODE_STYLE[n.kind]
            fontcolor = None
            if n.kind == "cell" and scale is not None and n.grad is not None:
                fill = scale.color(n.grad)  # grey for a zero gradient
                fontcolor = "white" if C.is_dark(fill) else None
            a = {"label": _label(n, fontcolor), "shape": shape, "style": style, "fillcolor": n.fill or fill}
            if n.rows:
                a = {"label": _rows_label(n, n.fill or fill), "shape": "plain"}
            if n.mark == "h":
                a.update(penwidth="2", color=C.RECURRENT_EDGE_COLOR)
            elif n.mark == "shared":
                a.update(style=style + ",dashed", fontsize="9", height="0.2")
            elif n.mark == "c":
                a.update(penwidth="2", color="#7a3e9d")
            if n.tooltip:
                a["tooltip"] = n.tooltip
            if n.group:
                a["group"] = n.group
            lines.append(f"\t\t{n.key} [{_attrs(a)}]\n")
        for keys in ranks_in.get(path, ()):  # one column, in this order (invisible edges fix the order)
            lines.append("\t\t{rank=same; " + "; ".join(keys) + "}\n")
            lines.append("\t\t" + " -> ".join(keys) + ' [style=invis]\n')
        if path:
            stack.append(("close", path))
        for child in sorted(children.get(path, ()), key=sort_key, reverse=True):
            stack.append(("open", child))
    for e in m.edges:
        a = {k: v for k, v in e.attrs.items() if not k.startswith("_")}
        if e.attrs.get("_flip"):
            a["dir"] = "back"
            lines.append(f"\t{e.dst} -> {e.src} [{_attrs(a)}]\n")
        else:
            lines.append(f"\t{e.src} -> {e.dst}" + (f" [{_attrs(a)}]" if a else "") + "\n")
    for keys in m.global_ranks:
        lines.append("\t{rank=same; " + "; ".join(keys) + "}\n")
    if scale is not None:
        lines.append("\tsubgraph cluster_legend {\n")
        lines.append('\t\tgraph [label="gradient colouring" style="rounded" color="#999999" fontname="Helvetica" '
                     'fontsize="11"]\n')
        lines.append(f"\t\tlegend [shape=plaintext label={scale.legend_label()}]\n")
        lines.append("\t}\n")
    graph_attr = {"rankdir": rankdir, "compound": "true", "newrank": "true", "fontname": "Helvetica",
                  "nodesep": "0.25", "ranksep": "0.3", "labeljust": "l", "bgcolor": "white"}
    return lines, graph_attr
