"""mg.save / mg.load: exact round trips, atomic writes, clear errors, PyTorch interop.

The format (see minigrad/serialization/): a safetensors file whose tensor names are the state
dict's keys (dotted paths for nested structures) and whose ``__metadata__`` holds the structure
and every non-array value as JSON.
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

import minigrad as mg
from minigrad import serialization
from minigrad.serialization import load, save
from minigrad.tensor import Tensor

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def assert_same(saved, loaded, where="obj"):
    """``loaded`` is exactly what ``saved`` was: same types (tuple stays tuple, int keys stay ints,
    bool stays bool, ndarray stays ndarray, Tensor stays Tensor with its requires_grad), floats bit
    for bit, arrays of the same dtype and values."""
    if isinstance(saved, (Tensor, np.ndarray)):
        assert type(loaded) is type(saved), f"{where}: expected a {type(saved).__name__}, got {type(loaded).__name__}"
        array, got = (saved._array, loaded._array) if isinstance(saved, Tensor) else (saved, loaded)
        expected_dtype = np.float32 if array.dtype == np.float16 else array.dtype.newbyteorder("=")
        assert got.dtype == expected_dtype, f"{where}: dtype {got.dtype} != {expected_dtype}"
        assert got.shape == array.shape, f"{where}: shape {got.shape} != {array.shape}"
        assert np.array_equal(got, array, equal_nan=array.dtype.kind == "f"), where
        assert got.flags.writeable and got.flags.c_contiguous, where
        if isinstance(saved, Tensor):
            assert loaded.requires_grad == saved.requires_grad and loaded.grad_fn is None, where
        return
    assert type(loaded) is type(saved), f"{where}: {type(loaded).__name__} != {type(saved).__name__}"
    if isinstance(saved, (float, np.floating)):
        if math.isnan(saved):
            assert math.isnan(loaded), where
        else:  # bit for bit: -0.0 stays -0.0, 0.1 stays the same double
            assert np.asarray(loaded).tobytes() == np.asarray(saved).tobytes(), f"{where}: {loaded!r} != {saved!r}"
    elif isinstance(saved, dict):
        assert [(type(k), k) for k in loaded] == [(type(k), k) for k in saved], f"{where}: keys differ"
        for k in saved:
            assert_same(saved[k], loaded[k], f"{where}[{k!r}]")
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved), f"{where}: length {len(loaded)} != {len(saved)}"
        for i, (s, l) in enumerate(zip(saved, loaded)):
            assert_same(s, l, f"{where}[{i}]")
    else:
        assert loaded == saved, f"{where}: {loaded!r} != {saved!r}"


def roundtrip(obj, tmp_path, name="ckpt.safetensors"):
    path = tmp_path / name
    save(obj, path)
    return load(path)


def read_header(path) -> dict:
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n])


def write_raw(path, header: dict | bytes, data: bytes = b"", length: int | None = None) -> Path:
    """A hand-made safetensors file (possibly a broken one)."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    Path(path).write_bytes(struct.pack("<Q", len(h) if length is None else length) + h + data)
    return Path(path)


def optimizer_like_state(rng) -> dict:
    """What an Adam state_dict looks like (the shape of PyTorch's)."""
    return {
        "state": {
            0: {"step": 3, "exp_avg": mg.from_numpy(rng.standard_normal((4, 3)).astype(np.float32)),
                "exp_avg_sq": mg.from_numpy(rng.random((4, 3)).astype(np.float32))},
            1: {"step": 3, "exp_avg": rng.standard_normal(3), "exp_avg_sq": rng.random(3)},
        },
        "param_groups": [
            {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0, "amsgrad": False,
             "maximize": False, "foreach": None, "params": [0, 1]},
        ],
    }


# --------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------


