"""Reading a safetensors file without trusting it: every header field is checked first.

The file, byte by byte (the safetensors format)::

    [8 bytes: N, little-endian u64] [N bytes: JSON header] [data: every tensor's bytes, packed]

    header = {"lstm.weight_ih_l0": {"dtype": "F32", "shape": [64, 8], "data_offsets": [0, 2048]},
              ..., "__metadata__": {"key": "value", ...}}

``check_header`` validates the length field, the JSON, every dtype and shape against its byte
range, and that the ranges tile the data exactly (in bounds, no overlaps or gaps) *before* the
safetensors library sees the bytes, so a forged header cannot make us allocate gigabytes; every
problem is a ``ValueError`` that names the file and says what is wrong. ``read_arrays`` then lets
the library parse the bytes and returns writable NumPy arrays.

Example::

    >>> import numpy as np, safetensors.numpy
    >>> from minigrad.serialization.reader import check_header, read_arrays
    >>> raw = safetensors.numpy.save({"w": np.ones(2, np.float32)}, metadata={"k": "v"})
    >>> entries, metadata = check_header(raw, "example")
    >>> read_arrays(raw, entries, "example")["w"], metadata
    (array([1., 1.], dtype=float32), {'k': 'v'})
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, NamedTuple

import numpy as np
import safetensors

__all__ = ["check_header", "read_arrays", "bad_file"]

# The safetensors library refuses headers above 100 MB; so do we, before reading them.
MAX_HEADER_BYTES = 100_000_000
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


class _Entry(NamedTuple):
    """One tensor as the header describes it (offsets count from the start of the data section)."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def bad_file(path: str, problem: str) -> ValueError:
    """The error for a file we cannot read: it names the file, then the problem.

    Example::

        >>> str(bad_file("m.pt", "is truncated"))
        "checkpoint 'm.pt' is truncated"
    """
    return ValueError(f"checkpoint '{path}' {problem}")


