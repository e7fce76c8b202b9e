"""Checkpoints: ``mg.save(state_dict, path)`` and ``mg.load(path)`` in the safetensors format.

Why safetensors and not pickle: unpickling a file can run any code its author chose, so a
downloaded ``.pt`` file is a program. A safetensors file is a JSON header plus raw array bytes;
loading one only ever *reads numbers*. PyTorch users read our files with
``safetensors.torch.load_file`` and we read theirs, so a model trained here moves to PyTorch
(and back) by parameter name.

The file, byte by byte (the safetensors format)::

    [8 bytes: N, little-endian u64] [N bytes: JSON header] [data: every tensor's bytes, packed]

    header = {"lstm.weight_ih_l0": {"dtype": "F32", "shape": [64, 8], "data_offsets": [0, 2048]},
              ...,
              "__metadata__": {"minigrad.format": "minigrad-checkpoint", "minigrad.version": "1",
                               "minigrad.structure": "<JSON, see below>"}}

What we put where:

- Every array becomes one safetensors tensor. A flat model state dict keeps its keys as the tensor
  names (``lstm.weight_ih_l0``, ``fc.bias``: PyTorch's names). Arrays inside nested structures
  (an optimizer's state) are named by their dotted path: ``state.0.exp_avg``.
- Everything else - ints, floats, bools, strings, None, and the *shape* of the structure
  (dict vs list vs tuple, int dict keys, key order) - is stored as one JSON string under
  ``minigrad.structure`` in the header's ``__metadata__``. Every container is tagged so nothing is
  ambiguous::

      {"dict": [[key, value], ...]}     a dict (keys may be str, int, float, bool, None, tuples)
      [v, ...]                         a list
      {"tuple": [v, ...]}              a tuple
      {"tensor": "state.0.exp_avg"}    an array, by its tensor name
      {"scalar": "state.0.step"}       a NumPy scalar (np.float32(3.0)), kept as a 0-d array
      {"float": "nan"}                 nan, inf and -inf (JSON has no spelling for them)
      3, 0.001, true, "text", null     themselves (floats are written with repr: exact)

Loading never trusts the file: the header is checked (lengths, JSON, dtypes, shapes against byte
ranges, offsets in bounds, no overlaps or gaps) *before* the safetensors library sees it, so a
forged header cannot make us allocate gigabytes, and every problem is a ``ValueError`` that names
the file and says what is wrong.

Example::

    >>> import os, tempfile
    >>> import minigrad as mg
    >>> model = mg.nn.Linear(3, 2); opt = mg.optim.Adam(model.parameters())
    >>> folder = tempfile.mkdtemp()
    >>> mg.save(model.state_dict(), os.path.join(folder, "model.safetensors"))
    >>> model.load_state_dict(mg.load(os.path.join(folder, "model.safetensors")))
    <All keys matched successfully>
    >>> mg.save(opt.state_dict(), os.path.join(folder, "opt.safetensors"))  # nested: ints, tuples, None survive
    >>> opt.load_state_dict(mg.load(os.path.join(folder, "opt.safetensors")))
"""

from __future__ import annotations

import json
import math
import os
import secrets
import struct
from typing import Any, NamedTuple

import numpy as np
import safetensors
import safetensors.numpy

from minigrad.tensor import Tensor

__all__ = ["save", "load"]

FORMAT_KEY = "minigrad.format"
FORMAT_NAME = "minigrad-checkpoint"
VERSION_KEY = "minigrad.version"
VERSION = 1
STRUCTURE_KEY = "minigrad.structure"

# The safetensors library refuses headers above 100 MB; so do we, before reading them.
MAX_HEADER_BYTES = 100_000_000
# Deeper structures than this are almost surely a reference cycle (a list that contains itself).
MAX_DEPTH = 100
# NumPy 1.x supports at most 32 dimensions (2.x: 64); no real checkpoint comes near either.
MAX_NDIM = 32

# safetensors dtype code -> (little-endian NumPy dtype of the stored bytes, size of one element).
# F16 and BF16 are *converted to float32* on load: minigrad computes in float32/float64 only, and
# both convert exactly. BF16 has no NumPy dtype; it is the top half of a float32 (see _bf16_to_f32).
_LOAD_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("u1"),
}
# Valid safetensors dtypes we cannot represent (complex, 8/6/4-bit floats): clear error, not a crash.
_UNSUPPORTED_DTYPES = {"C64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
                       "F6_E2M3", "F6_E3M2", "F4"}