def test_flat_state_dict_roundtrip_keeps_names_order_dtypes_and_values(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.standard_normal((6, 8))
    sd = {
        "lstm.weight_ih_l0": mg.from_numpy(rng.standard_normal((32, 4)).astype(np.float32)),
        "lstm.bias_ih_l0": rng.standard_normal(32),                        # float64 ndarray
        "fc.weight": mg.from_numpy(base.T),                                    # transposed view
        "fc.bias": base[::2, 1::3],                                        # strided slice
        "fortran": np.asfortranarray(rng.standard_normal((3, 5)).astype(np.float32)),
        "embedding.indices": np.arange(-5, 5, dtype=np.int64).reshape(2, 5),
        "mask": np.array([[True, False, True]]),
        "int32": np.arange(7, dtype=np.int32),
        "uint8": np.arange(250, 256, dtype=np.uint8),
        "scalar": np.array(2.5),                                           # 0-d
        "scalar_int": mg.from_numpy(np.array(7, dtype=np.int64)),              # 0-d Tensor
        "empty": np.zeros((0, 3), np.float32),
        "empty_int": np.zeros((2, 0, 4), np.int64),
        "big_endian": np.arange(4, dtype=">f8"),
        "a": np.array([1.0, -0.0, np.inf, -np.inf, np.nan]),
    }
    loaded = roundtrip(sd, tmp_path)
    assert list(loaded) == list(sd), "a flat dict comes back in the saved order"
    assert_same(sd, loaded)
    # The names in the file are the keys unchanged: what PyTorch's load_state_dict needs.
    assert set(safetensors.numpy.load_file(tmp_path / "ckpt.safetensors")) == set(sd)


def test_nested_optimizer_state_roundtrip_exact_types(tmp_path):
    sd = optimizer_like_state(np.random.default_rng(1))
    loaded = roundtrip(sd, tmp_path)
    assert_same(sd, loaded)
    assert isinstance(loaded["param_groups"][0]["betas"], tuple)
    assert list(loaded["state"]) == [0, 1] and all(type(k) is int for k in loaded["state"])
    assert loaded["param_groups"][0]["foreach"] is None
    assert loaded["param_groups"][0]["amsgrad"] is False
    # Arrays inside the structure are stored under their dotted path.
    names = set(read_header(tmp_path / "ckpt.safetensors")) - {"__metadata__"}
    assert names == {"state.0.exp_avg", "state.0.exp_avg_sq", "state.1.exp_avg", "state.1.exp_avg_sq"}


def test_python_values_survive_exactly(tmp_path):
    floats = [0.1, 1 / 3, -0.0, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 1e-08,
              float("nan"), float("inf"), float("-inf")]
    rng = random.Random(7)
    floats += [rng.uniform(-1e6, 1e6) for _ in range(10)] + [rng.random() * 10.0 ** rng.randint(-300, 300)
                                                            for _ in range(10)]
    obj = {
        "floats": floats,
        "ints": [0, -1, 2**100, -(2**70), True, False],
        "strings": ["", "lstm.weight_ih_l0", 'quote " and \\ backslash', "ünïcödé ✓ 🚀", "{\"tensor\": \"x\"}"],
        "none": None,
        "tuple": (1, (2.5, "x"), [None, ()]),
        "empty": {"list": [], "tuple": (), "dict": {}},
        "keys": {0: "int", -3: "neg", 1.5: "float", True: "bool", None: "none", (1, "a"): "tuple", "s": 1},
        "numpy_scalars": [np.float32(0.1), np.float64(1 / 3), np.int64(-5), np.int32(7), np.bool_(True),
                          np.uint8(255), np.float16(0.5)],
        # a user dict that looks like our tags must still come back as a dict
        "lookalike": {"tensor": "state.0.exp_avg", "tuple": [1], "dict": [], "float": "nan"},
    }
    loaded = roundtrip(obj, tmp_path)
    expected = dict(obj)
    expected["numpy_scalars"] = obj["numpy_scalars"][:-1] + [np.float32(0.5)]  # float16 -> float32
    assert_same(expected, loaded)


def test_numpy_scalar_dict_keys_become_python_keys(tmp_path):
    loaded = roundtrip({np.int64(3): "a", (np.float64(0.5), np.bool_(True)): "b"}, tmp_path)
    assert_same({3: "a", (0.5, True): "b"}, loaded)


def test_top_level_list_tuple_and_single_tensor(tmp_path):
    for obj in ([np.ones(2), {"a": 1}], (np.ones(2), 3), mg.from_numpy(np.eye(2)), 4.5, None, {}):
        assert_same(obj, roundtrip(obj, tmp_path))


def test_dotted_name_collisions_and_reserved_names(tmp_path):
    obj = {"a.b": np.zeros(2), "a": {"b": np.ones(2)}, "__metadata__": np.full(1, 3.0), "tensor": np.ones(1)}
    loaded = roundtrip(obj, tmp_path)
    assert_same(obj, loaded)
    # the first one keeps the plain dotted name; clashes get a suffix in the file
    names = set(read_header(tmp_path / "ckpt.safetensors")) - {"__metadata__"}
    assert "a.b" in names and "a.b#2" in names and "__metadata__#2" in names


def test_the_same_object_twice_comes_back_as_one_object_as_in_pytorch(tmp_path):
    w, a = mg.from_numpy(np.arange(4.0)), np.ones(3)
    loaded = roundtrip({"encoder.weight": w, "decoder.weight": w, "x": [a, a]}, tmp_path)
    assert loaded["encoder.weight"] is loaded["decoder.weight"] and loaded["x"][0] is loaded["x"][1]
    assert np.array_equal(loaded["encoder.weight"].numpy(), np.arange(4.0))


def test_tied_weights_in_a_state_dict_are_stored_under_both_names(tmp_path):
    """state_dict() gives each name its own Tensor (sharing memory): every name is in the file,
    so safetensors readers (PyTorch) find both."""
    enc, dec = mg.nn.Embedding(5, 3), mg.nn.Linear(3, 5)
    dec.weight = enc.weight
    state = mg.nn.ModuleList([enc, dec]).state_dict()
    roundtrip(state, tmp_path)
    names = set(read_header(tmp_path / "ckpt.safetensors")) - {"__metadata__"}
    assert names == {"0.weight", "1.weight", "1.bias"}


def test_float16_loads_as_float32(tmp_path):
    a = np.array([0.5, 65504.0, -2.0**-24, np.inf], np.float16)
    loaded = roundtrip({"h": a, "t": mg.from_numpy(a)}, tmp_path)
    for value in (loaded["h"], loaded["t"].numpy()):
        assert value.dtype == np.float32 and np.array_equal(value, a.astype(np.float32))


def test_requires_grad_parameters_and_str_or_pathlike(tmp_path):
    w = mg.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    p = mg.nn.Parameter(mg.zeros(2))
    frozen = mg.nn.Parameter(mg.zeros(1), requires_grad=False)
    save({"w": w, "w2": w * 2, "p": p, "frozen": frozen}, str(tmp_path / "a.safetensors"))
    save({"w": w, "w2": w * 2, "p": p, "frozen": frozen}, tmp_path / "b.safetensors")
    for name in ("a.safetensors", "b.safetensors"):
        for path in (str(tmp_path / name), tmp_path / name):
            got = load(path)
            assert type(got["w"]) is Tensor and got["w"].requires_grad and got["w"].is_leaf
            assert got["w2"].requires_grad and got["w2"].grad_fn is None  # a non-leaf comes back as a leaf
            assert np.array_equal(got["w"].detach().numpy(), w.detach().numpy())
            assert type(got["p"]) is mg.nn.Parameter and got["p"].requires_grad
            assert type(got["frozen"]) is mg.nn.Parameter and not got["frozen"].requires_grad


def test_loaded_arrays_are_independent_and_writable(tmp_path):
    a, t = np.arange(6.0), mg.from_numpy(np.arange(3.0))
    loaded = roundtrip({"a": a, "t": t}, tmp_path)
    loaded["a"] += 1  # an optimizer updates parameters in place
    loaded["t"]._array += 1
    assert np.array_equal(a, np.arange(6.0)) and np.array_equal(t.numpy(), np.arange(3.0))


def test_file_header_records_format_and_version(tmp_path):
    save({"w": np.ones(2)}, tmp_path / "m.safetensors")
    meta = read_header(tmp_path / "m.safetensors")["__metadata__"]
    assert meta["minigrad.format"] == "minigrad-checkpoint" and meta["minigrad.version"] == "2"
    assert json.loads(meta["minigrad.structure"]) == {"dict": [["w", {"ndarray": "w"}]]}


# --------------------------------------------------------------------------------------------
# save errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"fn": print}, r"obj\['fn'\] of type builtin_function_or_method"),
        ({"state": {0: {"obj": object()}}}, r"obj\['state'\]\[0\]\['obj'\] of type object"),
        ({"c": np.ones(2, np.complex64)}, "dtype complex64"),
        ({"o": np.array([None, 1], dtype=object)}, "dtype object"),
        ({"s": np.array(["a", "b"])}, "dtype <U1"),
        ({"gen": (x for x in [])}, "of type generator"),
        ({"fn": lambda: 0}, "of type function"),
        ({"set": {1, object()}}, "set element"),
        ({"dtype": np.dtype("complex64")}, "dtype complex64"),
        ({"b": b"bytes"}, "of type bytes"),
        ({object(): 1}, "dict key"),
        ({("a", object()): 1}, "dict key"),
    ],
)
def test_save_rejects_what_a_checkpoint_cannot_hold(tmp_path, bad, match):
    path = tmp_path / "ckpt.safetensors"
    save({"w": np.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=match):
        save(bad, path)
    assert path.read_bytes() == before, "a failed save must leave the previous checkpoint alone"
    assert os.listdir(tmp_path) == ["ckpt.safetensors"], "no temp file left behind"


def test_save_rejects_cycles(tmp_path):
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="contain itself"):
        save({"x": cyclic}, tmp_path / "c.safetensors")
    assert os.listdir(tmp_path) == []


