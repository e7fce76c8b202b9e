"""The base class every schedule derives from, and the checks they share."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from minigrad.optim.optimizer import Optimizer


def _lrs(optimizer: Optimizer, key: str = "lr") -> list[Any]:
    return [group[key] for group in optimizer.param_groups]


class LRScheduler:
    """Base class: subclasses implement ``get_lr()`` (the lrs for the new ``last_epoch``).

    Construction records ``group['initial_lr']`` (when ``last_epoch == -1``) and performs the
    first step, which sets ``last_epoch = 0``. To resume, either load a ``state_dict`` or pass
    ``last_epoch`` of the checkpoint (the groups must then already have ``'initial_lr'``).

    Example::

        >>> import minigrad as mg
        >>> opt = mg.optim.SGD([mg.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = mg.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
        >>> for _ in range(3):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr(), sched.last_epoch
        ([0.125], 3)
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                                   f"scheduler with last_epoch={last_epoch} >= 0: load the optimizer's "
                                   "state_dict first, or start from last_epoch=-1")
        self.base_lrs: list[float] = _lrs(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._is_initial = False
        self._get_lr_called_within_step = False
        self._initial_step()

    def _initial_step(self) -> None:
        """Step 0: sets ``last_epoch = 0`` and the starting learning rates."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for the current ``last_epoch`` (called by ``step``; don't call directly)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as set by the last ``step()``."""
        return self._last_lr

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and write the new learning rates into the optimizer's groups.

        ``epoch`` (deprecated in PyTorch, supported here likewise) jumps to that epoch, using the
        closed form where the scheduler has one.
        """
        self._step_count += 1
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                warnings.warn("The epoch parameter in `scheduler.step()` is deprecated (as in PyTorch); "
                              "call `scheduler.step()` without it", UserWarning, stacklevel=2)
                self.last_epoch = epoch
                values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        if len(values) != len(self.optimizer.param_groups):
            raise RuntimeError(f"{type(self).__name__}: the optimizer has {len(self.optimizer.param_groups)} "
                               f"parameter groups but the scheduler computed {len(values)} learning rates "
                               "(was a group added after the scheduler was made?)")
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _lrs(self.optimizer)

    def _warn_if_outside_step(self) -> None:
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                          UserWarning, stacklevel=3)

    # ------------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (PyTorch's layout), ready for ``mg.save``."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore attributes saved by :meth:`state_dict`."""
        _check_state_dict(self, state_dict)
        self.__dict__.update(state_dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={getattr(self, '_last_lr', None)})"


# ------------------------------------------------------------------------------------------------
# Multiplicative schedules
# ------------------------------------------------------------------------------------------------


def _check_state_dict(scheduler: Any, state_dict: Any) -> None:
    if not isinstance(state_dict, dict):
        raise TypeError(f"{type(scheduler).__name__}.load_state_dict: expected a dict made by state_dict(), "
                        f"got {type(state_dict).__name__}")


def _factor(scheduler: Any, fn: Callable[[int], Any], epoch: int) -> float:
    """``fn(epoch)``, checked: a factor that is not a number would corrupt every later lr."""
    value = fn(epoch)
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"{type(scheduler).__name__}: lr_lambda returned {value!r} ({type(value).__name__}) for "
                        f"epoch {epoch}; it must return a number (the factor that multiplies the lr)")
    return value


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """A scalar repeated for each param group, or a list checked to have one value per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. {name} has "
                             f"{len(value)} values, param_groups has {len(optimizer.param_groups)}.")
        return list(value)
    return [value] * len(optimizer.param_groups)
