"""Checkpoints: ``mg.save(obj, f)`` and ``mg.load(f)`` in the safetensors format, never pickle.

Why safetensors and not pickle: unpickling a file can run any code its author chose, so a
downloaded ``.pt`` file is a program. A safetensors file is a JSON header plus raw array bytes;
loading one only ever *reads numbers*. PyTorch users read our files with
``safetensors.torch.load_file`` and we read theirs, so a model trained here moves to PyTorch
(and back) by parameter name.

What a checkpoint holds (the file layout is in ``reader.py``, the structure in ``structure.py``):

- every array (Tensor, Parameter, ndarray) is one safetensors tensor. A flat model state dict
  keeps its keys as the tensor names (``lstm.weight_ih_l0``, ``fc.bias``: PyTorch's names);
  arrays elsewhere are named by their dotted path (``state.0.exp_avg``), and inside a whole
  Module by their state_dict name;
- everything else - numbers, strings, None, the containers, Modules and other objects as their
  class path plus attributes - is one JSON string in the header's ``__metadata__``::

      "__metadata__": {"minigrad.format": "minigrad-checkpoint", "minigrad.version": "2",
                       "minigrad.structure": "<JSON, see structure.py>"}

Loading never trusts the file (every header field is checked before use) and never runs code
from it: objects are only made for allowed classes (``allow_list.py``), without their
constructors. As in PyTorch 2.6, ``weights_only=True`` is the default.

Example::

    >>> import io
    >>> import minigrad as mg
    >>> model = mg.nn.Linear(3, 2); opt = mg.optim.Adam(model.parameters())
    >>> f = io.BytesIO()
    >>> mg.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3}, f)
    >>> _ = f.seek(0)
    >>> checkpoint = mg.load(f)
    >>> model.load_state_dict(checkpoint["model"])
    <All keys matched successfully>
    >>> opt.load_state_dict(checkpoint["opt"]); checkpoint["epoch"]
    3
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import IO, Any

import numpy as np
import safetensors
import safetensors.numpy

from minigrad.serialization.allow_list import (
    WeightsOnlyError,
    add_safe_globals,
    clear_safe_globals,
    get_safe_globals,
    is_allowed,
    safe_globals,
)
from minigrad.serialization.atomic import write_atomically
from minigrad.serialization.reader import bad_file, check_header, read_arrays
from minigrad.serialization.structure import Decoder, Encoder, class_paths
from minigrad.tensor import Tensor

__all__ = ["save", "load", "add_safe_globals", "safe_globals", "get_safe_globals", "clear_safe_globals",
           "get_unsafe_globals_in_checkpoint", "WeightsOnlyError"]

FORMAT_KEY = "minigrad.format"
FORMAT_NAME = "minigrad-checkpoint"
VERSION_KEY = "minigrad.version"
# 1: state dicts and nested plain data. 2: + Modules and objects, references, Parameters,
# requires_grad, ndarrays kept as ndarrays, OrderedDicts, sets, dtypes. Version 1 files still load.
VERSION = 2
STRUCTURE_KEY = "minigrad.structure"

PathOrFile = str | os.PathLike | IO[bytes]


# ============================================================================================
# save
# ============================================================================================


def save(obj: Any, f: PathOrFile, pickle_module: Any = None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False) -> None:
    """Write ``obj`` to ``f`` (a path, or a binary file object with ``write``); paths are written atomically.

    ``obj`` may be a state dict (model or optimizer), a Tensor, an ndarray, a number, string,
    bool or None, dicts/lists/tuples/sets of those, or a whole ``Module`` (any object whose
    attributes are such values). A flat dict's keys become the tensor names unchanged, so
    ``safetensors.torch.load_file(path)`` hands PyTorch a state dict it can ``load_state_dict``.
    The pickle arguments of ``torch.save`` are accepted and have no effect: nothing is pickled.

    Atomic: the bytes go to a temporary file in the same directory, are flushed to disk, and only
    then renamed over ``f``. A crash or kill at any moment leaves either the old file or the new
    one, never half of one. (A kill can leave a stray ``.<name>.<random>.tmp`` file behind.)

    Raises TypeError for values a checkpoint cannot hold (functions, lambdas, complex arrays...),
    naming where in ``obj`` they are; nothing is written in that case.

    Example::

        >>> import os, tempfile
        >>> import minigrad as mg
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.pt")
        >>> mg.save({"w": mg.ones(2, 3), "b": mg.zeros(3)}, path)
        >>> mg.save(mg.nn.Linear(3, 2), path)  # a whole module, as plain data + tensors
    """
    # Build everything in memory first: a bad value raises here, before the disk is touched.
    encoder = Encoder()
    structure = encoder.encode(obj)
    metadata = {
        FORMAT_KEY: FORMAT_NAME,
        VERSION_KEY: str(VERSION),
        STRUCTURE_KEY: json.dumps(structure, allow_nan=False, separators=(",", ":")),
    }
    writable = _file_object(f, "write")
    try:
        data = _serialize(encoder.arrays, metadata)
    except safetensors.SafetensorError as e:
        raise ValueError(f"mg.save: the safetensors library refused the checkpoint for '{_name(f)}': {e}") from e
    if writable:
        try:
            f.write(data)  # type: ignore[union-attr]
        except TypeError as e:
            raise TypeError(f"mg.save: could not write bytes to '{_name(f)}'; open the file in binary mode "
                            f"('wb'), not text mode ({e})") from e
        return
    write_atomically(_fspath(f, "mg.save"), data)


def _serialize(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors library's encoding of the arrays + metadata (separate so tests can break it)."""
    return safetensors.numpy.save(arrays, metadata=metadata)


