"""The dicts in which a Module keeps its parameters, buffers and children by name.

Rule: every entry of a registry is also an attribute of its module, in the module's ``__dict__``
(unless the module's class defines that name: then the class's attribute is what ``module.name``
finds, as it was before the entry existed). So ``self.weight`` inside ``forward`` is an ordinary
attribute lookup, where a lookup through ``Module.__getattr__`` (PyTorch's way) costs a failed
search and a Python call on every access. Whatever changes a registry, ``__setattr__``,
``register_parameter`` or a script writing ``module._parameters[name]`` directly, goes through
these methods, so the attribute always follows the entry.

Example::

    >>> import minigrad as mg
    >>> layer = mg.nn.Linear(2, 3)
    >>> layer.__dict__["weight"] is layer._parameters["weight"]
    True
    >>> del layer._parameters["bias"]
    >>> hasattr(layer, "bias")
    False
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any


class Registry(dict):
    """A dict whose entries are mirrored into its module's attributes (see the module docstring).

    It holds its module weakly (no reference cycle: a model is freed as soon as it is dropped),
    and pickles and copies as a plain dict; ``Module.__setstate__`` makes it a Registry again.
    """

    __slots__ = ("_owner",)

    def __init__(self, owner: Any, entries: Iterable = ()) -> None:
        super().__init__(entries)
        self._owner = weakref.ref(owner)
        for name, value in self.items():
            self._mirror(name, value)

    def _mirror(self, name: str, value: Any) -> None:
        owner = self._owner()
        if owner is not None and not hasattr(type(owner), name):
            owner.__dict__[name] = value

    def _unmirror(self, name: str) -> None:
        owner = self._owner()
        if owner is not None and not hasattr(type(owner), name):
            owner.__dict__.pop(name, None)

    def __setitem__(self, name: str, value: Any) -> None:
        super().__setitem__(name, value)
        self._mirror(name, value)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        self._unmirror(name)

    def pop(self, name: str, *default: Any) -> Any:
        if name in self:
            self._unmirror(name)
        return super().pop(name, *default)

    def popitem(self) -> tuple[str, Any]:
        name, value = super().popitem()
        self._unmirror(name)
        return name, value

    def clear(self) -> None:
        for name in self:
            self._unmirror(name)
        super().clear()

    def setdefault(self, name: str, default: Any = None) -> Any:
        if name not in self:
            self[name] = default
        return self[name]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def __ior__(self, other: Any) -> Registry:
        self.update(other)
        return self

    def __reduce__(self) -> tuple:
        return dict, (dict(self),)
