"""Optimizers and learning-rate schedules, with PyTorch's names, arguments and numbers.

    >>> import minigrad as mg
    >>> w = mg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = mg.optim.Adam([w], lr=0.1)
    >>> sched = mg.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    >>> for _ in range(3):
    ...     opt.zero_grad()
    ...     loss = (w * w).sum()
    ...     loss.backward()
    ...     opt.step()
    ...     sched.step()

SGD, Adam and AdamW run one fused Numba kernel per parameter (minigrad/kernels/optim.py), in
place on ``p._array``; ``impl='reference'`` runs the NumPy expressions the kernels are tested
against. RMSprop, Adagrad, Adadelta and LBFGS are written in NumPy only.
"""

from minigrad.optim import lr_scheduler
from minigrad.optim.adadelta import Adadelta
from minigrad.optim.adagrad import Adagrad
from minigrad.optim.adam import Adam, AdamW
from minigrad.optim.lbfgs import LBFGS
from minigrad.optim.optimizer import Optimizer
from minigrad.optim.rmsprop import RMSprop
from minigrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "LBFGS", "lr_scheduler"]
