"""``mg.viz.explore``: build the explorer page for a loss, and the object that shows or saves it."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from minigrad.tensor import Tensor
from minigrad.viz import GraphTooLargeError
from minigrad.viz.explorer.contributions import OUTSIDE, split_by_cells
from minigrad.viz.explorer.model import Frame, Graph, Model, build_model
from minigrad.viz.explorer.names import declared_names, names_from_params
from minigrad.viz.explorer.page import html_page, page_data, render_svg, to_dot
from minigrad.viz.explorer.record import BackwardTrace, forward_record_for, trace_backward
from minigrad.viz.explorer.steps import cell_of, cell_of_scope, is_fused

VIEWS = ("auto", "ops", "cells")
AUTO_OPS_NODES = 400  # view='auto' draws every op up to this many nodes, else one node per cell


class Explorer:
    """One explorer page: ``.html`` (the text), ``.save(path)``, and inline display in Jupyter.

    ``frames`` (Python side) lists what each page frame shows, with the graph node behind it;
    ``weights`` maps each shared weight's name to its per-step gradient terms.

    Example::

        >>> import tempfile, pathlib
        >>> import minigrad as mg
        >>> rnn = mg.nn.RNN(2, 3)
        >>> out, _ = rnn(mg.randn(3, 1, 2))
        >>> ex = mg.viz.explore(out.sum(), params=rnn)
        >>> path = ex.save(pathlib.Path(tempfile.mkdtemp()) / "bptt.html")
        >>> path.read_text(encoding="utf-8") == ex.html, len(ex.weights["weight_hh_l0"])
        (True, 3)
    """

    def __init__(self, page: str, model: Model, weights: dict[str, list[np.ndarray]], dot: str,
                 path: Path | None = None) -> None:
        self.html = page
        self.model = model
        self.frames: list[Frame] = model.frames
        self.view = model.view
        self.weights = weights
        self.dot = dot
        self.path = path

    @property
    def length(self) -> int:
        """The number of frames (forward then backward)."""
        return len(self.frames)

    def save(self, path: str | Path) -> Path:
        """Write the page (one self-contained HTML file) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html, encoding="utf-8")
        self.path = path
        return path

    def _repr_html_(self) -> str:
        # In an iframe: the page's script and ids stay apart from the notebook's and other explorers'.
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;height:680px;'
                'border:1px solid #ddd" sandbox="allow-scripts"></iframe>')

    def save_frames(self, directory: str | Path, *, phase: str = "backward", max_frames: int = 200) -> list[Path]:
        """The frames of ``phase`` ('forward', 'backward' or 'both') as PNG files, for slides. Needs Pillow."""
        from minigrad.viz.explorer.slides import save_frames

        return save_frames(self, Path(directory), phase=phase, max_frames=max_frames)

    def save_gif(self, path: str | Path, *, phase: str = "backward", seconds_per_frame: float = 0.6,
                 max_frames: int = 200) -> Path:
        """The frames of ``phase`` as one animated GIF, for teachers who cannot run a notebook. Needs Pillow."""
        from minigrad.viz.explorer.slides import save_gif

        return save_gif(self, Path(path), phase=phase, seconds_per_frame=seconds_per_frame, max_frames=max_frames)

    def __repr__(self) -> str:
        where = f", saved to {self.path}" if self.path else ""
        return f"<Explorer {self.view} view, {self.length} frames, {self.model.steps} steps{where}>"


def _leaves(trace: BackwardTrace) -> list[Tensor]:
    seen: dict[int, Tensor] = {}
    for fn in reversed(trace.order):
        for e in fn.next_functions:
            if isinstance(e, Tensor):
                seen.setdefault(id(e), e)
    return list(seen.values())


def shared_weights(trace: BackwardTrace, names: dict[int, str], T: int) -> list[dict[str, Any]]:
    """Every leaf used by at least two time steps (and nowhere else), with its terms per cell and per step."""
    out = []
    unnamed = 0
    leaves = _leaves(trace)
    split = split_by_cells(trace, leaves)
    declared = declared_names(trace)
    for leaf in leaves:
        parts = split[id(leaf)]
        outside = parts.pop(OUTSIDE, None)
        if outside is not None and np.any(outside != 0) or len({key[1] for key in parts}) < 2:
            continue
        steps = np.zeros((T, *leaf.shape))
        for (_, t), g in parts.items():
            steps[t] += g
        if not np.any((steps != 0).sum(axis=0) >= 2):  # each step its own slice (an input x): not shared
            continue
        name = names.get(id(leaf)) or declared.get(id(leaf))
        if name is None:
            name = f"W{unnamed} {tuple(leaf.shape)}"
            unnamed += 1
        out.append({"name": name, "shape": leaf.shape, "steps": steps, "cells": parts})
    return out