def test_save_into_missing_directory_or_onto_a_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"w": np.ones(1)}, tmp_path / "nope" / "ckpt.safetensors")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save({"w": np.ones(1)}, tmp_path)


# --------------------------------------------------------------------------------------------
# load errors: FileNotFoundError or ValueError naming the file and the problem
# --------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"checkpoint '.*missing\.safetensors' does not exist"):
        load(tmp_path / "missing.safetensors")


def test_directory_is_not_a_checkpoint(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load(tmp_path)


def test_truncated_file_says_so(tmp_path):
    path = tmp_path / "x.safetensors"
    save({"w": np.zeros(1024, np.float32)}, path)
    raw = path.read_bytes()
    header_len = struct.unpack("<Q", raw[:8])[0]
    path.write_bytes(raw[: 8 + header_len + 1000])
    with pytest.raises(ValueError) as e:
        load(path)
    assert str(e.value) == (f"checkpoint '{path}' is truncated: header says 4096 bytes of data "
                            "but the file has 1000")
    # cut inside the header: the length field no longer fits
    path.write_bytes(raw[:100])
    with pytest.raises(ValueError, match=r"x\.safetensors' is truncated or not a safetensors file"):
        load(path)
    path.write_bytes(raw[:5])
    with pytest.raises(ValueError, match=r"x\.safetensors' is not a safetensors file: it has 5 bytes"):
        load(path)
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="it has 0 bytes"):
        load(path)


