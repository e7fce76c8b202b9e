"""Python objects <-> (JSON structure, named arrays): the part of a checkpoint that is not raw bytes.

``encode`` walks what ``mg.save`` was given and returns a JSON-able description in which every
array is replaced by the name it is stored under; ``decode`` rebuilds the objects from that
description and the arrays. Every container is tagged, so nothing is ambiguous::

    [v, ...]                          a list
    {"tuple": [v, ...]}               a tuple           {"set": [...]} / {"frozenset": [...]}
    {"dict": [[key, value], ...]}     a dict            {"odict": [...]}  an OrderedDict
    {"tensor": "fc.weight"}           a Tensor, by its array's name (+ "requires_grad": true, "name": ...)
    {"parameter": "fc.weight"}        an nn.Parameter   (+ "requires_grad": false when it is off)
    {"ndarray": "stats.mean"}         a NumPy array
    {"scalar": "state.0.step"}        a NumPy scalar (np.float32(3.0)), kept as a 0-d array
    {"dtype": "float32"}              a dtype (mg.float32 is np.dtype('float32'))
    {"device": "cpu"}                 an mg.device
    {"float": "nan"}                  nan, inf and -inf (JSON has no spelling for them)
    {"object": "minigrad.nn.modules.linear.Linear", "state": [[attribute, value], ...]}
                                      an object (a Module): its class path and its attributes
    {"ref": 3}                        the same object as the 4th tensor/array/object met so far
    {"global": "minigrad.nn.functional.relu"}   a function or class, by name (self.act = F.relu)
    3, 0.001, true, "text", null      themselves (floats are written with repr: exact)

Objects are rebuilt without running any of their code: ``object.__new__(cls)``, then the saved
attributes go straight into the instance's ``__dict__``. Which classes may be rebuilt at all is
decided by ``allow_list.find_class`` (the allow-list).

Arrays are named by where they sit: ``state.0.exp_avg`` in an optimizer state, and inside a
Module by the ``state_dict`` name (``fc.weight``, not ``fc._parameters.weight``), so that
``safetensors.torch.load_file`` on a whole-model checkpoint still gives PyTorch's parameter names.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.devices import device
from minigrad.nn.module import Module
from minigrad.nn.parameter import Parameter
from minigrad.serialization.allow_list import find_class, find_reference, public_path, reference_path
from minigrad.tensor import Tensor

# Deeper structures than this are almost surely a reference cycle (a list that contains itself).
MAX_DEPTH = 200
# NumPy dtype kinds a checkpoint holds: bool, signed and unsigned ints, floats up to 64 bits.
SAVE_KINDS = {"b", "i", "u", "f"}
# Dtypes a {"dtype": ...} entry may name (np.dtype of anything else from a file is refused).
_DTYPE_NAMES = {"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64"}
# A Module's registries: their entries are named like state_dict keys, without the registry's name.
_REGISTRIES = ("_parameters", "_buffers", "_modules")


def _where(keys: list) -> str:
    """A readable location in the saved object: ``obj['state'][0]['exp_avg']``."""
    return "obj" + "".join(f"[{k!r}]" for k in keys)


class Encoder:
    """One ``mg.save`` call: ``encode(obj)`` -> JSON structure; the arrays collect in ``arrays``.

    Example::

        >>> import numpy as np
        >>> from minigrad.serialization.structure import Encoder
        >>> encoder = Encoder()
        >>> encoder.encode({"w": np.ones(2), "step": 3, "betas": (0.9, 0.999)})
        {'dict': [['w', {'ndarray': 'w'}], ['step', 3], ['betas', {'tuple': [0.9, 0.999]}]]}
        >>> list(encoder.arrays)
        ['w']
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._memo: dict[int, int] = {}  # id(object) -> its number, for {"ref": number}
        self._alive: list[Any] = []  # keeps memoized objects alive, so their ids stay unique

    def encode(self, value: Any, keys: list | None = None, depth: int = 0) -> Any:
        keys = [] if keys is None else keys
        if depth > MAX_DEPTH:
            raise ValueError(f"mg.save: structure nested deeper than {MAX_DEPTH} levels at {_where(keys[:5])}"
                             "... (does a list or dict contain itself?)")
        if isinstance(value, np.generic) and value.dtype.kind in SAVE_KINDS:
            # np.float32(0.1) keeps its dtype: stored as a 0-d array, given back as a NumPy scalar.
            # (First: np.float64 is a subclass of Python float and would otherwise lose its type.)
            return {"scalar": self._store(np.asarray(value), keys)}
        # bool before int: True is an int in Python, but must come back as True.
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return _encode_float(value)
        if isinstance(value, device):  # scripts keep `self.device = device` on their models
            return {"device": str(value)}
        if isinstance(value, np.dtype):
            if value.name not in _DTYPE_NAMES:
                raise TypeError(f"mg.save: {_where(keys)} is the dtype {value}, which a checkpoint cannot hold")
            return {"dtype": value.name}
        if isinstance(value, (Tensor, np.ndarray, Module)) or _is_plain_object(value):
            if id(value) in self._memo:  # the same object again: a reference keeps them one object
                return {"ref": self._memo[id(value)]}
            self._memo[id(value)] = len(self._memo)
            self._alive.append(value)
            return self._encode_object(value, keys, depth)
        if isinstance(value, dict):
            tag = "odict" if isinstance(value, OrderedDict) else "dict"
            return {tag: [[_encode_key(k, keys), self.encode(v, keys + [k], depth + 1)] for k, v in value.items()]}
        if isinstance(value, list):
            return [self.encode(v, keys + [i], depth + 1) for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"tuple": [self.encode(v, keys + [i], depth + 1) for i, v in enumerate(value)]}
        if isinstance(value, (set, frozenset)):
            elements = sorted((_encode_key(k, keys) for k in value), key=repr)  # same set, same file
            return {"frozenset" if isinstance(value, frozenset) else "set": elements}
        path = reference_path(value)
        if path is not None:  # a function or class, by name (self.act = mg.tanh, self.cell_type = nn.GRUCell)
            return {"global": path}
        hint = ("; save its .state_dict() instead (and restore it with .load_state_dict())"
                if callable(getattr(value, "state_dict", None)) else "")
        raise TypeError(
            f"mg.save: cannot store {_where(keys)} of type {type(value).__name__}: a checkpoint holds only "
            "Tensors, ndarrays, numbers, bools, strings, None, dtypes, dicts/lists/tuples/sets of them, and "
            f"objects (such as Modules) whose attributes are those (no pickle, so no functions or other code){hint}"
        )

    def _encode_object(self, value: Any, keys: list, depth: int) -> Any:
        """A Tensor, an ndarray, or an object with its attributes (already entered in the memo)."""
        if isinstance(value, np.ndarray):
            return {"ndarray": self._store(value, keys)}
        if isinstance(value, Tensor):
            node: dict[str, Any] = {"parameter" if isinstance(value, Parameter) else "tensor":
                                    self._store(value._array, keys)}
            if value.requires_grad != isinstance(value, Parameter):  # only what differs from the default
                node["requires_grad"] = value.requires_grad
            if value.name is not None:
                node["name"] = value.name
            return node
        state = []
        module = isinstance(value, Module)
        for attribute, v in vars(value).items():
            if module and _is_registered(value, attribute, v):
                continue  # the attribute copy of a registry's entry (nn/_registry.py): saved once, in there
            if module and attribute in _REGISTRIES and isinstance(v, dict):
                registry = [[_encode_key(k, keys), self.encode(x, keys + [k], depth + 2)] for k, x in v.items()]
                state.append([attribute, {"dict": registry}])
            else:
                state.append([attribute, self.encode(v, keys + [attribute], depth + 1)])
        return {"object": public_path(type(value)), "state": state}

    def _store(self, array: np.ndarray, keys: list) -> str:
        """Add an array under a fresh name; return the name."""
        name = _array_name(keys, self.arrays)
        self.arrays[name] = _storable(array, keys)
        return name