def _too_many(view: str, count: int, max_nodes: int) -> GraphTooLargeError:
    remedy = ("view='cells' (one node per layer and time step), or window=(first, last) to draw a few steps"
              if view == "ops" else "window=(first, last) to draw fewer steps")
    return GraphTooLargeError(f"explore: the {view} view would draw {count} nodes, more than max_nodes={max_nodes}; "
                              f"the page would be slow to lay out and to use. Use {remedy}, or pass a larger "
                              "max_nodes=.")


def _refuse_early(root: Any, view: str, max_nodes: int, window: tuple[int, int] | None) -> None:
    """Refuse a graph that is certainly too large before running anything on it (a walk, no arrays)."""
    if not isinstance(root, Tensor) or root.grad_fn is None:
        return  # trace_backward says what is wrong
    ops, cells, seen, stack = 0, set(), {root.grad_fn}, [root.grad_fn]
    while stack:
        fn = stack.pop()
        steps = [cell_of_scope(fn.step_scope(t)) for t in range(fn.num_steps)] if is_fused(fn) else [cell_of(fn)]
        for key in steps:
            if key is not None and (window is None or window[0] <= key[1] + 1 <= window[1]):
                cells.add(key)
        ops += len(steps)
        for edge in fn.next_functions:
            if type(edge) is tuple and edge[0] not in seen:
                seen.add(edge[0])
                stack.append(edge[0])
    if view == "ops" and ops > max_nodes and window is None:
        raise _too_many("ops", ops, max_nodes)
    if len(cells) > max_nodes:
        raise _too_many("cells" if view != "ops" else "ops", len(cells), max_nodes)


def _count_ops_nodes(graph: Graph, window: tuple[int, int] | None) -> int:
    n = 0
    for fn in graph.build_order:
        if is_fused(fn):
            n += fn.num_steps
        else:
            n += 1
    return n + len(_leaves(graph.trace))


def explore(root: Tensor, path: str | Path | None = None, *, params: Any = None, view: str = "auto",
            max_nodes: int = 2000, window: tuple[int, int] | None = None, truncated: bool | None = None,
            title: str | None = None) -> Explorer:
    """Step through the forward and the backward pass behind ``root`` (a scalar loss) in a browser.

    Writes one self-contained HTML file to ``path`` (when given) and returns an ``Explorer``
    that Jupyter shows inline. ``view``: 'ops' (every op), 'cells' (one node per layer and
    time step: for long sequences) or 'auto'. ``window=(first, last)`` keeps only steps
    first..last (t counted from 1). 'auto' draws every op of small graphs built from ops, and cells
    for long sequences and fused layers. ``params`` (a Module, dict or pairs) names the weights.
    ``truncated=True`` marks h_0 as a state carried from an earlier window (truncated BPTT);
    by default it is detected where the layer shows its initial state. Nothing is changed: no
    ``.grad`` is touched and the graph stays for your own ``backward()``.

    Example::

        >>> import minigrad as mg
        >>> lstm = mg.nn.LSTM(2, 3)
        >>> out, _ = lstm(mg.randn(4, 1, 2))
        >>> ex = mg.viz.explore(out[-1].sum(), params=lstm, view="cells")
        >>> ex.length, ex.frames[-1].phase, "http://" in ex.html
        (10, 'backward', False)
    """
    if view not in VIEWS:
        raise ValueError(f"explore: view must be one of {VIEWS}, got {view!r}")
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"explore: max_nodes must be a positive int, got {max_nodes!r}")
    if window is not None:
        if (not isinstance(window, (tuple, list)) or len(window) != 2
                or not all(isinstance(v, int) for v in window) or not 1 <= window[0] <= window[1]):
            raise ValueError(f"explore: window must be (first, last) steps with 1 <= first <= last, got {window!r}")
        window = (int(window[0]), int(window[1]))
    _refuse_early(root, view, max_nodes, window)
    trace = trace_backward(root, "explore")
    graph = Graph(trace, forward_record_for(root.grad_fn))
    if view == "auto":  # every op while that stays readable; fused layers have no ops to show: cells
        small = _count_ops_nodes(graph, window) <= AUTO_OPS_NODES or window is not None
        view = "ops" if small and (graph.cells or not graph.fused) else "cells"
    names = names_from_params(params)
    model = build_model(graph, view, names, window, truncated)
    if len(model.nodes) > max_nodes:
        raise _too_many(view, len(model.nodes), max_nodes)
    weights = shared_weights(trace, names, model.steps)
    dot, program = to_dot(model)
    title = title or f"BPTT explorer: {model.steps} steps, {view} view"
    page = html_page(render_svg(dot, program), page_data(model, weights, title))
    explorer = Explorer(page, model, {w["name"]: list(w["steps"]) for w in weights}, dot)
    if path is not None:
        explorer.save(path)
    return explorer
