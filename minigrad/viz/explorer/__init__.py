"""The BPTT explorer: step through the forward and backward pass of an unrolled graph in a browser."""

from minigrad.viz.explorer.contributions import grad_contributions
from minigrad.viz.explorer.record import record_forward

__all__ = ["grad_contributions", "record_forward"]