def _is_registered(module: Module, attribute: str, value: Any) -> bool:
    """True when ``module.attribute`` is the entry of one of its registries of that name."""
    for registry in _REGISTRIES:
        entries = module.__dict__.get(registry)
        if isinstance(entries, dict) and attribute in entries and entries[attribute] is value:
            return True
    return False


def _is_plain_object(value: Any) -> bool:
    """An instance of a class written in Python whose whole state is its ``__dict__``.

    Such an object is saved as its class path plus its attributes (argparse.Namespace, a config
    dataclass...). Not: functions, classes, modules or C types (their state is code or hidden), nor
    classes that customise pickling (``__reduce__``, ``__getstate__``, ``__setstate__``, ``__slots__``):
    their ``__dict__`` alone might not bring them back.
    """
    cls = type(value)
    # Py_TPFLAGS_HEAPTYPE marks a class made by a `class` statement. Every base must be one (or object):
    # a Python subclass of dict or list keeps its contents outside __dict__.
    written_in_python = all(c is object or c.__flags__ & (1 << 9) for c in cls.__mro__)
    return (written_in_python and isinstance(getattr(value, "__dict__", None), dict)
            and cls.__reduce_ex__ is object.__reduce_ex__ and cls.__reduce__ is object.__reduce__
            and getattr(cls, "__getstate__", object.__getstate__) is object.__getstate__
            and not hasattr(cls, "__setstate__") and not any("__slots__" in vars(c) for c in cls.__mro__))


