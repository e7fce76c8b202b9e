"""The ``Optimizer`` base class: parameter groups, per-parameter state, and checkpoints.

An optimizer holds

- ``param_groups``: a list of dicts. Each has ``'params'`` (a list of Tensors) plus its own
  hyperparameters (``'lr'``, ``'momentum'``, ...). Different layers can thus learn at different
  rates; a learning-rate scheduler simply rewrites ``group['lr']``.
- ``state``: a dict keyed by the parameter Tensor itself, holding what the method remembers
  between steps (Adam's ``exp_avg``, SGD's ``momentum_buffer``, the ``step`` count).

``state_dict()`` replaces the Tensors by their position (0, 1, 2 ... in group order) so that a
checkpoint can be loaded into a *fresh* optimizer over a fresh model: PyTorch's layout,

    {'state': {0: {'step': tensor(3.), 'exp_avg': ..., ...}, ...},
     'param_groups': [{'lr': 0.001, 'betas': (0.9, 0.999), ..., 'params': [0, 1, 2]}]}

Subclasses implement ``step()``; the update itself runs in the fused Numba kernels of
``minigrad/kernels/optim.py`` (see :func:`run_update`).

Example::

    >>> import minigrad as mg
    >>> w = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = mg.optim.SGD([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step(); opt.zero_grad()
    >>> w.tolist(), w.grad
    ([0.800000011920929, 1.600000023841858], None)
"""

from __future__ import annotations

import copy
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from minigrad._quiet import quiet
from minigrad.autograd import enable_grad, version_counter
from minigrad.dtypes import get_default_dtype
from minigrad.tensor import Tensor

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


