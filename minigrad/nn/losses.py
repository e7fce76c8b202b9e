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


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (put a ``LogSoftmax`` before it).

    ``weight`` (C,) weights classes, targets equal to ``ignore_index`` are skipped. Together,
    ``LogSoftmax`` + ``NLLLoss`` equal ``CrossEntropyLoss``. See ``F.nll_loss`` for shapes.

    Example::

        >>> import minigrad as mg
        >>> loss_fn = mg.nn.NLLLoss()
        >>> log_probs = mg.nn.LogSoftmax(dim=1)(mg.zeros(2, 4))
        >>> round(loss_fn(log_probs, mg.tensor([1, 3])).item(), 4)
        1.3863
    """

    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities in [0, 1] (put a ``Sigmoid`` before it).

    ``weight`` rescales each element. Logs are clamped to >= -100 as in PyTorch; for logits
    ``BCEWithLogitsLoss`` is the stabler choice.

    Example::

        >>> import minigrad as mg
        >>> round(mg.nn.BCELoss()(mg.tensor([0.5, 0.5]), mg.tensor([0.0, 1.0])).item(), 4)
        0.6931
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1: quadratic for errors below ``beta``, linear above (robust to outliers).

    Example::

        >>> import minigrad as mg
        >>> mg.nn.SmoothL1Loss(reduction="sum")(mg.tensor([0.5, 3.0]), mg.zeros(2)).item()
        2.625
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber loss: ``0.5 d^2`` for ``|d| < delta``, ``delta (|d| - 0.5 delta)`` beyond.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.HuberLoss(reduction="sum", delta=2.0)(mg.tensor([0.5, 3.0]), mg.zeros(2)).item()
        4.125
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities ``input`` from the distribution ``target``.

    Use ``reduction='batchmean'`` for the true KL divergence per example ('mean' divides by
    every element and warns). ``log_target=True`` takes the target as log-probabilities.

    Example::

        >>> import minigrad as mg
        >>> kl = mg.nn.KLDivLoss(reduction="batchmean")
        >>> round(kl(mg.tensor([[0.25, 0.75]]).log(), mg.tensor([[0.5, 0.5]])).item(), 4)
        0.1438
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super(_Loss, self).__init__()  # 'batchmean' is valid here only: _Loss would refuse it
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)
        if self.reduction not in ("mean", "batchmean", "sum", "none"):
            raise ValueError(f"KLDivLoss: {reduction!r} is not a valid value for reduction (expected 'mean', "
                             "'batchmean', 'sum' or 'none')")
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
