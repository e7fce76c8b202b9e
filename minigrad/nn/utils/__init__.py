"""Helpers around training: packing variable-length sequences, truncated BPTT, gradient clipping.

Example::

    >>> import minigrad as mg
    >>> from minigrad.nn.utils import rnn, clip_grad_norm_
    >>> rnn.pad_sequence([mg.ones(2), mg.ones(1)]).shape
    (2, 2)
"""

from minigrad.nn.utils import rnn
from minigrad.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_
from minigrad.nn.utils.rnn import detach_state

__all__ = ["rnn", "clip_grad_norm_", "clip_grad_value_", "detach_state"]