def check_header(raw: bytes, path: str) -> tuple[list[_Entry], dict[str, str]]:
    """Validate the length field, the JSON header and every tensor's dtype/shape/byte range.

    Everything is checked against the real file size before anything is allocated, so a header
    claiming a terabyte tensor is just an error message.

    Example::

        >>> try:
        ...     check_header(b"\x10" + bytes(7) + b"{}", "tiny")
        ... except ValueError as e:
        ...     print(str(e)[:60])
        checkpoint 'tiny' is truncated or not a safetensors file: it
    """
    size = len(raw)
    if size < 8:
        raise bad_file(path, f"is not a safetensors file: it has {size} bytes, fewer than the 8-byte header "
                         "length that starts every safetensors file")
    (header_len,) = struct.unpack("<Q", raw[:8])
    if header_len > size - 8:
        raise bad_file(path, f"is truncated or not a safetensors file: its first 8 bytes say the header has "
                         f"{header_len} bytes, but only {size - 8} bytes follow")
    if header_len > MAX_HEADER_BYTES:
        raise bad_file(path, f"has an implausibly large header ({header_len} bytes; at most {MAX_HEADER_BYTES})")
    if header_len < 2:
        raise bad_file(path, f"is not a safetensors file: header length {header_len} is too small "
                         "for a JSON object")
    header_bytes = raw[8 : 8 + header_len]
    if not header_bytes.lstrip(b" \t\r\n").startswith(b"{"):
        raise bad_file(path, "is not a safetensors file: the header is not a JSON object "
                         "(does not start with '{')")
    try:
        header = json.loads(header_bytes.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as e:
        raise bad_file(path, f"is corrupt: the header is not valid UTF-8 ({e.reason} at byte {e.start})") from e
    except RecursionError as e:
        raise bad_file(path, "is corrupt: the header JSON is nested absurdly deep") from e
    except ValueError as e:  # json.JSONDecodeError and our duplicate-key error
        raise bad_file(path, f"is corrupt: the header is not valid JSON ({e})") from e
    if not isinstance(header, dict):
        raise bad_file(path, f"is corrupt: the header is JSON but not an object (got {type(header).__name__})")

    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad_file(path, "is corrupt: '__metadata__' in the header must map strings to strings")

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
        raise bad_file(path, f"is corrupt: tensor {name!r} needs 'dtype', 'shape' and 'data_offsets' "
                         "in the header")
    dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if not isinstance(dtype, str):
        raise bad_file(path, f"is corrupt: tensor {name!r} has dtype {str(dtype)[:40]}, not a string")
    if dtype in _UNSUPPORTED_DTYPES:
        raise bad_file(path, f"has tensor {name!r} of dtype {dtype}, which minigrad cannot load "
                         f"(supported: {', '.join(_LOAD_DTYPES)})")
    if dtype not in _LOAD_DTYPES:
        raise bad_file(path, f"is corrupt: tensor {name!r} has unknown dtype {str(dtype)[:40]!r}")
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise bad_file(path, f"is corrupt: tensor {name!r} has shape {str(shape)[:80]}; expected a list of "
                         "non-negative integers")
    if len(shape) > MAX_NDIM:
        raise bad_file(path, f"is corrupt: tensor {name!r} has {len(shape)} dimensions (at most {MAX_NDIM})")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise bad_file(path, f"is corrupt: tensor {name!r} has data_offsets {str(offsets)[:80]}; expected "
                         "[begin, end] with 0 <= begin <= end")
    itemsize = _LOAD_DTYPES[dtype].itemsize
    # Python ints never overflow; cap the size NumPy could even describe (non-zero dims only,
    # as NumPy checks them) so a forged [0, 2**62] shape cannot slip through.
    nonzero = math.prod(d for d in shape if d)
    if nonzero * itemsize >= 2**62:
        raise bad_file(path, f"is corrupt: tensor {name!r} has an impossible shape {shape}")
    nbytes = math.prod(shape) * itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise bad_file(path, f"is corrupt: tensor {name!r} of dtype {dtype} and shape {tuple(shape)} needs "
                         f"{nbytes} bytes, but its data_offsets {offsets} span {offsets[1] - offsets[0]}")
    return _Entry(name, dtype, tuple(shape), offsets[0], offsets[1])


def _check_layout(entries: list[_Entry], data_size: int, path: str) -> None:
    """The byte ranges must tile the data section exactly: in bounds, no overlaps, no gaps."""
    needed = max((e.end for e in entries), default=0)
    if needed > data_size:
        raise bad_file(path, f"is truncated: header says {needed} bytes of data but the file has {data_size}")
    position, previous = 0, None
    for e in sorted(entries, key=lambda e: (e.begin, e.end)):
        if e.begin < position:
            raise bad_file(path, f"is corrupt: the bytes of tensors {previous!r} and {e.name!r} overlap")
        if e.begin > position:
            raise bad_file(path, f"is corrupt: {e.begin - position} unused bytes before tensor {e.name!r}")
        position, previous = e.end, e.name
    if position != data_size:
        raise bad_file(path, f"is corrupt: {data_size - position} unexpected bytes after the last tensor "
                         f"(header says {position} bytes of data, the file has {data_size})")


def read_arrays(raw: bytes, entries: list[_Entry], path: str) -> dict[str, np.ndarray]:
    """Let the safetensors library parse the (already checked) bytes; turn its buffers into arrays.

    Example::

        >>> import numpy as np, safetensors.numpy
        >>> raw = safetensors.numpy.save({"b": np.array([1, 0], np.bool_)})
        >>> read_arrays(raw, check_header(raw, "x")[0], "x")
        {'b': array([ True, False])}
    """
    try:
        views = dict(safetensors.deserialize(raw))
    except Exception as e:  # SafetensorError, or anything else it may raise
        raise bad_file(path, f"could not be read by the safetensors library: {e}") from e
    except BaseException as e:
        # A Rust panic surfaces as pyo3's PanicException, a BaseException: still a bad file.
        if type(e).__name__ != "PanicException":
            raise
        raise bad_file(path, f"made the safetensors library fail: {e}") from e

    arrays = {}
    for e in entries:
        view = views.get(e.name)
        if view is None or view["dtype"] != e.dtype or tuple(view["shape"]) != e.shape:
            raise bad_file(path, f"is corrupt: the safetensors library reads tensor {e.name!r} differently")
        arrays[e.name] = _to_numpy(view["data"], e)
    return arrays


def _to_numpy(buffer: bytearray, e: _Entry) -> np.ndarray:
    """Raw little-endian bytes -> a writable native-endian array of the dtype minigrad uses."""
    stored = np.frombuffer(buffer, dtype=_LOAD_DTYPES[e.dtype]).reshape(e.shape)
    if e.dtype == "BOOL":
        # any non-zero byte is True (never hand NumPy a bool that is not 0/1); asarray: 0-d stays an array
        return np.asarray(stored != 0)
    if e.dtype == "BF16":
        return _bf16_to_f32(stored)
    if e.dtype == "F16":
        return stored.astype(np.float32)
    # frombuffer over the library's bytearray is already writable; astype only copies on big-endian hosts
    return stored.astype(stored.dtype.newbyteorder("="), copy=False)


def _bf16_to_f32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 is the upper 16 bits of a float32, so shifting them back up is an exact conversion."""
    return np.asarray(bits.astype(np.uint32) << 16).view(np.float32)  # asarray: a 0-d result stays an array