def _file_object(f: Any, method: str) -> bool:
    """True for an open file object (has ``read``/``write``); False for a path; TypeError otherwise."""
    if isinstance(f, (str, bytes, os.PathLike)):
        return False
    if callable(getattr(f, method, None)):
        return True
    verb = "mg.save" if method == "write" else "mg.load"
    raise TypeError(f"{verb}: f must be a path (str or os.PathLike) or a binary file object with {method}(), "
                    f"got {type(f).__name__}")


def _fspath(path: str | os.PathLike, function: str) -> str:
    """str or os.PathLike (pathlib.Path) -> str."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{function}: checkpoint path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fsdecode(os.fspath(path))


def _name(f: Any) -> str:
    """How error messages name the checkpoint: its path, or the file object's name (``<BytesIO>``)."""
    if isinstance(f, (str, bytes, os.PathLike)):
        return os.fsdecode(os.fspath(f))
    name = getattr(f, "name", None)
    return name if isinstance(name, str) else f"<{type(f).__name__}>"


# ============================================================================================
# load
# ============================================================================================


def load(f: PathOrFile, map_location: Any = None, pickle_module: Any = None, *, weights_only: bool | None = None,
         mmap: bool | None = None, **pickle_load_args: Any) -> Any:
    """Read a checkpoint written by ``save`` (or any safetensors file, e.g. from PyTorch).

    ``f`` is a path or a binary file object (read from its current position). Returns what was
    saved, with its types: Tensors (dtype, shape, requires_grad), Parameters, ndarrays, numbers,
    tuples, int keys, OrderedDicts, sets... A whole Module comes back as a working Module.
    A safetensors file written elsewhere loads as a flat ``{name: Tensor}`` dict in file order.

    - ``weights_only=True`` (the default, as in PyTorch 2.6): objects are only made for allowed
      classes, minigrad's own and those given to ``mg.serialization.add_safe_globals``; any other
      raises ``WeightsOnlyError`` naming the class and how to allow it. ``weights_only=False``
      also imports a class by its saved path (for files you trust). No constructor ever runs.
    - ``map_location``: None, ``'cpu'``, a device whose ``str()`` is ``'cpu'``, a dict
      (``{'cuda:0': 'cpu'}``) or a callable ``fn(tensor, 'cpu')`` as in PyTorch; asking for another
      device raises RuntimeError: minigrad runs on the CPU.
    - ``mmap`` and ``pickle_module``/``pickle_load_args`` are accepted for compatibility; the
      file is always read into memory and nothing is unpickled.

    Dtypes: float16 and bfloat16 load as float32 (exactly); complex and 8-bit floats raise.
    Raises FileNotFoundError for a missing path and ValueError, naming the file and the problem,
    for anything truncated, corrupt, not a safetensors checkpoint or from a newer minigrad.

    Example::

        >>> import os, tempfile
        >>> import minigrad as mg
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.safetensors")
        >>> mg.save({"w": mg.ones(2, 3)}, path)
        >>> mg.load(path, map_location="cpu")["w"].shape
        (2, 3)
    """
    move = _map_location(map_location)
    weights_only = True if weights_only is None else weights_only
    if not isinstance(weights_only, bool):
        raise TypeError(f"mg.load: weights_only must be True, False or None, got {weights_only!r}")
    if mmap not in (None, True, False):
        raise TypeError(f"mg.load: mmap must be True, False or None, got {mmap!r}")
    raw, name = _read_all(f)
    metadata, arrays = _parse(raw, name)
    if metadata.get(FORMAT_KEY) is None:  # a foreign file: flat, file order
        return {key: Tensor(move(a) if move else a) for key, a in arrays.items()}
    structure = _structure(metadata, name)
    decoder = Decoder(arrays, weights_only=weights_only, move=move)
    try:
        result = decoder.decode(structure)
    except WeightsOnlyError as e:
        raise WeightsOnlyError(f"mg.load: checkpoint '{name}' {e}") from None
    except (ValueError, RecursionError) as e:
        raise bad_file(name, f"is corrupt: the structure in its metadata {e}") from e
    unused = [key for key in arrays if key not in decoder.used]
    if unused:
        raise bad_file(name, f"is corrupt: tensors {unused[:5]} are not part of the saved structure")
    return result