# NumPy dtype kinds save() accepts: bool, signed and unsigned ints, floats up to 64 bits.
_SAVE_KINDS = {"b", "i", "u", "f"}


# ============================================================================================
# save
# ============================================================================================


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write a state dict (model or optimizer) to ``path`` as a safetensors file, atomically.

    ``obj`` is a flat ``{name: Tensor | ndarray}`` (``model.state_dict()``) or a nested structure of
    dicts, lists and tuples holding Tensors, ndarrays, ints, floats, bools, strings and None
    (``optimizer.state_dict()``). A flat dict's keys become the tensor names unchanged, so
    ``safetensors.torch.load_file(path)`` hands PyTorch a state dict it can ``load_state_dict``.

    Atomic: the data goes to a temporary file in the same directory, is flushed to disk, and only
    then renamed over ``path``. A crash or kill at any moment leaves either the old file or the new
    one, never half of one. (A kill can leave a stray ``.<name>.<random>.tmp`` file behind.)

    Raises TypeError for values a checkpoint cannot hold (functions, objects, complex arrays...):
    no pickle, so only data. Nothing is written in that case.

    Example::

        >>> import os, tempfile
        >>> import minigrad as mg
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.safetensors")
        >>> mg.save({"w": mg.ones(2, 3), "b": mg.zeros(3)}, path)
        >>> mg.save({"state": {0: {"step": 3}}, "param_groups": [{"lr": 0.1, "params": [0]}]}, path)
    """
    path = _fspath(path)
    # Build everything in memory first: a bad value raises here, before the disk is touched.
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, [], arrays, depth=0)
    metadata = {
        FORMAT_KEY: FORMAT_NAME,
        VERSION_KEY: str(VERSION),
        STRUCTURE_KEY: json.dumps(structure, allow_nan=False, separators=(",", ":")),
    }
    _write_atomically(path, arrays, metadata)


def _fspath(path: str | os.PathLike) -> str:
    """str or os.PathLike (pathlib.Path) -> str."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"checkpoint path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fsdecode(os.fspath(path))


def _where(keys: list) -> str:
    """A readable location in the structure: ``obj['state'][0]['exp_avg']``."""
    return "obj" + "".join(f"[{k!r}]" for k in keys)


