"""L-BFGS (Liu & Nocedal 1989), PyTorch's ``torch.optim.LBFGS`` step for step.

A quasi-Newton method: it treats all parameters as one flat vector ``x`` and, from the last
``history_size`` steps ``s_k = x_{k+1} - x_k`` and gradient changes ``y_k = g_{k+1} - g_k``,
builds an approximation ``H`` of the inverse Hessian. Each iteration moves along ``d = -H g``:

    d = -g                                           first iteration ever
    d = two_loop(-g, history) scaled by H_diag       later (H_diag = y.s / y.y of the newest pair)
    x = x + t d                                      t = lr (first iteration: lr * min(1, 1/|g|_1)),
                                                     or chosen by the strong-Wolfe line search

One ``step(closure)`` runs up to ``max_iter`` iterations, re-evaluating the loss with ``closure``
(which must zero the gradients, compute the loss, call ``backward()`` and return the loss) at
most ``max_eval`` times. It stops early when the gradient is below ``tolerance_grad`` or the
loss or the parameters change less than ``tolerance_change``.

The arithmetic follows PyTorch's code (torch/optim/lbfgs.py) operation by operation; numbers
that are 0-d tensors there are NumPy scalars of the parameters' dtype here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.autograd import version_counter
from minigrad.optim.line_search import strong_wolfe
from minigrad.optim.optimizer import Optimizer, ParamsT, require_number
from minigrad.tensor import Tensor

__all__ = ["LBFGS"]

# The state that PyTorch keeps between steps (on the first parameter): flat vectors and lists of them.
_ARRAY_STATE = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "al")


class LBFGS(Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
    history_size=100, line_search_fn=None)``, as ``torch.optim.LBFGS``.

    ``max_eval`` defaults to ``max_iter * 5 // 4``; ``line_search_fn`` is None (fixed steps of
    ``lr``) or ``'strong_wolfe'``. One parameter group only. ``step(closure)`` needs the closure.
    Its state lives on the first parameter, under PyTorch's keys (``func_evals``, ``n_iter``,
    ``d``, ``t``, ``old_dirs``, ``old_stps``, ``ro``, ``H_diag``, ``prev_flat_grad``,
    ``prev_loss``, ``al``).

    Example::

        >>> import minigrad as mg
        >>> w = mg.tensor([1.5, -0.5], requires_grad=True)
        >>> opt = mg.optim.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - mg.tensor([3.0, 2.0])) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 6) for v in w.tolist()]
        [3.0, 2.0]
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn)
        _check(defaults)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")

    @property
    def _params(self) -> list[Tensor]:
        """The parameters of the one group, in order: together they form the flat vector ``x``."""
        return self.param_groups[0]["params"]

    _state_shaped_like_params = False  # flat vectors over all parameters (d, prev_flat_grad, ...)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Refused after construction: L-BFGS optimizes one flat vector made of one group (as PyTorch)."""
        if self.param_groups:  # the constructor adds the one group; later ones are refused
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ------------------------------------------------------------------------------ flat views
    def _flat_dtype(self) -> np.dtype:
        return np.result_type(*(p.dtype for p in self._params))

    def _gather_flat_grad(self) -> np.ndarray:
        """All gradients as one new flat vector (zeros for a parameter without a gradient)."""
        dtype = self._flat_dtype()
        views = [np.zeros(p._array.size, dtype) if p.grad is None else p.grad._array.reshape(-1)
                 for p in self._params]
        for p in self._params:
            if p.grad is not None and p.grad.shape != p.shape:
                raise ValueError(f"LBFGS.step: the gradient of a parameter of shape {p.shape} has shape "
                                 f"{p.grad.shape}; a .grad set by hand must have the parameter's shape")
        return np.concatenate(views).astype(dtype, copy=False)

    def _add_grad(self, step_size: Any, update: np.ndarray) -> None:
        """``p += step_size * update[slice of p]`` for every parameter (in place, in p's dtype).

        In-place changes bump the parameters' version counters, as PyTorch's ``add_``/``copy_``.
        """
        offset = 0
        for p in self._params:
            data = p._array
            numel = data.size
            piece = update[offset:offset + numel].reshape(data.shape)
            if not data.flags.writeable:
                p._array = data = data.copy()
            data += data.dtype.type(step_size) * piece.astype(data.dtype, copy=False)
            version_counter(p)[0] += 1
            offset += numel

    def _clone_param(self) -> list[np.ndarray]:
        return [p._array.copy() for p in self._params]

    def _set_param(self, params_data: list[np.ndarray]) -> None:
        for p, saved in zip(self._params, params_data):
            p._array[...] = saved
            version_counter(p)[0] += 1

    def _directional_evaluate(self, closure: Callable[[], Any], x: list[np.ndarray], t: Any,
                              d: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss and flat gradient at ``x + t d``; the parameters are put back to ``x`` afterwards."""
        self._add_grad(t, d)
        loss = float(self._call_closure(closure))
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    # ------------------------------------------------------------------------------ the step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; return the loss of the first ``closure()`` call."""
        if closure is None or not callable(closure):
            raise TypeError("LBFGS.step(closure): L-BFGS re-evaluates the loss several times per step, so it "
                            "needs a closure that zeroes the gradients, computes the loss, calls backward() "
                            f"and returns the loss; got {closure!r}")
        with self._quiet():
            return self._run(closure)

    def _run(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        # L-BFGS has only global state; as PyTorch, keep it on the first parameter, so that
        # state_dict() / load_state_dict() handle it like any other optimizer's state.
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._call_closure(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:  # already optimal
            return orig_loss

        saved = {k: _unwrap(state.get(k)) for k in _ARRAY_STATE}
        d, t, H_diag, prev_flat_grad = saved["d"], saved["t"], saved["H_diag"], saved["prev_flat_grad"]
        old_dirs, old_stps, ro, al = saved["old_dirs"], saved["old_stps"], saved["ro"], saved["al"]
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # ---- the search direction d
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * d.dtype.type(t)
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)  # scale of the initial inverse Hessian
                if al is None:
                    al = [None] * history_size
                d = _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag, al)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # ---- the step length t
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)  # directional derivative
            if gtd > -tolerance_change:  # not a descent direction (any more)
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                x_init = self._clone_param()

                def obj_func(x: list[np.ndarray], t: Any, d: np.ndarray) -> tuple[float, np.ndarray]:
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                 max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)  # fixed step
                opt_cond = False
                if n_iter != max_iter:
                    # Re-evaluate only if another iteration follows (in a stochastic setting the
                    # loss after the last step is of no use here).
                    loss = float(self._call_closure(closure))
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ---- stopping rules
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * d.dtype.type(t)).max() <= tolerance_change:  # the parameters barely move
                break
            if abs(loss - prev_loss) < tolerance_change:  # the loss barely changes
                break

        for key, value in (("d", d), ("t", t), ("old_dirs", old_dirs), ("old_stps", old_stps), ("ro", ro),
                           ("H_diag", H_diag), ("prev_flat_grad", prev_flat_grad), ("al", al)):
            if value is not None or key in state:
                state[key] = _wrap(value)
        state["prev_loss"] = prev_loss
        return orig_loss


