"""Which classes a checkpoint may bring back to life: the allow-list (PyTorch 2.6's safe loading).

A checkpoint that holds a whole model names the class of every object in it
(``"minigrad.nn.modules.linear.Linear"``, ``"__main__.Net"``). Loading makes an instance of such a
class without calling its constructor (``object.__new__(cls)``) and fills in its attributes. A
class is only looked up if it is allowed:

- every ``mg.nn.Module`` subclass defined inside minigrad is allowed;
- classes you name with ``add_safe_globals([Net])``, or for a ``with safe_globals([Net]):`` block;
- with ``mg.load(f, weights_only=False)`` any class that can be imported by its path (importing a
  module runs its code: only for files you trust, as with PyTorch).

Example::

    >>> import minigrad as mg
    >>> class Net(mg.nn.Module):
    ...     pass
    >>> with mg.serialization.safe_globals([Net]):
    ...     Net in mg.serialization.get_safe_globals()
    True
    >>> Net in mg.serialization.get_safe_globals()
    False
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import pickle
import pkgutil
import sys
import types
from collections.abc import Iterator
from typing import Any

__all__ = ["add_safe_globals", "safe_globals", "get_safe_globals", "clear_safe_globals", "WeightsOnlyError"]

# What the user allowed, in the order given: a class, or (class, "the path it is stored under").
_user_allowed: list[Any] = []


class WeightsOnlyError(pickle.UnpicklingError):
    """A checkpoint names a class that is not allowed (an ``UnpicklingError``, as PyTorch raises).

    Example::

        >>> import io, pickle
        >>> import minigrad as mg
        >>> class Net(mg.nn.Module):
        ...     pass
        >>> f = io.BytesIO(); mg.save(Net(), f); _ = f.seek(0)
        >>> try:
        ...     mg.load(f)
        ... except pickle.UnpicklingError as e:
        ...     print(type(e).__name__)
        WeightsOnlyError
    """


def add_safe_globals(safe_globals: list[Any]) -> None:
    """Allow these classes to be loaded by ``mg.load(..., weights_only=True)`` (PyTorch's name).

    Each entry is a class, or a ``(class, "module.path.Name")`` pair to match a checkpoint that
    stored the class under another path (it was moved or renamed since).

    Example::

        >>> import minigrad as mg
        >>> class Net(mg.nn.Module):
        ...     pass
        >>> mg.serialization.add_safe_globals([Net])
        >>> mg.serialization.clear_safe_globals()
    """
    if not isinstance(safe_globals, (list, tuple)):
        raise TypeError(f"add_safe_globals: expected a list of classes, got {type(safe_globals).__name__}")
    for entry in safe_globals:
        if isinstance(entry, tuple):
            if len(entry) != 2 or not isinstance(entry[1], str):
                raise TypeError(f"add_safe_globals: {entry!r} should be a class or a (class, 'module.Name') pair")
        elif not hasattr(entry, "__qualname__"):
            raise TypeError(f"add_safe_globals: {entry!r} is not a class (or function) that can be named")
    _user_allowed.extend(safe_globals)


def get_safe_globals() -> list[Any]:
    """The classes added with ``add_safe_globals`` (or by an enclosing ``safe_globals`` block).

    Example::

        >>> import minigrad as mg
        >>> mg.serialization.get_safe_globals()
        []
    """
    return list(_user_allowed)


def clear_safe_globals() -> None:
    """Forget every class added with ``add_safe_globals`` (minigrad's own stay allowed).

    Example::

        >>> import argparse
        >>> import minigrad as mg
        >>> mg.serialization.add_safe_globals([argparse.Namespace])
        >>> mg.serialization.clear_safe_globals(); mg.serialization.get_safe_globals()
        []
    """
    _user_allowed.clear()


@contextlib.contextmanager
def safe_globals(safe_globals: list[Any]) -> Iterator[None]:
    """Allow these classes inside a ``with`` block only (PyTorch's context manager).

    Example::

        >>> import minigrad as mg
        >>> class Net(mg.nn.Module):
        ...     pass
        >>> with mg.serialization.safe_globals([Net]):
        ...     pass
    """
    before = list(_user_allowed)
    add_safe_globals(safe_globals)
    try:
        yield
    finally:
        _user_allowed[:] = before


# --------------------------------------------------------------------------------------------
# class <-> path
# --------------------------------------------------------------------------------------------


def definition_path(cls: type) -> str:
    """Where a class is defined: ``module.QualName`` (``__main__.Net``, ``test_x.f.<locals>.Net``).

    Example::

        >>> import minigrad as mg
        >>> from minigrad.serialization.allow_list import definition_path
        >>> definition_path(mg.nn.Linear)
        'minigrad.nn.layers.Linear'
    """
    return f"{cls.__module__}.{cls.__qualname__}"


def is_minigrad_module_class(cls: Any) -> bool:
    """A Module subclass defined inside minigrad: allowed by default.

    Example::

        >>> import minigrad as mg
        >>> from minigrad.serialization.allow_list import is_minigrad_module_class
        >>> is_minigrad_module_class(mg.nn.LSTM), is_minigrad_module_class(mg.Tensor)
        (True, False)
    """
    from minigrad.nn.module import Module

    return isinstance(cls, type) and issubclass(cls, Module) and (
        cls.__module__ == "minigrad" or cls.__module__.startswith("minigrad."))


def public_path(cls: type) -> str:
    """The path a checkpoint stores for ``cls``.

    minigrad's own classes are stored under the path that mirrors PyTorch's, when the
    ``minigrad.nn.modules`` package offers one (``minigrad.nn.modules.linear.Linear``), else under
    ``minigrad.nn.<Name>`` when exported there. Every other class is stored where it is defined.

    Example::

        >>> import minigrad as mg
        >>> from minigrad.serialization.allow_list import public_path
        >>> public_path(mg.nn.Linear) in ("minigrad.nn.Linear", "minigrad.nn.modules.linear.Linear")
        True
    """
    return _minigrad_public_path(cls) if is_minigrad_module_class(cls) else definition_path(cls)


@functools.cache  # minigrad's classes only: a fixed, small set
def _minigrad_public_path(cls: type) -> str:
    name = cls.__name__
    try:
        modules = importlib.import_module("minigrad.nn.modules")
    except ImportError:
        modules = None
    if modules is not None and hasattr(modules, "__path__"):
        names = sorted(info.name for info in pkgutil.iter_modules(modules.__path__))
        offering = [n for n in names if getattr(importlib.import_module(f"minigrad.nn.modules.{n}"), name, None) is cls]
        # A file that lists the class in __all__ is its home (linear.py for Linear); others may just import it.
        homes = [n for n in offering if name in getattr(sys.modules[f"minigrad.nn.modules.{n}"], "__all__", ())]
        if homes or offering:
            return f"minigrad.nn.modules.{(homes or offering)[0]}.{name}"
    import minigrad.nn

    if getattr(minigrad.nn, name, None) is cls:
        return f"minigrad.nn.{name}"
    return definition_path(cls)


def _user_allowed_by_path() -> dict[str, Any]:
    """path -> class or function for everything the user allowed (under its definition and public paths)."""
    found: dict[str, Any] = {}
    for entry in _user_allowed:
        if isinstance(entry, tuple):
            found[entry[1]] = entry[0]
        else:
            found[definition_path(entry)] = entry
            if isinstance(entry, type):
                found[public_path(entry)] = entry
    return found


def _import_by_path(path: str) -> Any:
    """``a.b.C`` -> the object: import the longest module prefix, then walk the attributes."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj = importlib.import_module(module_name)
        except ImportError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute, None)
            if obj is None:
                return None
        return obj
    return None


def _minigrad_class(path: str) -> type | None:
    """A path inside minigrad that names one of minigrad's Module classes (importing minigrad is safe)."""
    if not path.startswith("minigrad.") or "<" in path or "__" in path:  # no minigrad.__main__ (a program)
        return None
    cls = _import_by_path(path)
    return cls if is_minigrad_module_class(cls) else None


def find_class(path: str, weights_only: bool) -> type:
    """The class a checkpoint names by ``path``, if it is allowed; else WeightsOnlyError saying how to allow it.

    Messages continue "checkpoint 'name' ...": ``mg.load`` puts the file's name in front.

    Example::

        >>> from minigrad.serialization.allow_list import find_class
        >>> find_class("minigrad.nn.layers.Linear", weights_only=True).__name__
        'Linear'
    """
    cls = _find(path, weights_only, "an object of class", "class")
    if not isinstance(cls, type):
        raise WeightsOnlyError(f"names {path} as the class of an object, but it is a "
                               f"{type(cls).__name__}, not a class")
    return cls


def find_reference(path: str, weights_only: bool) -> Any:
    """A function or class that a saved attribute refers to (``self.act = mg.tanh``), if it is allowed.

    Only minigrad's Module classes are allowed by default; functions need ``add_safe_globals``
    (or ``weights_only=False``), as in PyTorch.

    Example::

        >>> import minigrad as mg
        >>> from minigrad.serialization.allow_list import find_reference
        >>> find_reference("minigrad.nn.LSTMCell", weights_only=True) is mg.nn.LSTMCell
        True
    """
    return _find(path, weights_only, "a reference to", "function or class")


def reference_path(value: Any) -> str | None:
    """The path a function or class can be found again by (what a checkpoint stores), or None.

    None for what cannot be named: lambdas, functions defined inside functions, built-ins, objects.

    Example::

        >>> import minigrad as mg
        >>> from minigrad.serialization.allow_list import reference_path
        >>> reference_path(mg.nn.functional.relu), reference_path(lambda x: x)
        ('minigrad.nn.functional.relu', None)
    """
    if not isinstance(value, (type, types.FunctionType)):
        return None
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname or module == "builtins":
        return None
    path = public_path(value) if isinstance(value, type) else f"{module}.{qualname}"
    return path if _import_by_path(path) is value else None


def _find(path: Any, weights_only: bool, holds: str, kind: str) -> Any:
    """The object an allowed path names (see find_class); ``holds``/``kind`` word the errors."""
    if not isinstance(path, str) or not path or len(path) > 1000:
        raise ValueError(f"has an invalid class path {str(path)[:80]!r}")
    found = _user_allowed_by_path().get(path) or _minigrad_class(path)
    if found is None and not weights_only:
        found = None if "<" in path else _import_by_path(path)  # "<locals>": defined inside a function
        if found is None:
            raise WeightsOnlyError(
                f"holds {holds} {path}, which cannot be imported by that path; define it at module level, "
                f"or allow it with mg.serialization.add_safe_globals([{_short(path)}])")
    if found is None:
        raise WeightsOnlyError(
            f"holds {holds} {path}, which is not allowed by default "
            f"(weights_only=True loads only minigrad's own classes and those you allow). If you trust this "
            f"{kind}, allow it with mg.serialization.add_safe_globals([{_short(path)}]) or inside a "
            f"`with mg.serialization.safe_globals([{_short(path)}]):` block; or, for a file you trust, "
            "pass weights_only=False to import it by its path")
    return found


def is_allowed(path: str) -> bool:
    """Would ``find_class(path, weights_only=True)`` succeed? (for get_unsafe_globals_in_checkpoint)

    Example::

        >>> from minigrad.serialization.allow_list import is_allowed
        >>> is_allowed("minigrad.nn.LSTM"), is_allowed("subprocess.Popen")
        (True, False)
    """
    return path in _user_allowed_by_path() or _minigrad_class(path) is not None


def _short(path: str) -> str:
    return path.rsplit(".", 1)[-1]