def _encode_float(value: float) -> Any:
    """A float as JSON: itself, or {"float": "nan" | "inf" | "-inf"}."""
    if math.isfinite(value):
        return float(value)  # json writes repr(float): the exact same float comes back
    return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _encode_key(key: Any, keys: list) -> Any:
    """Dict keys and set elements: str, int, float, bool, None, or tuples of those.

    A NumPy scalar key (``np.int64(3)``) is stored as the Python value (``3``): keys live in the
    JSON, not among the arrays.
    """
    def plain(k: Any) -> Any:
        return k.item() if isinstance(k, np.generic) and k.dtype.kind in SAVE_KINDS else k

    def scalar(k: Any) -> bool:
        return k is None or isinstance(k, (bool, str, int, float))

    key = tuple(plain(k) for k in key) if isinstance(key, tuple) else plain(key)
    if scalar(key) or (isinstance(key, tuple) and all(scalar(k) for k in key)):
        if isinstance(key, tuple):
            return {"tuple": [_encode_float(k) if isinstance(k, float) else k for k in key]}
        return _encode_float(key) if isinstance(key, float) else key
    raise TypeError(f"mg.save: dict key or set element {repr(key)[:60]} at {_where(keys)} has type "
                    f"{type(key).__name__}; keys must be str, int, float, bool, None or tuples of those")


def _storable(array: np.ndarray, keys: list) -> np.ndarray:
    """A C-contiguous little-endian copy (or the array itself when it already is one).

    The safetensors writer copies ``array.nbytes`` bytes from the array's start pointer: a
    transposed or sliced view would be written as garbage, so we make it contiguous first.
    """
    if array.dtype.kind not in SAVE_KINDS or array.dtype.itemsize > 8:
        raise TypeError(f"mg.save: {_where(keys)} has dtype {array.dtype}, which a checkpoint cannot "
                        "hold (supported: bool, int8..int64, uint8..uint64, float16, float32, float64)")
    # (np.asarray with order="C", not np.ascontiguousarray: that one turns 0-d arrays into 1-d.)
    return np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")


def _array_name(keys: list, arrays: dict[str, np.ndarray]) -> str:
    """The dotted path (``state.0.exp_avg``) as array name; for a flat dict that is the key itself.

    Two different paths can spell the same dotted name (``{'a.b': x, 'a': {'b': y}}``), and
    ``__metadata__`` is reserved by the format: such names get a ``#2``, ``#3``... suffix. The
    structure records the name actually used, so load() is not confused.
    """
    name = ".".join(str(k) for k in keys) if keys else "tensor"
    candidate, n = name, 1
    while candidate in arrays or candidate == "__metadata__":
        n += 1
        candidate = f"{name}#{n}"
    return candidate