def _two_loop(flat_grad: np.ndarray, old_dirs: list[np.ndarray], old_stps: list[np.ndarray], ro: list[Any],
              H_diag: Any, al: list[Any]) -> np.ndarray:
    """``-H g`` by the L-BFGS two-loop recursion over the stored pairs (s_i, y_i), rho_i = 1 / y_i.s_i.

    ``al`` is scratch space for the first loop's coefficients (kept in the state, as PyTorch).
    """
    q = -flat_grad
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = old_stps[i].dot(q) * ro[i]
        q += q.dtype.type(-al[i]) * old_dirs[i]
    r = q * q.dtype.type(H_diag)  # the initial inverse Hessian: H_diag times the identity
    for i in range(len(old_dirs)):
        be_i = old_dirs[i].dot(r) * ro[i]
        r += r.dtype.type(al[i] - be_i) * old_stps[i]
    return r


def _wrap(value: Any) -> Any:
    """State as PyTorch keeps it: arrays and NumPy scalars as Tensors, lists of them as lists."""
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, np.ndarray):
        return Tensor(value)  # wraps, no copy
    if isinstance(value, np.generic):
        return Tensor(np.array(value))
    return value


def _unwrap(value: Any) -> Any:
    """The inverse of :func:`_wrap`: Tensors back to arrays (0-d ones to NumPy scalars)."""
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    arr = value._array if isinstance(value, Tensor) else value
    if isinstance(arr, np.ndarray):
        return arr[()] if arr.ndim == 0 else arr  # no copy: updated in place, as PyTorch's state
    return value


def _check(group: dict[str, Any]) -> None:
    for key, what in (("lr", "learning rate"), ("tolerance_grad", "tolerance_grad value"),
                      ("tolerance_change", "tolerance_change value")):
        require_number(group[key], what)
    if not 0.0 <= group["lr"]:
        raise ValueError(f"Invalid learning rate: {group['lr']}")
    for key in ("max_iter", "max_eval", "history_size"):
        value = group[key]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Invalid {key} value: {value!r} (expected a positive integer)")
    if group["line_search_fn"] not in (None, "strong_wolfe"):
        raise ValueError(f"Invalid line_search_fn: {group['line_search_fn']!r}; only None and 'strong_wolfe' "
                         "are supported (as in PyTorch)")
