"""``torch.nn.modules.loss``'s path: the loss layers, re-exported (they live in ``minigrad.nn.losses``).

Example::

    >>> import minigrad as mg
    >>> mg.nn.modules.loss.NLLLoss is mg.nn.NLLLoss
    True
"""

from minigrad.nn.losses import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
    _Loss,
    _WeightedLoss,
)

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss",
           "NLLLoss", "SmoothL1Loss", "_Loss", "_WeightedLoss"]
