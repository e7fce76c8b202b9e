"""``mg.viz``: drawings of the unrolled graph — see backpropagation through time.

``draw_graph(root, ...)`` returns a ``graphviz.Digraph`` (Jupyter shows it inline; ``.render()``
and ``.pipe()`` make SVG/PNG/PDF where Graphviz's ``dot`` is installed); ``to_dot(root, ...)``
returns the DOT text and needs no Graphviz binary. ``record()`` keeps what drawings show (values,
gradient norms, order of the passes) while the forward and backward run inside it.
``cell_diagram("lstm", highlight="forget")`` draws one cell, gate by gate.
``python -m minigrad.viz lstm --seq-len 4`` draws an unrolled layer from the command line. Guide:
docs/visualization.md.

Example::

    >>> import minigrad as mg
    >>> lstm = mg.nn.LSTM(3, 4, impl="reference")
    >>> with mg.viz.record():                  # keep what the drawing shows: values, gradient norms
    ...     out, _ = lstm(mg.randn(5, 2, 3))
    ...     out.sum().backward()
    >>> dot = mg.viz.to_dot(out, params=lstm, view="cells")
    >>> "weight_hh_l0" in dot and "h_5, c_5" in dot   # time counts t = 1..T
    True
"""

from typing import Any

from minigrad.viz.marks import mark_state
from minigrad.viz.record import Recording, record

__all__ = ["draw_graph", "to_dot", "record", "Recording", "mark_state", "GraphTooLargeError", "split_scope",
           "cell_diagram", "explore", "Explorer", "grad_contributions", "record_forward"]

# The drawing code (and Graphviz's Python package) loads on first use: the layers mark their
# states through this package (mark_state) and must not pay for importing the drawing.
_DRAWING = ("draw_graph", "to_dot", "GraphTooLargeError", "split_scope")
_EXPLORER = ("explore", "Explorer", "grad_contributions", "record_forward")


def __getattr__(name: str) -> Any:
    if name in _DRAWING:
        from minigrad.viz import graph

        return getattr(graph, name)
    if name == "cell_diagram":
        from minigrad.viz.diagram import cell_diagram

        return cell_diagram
    if name in _EXPLORER:
        from minigrad.viz import explorer

        return getattr(explorer, name)
    raise AttributeError(f"module 'minigrad.viz' has no attribute {name!r}")
