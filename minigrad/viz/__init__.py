"""``mg.viz``: drawings of the unrolled graph — see backpropagation through time.

``draw_graph(root, ...)`` returns a ``graphviz.Digraph`` (Jupyter shows it inline; ``.render()``
and ``.pipe()`` make SVG/PNG/PDF where Graphviz's ``dot`` is installed); ``to_dot(root, ...)``
returns the DOT text and needs no Graphviz binary. ``python -m minigrad.viz lstm --steps 4``
draws an unrolled layer from the command line. Guide: docs/visualization.md.

Example::

    >>> import minigrad as mg
    >>> lstm = mg.nn.LSTM(3, 4, impl="reference")
    >>> out, _ = lstm(mg.randn(5, 2, 3))
    >>> out.sum().backward(retain_graph=True)
    >>> dot = mg.viz.to_dot(out, params=lstm, view="cells")
    >>> "weight_hh_l0" in dot and "t = 4" in dot
    True
"""

from minigrad.viz.graph import GraphTooLargeError, draw_graph, split_scope, to_dot

__all__ = ["draw_graph", "to_dot", "GraphTooLargeError", "split_scope"]
from minigrad.viz.explorer import Explorer, explore, grad_contributions, record_forward  # noqa: E402

__all__ += ["explore", "Explorer", "grad_contributions", "record_forward"]
