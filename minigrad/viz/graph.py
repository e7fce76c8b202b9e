"""Draw the graph behind a tensor, unrolled in time: walk it, decide what to show, write DOT.

Three stages, one idea each, one file each:

1. **Walk** (``walk.py``): from the root tensors follow ``fn.next_functions`` with an explicit
   stack (never recursion: an unrolled graph can be 100,000 nodes deep) and collect every
   ``Function`` and every leaf tensor. Scopes (``fn.scope == "lstm/l0/t3"``) become nested
   clusters: a component ``t<digits>`` is a time step, what is above it a layer.
2. **Model** (``model.py``, ``builder.py``, ``ops_view.py``, ``cells_view.py``): turn them into
   drawing nodes and edges. ``view='ops'`` draws every primitive op and expands each fused
   recurrent layer (a node that declares its steps) into its cell's equations;
   ``view='cells'`` draws one node per layer and time step. Names come from ``naming.py``,
   values and gradient norms from a recording (``record.py``), each step's h_t and c_t from
   ``mark_state`` (``marks.py``).
3. **Layout and DOT** (``layout.py``, ``dot.py``): edges get Graphviz attributes so that time
   flows left to right (reverse-direction layers are mirrored, their arrows point right to
   left), parameters shared by every step don't pull the picture apart, and time steps are
   coloured by log10 ||dL/dh_t||.

This file holds the public functions.

Example::

    >>> import minigrad as mg
    >>> W = mg.tensor([[0.5]], requires_grad=True)
    >>> h = mg.zeros(1, 1)
    >>> for t in range(1, 4):                # time counts t = 1..T; h is h_0 here
    ...     with mg.scope(f"t{t}"):
    ...         h = (h @ W + 1).tanh()
    ...         mg.viz.mark_state(h)          # this step's hidden state h_t
    >>> "t = 3" in to_dot(h, params={"W": W})
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import graphviz

from minigrad.autograd.engine import cycle_collector_paused
from minigrad.tensor import Tensor
from minigrad.viz import colors as C
from minigrad.viz.builder import _Builder
from minigrad.viz.cells_view import _CellsBuilder
from minigrad.viz.dot import _emit
from minigrad.viz.layout import _layout, _share_copies
from minigrad.viz.model import _Model, _Options
from minigrad.viz.naming import _param_names
from minigrad.viz.ops_view import _OpsBuilder
from minigrad.viz.truncated import grey_previous_window, previous_roots
from minigrad.viz.walk import GraphTooLargeError, _as_roots, _too_large, split_scope, walk

__all__ = ["draw_graph", "to_dot", "build_model", "walk", "split_scope", "GraphTooLargeError", "Drawing"]

VIEWS = ("ops", "cells", "auto")
RANKDIRS = ("LR", "RL", "TB", "BT")


# =============================================================================================
# The public functions
# =============================================================================================


SLIDE_INCHES = (13.333, 7.5)  # a 16:9 slide (PowerPoint's, Google Slides' and Keynote's wide format)


class Drawing(graphviz.Digraph):
    """A ``graphviz.Digraph`` that Jupyter shows inline, and shows as DOT text when ``dot`` is missing.

    ``scale`` is the colour scale the drawing used (None without gradients): pass it as ``scale=``
    to another drawing to colour both alike. ``render("name", format="svg")`` writes ``name.svg``
    only (graphviz's own default would also leave the DOT source ``name`` beside it).
    """

    scale: C.GradientScale | None = None

    def render(self, *args: Any, **kwargs: Any) -> str:
        kwargs.setdefault("cleanup", True)
        return super().render(*args, **kwargs)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except graphviz.ExecutableNotFound:
            return {"text/plain": "Graphviz's `dot` was not found (install it, e.g. `apt-get install graphviz` or "
                                  "`brew install graphviz`, to see the picture). The DOT text:\n\n" + self.source}


def _check_size(size: Any) -> str | None:
    """Graphviz's ``size`` (inches, the drawing scaled down to fit) from ``"slide"`` or ``(width, height)``."""
    if size is None:
        return None
    if size == "slide":
        size = SLIDE_INCHES
    ok = isinstance(size, (tuple, list)) and len(size) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < float("inf") for v in size)
    if not ok:
        raise ValueError(f"draw_graph: size must be 'slide' (16:9, {SLIDE_INCHES[0]} x {SLIDE_INCHES[1]} inches) or "
                         f"(width, height) in inches, both positive, got {size!r}")
    return f"{size[0]:g},{size[1]:g}"


def _check_scale(scale: Any) -> C.GradientScale | None:
    """A fixed colour scale: another drawing's ``.scale``, a GradientScale, or (smallest, largest) norm."""
    if scale is None or isinstance(scale, C.GradientScale):
        return scale
    ok = isinstance(scale, (tuple, list)) and len(scale) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale)
    if not ok or not 0 < scale[0] < scale[1] < float("inf"):
        raise ValueError("draw_graph: scale must be (vmin, vmax), two gradient norms with 0 < vmin < vmax, "
                         f"or a drawing's .scale, got {scale!r}")
    return C.GradientScale(scale, exact=True)