def test_non_safetensors_files(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a checkpoint at all\n" * 3)
    with pytest.raises(ValueError, match=r"notes\.txt' is truncated or not a safetensors file"):
        load(text)
    npz = tmp_path / "weights.npz"
    np.savez(npz, w=np.ones(3))
    with pytest.raises(ValueError, match=r"weights\.npz' is truncated or not a safetensors file"):
        load(npz)
    looks_like = write_raw(tmp_path / "fake.safetensors", b"[1, 2, 3]")
    with pytest.raises(ValueError, match="not a JSON object"):
        load(looks_like)


@pytest.mark.parametrize(
    "header, data, match",
    [
        (b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}', b"\0" * 4, "not valid JSON"),
        (b'{"w": 1, "w": 2}', b"", "key 'w' appears twice"),
        (b'{"\xff": 1}', b"", "not valid UTF-8"),
        ({"w": {"dtype": "F32", "shape": [1]}}, b"\0" * 4, "needs 'dtype', 'shape' and 'data_offsets'"),
        ({"w": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "unknown dtype 'Q7'"),
        ({"w": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "not a string"),
        ({"w": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 4,
         "dtype F8_E4M3, which minigrad cannot load"),
        ({"w": {"dtype": "C64", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8, "dtype C64"),
        ({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "non-negative integers"),
        ({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, b"\0" * 4, "non-negative integers"),
        ({"w": {"dtype": "F32", "shape": [1] * 40, "data_offsets": [0, 4]}}, b"\0" * 4, "40 dimensions"),
        ({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 4]}}, b"\0" * 4,
         r"needs 12 bytes, but its data_offsets \[0, 4\] span 4"),
        ({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4, "0 <= begin <= end"),
        ({"w": {"dtype": "F32", "shape": [0, 2**62], "data_offsets": [0, 0]}}, b"", "impossible shape"),
        ({"w": {"dtype": "F32", "shape": [2**28, 2**28], "data_offsets": [0, 2**58]}}, b"\0" * 4,
         r"is truncated: header says 288230376151711744 bytes of data but the file has 4"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "'a' and 'b' overlap"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "4 unused bytes before"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8, "4 unexpected bytes after"),
        ({"__metadata__": {"k": 1}}, b"", "must map strings to strings"),
        ({"__metadata__": [1]}, b"", "must map strings to strings"),
    ],
)
def test_corrupt_headers_are_rejected_with_a_reason(tmp_path, header, data, match):
    path = write_raw(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(ValueError, match=match) as e:
        load(path)
    assert f"checkpoint '{path}'" in str(e.value)


def test_huge_length_field(tmp_path):
    path = write_raw(tmp_path / "huge.safetensors", b"{}", length=2**64 - 1)
    with pytest.raises(ValueError, match="header has 18446744073709551615 bytes, but only 2 bytes follow"):
        load(path)


def minigrad_file(tmp_path, metadata: dict, tensors: dict | None = None) -> Path:
    path = tmp_path / "meta.safetensors"
    Path(path).write_bytes(safetensors.numpy.save(tensors or {}, metadata=metadata))
    return path


@pytest.mark.parametrize(
    "structure, match",
    [
        ("{", "is not valid JSON"),
        ('{"dict": [["w", {"tensor": "nope"}]]}', "refers to a missing tensor 'nope'"),
        ('{"dict": [["w", {"tensor": "w"}], ["v", {"tensor": "w"}]]}', "uses the tensor 'w' twice"),
        ("[1, 2]", r"tensors \['w'\] are not part of the saved structure"),
        ('{"dict": [["w", {"tensor": "w"}], ["x", {"pickle": "os.system"}]]}', "invalid entry"),
        ('{"dict": [["w", {"tensor": "w"}], [[1], 2]]}', "invalid dict key"),
        ('{"dict": [["w", {"tensor": "w"}], [{"tensor": "w"}, 2]]}', "invalid dict key"),
        ('{"dict": [["w", {"tensor": "w"}], ["x"]]}', "not a \\[key, value\\] pair"),
        ('{"dict": [["w", {"scalar": "w"}]]}', "has scalar 'w' of shape"),
        ('{"dict": [["w", {"tensor": "w"}], ["f", {"float": "1e5"}]]}', "invalid entry"),
        ("[" * 50_000 + "]" * 50_000, "nested"),
        ('{"dict": [["w", {"tensor": "w"}]], "tuple": []}', "invalid entry"),
    ],
)
def test_bad_metadata_is_a_value_error(tmp_path, structure, match):
    meta = {"minigrad.format": "minigrad-checkpoint", "minigrad.version": "1", "minigrad.structure": structure}
    path = minigrad_file(tmp_path, meta, {"w": np.ones(2)})
    with pytest.raises(ValueError, match=match) as e:
        load(path)
    assert f"checkpoint '{path}' is corrupt" in str(e.value) or "not valid JSON" in str(e.value)


@pytest.mark.parametrize(
    "meta, match",
    [
        ({"minigrad.format": "minigrad-checkpoint", "minigrad.version": "3", "minigrad.structure": "[]"},
         "written by a newer minigrad"),
        ({"minigrad.format": "minigrad-checkpoint", "minigrad.version": "x", "minigrad.structure": "[]"},
         "not a number"),
        ({"minigrad.format": "minigrad-checkpoint", "minigrad.version": "9" * 5000, "minigrad.structure": "[]"},
         "not a number"),
        ({"minigrad.format": "something-else", "minigrad.version": "1"}, "unknown 'minigrad.format'"),
        ({"minigrad.format": "minigrad-checkpoint", "minigrad.version": "1"}, "no 'minigrad.structure'"),
    ],
)
def test_format_marker_and_version_are_checked(tmp_path, meta, match):
    with pytest.raises(ValueError, match=match):
        load(minigrad_file(tmp_path, meta))


def test_library_errors_are_reraised_as_value_error(tmp_path, monkeypatch):
    path = tmp_path / "ok.safetensors"
    save({"w": np.ones(2)}, path)

    def broken(data):
        raise serialization.safetensors.SafetensorError("simulated library failure")

    monkeypatch.setattr(serialization.safetensors, "deserialize", broken)
    with pytest.raises(ValueError, match=r"ok\.safetensors' could not be read by the safetensors library: "
                                         "simulated library failure"):
        load(path)


def test_foreign_files_load_flat_in_file_order_and_bool_bytes_are_normalised(tmp_path):
    header = {"__metadata__": {"format": "pt"},
              "z": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]},
              "a": {"dtype": "I16", "shape": [1], "data_offsets": [3, 5]}}
    path = write_raw(tmp_path / "f.safetensors", header, b"\x00\x07\x01" + struct.pack("<h", -3))
    loaded = load(path)
    assert list(loaded) == ["z", "a"]
    assert loaded["z"].dtype == np.bool_ and loaded["z"].tolist() == [False, True, True]
    assert loaded["a"].dtype == np.int16 and loaded["a"].tolist() == [-3]


# --------------------------------------------------------------------------------------------
# PyTorch interop (live; skips without torch)
# --------------------------------------------------------------------------------------------


def lstm_linear_state(rng, input_size=4, hidden=8, layers=2, out=3) -> dict[str, np.ndarray]:
    """The state dict of ``torch: lstm = LSTM(4, 8, num_layers=2); fc = Linear(8, 3)``, by PyTorch's names."""
    sd = {}
    for k in range(layers):
        sd[f"lstm.weight_ih_l{k}"] = rng.standard_normal((4 * hidden, input_size if k == 0 else hidden))
        sd[f"lstm.weight_hh_l{k}"] = rng.standard_normal((4 * hidden, hidden))
        sd[f"lstm.bias_ih_l{k}"] = rng.standard_normal(4 * hidden)
        sd[f"lstm.bias_hh_l{k}"] = rng.standard_normal(4 * hidden)
    sd["fc.weight"] = rng.standard_normal((out, hidden))
    sd["fc.bias"] = rng.standard_normal(out)
    return {k: v.astype(np.float32) for k, v in sd.items()}


def torch_twin(torch):
    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(4, 8, num_layers=2)
            self.fc = torch.nn.Linear(8, 3)

        def forward(self, x):
            return self.fc(self.lstm(x)[0])

    return Twin()


def test_minigrad_checkpoint_loads_into_pytorch_twin(tmp_path, torch):
    import safetensors.torch

    sd = {k: mg.from_numpy(v) for k, v in lstm_linear_state(np.random.default_rng(3)).items()}
    save(sd, tmp_path / "model.safetensors")
    twin = torch_twin(torch)
    result = twin.load_state_dict(safetensors.torch.load_file(tmp_path / "model.safetensors"), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for name, p in twin.state_dict().items():
        assert np.array_equal(p.numpy(), sd[name]._array), name


def test_pytorch_checkpoint_loads_here(tmp_path, torch):
    import safetensors.torch

    torch.manual_seed(0)
    twin = torch_twin(torch)
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(twin.state_dict(), path, metadata={"format": "pt"})
    loaded = load(path)
    expected = twin.state_dict()
    assert set(loaded) == set(expected)
    for name, t in expected.items():
        assert isinstance(loaded[name], Tensor) and loaded[name].dtype == np.float32
        assert np.array_equal(loaded[name]._array, t.numpy()), name
    # and back: minigrad re-saves what it loaded, PyTorch takes it again
    save(loaded, tmp_path / "again.safetensors")
    twin.load_state_dict(safetensors.torch.load_file(tmp_path / "again.safetensors"), strict=True)


def test_pytorch_half_bfloat16_and_integer_tensors(tmp_path, torch):
    import safetensors.torch

    x = torch.tensor([1.0, -2.5, 3.140625, 1e30, float("inf")])
    tensors = {"bf16": x.to(torch.bfloat16), "f16": x[:3].to(torch.float16),
               "steps": torch.tensor(7, dtype=torch.int64), "mask": torch.tensor([True, False]),
               "f64": torch.arange(3, dtype=torch.float64), "noncontig": torch.arange(6.0).reshape(2, 3).t()}
    path = tmp_path / "mixed.safetensors"
    safetensors.torch.save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    loaded = load(path)
    assert loaded["bf16"].dtype == np.float32
    assert np.array_equal(loaded["bf16"]._array, tensors["bf16"].float().numpy())  # exact conversion
    assert loaded["f16"].dtype == np.float32
    assert np.array_equal(loaded["f16"]._array, tensors["f16"].float().numpy())
    assert loaded["steps"].dtype == np.int64 and loaded["steps"].shape == () and loaded["steps"].item() == 7
    assert loaded["mask"].dtype == np.bool_ and loaded["mask"].tolist() == [True, False]
    assert loaded["f64"].dtype == np.float64
    assert np.array_equal(loaded["noncontig"]._array, tensors["noncontig"].numpy())


def test_nested_checkpoint_tensors_are_readable_by_pytorch(tmp_path, torch):
    import safetensors.torch

    sd = optimizer_like_state(np.random.default_rng(5))
    save(sd, tmp_path / "opt.safetensors")
    t = safetensors.torch.load_file(tmp_path / "opt.safetensors")
    assert np.array_equal(t["state.0.exp_avg"].numpy(), sd["state"][0]["exp_avg"]._array)
    assert np.array_equal(t["state.1.exp_avg_sq"].numpy(), sd["state"][1]["exp_avg_sq"])


# --------------------------------------------------------------------------------------------
# real minigrad models (LSTM + Linear) <-> their PyTorch twin
# --------------------------------------------------------------------------------------------


def minigrad_lstm_model():
    """minigrad's version of torch_twin: the same parameter names, so checkpoints move both ways."""
    recurrent = pytest.importorskip("minigrad.nn.recurrent", reason="minigrad.nn.recurrent not available")

    class Model(mg.nn.Module):
        def __init__(self):
            super().__init__()
            # 'reference' and 'fused' share parameters and numbers; checkpoints don't care which runs
            self.lstm = recurrent.LSTM(4, 8, num_layers=2, impl="reference")
            self.fc = mg.nn.Linear(8, 3)

        def forward(self, x):
            return self.fc(self.lstm(x)[0])

    return Model()


def test_real_lstm_model_checkpoint_runs_identically_in_pytorch_and_back(tmp_path, torch):
    import safetensors.torch

    x = np.random.default_rng(11).standard_normal((5, 2, 4)).astype(np.float32)  # (seq, batch, features)

    mg.manual_seed(0)
    model = minigrad_lstm_model()
    save(model.state_dict(), tmp_path / "mg.safetensors")
    twin = torch_twin(torch)
    twin.load_state_dict(safetensors.torch.load_file(tmp_path / "mg.safetensors"), strict=True)
    with mg.no_grad():
        ours = model(mg.from_numpy(x)).numpy()
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)

    torch.manual_seed(1)
    twin = torch_twin(torch)
    safetensors.torch.save_file(twin.state_dict(), tmp_path / "torch.safetensors")
    model = minigrad_lstm_model()
    result = model.load_state_dict(load(tmp_path / "torch.safetensors"), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    with mg.no_grad():
        ours = model(mg.from_numpy(x)).numpy()
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)


def test_resuming_training_from_a_model_adam_scheduler_checkpoint_is_exact(tmp_path):
    """Train, checkpoint model + optimizer + scheduler in one file (as examples/char_lstm.py does),
    train on; a fresh copy resumed from the checkpoint must take exactly the same next step."""
    optim = pytest.importorskip("minigrad.optim", reason="minigrad.optim not available")
    x = mg.from_numpy(np.random.default_rng(2).standard_normal((5, 2, 4)).astype(np.float32))
    target = mg.from_numpy(np.random.default_rng(3).standard_normal((5, 2, 3)).astype(np.float32))

    def train_step(model, opt, sched):
        opt.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()

    def setup(lr):
        model = minigrad_lstm_model()
        opt = optim.Adam(model.parameters(), lr=lr, betas=(0.8, 0.99))
        return model, opt, optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)

    mg.manual_seed(0)
    model, opt, sched = setup(0.01)
    for _ in range(2):
        train_step(model, opt, sched)
    save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
          "step": 2}, tmp_path / "ckpt.safetensors")
    ckpt = load(tmp_path / "ckpt.safetensors")
    assert ckpt["step"] == 2 and ckpt["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.99)
    assert sorted(ckpt["optimizer"]["state"]) == list(range(len(list(model.parameters()))))

    mg.manual_seed(123)
    resumed, resumed_opt, resumed_sched = setup(0.5)
    resumed.load_state_dict(ckpt["model"])
    resumed_sched.load_state_dict(ckpt["scheduler"])  # scheduler first, as in PyTorch
    resumed_opt.load_state_dict(ckpt["optimizer"])
    assert resumed_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    train_step(model, opt, sched)
    train_step(resumed, resumed_opt, resumed_sched)
    assert resumed_opt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        assert np.array_equal(a._array, b._array), name
