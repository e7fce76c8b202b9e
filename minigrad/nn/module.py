"""Module: the base class of every layer and model (the containers are in ``containers.py``).

A Module owns Parameters and sub-Modules. Assigning one to an attribute *registers* it::

    self.fc = Linear(4, 3)        # registered as a child module named "fc"
    self.scale = Parameter(...)   # registered as a parameter named "scale"

so that ``parameters()``, ``state_dict()``, ``train()``/``eval()`` and ``repr`` find them,
in the order they were assigned (plain dicts, which keep insertion order: names and the order
of ``parameters()`` are stable, which optimizers and checkpoints rely on).

Example::

    >>> import minigrad as mg
    >>> class Net(mg.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc1 = mg.nn.Linear(4, 8)
    ...         self.fc2 = mg.nn.Linear(8, 2)
    ...     def forward(self, x):
    ...         return self.fc2(self.fc1(x).tanh())
    >>> [name for name, _ in Net().named_parameters()]
    ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
"""

from __future__ import annotations

import contextlib
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from minigrad.autograd import no_grad
from minigrad.dtypes import to_dtype
from minigrad.nn._registry import Registry
from minigrad.nn.parameter import Parameter
from minigrad.tensor import Tensor


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it could not match (PyTorch's namedtuple)."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _quoted(keys: list[str]) -> str:
    return ", ".join(f'"{k}"' for k in keys)


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (how PyTorch nests child reprs)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    first, rest = lines[0], lines[1:]
    return first + "\n" + "\n".join((" " * spaces + line) if line.strip() else "" for line in rest)


def live_modules() -> list[Module]:
    """Every Module alive in this process (a weak set: it keeps none of them alive).

    Example::

        >>> import minigrad as mg
        >>> layer = mg.nn.Linear(2, 3)
        >>> any(m is layer for m in live_modules())
        True
    """
    return list(_live_modules)


class Module:
    """Base class for layers and models: subclass it, create parts in ``__init__``, write ``forward``.

    Call the module (``model(x)``), not ``forward`` directly: ``__call__`` is the one place
    that could later add hooks. ``training`` is True after construction; ``eval()`` turns off
    dropout (and anything else that behaves differently at test time).
    """

    training: bool

    def __init__(self) -> None:
        with contextlib.suppress(TypeError):  # (a subclass that defines __eq__ alone is unhashable)
            _live_modules.add(self)  # drawings name a graph's parameters after the modules holding them
        # object.__setattr__: our own __setattr__ needs these dicts to exist already. Their entries
        # are attributes too (nn/_registry.py): `self.weight` is a plain lookup, not __getattr__.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", Registry(self))
        object.__setattr__(self, "_buffers", Registry(self))
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", Registry(self))

    def __setstate__(self, state: dict) -> None:
        # Unpickling and copy.copy/deepcopy: the registries arrive as plain dicts (Registry.__reduce__).
        self.__dict__.update(state)
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in state:
                object.__setattr__(self, registry, Registry(self, state[registry]))

    # ---------------------------------------------------------------- forward
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---------------------------------------------------------------- registration
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() call: call super().__init__() first "
                f"in {type(self).__name__}.__init__"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name)
            params[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} "
                    "(mg.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name)
            modules[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} (mg.nn.Module or None expected)"
                )
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} (Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        """Remove ``name`` from every registry and from the instance dict (before re-registering)."""
        self.__dict__.pop(name, None)
        self._parameters.pop(name, None)
        self._buffers.pop(name, None)
        self._non_persistent_buffers.discard(name)
        self._modules.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails. Registered entries are attributes already
        # (nn/_registry.py); this finds them in a module whose registries were replaced by plain dicts.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = d.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        keys = list(super().__dir__()) + list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(k for k in set(keys) if not k[:1].isdigit())

    @staticmethod
    def _check_name(kind: str, name: Any) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name:
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got {name!r}')

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a placeholder ``None``, e.g. a missing bias) under ``name``."""
        self._check_name("parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter {name!r} "
                            "(mg.nn.Parameter or None expected)")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute {name!r} already exists")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register a non-learnable tensor (saved in ``state_dict`` unless ``persistent=False``).

        Example::

            >>> import minigrad as mg
            >>> m = mg.nn.Module(); m.register_buffer("running_mean", mg.zeros(3))
            >>> list(m.state_dict())
            ['running_mean']
        """
        self._check_name("buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer {name!r} (Tensor or None expected)")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute {name!r} already exists")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as a child named ``name`` (what attribute assignment does)."""
        self._check_name("module", name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        self._modules[name] = module

    register_module = add_module

    # ---------------------------------------------------------------- traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """This module and every descendant with its dotted name ("" for self), depth first.

        A module reachable twice (shared) is yielded once unless ``remove_duplicate=False``.
        """
        seen: set[int] = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:  # explicit stack, pre-order: parent, then children in registration order
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in seen:
                    continue
                seen.add(id(module))
            yield name, module
            children = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and all descendants."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct children with their attribute names."""
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       remove_duplicate: bool) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for mod_prefix, module in mods:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(dotted_name, parameter)`` pairs, e.g. ``("rnn.weight_ih_l0", ...)``; shared ones once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every learnable parameter (what you give the optimizer)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The descendant at dotted path ``target`` ("" is self)."""
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules or module._modules[part] is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = module._modules[part]
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target``, e.g. ``"0.weight"``."""
        mod_path, _, name = target.rpartition(".")
        module = self.get_submodule(mod_path)
        if name not in module._parameters or module._parameters[name] is None:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r} (looking up {target!r})")
        return module._parameters[name]

    # ---------------------------------------------------------------- modes and gradients
    def train(self, mode: bool = True) -> Module:
        """Set training mode on this module and every descendant; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (``train(False)``): dropout becomes the identity."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (``False``) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad``: to ``None`` (default), or to zeros in place."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad._array[...] = 0

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every child (recursively), then on self; returns self.

        Example::

            >>> import minigrad as mg
            >>> def init(m):
            ...     if isinstance(m, mg.nn.Linear):
            ...         mg.nn.init.zeros_(m.bias)
            >>> net = mg.nn.Sequential(mg.nn.Linear(2, 2), mg.nn.Tanh()).apply(init)
            >>> net[0].bias.tolist()
            [0.0, 0.0]
        """
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---------------------------------------------------------------- dtype
    def _apply_to_arrays(self, convert: Callable[[np.ndarray], np.ndarray]) -> Module:
        """Replace the array of every parameter, gradient and buffer in place.

        The Parameter *objects* stay the same, so an optimizer built before still holds them.
        """
        for module in self.modules():
            for p in module._parameters.values():
                if p is None:
                    continue
                p._array = convert(p._array)
                if p.grad is not None:
                    p.grad._array = convert(p.grad._array)
            for b in module._buffers.values():
                if b is not None:
                    b._array = convert(b._array)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast floating parameters and buffers to a dtype (in place); returns self.

        Accepts ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(dtype=...)`` or
        ``to(tensor)`` (its dtype). minigrad runs on the CPU: ``model.to("cpu")`` is a no-op, and
        ``model.to("cuda")`` raises a clear error.

        Example::

            >>> import minigrad as mg
            >>> m = mg.nn.Linear(2, 3)
            >>> m.to(mg.device("cpu")) is m, m.to(mg.float64).weight.dtype
            (True, dtype('float64'))
        """
        from minigrad import devices as _device

        dtype = kwargs.get("dtype")
        _device.check_device(kwargs.get("device"), "Module.to")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif _device.is_device_like(a):
                _device.check_device(a, "Module.to")
            elif a is not None and not isinstance(a, bool):
                dtype = a
        if dtype is None:
            return self
        target = to_dtype(dtype)
        if target.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are accepted, got {target}")
        return self._apply_to_arrays(lambda a: a.astype(target) if a.dtype.kind == "f" and a.dtype != target else a)

    def float(self) -> Module:
        """Cast floating parameters and buffers to float32."""
        return self.to(np.float32)

    def double(self) -> Module:
        """Cast floating parameters and buffers to float64 (what gradcheck needs)."""
        return self.to(np.float64)

    def cpu(self) -> Module:
        """``self``: parameters already live on the CPU."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Refused with a clear error: minigrad runs on the CPU only."""
        from minigrad.devices import raise_not_cpu

        raise_not_cpu("cuda", "Module.cuda()")

    # ---------------------------------------------------------------- state dict
    def state_dict(self, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name, in registration order.

        Values are Tensors that *share* memory with the module (no copy; ``keep_vars=True``
        gives the Parameters themselves). Shared parameters appear under each name, like PyTorch.
        """
        out: OrderedDict[str, Tensor] = OrderedDict() if destination is None else destination
        for mod_prefix, module in self.named_modules(prefix=prefix, remove_duplicate=False):
            dot = f"{mod_prefix}." if mod_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[dot + name] = p if keep_vars else Tensor(p._array)
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent_buffers:
                    out[dot + name] = b if keep_vars else Tensor(b._array)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy values from ``state_dict`` into this module's parameters and buffers, in place.

        Values may be Tensors or ndarrays. Copying in place (rather than replacing the arrays)
        keeps every optimizer built on these parameters valid. Returns
        ``(missing_keys, unexpected_keys)``; with ``strict=True`` any of those is a RuntimeError.
        A shape mismatch is always an error naming the key and both shapes.

        Example::

            >>> import minigrad as mg
            >>> a, b = mg.nn.Linear(2, 3), mg.nn.Linear(2, 3)
            >>> b.load_state_dict(a.state_dict())
            <All keys matched successfully>
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict).__name__}.")
        own = self.state_dict(keep_vars=True)
        errors: list[str] = []
        updates: list[tuple[Tensor, np.ndarray]] = []
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if isinstance(value, Tensor):
                arr = value._array
            elif isinstance(value, np.ndarray):
                arr = value
            else:
                errors.append(f'While copying the parameter named "{key}", expected a Tensor or ndarray from '
                              f"checkpoint but received {type(value).__name__}")
                continue
            if arr.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {tuple(arr.shape)} from "
                              f"checkpoint, the shape in current model is {tuple(target.shape)}.")
                continue
            updates.append((target, arr))
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict:
            if unexpected:
                errors.insert(0, f"Unexpected key(s) in state_dict: {_quoted(unexpected)}. ")
            if missing:
                errors.insert(0, f"Missing key(s) in state_dict: {_quoted(missing)}. ")
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        with no_grad():
            for target, arr in updates:
                if assign:
                    target._array = np.array(arr, dtype=target.dtype, copy=True)
                else:
                    np.copyto(target._array, arr, casting="unsafe")
        return _IncompatibleKeys(missing, unexpected)

    # ---------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr; layers override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(m), 2) for key, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


def __getattr__(name: str) -> Any:
    # The containers moved to containers.py (which imports this file, so it cannot be imported at
    # the top); ``from minigrad.nn.module import Sequential`` keeps working through this hook.
    if name in ("Sequential", "ModuleList"):
        from minigrad.nn import containers

        return getattr(containers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_live_modules: weakref.WeakSet[Module] = weakref.WeakSet()
