"""The BPTT explorer: step through the forward and backward pass of an unrolled graph in a browser.

``explore(loss, "bptt.html")`` writes one self-contained page (docs/visualization.md);
``grad_contributions(loss, weight)`` splits a shared weight's gradient by time step.
"""

from minigrad.viz.explorer.contributions import grad_contributions
from minigrad.viz.explorer.explore import Explorer, explore
from minigrad.viz.explorer.record import record_forward

__all__ = ["explore", "Explorer", "grad_contributions", "record_forward"]
