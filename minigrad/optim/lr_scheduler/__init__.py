"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``, same numbers).

A scheduler rewrites ``group['lr']`` of its optimizer's parameter groups each time you call
``scheduler.step()`` (once per epoch, or per batch for OneCycleLR), *after* ``optimizer.step()``::

    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    sched = mg.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)
        sched.step()                # lr = 0.1 for epochs 0-29, 0.01 for 30-59, ...

Like PyTorch, most schedulers here are *recursive*: each step multiplies the current
``group['lr']`` by a factor, instead of recomputing it from the epoch number. That is why
CosineAnnealingLR's values differ from the closed-form cosine in the last bits, and why an ``lr``
changed by hand keeps being scaled from where you left it. We reproduce PyTorch's recursion
(including the cosine's special cases) so the numbers match exactly.

``last_epoch`` counts ``step()`` calls (``-1`` before construction, which does step 0);
``get_last_lr()`` returns the learning rates set by the last step; ``state_dict()`` /
``load_state_dict()`` save and restore everything except the optimizer.
"""

from minigrad.optim.lr_scheduler.base import LRScheduler
from minigrad.optim.lr_scheduler.one_cycle import OneCycleLR
from minigrad.optim.lr_scheduler.plateau import ReduceLROnPlateau
from minigrad.optim.lr_scheduler.schedules import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    StepLR,
)

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "CosineAnnealingLR", "ReduceLROnPlateau", "OneCycleLR"]
