"""The explorer's page: DOT for the drawing, Graphviz's SVG inlined, the data as JSON, one small script.

One self-contained HTML file: no server, no network, nothing fetched (not even a font). The
script and stylesheet are package files (``explorer.js``, ``explorer.css``) read and inlined.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import shutil
import subprocess
from importlib import resources
from typing import Any

import numpy as np

from minigrad.viz import colors as C
from minigrad.viz.explorer.model import Model, edge_id
from minigrad.viz.explorer.model import norm as _norm


def norm_of(a: np.ndarray | None) -> float:
    """||a|| (0 for a missing gradient)."""
    return _norm([a])

# Above this many numbers, the per-step arrays of the weights are left out of the page (the bar
# chart and ``contributions()``'s totals stay): a page must open fast.
MAX_CONTRIBUTION_VALUES = 1_000_000

_FILLS = {"op": "#ffffff", "cell": "#ffffff", "param": "#f3e5c8", "state": "#eef3fb", "cut": "#eeeeee"}


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


COLUMN, ROW = 72.0, 50.0  # points between time steps and between layers in the cells view


def to_dot(model: Model, frame: int | None = None) -> tuple[str, str]:
    """The drawing as DOT and the Graphviz program to lay it out.

    The cells view is a grid placed here (``neato -n``): one column per time step, one row per
    layer (the first layer at the bottom), h_0 on the left, the ops after the last step on the right.
    The ops view lets ``dot`` lay out one cluster per time step. With ``frame``, the picture of that
    frame (for slides): its node and edge highlighted, the colours the backward pass has reached so
    far, and a caption.
    """
    fills: dict[str, str] = {}
    current: tuple[str | None, str | None] = (None, None)
    if frame is not None:
        _, coloured = colouring(model)
        fills = {c["id"]: c["fill"] for c in coloured if c["from"] <= frame}
        current = (model.frames[frame].node, model.frames[frame].edge)
    lines = ["digraph explorer {",
             '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, nodesep=0.18, ranksep=0.3, bgcolor="white", '
             'outputorder=edgesfirst];',
             '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", height=0.3, '
             'margin="0.06,0.03", penwidth=1];',
             '  edge [color="#666666", arrowsize=0.55, penwidth=1];']
    positions = _grid(model) if model.view == "cells" else {}
    for n in model.nodes.values():
        shape = "ellipse" if n.kind in ("param", "state", "cut") else "box"
        style = "dashed,filled" if n.kind == "cut" else "rounded,filled" if shape == "box" else "filled"
        pos = f', pos="{positions[n.id][0]:.1f},{positions[n.id][1]:.1f}!"' if n.id in positions else ""
        mark = ', color="#d6336c", penwidth=3.5' if n.id == current[0] else ""
        lines.append(f'  {n.id} [id="{n.id}", label="{_esc(n.label)}", shape={shape}, style="{style}", '
                     f'fillcolor="{fills.get(n.id, _FILLS.get(n.kind, "#ffffff"))}"{pos}{mark}];')
    if model.view == "ops":
        by_cell: dict[Any, list[str]] = {}
        for n in model.nodes.values():
            if n.cell is not None:
                by_cell.setdefault(n.cell, []).append(n.id)
        for key, ids in sorted(by_cell.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            where = "/".join(key[0])
            label = f"{where}  t = {key[1] + 1}" if where else f"t = {key[1] + 1}"
            cid = "k" + model.cell_ids[key]
            members = " ".join(f"{i};" for i in ids)
            lines.append(f'  subgraph cluster_{cid} {{ id="{cid}"; label="{_esc(label)}"; style="rounded,filled"; '
                         f'fillcolor="{fills.get(cid, "#ffffff")}"; color="#bbbbbb"; fontsize=10; {members} }}')
    for src, dst, style in model.edges:
        attrs = {"data": "", "param": ', color="#a0703c", penwidth=0.7, constraint=false',
                 "state": ', color="#1f4e9c", penwidth=1.6',
                 "cut": ', color="#888888", style=dashed, penwidth=1.6, label="cut", fontsize=9'}[style]
        if edge_id(src, dst) == current[1]:
            attrs += ', color="#d6336c", penwidth=3'
        lines.append(f'  {src} -> {dst} [id="{edge_id(src, dst)}"{attrs}];')
    if frame is not None:
        lines.append(f'  label="{_esc(caption(model, frame))}"; labelloc=b; labeljust=l; fontsize=13;')
    lines.append("}")
    return "\n".join(lines), ("neato" if positions else "dot")


def caption(model: Model, i: int) -> str:
    """One line saying what frame ``i`` shows: phase, node, its numbers."""
    f = model.frames[i]
    n = model.nodes[f.node]
    where = f"{n.scope}: " if n.scope else ""
    what = f.quantity or "output"
    text = f"{f.phase} {i + 1}/{len(model.frames)}   {where}{n.label}   ||{what}|| {_num(f.value)}"
    if f.phase == "backward":
        text += f"   ||dL/d{what}|| {_num(f.grad_norm)}" if f.quantity else f"   ||dL/d output|| {_num(f.grad_norm)}"
    return text


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


WRAP = 10  # the cells view of a longer sequence wraps onto lines of at most this many steps


def _grid(model: Model) -> dict[str, tuple[float, float]]:
    """Cells view positions: column = time step, row = layer path (the first layer at the bottom).

    Past ``WRAP`` steps the grid continues on the next line, like text, so that a long sequence
    reads in one screen rather than one very long row.
    """
    paths = sorted({n.cell[0] for n in model.nodes.values() if n.kind == "cell"})
    rows = max(len(paths), 1)
    row = {path: i for i, path in enumerate(paths)}  # 0: the first layer
    steps = [n.cell[1] for n in model.nodes.values() if n.kind == "cell"]
    first, last = (min(steps), max(steps)) if steps else (0, 0)
    span = last - first + 1
    lines = -(-span // WRAP)
    per_line = -(-span // lines)

    def at(column: float, r: int, line: int) -> tuple[float, float]:
        # Graphviz's y axis points up: the first line on top, the first layer at the bottom of its line.
        return column * COLUMN, ((lines - 1 - line) * (rows + 0.7) + r) * ROW

    pos: dict[str, tuple[float, float]] = {}
    others = 0
    for n in model.nodes.values():
        if n.kind == "cell":
            k = n.cell[1] - first
            pos[n.id] = at(k % per_line + 1.5, row[n.cell[0]], k // per_line)
        elif n.kind in ("state", "cut"):
            path = tuple(p for p in n.scope.split("/") if p)
            reverse = bool(path) and path[-1].endswith("_reverse")
            r = row.get(path, 0)
            gap = 1.2 if n.kind == "cut" else 0.3  # room for the dashed cut and its label
            pos[n.id] = at(per_line + 2.5 + gap, r, lines - 1) if reverse else at(-gap, r, 0)
        else:
            pos[n.id] = at(per_line + 3.1 + 0.9 * (others // rows), others % rows, lines - 1)
            others += 1
    return pos


def render_svg(dot: str, program: str = "dot", timeout: float = 60.0) -> str:
    """Graphviz's SVG of ``dot``, ready to inline in HTML (no XML prolog, DOCTYPE or namespace URLs)."""
    if shutil.which(program) is None:
        raise RuntimeError("explore: Graphviz's `dot` program is needed to lay out the graph; install Graphviz "
                           "(e.g. `apt-get install graphviz` or `brew install graphviz`)")
    try:
        args = [program, "-Tsvg"] + (["-n"] if program == "neato" else [])
        done = subprocess.run(args, input=dot.encode("utf-8"), capture_output=True, timeout=timeout,
                              check=True)
    except subprocess.TimeoutExpired as e:
        raise RuntimeError(f"explore: Graphviz took more than {timeout:g} s to lay out the graph; use "
                           "view='cells' or a smaller window=(first, last) of steps") from e
    except subprocess.CalledProcessError as e:
        raise RuntimeError(f"explore: dot failed: {e.stderr.decode(errors='replace').strip()}") from e
    svg = done.stdout.decode("utf-8")
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    # Inline SVG in HTML needs no namespace declarations; dropping them leaves no URL in the file.
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg, count=2)
    return svg


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f8").tobytes()).decode("ascii")