def _tensor_name(keys: list, arrays: dict[str, np.ndarray]) -> str:
    """The dotted path (``state.0.exp_avg``) as tensor name; for a flat dict that is the key itself.

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


def _as_array(value: Any) -> np.ndarray | None:
    """The ndarray behind an ndarray or a Tensor (duck-typed: anything whose ``._array`` is one)."""
    if isinstance(value, np.ndarray):
        return value
    data = getattr(value, "_array", None)
    if isinstance(data, np.ndarray) and not isinstance(value, np.generic):
        return data
    return None


def _storable(array: np.ndarray, keys: list) -> np.ndarray:
    """A C-contiguous little-endian copy (or the array itself when it already is one).

    The safetensors writer copies ``array.nbytes`` bytes from the array's start pointer: a
    transposed or sliced view would be written as garbage, so we make it contiguous first.
    """
    if array.dtype.kind not in _SAVE_KINDS or array.dtype.itemsize > 8:
        raise TypeError(f"mg.save: {_where(keys)} has dtype {array.dtype}, which a checkpoint cannot "
                        "hold (supported: bool, int8..int64, uint8..uint64, float16, float32, float64)")
    # (np.asarray with order="C", not np.ascontiguousarray: that one turns 0-d arrays into 1-d.)
    return np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")


def _encode(value: Any, keys: list, arrays: dict[str, np.ndarray], depth: int) -> Any:
    """Python value -> JSON-able structure; arrays are moved into ``arrays`` and referenced by name."""
    if depth > MAX_DEPTH:
        raise ValueError(f"mg.save: structure nested deeper than {MAX_DEPTH} levels at {_where(keys[:5])}"
                         "... (does a list or dict contain itself?)")
    if isinstance(value, np.generic) and value.dtype.kind in _SAVE_KINDS:
        # np.float32(0.1) keeps its dtype: stored as a 0-d array, given back as a NumPy scalar.
        # (First: np.float64 is a subclass of Python float and would otherwise lose its type.)
        name = _tensor_name(keys, arrays)
        arrays[name] = _storable(np.asarray(value), keys)
        return {"scalar": name}
    # bool before int: True is an int in Python, but must come back as True.
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return float(value)  # json writes repr(float): the exact same float comes back
        return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    array = _as_array(value)
    if array is not None:
        name = _tensor_name(keys, arrays)
        arrays[name] = _storable(array, keys)
        return {"tensor": name}
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            items.append([_encode_key(k, keys), _encode(v, keys + [k], arrays, depth + 1)])
        return {"dict": items}
    if isinstance(value, list):
        return [_encode(v, keys + [i], arrays, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, keys + [i], arrays, depth + 1) for i, v in enumerate(value)]}
    raise TypeError(
        f"mg.save: cannot store {_where(keys)} of type {type(value).__name__}: a checkpoint holds only "
        "Tensors, ndarrays, ints, floats, bools, strings, None and dicts/lists/tuples of them "
        "(no pickle, so no arbitrary objects)"
    )


def _encode_key(key: Any, keys: list) -> Any:
    """Dict keys: str, int (optimizer state is keyed by parameter index), float, bool, None, tuples.

    A NumPy scalar key (``np.int64(3)``) is stored as the Python value (``3``): keys live in the
    JSON, not among the arrays.
    """
    def plain(k: Any) -> Any:
        return k.item() if isinstance(k, np.generic) and k.dtype.kind in _SAVE_KINDS else k

    key = tuple(plain(k) for k in key) if isinstance(key, tuple) else plain(key)
    if key is None or isinstance(key, (bool, str, int, float)) or (
        isinstance(key, tuple) and all(k is None or isinstance(k, (bool, str, int, float)) for k in key)
    ):
        return _encode(key, keys, {}, depth=0)
    raise TypeError(f"mg.save: dict key {key!r} at {_where(keys)} has type {type(key).__name__}; "
                    "keys must be str, int, float, bool, None or tuples of those")


def _write_atomically(path: str, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """temp file in the same directory -> write -> fsync -> os.replace onto ``path`` -> fsync the dir.

    ``os.replace`` is atomic on POSIX and Windows when both names are on the same file system -
    that is why the temp file lives next to the target, not in /tmp. fsync before the rename makes
    sure the *data* is on disk before the new *name* is, so even a power cut cannot leave the name
    pointing at a half-written file.
    """
    target = os.path.realpath(path)  # write through a symlink to its file, keep the link
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise IsADirectoryError(f"mg.save: '{path}' is a directory, not a checkpoint file")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"mg.save: cannot write '{path}': directory '{directory}' does not exist")

    # The safetensors library builds the bytes; we write them ourselves so that we control the temp
    # file, its permissions and the fsync (newer safetensors versions also rename files on their own).
    try:
        data = _serialize(arrays, metadata)
    except safetensors.SafetensorError as e:
        raise ValueError(f"mg.save: the safetensors library refused the checkpoint for '{path}': {e}") from e
    tmp, fd = _create_temp_file(target)
    try:
        with open(fd, "wb", closefd=True) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        # Any failure (disk full, Ctrl-C...): drop the temp file; the previous checkpoint is untouched.
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _create_temp_file(target: str) -> tuple[str, int]:
    """A new empty file ``.<name>.<random>.tmp`` next to ``target``, open for writing.

    O_EXCL: never reuse (or follow a symlink planted at) an existing name. Mode 0o666 lets the OS
    apply the user's umask, exactly as for a normal new file; when we replace an existing
    checkpoint we keep its permissions instead (a private 0600 file must stay private).
    """
    directory, base = os.path.split(target)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:  # astronomically unlikely: try another random name
            continue
    try:
        os.chmod(tmp, os.stat(target).st_mode & 0o7777)
    except FileNotFoundError:
        pass
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    return tmp, fd


def _serialize(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors library's encoding of the arrays + metadata (separate so tests can break it)."""
    return safetensors.numpy.save(arrays, metadata=metadata)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable. Best effort: not every OS can open a directory (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ============================================================================================
# load
# ============================================================================================


def load(path: str | os.PathLike) -> Any:
    """Read a checkpoint written by ``save`` (or any safetensors file, e.g. from PyTorch).

    Returns what was saved, with every array as a ``mg.Tensor`` (requires_grad=False): a flat dict
    of Tensors in the saved order, or the nested structure with ints, floats, tuples, int keys and
    None exactly as they were. A safetensors file written elsewhere (``safetensors.torch.save_file``)
    loads as a flat ``{name: Tensor}`` dict in file order.

    Dtypes: float32/float64, integer and bool tensors load as saved; float16 and bfloat16 are
    converted to float32 (exact). Complex and 8-bit float tensors raise ValueError.

    Raises FileNotFoundError if ``path`` does not exist and ValueError, naming the file and the
    problem, for anything truncated, corrupt or not a safetensors checkpoint. Loading never runs
    code from the file.

    Example::

        >>> import os, tempfile
        >>> import minigrad as mg
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.safetensors")
        >>> mg.save({"w": mg.ones(2, 3)}, path)
        >>> mg.load(path)["w"].shape
        (2, 3)
    """
    path = _fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, f"checkpoint '{path}' does not exist", path)
    if os.path.isdir(path):
        raise IsADirectoryError(21, f"checkpoint '{path}' is a directory, not a file", path)
    with open(path, "rb") as f:
        # One read: the header we check and the bytes the library parses are the same bytes,
        # even if someone rewrites the file meanwhile (and no mmap that could fault on truncation).
        raw = f.read()

    entries, metadata = _check_header(raw, path)
    arrays = _read_arrays(raw, entries, path)
    del raw

    if metadata.get(FORMAT_KEY) is None:
        return {name: Tensor(a) for name, a in arrays.items()}  # a foreign file: flat, file order
    return _decode_minigrad(metadata, arrays, path)