def _check_args(view: str, rankdir: str, max_nodes: Any) -> None:
    if view not in VIEWS:
        raise ValueError(f"draw_graph: view must be one of {', '.join(map(repr, VIEWS))}, got {view!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {', '.join(map(repr, RANKDIRS))}, got {rankdir!r}")
    if not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes <= 0:
        raise ValueError(f"draw_graph: max_nodes must be a positive int, got {max_nodes!r}")


def build_model(root: Any, *, params: Any = None, view: str = "ops", show_values: bool = False,
                show_grads: bool = True, max_nodes: int = 3000, param_copies: bool = True, labels: Any = None,
                show_plumbing: bool = False, previous: Any = None) -> tuple[_Model, str]:
    """The drawing model (nodes, edges) and the view actually used; what draw_graph turns into DOT."""
    roots = _as_roots(root)
    earlier = previous_roots(previous) if previous is not None else []
    walked = roots + [t for t in earlier if t.grad_fn is not None]
    if params is not None:
        _param_names(params, [])  # a bad params= fails before the walk
    used = view
    if view == "auto":
        try:
            fns, leaves = walk(walked, "ops", max_nodes)
            used = "ops"
        except GraphTooLargeError:
            warnings.warn(f"draw_graph: more than max_nodes={max_nodes} nodes in view='ops'; drawing view='cells' "
                          "instead (one node per layer and time step)", UserWarning, stacklevel=3)
            used = "cells"
            fns, leaves = walk(walked, "cells", max_nodes)
    else:
        fns, leaves = walk(walked, view, max_nodes)
    names, is_param = _param_names(params, leaves, fns)
    opts = _Options(show_values, show_grads, names, is_param, explicit=params is not None, labels=labels,
                    show_plumbing=show_plumbing)
    builder = (_OpsBuilder if used == "ops" else _CellsBuilder)(fns, leaves, roots, opts)
    _warn_if_unrecorded(builder, show_values, show_grads)
    model = builder.build()
    model.labels = labels
    if earlier and not grey_previous_window(builder, model, earlier, roots):
        warnings.warn("draw_graph: previous= was given, but no initial state drawn in this graph holds its values, "
                      "so the cut is not marked: is this window started from detach_state(previous)? (A state that "
                      "requires no grad is drawn by the fused layers only; impl='reference' steps do not show it.)",
                      UserWarning, stacklevel=4)
    if builder.unmarked:
        steps = sorted("/".join(p) for p in builder.unmarked)
        warnings.warn(f"draw_graph: could not tell which result is the hidden state h_t in {len(steps)} time step(s) "
                      f"({', '.join(steps[:3])}{', ...' if len(steps) > 3 else ''}): several results of the step "
                      "feed the next one (a second state, or a running loss), or it is the last step, so those steps "
                      "are not coloured rather than guessed. Call mg.viz.mark_state(h) (or mark_state(h, c)) in "
                      "your loop, once per step (or compute the loss outside the time-step scopes).",
                      UserWarning, stacklevel=4)
    if len(model.nodes) > max_nodes:
        raise GraphTooLargeError(_too_large(used, max_nodes))
    if used == "ops" and param_copies:
        _share_copies(model)
    _layout(model, used)
    return model, used


def _warn_if_unrecorded(builder: _Builder, show_values: bool, show_grads: bool) -> None:
    """Say so when values or gradients were asked for but nothing recorded them (never a silent grey picture)."""
    if builder.rec is not None or not builder.fns:
        return
    missing = []
    if show_values:
        missing.append("values")
    # A backward ran through this graph: the engine set retain_graph on its nodes (or freed them).
    if show_grads and any(fn.released or "retain_graph" in vars(fn) for fn in builder.fns):
        missing.append("gradient norms")
    if missing:
        warnings.warn(f"draw_graph: this graph was not recorded, so the drawing shows no {' and no '.join(missing)} "
                      "of its operations. Run the forward and backward passes inside `with mg.viz.record():` "
                      "and draw after them (docs/visualization.md).", UserWarning, stacklevel=5)