def colouring(model: Model) -> tuple[C.GradientScale, list[dict[str, Any]]]:
    """The log10 ||dL/dh_t|| scale and, for each coloured cell (or ops-view step cluster), its fill and
    the frame from which it shows (the first backward frame that reaches it)."""
    scale_norms = [norm_of(st.h_grad) for st in model.states.values() if st.h is not None]
    scale = C.GradientScale(scale_norms)
    first_back: dict[Any, int] = {}
    for i, f in enumerate(model.frames):
        if f.phase == "backward":
            first_back.setdefault(f.node, i)
            if f.cell is not None:
                first_back.setdefault(f.cell, i)
    coloured = []
    if model.view == "cells":
        for n in model.nodes.values():
            if n.kind == "cell" and n.grad is not None and n.id in first_back:
                coloured.append({"id": n.id, "fill": scale.color(n.grad), "from": first_back[n.id]})
    else:  # the step's cluster, pale behind its ops
        pale = C.GradientScale(scale_norms, pale=0.55)
        for key, cid in model.cell_ids.items():
            st = model.states.get(key)
            if st is not None and st.h is not None and key in first_back:
                coloured.append({"id": "k" + cid, "fill": pale.color(norm_of(st.h_grad)), "from": first_back[key]})
    return scale, coloured