class _Entry(NamedTuple):
    """One tensor as the header describes it (offsets count from the start of the data section)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def _bad(path: str, problem: str) -> ValueError:
    return ValueError(f"checkpoint '{path}' {problem}")


def _check_header(raw: bytes, path: str) -> tuple[list[_Entry], dict[str, str]]:
    """Validate the length field, the JSON header and every tensor's dtype/shape/byte range.

    Everything is checked against the real file size before anything is allocated, so a header
    claiming a terabyte tensor is just an error message.
    """
    size = len(raw)
    if size < 8:
        raise _bad(path, f"is not a safetensors file: it has {size} bytes, fewer than the 8-byte header "
                         "length that starts every safetensors file")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if header_len > size - 8:
        raise _bad(path, f"is truncated or not a safetensors file: its first 8 bytes say the header has "
                         f"{header_len} bytes, but only {size - 8} bytes follow")
    if header_len > MAX_HEADER_BYTES:
        raise _bad(path, f"has an implausibly large header ({header_len} bytes; at most {MAX_HEADER_BYTES})")
    if header_len < 2:
        raise _bad(path, f"is not a safetensors file: header length {header_len} is too small "
                         "for a JSON object")
    header_bytes = raw[8 : 8 + header_len]
    if not header_bytes.lstrip(b" \t\r\n").startswith(b"{"):
        raise _bad(path, "is not a safetensors file: the header is not a JSON object "
                         "(does not start with '{')")
    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as e:
        raise _bad(path, f"is corrupt: the header is not valid UTF-8 ({e.reason} at byte {e.start})") from e
    except RecursionError as e:
        raise _bad(path, "is corrupt: the header JSON is nested absurdly deep") from e
    except ValueError as e:  # json.JSONDecodeError and our duplicate-key error
        raise _bad(path, f"is corrupt: the header is not valid JSON ({e})") from e
    if not isinstance(header, dict):
        raise _bad(path, f"is corrupt: the header is JSON but not an object (got {type(header).__name__})")

    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _bad(path, "is corrupt: '__metadata__' in the header must map strings to strings")

    entries = [_check_entry(name, spec, path) for name, spec in header.items()]
    _check_layout(entries, size - 8 - header_len, path)
    return entries, metadata


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json.loads keeps the last of two equal keys silently; in a header that is corruption."""
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"key {key[:80]!r} appears twice")
        result[key] = value
    return result


