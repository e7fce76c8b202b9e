"""Loss layers: Modules wrapping the loss functions of ``minigrad.nn.functional``.

They hold the options (``reduction``, class ``weight``, ...) so a training loop can write
``criterion = nn.CrossEntropyLoss(ignore_index=PAD)`` once and call ``criterion(logits, y)``.
Class weights are registered as buffers, as in PyTorch (so they appear in ``state_dict``).

Example::

    >>> import minigrad as mg
    >>> criterion = mg.nn.CrossEntropyLoss()
    >>> round(criterion(mg.zeros(2, 4), mg.tensor([1, 3])).item(), 4)
    1.3863
"""

from __future__ import annotations

from minigrad.nn import functional as F
from minigrad.nn.module import Module
from minigrad.tensor import Tensor


class _Loss(Module):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)
        F._check_reduction(self.reduction, type(self).__name__)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error, ``mean((input - target)^2)``.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.MSELoss(reduction="sum")(mg.tensor([1.0, 2.0]), mg.tensor([0.0, 0.0])).item()
        5.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error, ``mean(|input - target|)``.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.L1Loss()(mg.tensor([1.0, -3.0]), mg.tensor([0.0, 0.0])).item()
        2.0
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits against integer classes (one fused graph node).

    ``weight`` (C,) weights classes, targets equal to ``ignore_index`` are skipped (padding),
    ``label_smoothing`` mixes in the uniform distribution. See ``F.cross_entropy`` for shapes.

    Example::

        >>> import minigrad as mg
        >>> loss_fn = mg.nn.CrossEntropyLoss(ignore_index=0)
        >>> logits = mg.zeros(3, 5)
        >>> round(loss_fn(logits, mg.tensor([0, 2, 4])).item(), 4)   # the row with target 0 is skipped
        1.6094
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits (the sigmoid is inside, computed stably).

    ``weight`` rescales each element, ``pos_weight`` (one per class, last dimension) weights
    positive examples.

    Example::

        >>> import minigrad as mg
        >>> round(mg.nn.BCEWithLogitsLoss()(mg.zeros(2), mg.tensor([0.0, 1.0])).item(), 4)
        0.6931
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, pos_weight=self.pos_weight,
                                                  reduction=self.reduction)