class _RequiredParameter:
    """Marker for a hyperparameter without default (each group must give it)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of every optimizer (PyTorch's ``torch.optim.Optimizer`` interface).

    ``params`` is an iterable of Tensors, of ``(name, Tensor)`` pairs (``model.named_parameters()``),
    or of dicts (parameter groups: ``{'params': [...], 'lr': 0.1}``); ``defaults`` are the
    hyperparameters used by groups that don't set their own.

    ``impl`` (minigrad only, keyword): ``'fused'`` runs the Numba kernels, ``'reference'`` the
    NumPy expressions they are tested against (same numbers; easier to step through).
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any], *, impl: str = "fused") -> None:
        if impl not in ("fused", "reference"):
            raise ValueError(f"{type(self).__name__}: impl must be 'fused' or 'reference', got {impl!r}")
        self.impl = impl
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or "
                            f"dicts, but got a single Tensor of shape {params.shape}; wrap it in a list")
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        # Keyed by the parameter Tensor itself (Tensors hash by identity, as in PyTorch).
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []

        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters, e.g. when unfreezing a layer part-way through training.

        Hyperparameters missing from ``param_group`` take the optimizer's defaults.

        Example::

            >>> import minigrad as mg
            >>> a, b = mg.zeros(2, requires_grad=True), mg.zeros(3, requires_grad=True)
            >>> opt = mg.optim.SGD([a], lr=0.1)
            >>> opt.add_param_group({"params": [b], "lr": 0.01})
            >>> [g["lr"] for g in opt.param_groups]
            [0.1, 0.01]
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        param_group = dict(param_group)  # never modify the caller's dict
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)

        # model.named_parameters() gives (name, tensor) pairs: keep the names, as PyTorch does.
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = params

        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but parameter {i} of the group is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (parameter {i} of the group was made by "
                                 f"{type(p.grad_fn).__name__}); optimize the leaf it came from, or .detach() it")
            if p.dtype.kind != "f":
                raise TypeError(f"optimizer can only optimize floating point Tensors, parameter {i} has dtype "
                                f"{p.dtype}")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter "
                                 f"{name}")
            param_group.setdefault(name, default)

        seen: dict[int, int] = {}
        for i, p in enumerate(params):
            if id(p) in seen:
                raise ValueError(f"optimizer got parameter {i} twice in the same group (first at position "
                                 f"{seen[id(p)]}, shape {p.shape}); each parameter may appear only once")
            seen[id(p)] = i
        for g in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in g):
                kind = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {kind} to the optimizer")
            if any(id(q) in seen for q in g["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        self._check_group(param_group)
        self.param_groups.append(param_group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate one group's hyperparameters (subclasses raise ValueError naming the value)."""

    # ------------------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of every parameter, before the next backward pass.

        ``set_to_none=True`` (default) sets ``p.grad = None``: cheaper, and a parameter that
        gets no gradient next time is then skipped by ``step()``. ``False`` fills with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    g = p.grad
                    if g.grad_fn is not None:
                        g.detach_()
                    if g._array.flags.writeable:
                        g._array[...] = 0
                    else:
                        g._array = np.zeros_like(g._array)

    # Whether every state array has its parameter's shape (checked by load_state_dict); LBFGS
    # keeps flat vectors of all parameters instead.
    _state_shaped_like_params: bool = True

    # The update kernel and its NumPy reference (``impl='reference'``); set by each subclass.
    kernel: Callable[..., None] | None = None
    kernel_ref: Callable[..., None] | None = None

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s loss if given."""
        if self.kernel is None:
            raise NotImplementedError(f"{type(self).__name__} does not implement step()")
        loss = self._call_closure(closure)
        kernel = self.kernel if self.impl == "fused" else self.kernel_ref
        with self._quiet():
            for group in self.param_groups:
                self._update_group(group, kernel)
        return loss

    def _update_group(self, group: dict[str, Any], kernel: Callable[..., None]) -> None:
        """Apply ``kernel`` to every parameter of ``group`` that has a gradient (per optimizer)."""
        raise NotImplementedError

    @staticmethod
    def _quiet() -> Any:
        """The floating-point error state of an update: NaN/Inf propagate without warnings."""
        return quiet()

    def _call_closure(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as ``{'state': {index: {...}}, 'param_groups': [...]}``.

        Parameters are replaced by their index (counting through the groups in order), so the
        dict can be saved (``mg.save``) and loaded into a new optimizer over a new model. As in
        PyTorch, the state tensors are *not* copied: save it, or deep-copy it, before stepping on.

        Example::

            >>> import minigrad as mg
            >>> w = mg.zeros(3, requires_grad=True)
            >>> sd = mg.optim.SGD([w], lr=0.1, momentum=0.9).state_dict()
            >>> sd["param_groups"][0]["params"], sd["state"]
            ([0], {})
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)] if isinstance(p, Tensor) else p: s for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a dict made by :meth:`state_dict` (or read back by ``mg.load``).

        The groups must have the same sizes as this optimizer's; hyperparameters (``lr``...) are
        taken from the dict, state arrays are copied (cast to each parameter's dtype, except
        ``step``). Load a scheduler's state *before* this, as in PyTorch.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("load_state_dict: expected a dict with keys 'state' and 'param_groups' "
                             "(made by Optimizer.state_dict())")
        groups = self.param_groups
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer ({len(groups)})")
        for i, (g, sg) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size "
                                 f"of optimizer's group: group {i} has {len(sg['params'])} parameters in the "
                                 f"state dict and {len(g['params'])} in the optimizer")
        for i, sg in enumerate(saved_groups):
            # A group saved by another optimizer lacks this one's hyperparameters: say so now, not
            # with a KeyError at the next step(). Missing switches (bools added by newer versions,
            # e.g. 'maximize') take their defaults, as PyTorch's __setstate__ does.
            missing = [k for k in self.defaults if k not in sg]
            needed = [k for k in missing if not isinstance(self.defaults[k], bool)]
            if needed:
                have = sorted(k for k in sg if k not in ("params", "param_names"))
                raise ValueError(f"load_state_dict: parameter group {i} of the state dict has no "
                                 f"{' or '.join(repr(k) for k in needed)}, which {type(self).__name__} needs "
                                 f"(its hyperparameters: {', '.join(have)}); was it saved from another optimizer?")
            for k in missing:
                sg[k] = self.defaults[k]
            self._check_group(sg)
        id_map = {saved: p for g, sg in zip(groups, saved_groups) for saved, p in zip(sg["params"], g["params"])}

        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            # mg.load gives back int keys; a JSON round trip may give "0": accept both.
            key = int(k) if isinstance(k, str) and k.isdigit() else k
            if key in id_map:
                p = id_map[key]
                state[p] = {name: _load_value(p, name, value, key, self._state_shaped_like_params)
                            for name, value in v.items()}
            else:
                state[key] = v
        for g, sg in zip(groups, saved_groups):
            sg["params"] = g["params"]
            if "param_names" in g and "param_names" not in sg:
                sg["param_names"] = g["param_names"]
        self.state = state
        self.param_groups = saved_groups

    # ------------------------------------------------------------------------------ display
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k not in ("params", "param_names")]
        return "\n".join(lines) + "\n)"

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups,
                "impl": self.impl}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _load_value(p: Tensor, name: str, value: Any, index: int, check_shape: bool = True) -> Any:
    """A private, C-contiguous copy of one loaded state value, in ``p``'s dtype (``step`` kept).

    ``check_shape``: the value must have p's shape (per-element state such as ``exp_avg``).
    """
    if isinstance(value, dict):
        return {k: _load_value(p, k, v, index, check_shape) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_load_value(p, name, v, index, check_shape) for v in value)
    if name == "step":
        # PyTorch keeps the step as a float32 (or float64) scalar tensor; numbers are accepted too.
        arr = value._array if isinstance(value, Tensor) else np.asarray(value)
        if arr.size != 1:
            raise ValueError(f"load_state_dict: 'step' of parameter {index} should be a single number, "
                             f"got shape {arr.shape}")
        dtype = arr.dtype if arr.dtype.kind == "f" else scalar_dtype()
        return Tensor(np.array(arr.reshape(()), dtype=dtype))
    if isinstance(value, (Tensor, np.ndarray)):
        arr = value._array if isinstance(value, Tensor) else value
        if check_shape and arr.shape != p.shape:
            raise ValueError(f"load_state_dict: state '{name}' of parameter {index} has shape {arr.shape}, "
                             f"but the parameter has shape {p.shape}")
        return Tensor(np.array(arr, dtype=p.dtype, order="C", copy=True))
    return value


def require_number(value: Any, what: str) -> None:
    """TypeError naming the hyperparameter when ``value`` is not a real number (or a one-element Tensor)."""
    if isinstance(value, Tensor) and value._array.size == 1:
        return
    if not isinstance(value, numbers.Real):
        raise TypeError(f"Invalid {what}: {value!r} (expected a number, got {type(value).__name__})")


def scalar_dtype() -> np.dtype:
    """dtype of the ``step`` counters: float64 if that is the default dtype, else float32 (PyTorch)."""
    return np.dtype(np.float64) if get_default_dtype() == np.float64 else np.dtype(np.float32)


# ------------------------------------------------------------------------------------------------
# Running a kernel on one parameter
# ------------------------------------------------------------------------------------------------


def state_buffer(state: dict[str, Any], key: str, p: Tensor) -> np.ndarray:
    """``state[key]``'s array as a 1-D C-contiguous array of p's dtype, created as zeros if missing.

    A buffer that arrives in another layout or dtype (set by hand) is replaced once by a
    contiguous copy, so the kernels can always update it in place.
    """
    t = state.get(key)
    if t is None:
        t = state[key] = Tensor(np.zeros(p.shape, dtype=p.dtype))
    elif not isinstance(t, Tensor):
        t = state[key] = Tensor(np.array(t, dtype=p.dtype, order="C", copy=True))
    arr = t._array
    if not arr.flags.c_contiguous or not arr.flags.writeable or arr.dtype != p.dtype:
        arr = t._array = np.array(arr, dtype=p.dtype, order="C", copy=True)
    return arr.reshape(-1)


def grad_array(p: Tensor, who: str) -> np.ndarray:
    """``p.grad``'s array, checked against ``p`` and made 1-D, C-contiguous and of p's dtype."""
    g = p.grad._array
    if g.shape != p.shape:
        raise ValueError(f"{who}: the gradient of a parameter of shape {p.shape} has shape {g.shape}; "
                         "a .grad set by hand must have the parameter's shape")
    return np.ascontiguousarray(g, dtype=p.dtype).reshape(-1)


def run_update(p: Tensor, kernel: Callable[..., None], *args: Any) -> None:
    """Call ``kernel(flat_p, *args)`` with a 1-D C-contiguous ``flat_p`` that is (or is copied back to)
    ``p._array``.

    Almost always ``p._array`` is contiguous and ``flat_p`` is a view of it: the kernel writes the
    parameter in place and views of it (a model's tied weights, ...) see the change. In the rare
    case of a non-contiguous ``p._array`` (a transposed or sliced array assigned by hand), the
    update runs on a contiguous copy which is then copied back into the same array.

    Call it inside ``quiet()`` (see ``Optimizer._quiet``): NaN/Inf spread
    silently as in PyTorch, also where the kernel runs as Python on NumPy scalars
    (NUMBA_DISABLE_JIT, ``impl='reference'``), which would otherwise warn.

    The update is an in-place change of ``p``: it bumps p's version counter, so that backward
    through a graph that saved ``p`` before the step raises instead of using the new values.
    """
    data = p._array
    direct = data.flags.c_contiguous and data.flags.writeable
    flat = data.reshape(-1) if direct else np.array(data, order="C", copy=True).reshape(-1)
    kernel(flat, *args)
    version_counter(p)[0] += 1
    if not direct:
        if data.flags.writeable:
            data[...] = flat.reshape(data.shape)
        else:
            p._array = flat.reshape(data.shape)