def _is_count(x: Any) -> bool:
    """A non-negative JSON integer (not a bool: JSON true must not pass as 1)."""
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _check_entry(name: str, spec: Any, path: str) -> _Entry:
    """One header entry: known dtype, sane shape, two offsets, and bytes == elements x element size."""
    if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= spec.keys():
        raise _bad(path, f"is corrupt: tensor {name!r} needs 'dtype', 'shape' and 'data_offsets' "
                         "in the header")
    dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if not isinstance(dtype, str):
        raise _bad(path, f"is corrupt: tensor {name!r} has dtype {str(dtype)[:40]}, not a string")
    if dtype in _UNSUPPORTED_DTYPES:
        raise _bad(path, f"has tensor {name!r} of dtype {dtype}, which minigrad cannot load "
                         f"(supported: {', '.join(_LOAD_DTYPES)})")
    if dtype not in _LOAD_DTYPES:
        raise _bad(path, f"is corrupt: tensor {name!r} has unknown dtype {str(dtype)[:40]!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise _bad(path, f"is corrupt: tensor {name!r} has shape {str(shape)[:80]}; expected a list of "
                         "non-negative integers")
    if len(shape) > MAX_NDIM:
        raise _bad(path, f"is corrupt: tensor {name!r} has {len(shape)} dimensions (at most {MAX_NDIM})")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise _bad(path, f"is corrupt: tensor {name!r} has data_offsets {str(offsets)[:80]}; expected "
                         "[begin, end] with 0 <= begin <= end")
    itemsize = _LOAD_DTYPES[dtype].itemsize
    # Python ints never overflow; cap the size NumPy could even describe (non-zero dims only,
    # as NumPy checks them) so a forged [0, 2**62] shape cannot slip through.
    nonzero = math.prod(d for d in shape if d)
    if nonzero * itemsize >= 2**62:
        raise _bad(path, f"is corrupt: tensor {name!r} has an impossible shape {shape}")
    nbytes = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise _bad(path, f"is corrupt: tensor {name!r} of dtype {dtype} and shape {tuple(shape)} needs "
                         f"{nbytes} bytes, but its data_offsets {offsets} span {offsets[1] - offsets[0]}")
    return _Entry(name, dtype, tuple(shape), offsets[0], offsets[1])


def _check_layout(entries: list[_Entry], data_size: int, path: str) -> None:
    """The byte ranges must tile the data section exactly: in bounds, no overlaps, no gaps."""
    needed = max((e.end for e in entries), default=0)
    if needed > data_size:
        raise _bad(path, f"is truncated: header says {needed} bytes of data but the file has {data_size}")
    position, previous = 0, None
    for e in sorted(entries, key=lambda e: (e.begin, e.end)):
        if e.begin < position:
            raise _bad(path, f"is corrupt: the bytes of tensors {previous!r} and {e.name!r} overlap")
        if e.begin > position:
            raise _bad(path, f"is corrupt: {e.begin - position} unused bytes before tensor {e.name!r}")
        position, previous = e.end, e.name
    if position != data_size:
        raise _bad(path, f"is corrupt: {data_size - position} unexpected bytes after the last tensor "
                         f"(header says {position} bytes of data, the file has {data_size})")


def _read_arrays(raw: bytes, entries: list[_Entry], path: str) -> dict[str, np.ndarray]:
    """Let the safetensors library parse the (already checked) bytes; turn its buffers into arrays."""
    try:
        views = dict(safetensors.deserialize(raw))
    except Exception as e:  # SafetensorError, or anything else it may raise
        raise _bad(path, f"could not be read by the safetensors library: {e}") from e
    except BaseException as e:
        # A Rust panic surfaces as pyo3's PanicException, a BaseException: still a bad file.
        if type(e).__name__ != "PanicException":
            raise
        raise _bad(path, f"made the safetensors library fail: {e}") from e

    arrays = {}
    for e in entries:
        view = views.get(e.name)
        if view is None or view["dtype"] != e.dtype or tuple(view["shape"]) != e.shape:
            raise _bad(path, f"is corrupt: the safetensors library reads tensor {e.name!r} differently")
        arrays[e.name] = _to_numpy(view["data"], e)
    return arrays