def page_data(model: Model, params: list[dict[str, Any]], title: str) -> dict[str, Any]:
    """Everything the script needs: frames, colouring, notes, legend and the weights' per-step terms."""
    scale, coloured = colouring(model)
    last_back: dict[Any, int] = {}
    for i, f in enumerate(model.frames):
        if f.phase == "backward" and f.cell is not None:
            last_back[f.cell] = i
    equations: dict[str, int] = {}  # each distinct text once; frames point at it
    for f in model.frames:
        equations.setdefault(f.equation, len(equations))
    frames = [{"phase": f.phase, "node": f.node, "edge": f.edge, "value": _finite(f.value),
               "grad_norm": _finite(f.grad_norm), "c_value": _finite(f.c_value), "c_grad_norm": _finite(f.c_grad_norm),
               "eq": equations[f.equation], "t": None if f.cell is None else f.cell[1] + 1, "quantity": f.quantity,
               "into": [{"node": p, "edge": edge_id(p, f.node)} for p in f.into]} for f in model.frames]
    total = sum(p["steps"].size for p in params)
    full = total <= MAX_CONTRIBUTION_VALUES
    weights = [{"name": p["name"], "shape": list(p["shape"]), "steps": len(p["steps"]),
                "norms": [float(np.linalg.norm(s)) for s in p["steps"]],
                "proj": _projections(p["steps"]), "total_norm": float(np.linalg.norm(p["steps"].sum(axis=0))),
                "data": _b64(p["steps"]) if full else None, "accum": _accumulation(p["cells"], last_back)}
               for p in params]
    nodes = {n.id: {"label": n.label, "scope": n.scope, "kind": n.kind,
                    "t": None if n.cell is None else n.cell[1] + 1} for n in model.nodes.values()}
    return {"title": title, "view": model.view, "T": model.steps, "frames": frames, "equations": list(equations),
            "nodes": nodes,
            "coloured": coloured, "notes": model.notes, "weights": weights,
            "legend": _legend(scale), "full_contributions": full}


def _accumulation(cells: dict[Any, np.ndarray], done_at: dict[Any, int]) -> list[list[float]]:
    """``[frame, ||sum so far||]`` each time a cell's share of a weight is complete (its last backward frame)."""
    running = None
    out = []
    for cell, g in sorted(((c, g) for c, g in cells.items() if c in done_at), key=lambda cg: done_at[cg[0]]):
        running = g.copy() if running is None else running + g
        out.append([done_at[cell], float(np.linalg.norm(running))])
    return out


def _projections(steps: np.ndarray) -> list[float]:
    """Each step's term projected on the total gradient: signed bars that add up to ||grad||."""
    total = steps.sum(axis=0)
    n = float(np.linalg.norm(total))
    if n == 0:
        return [0.0] * len(steps)
    return [float(np.vdot(s, total)) / n for s in steps]


def _legend(scale: C.GradientScale) -> dict[str, Any]:
    if scale.empty:
        return {"stops": []}
    lo, hi = int(scale.lo), int(scale.hi)
    fills = [C.interpolate((e - lo) / (hi - lo)) for e in range(lo, hi + 1)]
    return {"stops": [{"label": f"1e{e}", "fill": f, "text": "#ffffff" if C.is_dark(f) else "#000000"}
                      for e, f in zip(range(lo, hi + 1), fills)],
            "zero": C.NO_GRAD_FILL}


def _asset(name: str) -> str:
    return resources.files("minigrad.viz.explorer").joinpath(name).read_text(encoding="utf-8")


def html_page(svg: str, data: dict[str, Any]) -> str:
    """The whole page as one string."""
    payload = json.dumps(data, allow_nan=False, default=_json_default).replace("</", "<\\/")
    title = html.escape(data["title"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{_asset("explorer.css")}</style></head>
<body><div id="mg-explorer">
<header><h1>{title}</h1>
<div class="mg-controls">
<button id="mg-prev" title="previous frame (left arrow)">&#9664; prev</button>
<button id="mg-play" title="play / pause (space)">&#9654; play</button>
<button id="mg-next" title="next frame (right arrow)">next &#9654;</button>
<input id="mg-slider" type="range" min="0" value="0" aria-label="frame">
<span id="mg-counter"></span>
<label>t = <input id="mg-t" type="number" min="1" value="1"></label>
<button id="mg-jump-forward">forward of step t</button><button id="mg-jump-backward">backward of step t</button>
</div></header>
<main><div id="mg-graph" class="mg-{data["view"]}">{svg}</div>
<aside>
<section id="mg-node"></section>
<section><h2>Equation</h2><pre id="mg-eq"></pre></section>
<section id="mg-notes"></section>
<section><h2 id="mg-legend-title">log10 ||dL/dh_t||</h2><div id="mg-legend"></div></section>
<section><h2>Accumulated into shared weights</h2><table id="mg-accum"></table></section>
<section><h2>Per-step contributions</h2><select id="mg-weight"></select><div id="mg-bars"></div>
<p class="mg-small" id="mg-bars-note"></p></section>
</aside></main></div>
<script type="application/json" id="mg-data">{payload}</script>
<script>{_asset("explorer.js")}</script>
</body></html>
"""


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"not JSON: {type(x).__name__}")


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x