def get_unsafe_globals_in_checkpoint(f: PathOrFile) -> list[str]:
    """The class paths in a checkpoint that ``weights_only=True`` loading would refuse (PyTorch's name).

    Example::

        >>> import io
        >>> import minigrad as mg
        >>> f = io.BytesIO(); mg.save(mg.nn.Linear(1, 1), f); _ = f.seek(0)
        >>> mg.serialization.get_unsafe_globals_in_checkpoint(f)
        []
    """
    raw, name = _read_all(f)
    metadata, _ = _parse(raw, name)
    if metadata.get(FORMAT_KEY) is None:
        return []
    return [path for path in class_paths(_structure(metadata, name)) if not is_allowed(path)]


def _read_all(f: PathOrFile) -> tuple[bytes, str]:
    """All bytes of the checkpoint, in one read, and its name for error messages."""
    if _file_object(f, "read"):
        raw = f.read()  # type: ignore[union-attr]
        if not isinstance(raw, (bytes, bytearray, memoryview)):
            raise TypeError(f"mg.load: '{_name(f)}' gave {type(raw).__name__} from read(); open the file in binary "
                            "mode ('rb')")
        return bytes(raw), _name(f)
    path = _fspath(f, "mg.load")  # type: ignore[arg-type]
    if not os.path.exists(path):
        raise FileNotFoundError(2, f"checkpoint '{path}' does not exist", path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, f"checkpoint '{path}' is a directory, not a file", path)
    with open(path, "rb") as file:
        # One read: the header we check and the bytes the library parses are the same bytes,
        # even if someone rewrites the file meanwhile (and no mmap that could fault on truncation).
        return file.read(), path


def _parse(raw: bytes, name: str) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """Header checks, then the arrays; a PyTorch pickle file gets an error saying what it is."""
    try:
        entries, metadata = check_header(raw, name)
    except ValueError:
        # torch.save writes a zip whose first member is <name>/data.pkl (older versions: a bare pickle)
        zip_of_pickles = raw.startswith(b"PK\x03\x04") and b"data.pkl" in raw[:200]
        if zip_of_pickles or raw[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
            raise bad_file(name, "is a PyTorch pickle checkpoint (torch.save's zip/pickle format); minigrad never "
                                 "unpickles, because loading a pickle can run any code. Convert it once, in "
                                 "PyTorch: safetensors.torch.save_file(torch.load(path), 'model.safetensors') for "
                                 "a state dict") from None
        raise
    return metadata, read_arrays(raw, entries, name)


def _structure(metadata: dict[str, str], name: str) -> Any:
    """The checked format marker and version, then the parsed structure JSON."""
    if metadata[FORMAT_KEY] != FORMAT_NAME:
        raise bad_file(name, f"has an unknown '{FORMAT_KEY}' value {metadata[FORMAT_KEY][:40]!r}")
    version = metadata.get(VERSION_KEY, "")
    if not (version.isascii() and version.isdigit() and len(version) < 10):
        raise bad_file(name, f"is corrupt: '{VERSION_KEY}' is {version[:40]!r}, not a number")
    if int(version) > VERSION:
        raise bad_file(name, f"was written by a newer minigrad (checkpoint format version {version}); "
                             f"this minigrad reads versions up to {VERSION}: please upgrade minigrad")
    if STRUCTURE_KEY not in metadata:
        raise bad_file(name, f"is corrupt: the header metadata has no '{STRUCTURE_KEY}'")
    try:
        return json.loads(metadata[STRUCTURE_KEY])
    except RecursionError as e:
        raise bad_file(name, f"is corrupt: '{STRUCTURE_KEY}' is nested absurdly deep") from e
    except ValueError as e:
        raise bad_file(name, f"is corrupt: '{STRUCTURE_KEY}' in the metadata is not valid JSON ({e})") from e


def _map_location(map_location: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """Check ``map_location``; return the function to apply to each tensor's array (None: leave them)."""
    if map_location is None:
        return None
    if isinstance(map_location, dict):
        # Keys are the devices tensors were saved from: minigrad's are all on 'cpu'.
        if "cpu" in map_location:
            _check_cpu(map_location["cpu"])
        return None
    if callable(map_location) and not isinstance(map_location, str):
        user_function = map_location

        def move(array: np.ndarray) -> np.ndarray:
            result = user_function(Tensor(array), "cpu")  # PyTorch calls fn(storage, location)
            if result is None:
                return array
            if isinstance(result, Tensor):
                return result._array
            raise TypeError(f"mg.load: map_location returned a {type(result).__name__}; expected the tensor it "
                            "was given (or another tensor, or None)")

        return move
    _check_cpu(map_location)
    return None


def _check_cpu(device: Any) -> None:
    name = str(device)
    if name != "cpu" and not name.startswith("cpu:"):
        raise RuntimeError(f"mg.load: map_location={name!r} would move the tensors to {name}, but minigrad runs on "
                           "the CPU; use map_location='cpu' or leave map_location out")