def _to_numpy(buffer: bytearray, e: _Entry) -> np.ndarray:
    """Raw little-endian bytes -> a writable native-endian array of the dtype minigrad uses."""
    stored = np.frombuffer(buffer, dtype=_LOAD_DTYPES[e.dtype]).reshape(e.shape)
    if e.dtype == "BOOL":
        return stored != 0  # any non-zero byte is True; never hand NumPy a bool that is not 0/1
    if e.dtype == "BF16":
        return _bf16_to_f32(stored)
    if e.dtype == "F16":
        return stored.astype(np.float32)
    # frombuffer over the library's bytearray is already writable; astype only copies on big-endian hosts
    return stored.astype(stored.dtype.newbyteorder("="), copy=False)


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 is the upper 16 bits of a float32, so shifting them back up is an exact conversion."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _decode_minigrad(metadata: dict[str, str], arrays: dict[str, np.ndarray], path: str) -> Any:
    """Rebuild the saved structure from ``minigrad.structure`` and the arrays."""
    if metadata[FORMAT_KEY] != FORMAT_NAME:
        raise _bad(path, f"has an unknown '{FORMAT_KEY}' value {metadata[FORMAT_KEY][:40]!r}")
    version = metadata.get(VERSION_KEY, "")
    if not (version.isascii() and version.isdigit() and len(version) < 10):
        raise _bad(path, f"is corrupt: '{VERSION_KEY}' is {version[:40]!r}, not a number")
    if int(version) > VERSION:
        raise _bad(path, f"was written by a newer minigrad (checkpoint format version {version}); "
                         f"this minigrad reads versions up to {VERSION}: please upgrade minigrad")
    if STRUCTURE_KEY not in metadata:
        raise _bad(path, f"is corrupt: the header metadata has no '{STRUCTURE_KEY}'")
    try:
        structure = json.loads(metadata[STRUCTURE_KEY])
    except RecursionError as e:
        raise _bad(path, f"is corrupt: '{STRUCTURE_KEY}' is nested absurdly deep") from e
    except ValueError as e:
        raise _bad(path, f"is corrupt: '{STRUCTURE_KEY}' in the metadata is not valid JSON ({e})") from e

    used: set[str] = set()

    def array(name: Any, kind: str) -> np.ndarray:
        if not isinstance(name, str) or name not in arrays:
            raise ValueError(f"refers to a missing {kind} {str(name)[:80]!r}")
        if name in used:
            raise ValueError(f"uses the {kind} {name!r} twice")
        used.add(name)
        return arrays[name]

    def decode(node: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"is nested deeper than {MAX_DEPTH} levels")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [decode(v, depth + 1) for v in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError(f"has an invalid entry {str(node)[:80]}")
        ((tag, payload),) = node.items()
        if tag == "tensor":
            return Tensor(array(payload, "tensor"))
        if tag == "scalar":
            a = array(payload, "scalar")
            if a.ndim != 0:
                raise ValueError(f"has scalar {payload!r} of shape {a.shape}")
            return a[()]
        if tag == "float" and payload in ("nan", "inf", "-inf"):
            return float(payload)
        if tag == "tuple" and isinstance(payload, list):
            return tuple(decode(v, depth + 1) for v in payload)
        if tag == "dict" and isinstance(payload, list):
            result = {}
            for item in payload:
                if not (isinstance(item, list) and len(item) == 2):
                    raise ValueError(f"has a dict item {str(item)[:80]} that is not a [key, value] pair")
                result[decode_key(item[0])] = decode(item[1], depth + 1)
            return result
        raise ValueError(f"has an invalid entry {str(node)[:80]}")

    def decode_key(node: Any) -> Any:
        """Keys are plain values or tuples of them (save() allows nothing else): always hashable."""
        if isinstance(node, dict) and len(node) == 1 and isinstance(node.get("tuple"), list):
            return tuple(decode_key_scalar(v) for v in node["tuple"])
        return decode_key_scalar(node)

    def decode_key_scalar(node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, dict) and len(node) == 1 and node.get("float") in ("nan", "inf", "-inf"):
            return float(node["float"])
        raise ValueError(f"has an invalid dict key {str(node)[:80]}")

    try:
        result = decode(structure, 0)
    except (ValueError, RecursionError) as e:
        raise _bad(path, f"is corrupt: the structure in its metadata {e}") from e
    unused = [name for name in arrays if name not in used]
    if unused:
        raise _bad(path, f"is corrupt: tensors {unused[:5]} are not part of the saved structure")
    return result