def draw_graph(root: Tensor | list[Tensor], *, params: Any = None, view: str = "ops", show_values: bool = False,
               show_grads: bool = True, rankdir: str = "LR", max_nodes: int = 3000, param_copies: bool = True,
               labels: Sequence[Any] | None = None, show_plumbing: bool = False, size: Any = None,
               scale: Any = None, previous: Any = None) -> Drawing:
    """Draw the graph that produced ``root``, unrolled in time; returns a ``graphviz.Digraph``.

    - ``root``: a Tensor or a list of Tensors (each becomes an output node).
    - ``params``: names for parameters: a Module (its ``named_parameters()``), a dict name -> Tensor,
      or (name, Tensor) pairs. Without it, the modules holding the graph's parameters name them
      (``weight_ih_l0``; ``lstm.weight_ih_l0`` inside a model), and ``tensor.name`` names any tensor.
    - ``view='ops'``: every primitive op; a fused recurrent layer is expanded into its equations, one
      cluster per time step. ``view='cells'``: one node per layer and time step, carrying h_t (and
      c_t). ``view='auto'``: ops, or cells with a warning when ops would exceed ``max_nodes``.
    - ``show_values``: numbers on each node (<= 6 elements) or min / mean / max.
    - ``show_grads``: gradient norms on the nodes and each time step coloured by log10 ||dL/dh_t||,
      with a legend: run the forward and backward inside ``with mg.viz.record():`` (values too come
      from the recording; without one the drawing warns).
    - ``rankdir``: 'LR' (time flows left to right), 'TB', 'RL' or 'BT'.
    - ``max_nodes``: refuse (``ValueError``) to draw more nodes than this: Graphviz would take minutes.
    - ``param_copies``: in the ops view, draw a dashed copy of each shared parameter inside every
      time step that uses it (the textbook picture) instead of one edge from the parameter into
      every step (the literal graph, much harder to read).
    - ``labels``: what each time step reads, shown by ``x_t`` (``labels[t - 1]`` for t = 1..T): the
      characters of a string (``labels="Beautiful"``) or numbers.
    - ``show_plumbing``: in the ops view, also draw the ops that only move numbers around
      (``permute`` of ``W.T``, ``split`` of the gate blocks, ``reshape``...); hidden by default.
    - ``size``: ``"slide"`` scales the picture down to fit a 16:9 slide (13.33 x 7.5 inches), or
      ``(width, height)`` in inches.
    - ``scale``: hold the colour scale fixed across figures: ``(vmin, vmax)`` gradient norms, or
      another drawing's ``.scale``. Default: from the smallest to the largest norm of this picture.
    - ``previous``: truncated BPTT: the previous window's final state (``h_n`` or ``(h_n, c_n)``,
      before ``detach_state``). Its window is drawn too, greyed, and a dashed red arrow marks the
      cut to the detached state this window starts from.

    Example::

        >>> import minigrad as mg
        >>> rnn = mg.nn.RNN(2, 3, impl="reference")
        >>> with mg.viz.record():
        ...     out, h = rnn(mg.randn(4, 1, 2))
        ...     out.sum().backward()
        >>> g = mg.viz.draw_graph(out, params=rnn, view="cells")
        >>> g.render("rnn", format="svg")        # doctest: +SKIP
        'rnn.svg'
    """
    _check_args(view, rankdir, max_nodes)
    return _draw(root, params, view, show_values, show_grads, rankdir, max_nodes, param_copies, labels,
                 show_plumbing, size, scale, previous)


def _draw(root: Any, params: Any, view: str, show_values: bool, show_grads: bool, rankdir: str, max_nodes: int,
          param_copies: bool, labels: Any = None, show_plumbing: bool = False, size: Any = None,
          scale: Any = None, previous: Any = None) -> Drawing:
    size_attr, fixed = _check_size(size), _check_scale(scale)
    if labels is not None and (isinstance(labels, (bytes, dict)) or not hasattr(labels, "__len__")):
        raise TypeError(f"draw_graph: labels must be a sequence (a str, a list), one per time step t = 1..T, "
                        f"got {type(labels).__name__}")
    with cycle_collector_paused():  # the drawing makes no reference cycles either
        model, used = build_model(root, params=params, view=view, show_values=show_values, show_grads=show_grads,
                                  max_nodes=max_nodes, param_copies=param_copies, labels=labels,
                                  show_plumbing=show_plumbing, previous=previous)
    colours = None
    if show_grads and model.step_grads:
        title = "||dL/dh_t||" + (" (the number in each cell)" if used == "cells" else "")
        pale = 0.35 if used == "ops" else 0.0
        colours = (C.GradientScale(model.step_grads.values(), pale=pale, title=title, exact=None) if fixed is None
                   else fixed.with_style(pale=pale, title=title))
    lines, graph_attr = _emit(model, used, rankdir, colours)
    if size_attr is not None:
        graph_attr["size"] = size_attr
    drawing = Drawing(name="minigrad", graph_attr=graph_attr,
                      node_attr={"fontname": "Helvetica", "fontsize": "10", "margin": "0.06,0.03", "height": "0.3"},
                      edge_attr={"color": C.EDGE_COLOR, "arrowsize": "0.6"}, body=lines)
    drawing.scale = colours
    return drawing


def to_dot(root: Tensor | list[Tensor], *, params: Any = None, view: str = "ops", show_values: bool = False,
           show_grads: bool = True, rankdir: str = "LR", max_nodes: int = 3000, param_copies: bool = True,
           labels: Sequence[Any] | None = None, show_plumbing: bool = False, size: Any = None,
           scale: Any = None, previous: Any = None) -> str:
    """The DOT text of ``draw_graph(root, ...)`` (same arguments); needs no Graphviz binary.

    Example::

        >>> import minigrad as mg
        >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
        >>> to_dot((x * x).sum(), params={"x": x}).startswith("digraph minigrad {")
        True
    """
    _check_args(view, rankdir, max_nodes)
    return _draw(root, params, view, show_values, show_grads, rankdir, max_nodes, param_copies, labels, show_plumbing,
                 size, scale, previous).source