# ============================================================================================
# decode
# ============================================================================================

# tag -> the other keys its node may have
_TAGS: dict[str, set[str]] = {
    "tensor": {"requires_grad", "name"}, "parameter": {"requires_grad", "name"}, "ndarray": set(),
    "scalar": set(), "dtype": set(), "float": set(), "tuple": set(), "dict": set(), "odict": set(),
    "set": set(), "frozenset": set(), "object": {"state"}, "ref": set(), "global": set(),
    "device": set(),
}


class Decoder:
    """One ``mg.load`` call: ``decode(structure)`` -> the saved objects. Raises ValueError on nonsense.

    ``move`` (from a callable ``map_location``) is applied to the array of every loaded Tensor;
    ``weights_only`` decides which classes ``find_class`` may hand back.

    Example::

        >>> import numpy as np
        >>> from minigrad.serialization.structure import Decoder
        >>> out = Decoder({"w": np.ones(2)}, weights_only=True).decode({"dict": [["w", {"tensor": "w"}], ["n", 3]]})
        >>> type(out["w"]).__name__, out["w"].tolist(), out["n"]
        ('Tensor', [1.0, 1.0], 3)
    """

    def __init__(self, arrays: dict[str, np.ndarray], weights_only: bool,
                 move: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.arrays = arrays
        self.used: set[str] = set()
        self.weights_only = weights_only
        self.move = move
        self._memo: list[Any] = []  # objects in the order the encoder numbered them

    def decode(self, node: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"is nested deeper than {MAX_DEPTH} levels")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        tag, payload = _tag_of(node)
        if tag in ("tensor", "parameter", "ndarray"):
            return self._remember(self._tensor(tag, node))
        if tag == "object":
            return self._object(payload, node.get("state"), depth)
        if tag == "global":
            return find_reference(payload, self.weights_only)
        if tag == "ref":
            if not (isinstance(payload, int) and not isinstance(payload, bool) and 0 <= payload < len(self._memo)):
                raise ValueError(f"has a reference {str(payload)[:40]} to an object that comes later or not at all")
            return self._memo[payload]
        if tag == "scalar":
            a = self._array(payload, "scalar")
            if a.ndim != 0:
                raise ValueError(f"has scalar {payload!r} of shape {a.shape}")
            return a[()]
        if tag == "float" and payload in ("nan", "inf", "-inf"):
            return float(payload)
        if tag == "dtype" and payload in _DTYPE_NAMES:
            return np.dtype(payload)
        if tag == "device" and isinstance(payload, str) and re.fullmatch(r"cpu(:[0-9]{1,4})?", payload):
            return device(payload)
        if tag == "tuple" and isinstance(payload, list):
            return tuple(self.decode(v, depth + 1) for v in payload)
        if tag in ("dict", "odict") and isinstance(payload, list):
            result = {} if tag == "dict" else OrderedDict()
            for item in payload:
                if not (isinstance(item, list) and len(item) == 2):
                    raise ValueError(f"has a dict item {str(item)[:80]} that is not a [key, value] pair")
                result[_decode_key(item[0])] = self.decode(item[1], depth + 1)
            return result
        if tag in ("set", "frozenset") and isinstance(payload, list):
            elements = (_decode_key(k) for k in payload)
            return set(elements) if tag == "set" else frozenset(elements)
        raise ValueError(f"has an invalid entry {str(node)[:80]}")

    def _remember(self, obj: Any) -> Any:
        self._memo.append(obj)
        return obj

    def _array(self, name: Any, kind: str) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise ValueError(f"refers to a missing {kind} {str(name)[:80]!r}")
        if name in self.used:
            raise ValueError(f"uses the {kind} {name!r} twice")
        self.used.add(name)
        return self.arrays[name]

    def _tensor(self, tag: str, node: dict) -> Any:
        array = self._array(node[tag], "tensor")
        if tag == "ndarray":
            return array
        requires_grad = node.get("requires_grad", tag == "parameter")
        name = node.get("name")
        if not isinstance(requires_grad, bool) or not (name is None or isinstance(name, str)):
            raise ValueError(f"has an invalid tensor entry {str(node)[:80]}")
        if requires_grad and array.dtype.kind != "f":
            raise ValueError(f"has tensor {node[tag]!r} of dtype {array.dtype} marked requires_grad")
        if self.move is not None:
            array = self.move(array)
        tensor = Tensor(array) if tag == "tensor" else Parameter(array, requires_grad=requires_grad)
        if tag == "tensor" and requires_grad:
            tensor.requires_grad = True
        tensor.name = name
        return tensor

    def _object(self, path: Any, state: Any, depth: int) -> Any:
        """An allowed class, instantiated without running its code, then its saved attributes."""
        cls = find_class(path, self.weights_only)
        try:
            obj = object.__new__(cls)
        except TypeError as e:
            raise ValueError(f"holds an object of class {path}, which cannot be made without running its "
                             f"constructor ({e})") from e
        if not isinstance(getattr(obj, "__dict__", None), dict):
            raise ValueError(f"holds an object of class {path}, whose instances have no attribute dict")
        self._remember(obj)  # before the attributes: they may refer back to it (a child's parent)
        if not isinstance(state, list):
            raise ValueError(f"has an object of class {path} without a list of attributes")
        attributes = {}
        for item in state:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise ValueError(f"has an attribute entry {str(item)[:80]} that is not a [name, value] pair")
            attributes[item[0]] = self.decode(item[1], depth + 1)
        if isinstance(obj, Module):
            for registry in ("_parameters", "_buffers", "_modules", "_non_persistent_buffers"):
                if not isinstance(attributes.get(registry), (dict if registry != "_non_persistent_buffers" else set)):
                    raise ValueError(f"has a Module of class {path} whose {registry} is missing or has the wrong type")
            Module.__setstate__(obj, attributes)  # the registries' entries become attributes too
            return obj
        obj.__dict__.update(attributes)
        return obj


def _tag_of(node: Any) -> tuple[str, Any]:
    """The one tag of a tagged node, and its payload; ValueError for anything else."""
    if isinstance(node, dict):
        tags = [k for k in node if k in _TAGS]
        if len(tags) == 1 and set(node) - {tags[0]} <= _TAGS[tags[0]]:
            return tags[0], node[tags[0]]
    raise ValueError(f"has an invalid entry {str(node)[:80]}")


def _decode_key(node: Any) -> Any:
    """Keys are plain values or tuples of them (save() allows nothing else): always hashable."""
    if isinstance(node, dict) and len(node) == 1 and isinstance(node.get("tuple"), list):
        return tuple(_decode_key_scalar(v) for v in node["tuple"])
    return _decode_key_scalar(node)


def _decode_key_scalar(node: Any) -> Any:
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and len(node) == 1 and node.get("float") in ("nan", "inf", "-inf"):
        return float(node["float"])
    raise ValueError(f"has an invalid dict key {str(node)[:80]}")


def class_paths(structure: Any) -> list[str]:
    """Every class or function path an encoded structure names, in order, without duplicates (no objects made).

    Example::

        >>> from minigrad.serialization.structure import class_paths
        >>> class_paths([{"object": "__main__.Net", "state": []}, {"object": "__main__.Net", "state": []}])
        ['__main__.Net']
    """
    found: dict[str, None] = {}
    stack = [structure]
    while stack:  # an explicit stack: a hostile file cannot exhaust Python's recursion
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            for tag in ("object", "global"):
                if isinstance(node.get(tag), str):
                    found[node[tag]] = None
            stack.extend(reversed(list(node.values())))
    return list(found)
