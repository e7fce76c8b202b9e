"""mg.save / mg.load as torch.save / torch.load (2.6): file objects, map_location, typed round trips,
whole modules with the allow-list (weights_only), and files PyTorch reads.

The format details, atomic writes and corrupt-file handling are in tests/test_serialization.py and
tests/test_checkpoint_fuzz.py.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import struct
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy
from conftest import load_fixture

import minigrad as mg
from minigrad import serialization
from minigrad.serialization import WeightsOnlyError, allow_list, safe_globals
from minigrad.tensor import Tensor

CONSTRUCTED: list[str] = []  # every Net.__init__ call appends here: loading must never add to it


class Net(mg.nn.Module):
    """An LSTM language-model-like net with tied weights, as scripts write them."""

    def __init__(self, vocab: int = 7, hidden: int = 4):
        super().__init__()
        CONSTRUCTED.append("Net")
        self.embed = mg.nn.Embedding(vocab, hidden)
        self.rnn = mg.nn.LSTM(hidden, hidden, num_layers=2, dropout=0.0)
        self.drop = mg.nn.Dropout(0.5)
        self.decoder = mg.nn.Linear(hidden, vocab)
        self.decoder.weight = self.embed.weight  # tied
        self.register_buffer("seen", mg.zeros(1, dtype=mg.int64))
        self.config = {"vocab": vocab, "sizes": (hidden, hidden), "name": "lm", "scale": 0.5, "extra": None}
        self.device = mg.device("cuda" if mg.cuda.is_available() else "cpu")  # as scripts do

    def forward(self, tokens):
        out, _ = self.rnn(self.drop(self.embed(tokens)))
        return self.decoder(out)


@pytest.fixture(autouse=True)
def no_leftover_safe_globals():
    serialization.clear_safe_globals()
    yield
    serialization.clear_safe_globals()


def saved(obj) -> io.BytesIO:
    f = io.BytesIO()
    mg.save(obj, f)
    f.seek(0)
    return f


def structure_of(raw: bytes) -> dict:
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(json.loads(raw[8 : 8 + n])["__metadata__"]["minigrad.structure"])


def with_structure(raw: bytes, edit) -> io.BytesIO:
    """The same checkpoint with its structure JSON rewritten by ``edit(text) -> text``."""
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    meta = header.pop("__metadata__")
    meta["minigrad.structure"] = edit(meta["minigrad.structure"])
    arrays = safetensors.numpy.load(raw)
    return io.BytesIO(safetensors.numpy.save(arrays, metadata=meta))


def outputs(model, tokens):
    with mg.no_grad():
        return model(tokens).numpy()


TOKENS = mg.tensor([[1, 2, 3], [4, 5, 6]])


# --------------------------------------------------------------------------------------------
# paths and file objects
# --------------------------------------------------------------------------------------------


def test_file_objects_paths_and_open_files(tmp_path):
    obj = {"w": mg.ones(2), "step": 3}
    f = saved(obj)
    assert mg.load(f)["step"] == 3
    stream = io.BytesIO(b"preamble")  # load reads from the current position, like torch.load
    stream.seek(0, io.SEEK_END)
    mg.save(obj, stream)
    stream.seek(len(b"preamble"))
    assert mg.load(stream)["w"].tolist() == [1.0, 1.0]
    with open(tmp_path / "a.pt", "wb") as out:
        mg.save(obj, out)
    with open(tmp_path / "a.pt", "rb") as inp:
        assert mg.load(inp)["step"] == 3
    assert mg.load(str(tmp_path / "a.pt"))["step"] == 3 and mg.load(tmp_path / "a.pt")["step"] == 3


def test_file_object_errors(tmp_path):
    with open(tmp_path / "t.txt", "w") as text, pytest.raises(TypeError, match=r"binary mode \('wb'\)"):
        mg.save({"a": 1}, text)
    (tmp_path / "t.txt").write_text("hello")
    with open(tmp_path / "t.txt") as text, pytest.raises(TypeError, match=r"binary mode \('rb'\)"):
        mg.load(text)
    with pytest.raises(TypeError, match="a path .* or a binary file object with write"):
        mg.save({"a": 1}, 42)
    with pytest.raises(TypeError, match="a path .* or a binary file object with read"):
        mg.load(3.5)
    with pytest.raises(ValueError, match="checkpoint '<BytesIO>' is not a safetensors file: it has 0 bytes"):
        mg.load(io.BytesIO())


def test_saving_an_optimizer_object_says_to_save_its_state_dict():
    opt = mg.optim.SGD(mg.nn.Linear(1, 1).parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"of type SGD.*save its \.state_dict\(\) instead"):
        mg.save({"opt": opt}, io.BytesIO())


def test_failed_save_of_a_module_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "model.pt"
    mg.save(mg.nn.Linear(2, 2), path)
    before = path.read_bytes()
    model = mg.nn.Linear(2, 2)
    model.activation = lambda x: x  # a function is code: a checkpoint cannot hold it
    with pytest.raises(TypeError, match=r"obj\['activation'\] of type function"):
        mg.save(model, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["model.pt"]


# --------------------------------------------------------------------------------------------
# typed round trips
# --------------------------------------------------------------------------------------------


def test_values_come_back_with_their_types():
    t64 = mg.tensor(np.arange(6.0).reshape(2, 3), dtype=mg.float64, requires_grad=True)
    obj = OrderedDict(
        f32=mg.randn(3, 2), f64=t64, grad_on=t64 * 2, non_contiguous=mg.randn(3, 4).transpose(0, 1),
        i64=mg.tensor([1, -2]), boolean=mg.tensor([True, False]), u8=mg.tensor(np.array([255], np.uint8)),
        zero_d=mg.tensor(2.5), empty=mg.zeros(0, 3), array=np.arange(4, dtype=np.int32), np_scalar=np.float32(0.25),
        numbers=[1, 2.5, True, None, "text", float("inf"), -0.0], nested={"a": ({"b": [1, (2, 3)]},), 7: "int key"},
        ids={3, 1, 2}, frozen=frozenset({"x"}), dtype=mg.float32, plain={"x": 1}, device=mg.device("cpu"),
        device0=mg.device("cpu:0"),
    )
    loaded = mg.load(saved(obj))
    assert type(loaded) is OrderedDict and list(loaded) == list(obj)
    for key in ("f32", "f64", "grad_on", "non_contiguous", "i64", "boolean", "u8", "zero_d", "empty"):
        a, b = obj[key], loaded[key]
        assert type(b) is Tensor and b.dtype == a.dtype and b.shape == a.shape, key
        assert b.requires_grad == a.requires_grad and b.is_leaf, key
        assert np.array_equal(b.detach().numpy(), a.detach().numpy()), key
    assert type(loaded["array"]) is np.ndarray and loaded["array"].dtype == np.int32
    assert type(loaded["np_scalar"]) is np.float32 and loaded["np_scalar"] == 0.25
    assert loaded["numbers"][:5] == [1, 2.5, True, None, "text"] and type(loaded["numbers"][2]) is bool
    assert loaded["numbers"][5] == float("inf") and str(loaded["numbers"][6]) == "-0.0"
    assert loaded["nested"] == obj["nested"] and type(loaded["nested"]["a"]) is tuple
    assert loaded["ids"] == {1, 2, 3} and type(loaded["frozen"]) is frozenset
    assert loaded["dtype"] == np.float32 and type(loaded["plain"]) is dict
    assert type(loaded["device"]) is mg.device and str(loaded["device"]) == "cpu" and str(loaded["device0"]) == "cpu:0"


def test_dict_and_list_subclasses_keep_their_contents_as_plain_containers():
    class AttrDict(dict):
        pass

    class Items(list):
        pass

    loaded = mg.load(saved({"config": AttrDict(lr=0.1), "items": Items([1, 2])}))
    assert type(loaded["config"]) is dict and loaded["config"] == {"lr": 0.1}
    assert type(loaded["items"]) is list and loaded["items"] == [1, 2]


def test_single_tensor_and_parameter():
    p = mg.nn.Parameter(mg.randn(2, 2))
    loaded = mg.load(saved(p))
    assert type(loaded) is mg.nn.Parameter and loaded.requires_grad
    assert np.array_equal(loaded.detach().numpy(), p.detach().numpy())


def test_optimizer_state_dict_round_trip_resumes_exactly():
    def build():
        mg.manual_seed(0)
        model = mg.nn.Linear(3, 2)
        return model, mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(model, opt, i):
        opt.zero_grad()
        x = mg.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3) * (i + 1))
        (model(x) ** 2).sum().backward()
        opt.step()

    model, opt = build()
    for i in range(5):
        step(model, opt, i)
    reference = model.weight.detach().numpy().copy()

    model, opt = build()
    for i in range(2):
        step(model, opt, i)
    checkpoint = mg.load(saved({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 2}))
    model, opt = build()
    model.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["optimizer"])
    for i in range(checkpoint["epoch"], 5):
        step(model, opt, i)
    assert np.array_equal(model.weight.detach().numpy(), reference)


def same_value(a, b) -> bool:
    """Equal with the same types all the way down (arrays by dtype, shape and bytes)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, mg.Tensor):
        return a.requires_grad == b.requires_grad and same_value(a.detach().numpy(), b.detach().numpy())
    if isinstance(a, (np.ndarray, np.generic)):
        return a.dtype == b.dtype and np.shape(a) == np.shape(b) and np.asarray(a).tobytes() == np.asarray(b).tobytes()
    if isinstance(a, float):  # bit for bit (-0.0 too); a Python nan comes back as nan, not its payload bits
        return (a != a and b != b) or np.float64(a).tobytes() == np.float64(b).tobytes()
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    return a == b


def random_values():
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp

    dtypes = st.sampled_from([np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_])
    arrays = dtypes.flatmap(lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)))
    tensors = st.builds(lambda a, g: mg.tensor(a, requires_grad=g and a.dtype.kind == "f"), arrays, st.booleans())
    keys = st.one_of(st.text(max_size=5), st.integers(-5, 5))
    scalars = dtypes.flatmap(lambda d: hnp.from_dtype(np.dtype(d)).map(np.dtype(d).type))
    leaves = st.one_of(st.none(), st.booleans(), st.integers(-2**63, 2**63 - 1), st.floats(), st.text(max_size=8),
                       arrays, tensors, scalars)
    return st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.tuples(inner, inner), st.dictionaries(keys, inner, max_size=3),
        st.dictionaries(keys, inner, max_size=3).map(OrderedDict), st.frozensets(keys, max_size=3),
        st.sets(keys, max_size=3)), max_leaves=12)


def test_random_nested_values_round_trip_with_their_types():
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(random_values())
    def check(value):
        assert same_value(mg.load(saved(value)), value)

    check()


# --------------------------------------------------------------------------------------------
# map_location, weights_only, mmap
# --------------------------------------------------------------------------------------------


class FakeDevice:
    def __init__(self, name):
        self.name = name

    def __str__(self):
        return self.name


@pytest.mark.parametrize("where", [None, "cpu", "cpu:0", FakeDevice("cpu"), {"cuda:0": "cpu"}, {"cpu": "cpu"},
                                   lambda storage, loc: storage, lambda storage, loc: None])
def test_map_location_to_the_cpu_is_accepted(where):
    loaded = mg.load(saved({"w": mg.ones(2), "m": mg.nn.Linear(1, 1)}), map_location=where)
    assert loaded["w"].tolist() == [1.0, 1.0] and isinstance(loaded["m"].weight, mg.nn.Parameter)


def test_map_location_callable_may_replace_the_tensor():
    loaded = mg.load(saved({"w": mg.ones(2)}), map_location=lambda storage, loc: storage * 3)
    assert loaded["w"].tolist() == [3.0, 3.0]


@pytest.mark.parametrize("where", ["cuda", "cuda:0", "mps", FakeDevice("cuda:1"), {"cpu": "cuda:0"}])
def test_map_location_to_another_device_says_minigrad_runs_on_the_cpu(where):
    with pytest.raises(RuntimeError, match="minigrad runs on the CPU"):
        mg.load(saved({"w": mg.ones(2)}), map_location=where)


def test_weights_only_and_mmap_arguments():
    f = saved({"w": mg.ones(1)})
    for kwargs in ({"weights_only": True}, {"weights_only": False}, {"weights_only": None}, {"mmap": True}):
        f.seek(0)
        assert mg.load(f, **kwargs)["w"].tolist() == [1.0]
    with pytest.raises(TypeError, match="weights_only must be True, False or None"):
        mg.load(f, weights_only="yes")
    with pytest.raises(TypeError, match="mmap must be"):
        mg.load(f, mmap="r")


# --------------------------------------------------------------------------------------------
# whole modules
# --------------------------------------------------------------------------------------------


def test_minigrad_modules_load_by_default_and_compute_the_same():
    mg.manual_seed(1)
    model = mg.nn.Sequential(mg.nn.Embedding(7, 4), mg.nn.GRU(4, 3, batch_first=True, bidirectional=True))
    model.eval()
    loaded = mg.load(saved(model))
    assert type(loaded) is mg.nn.Sequential and loaded.training is False and type(loaded[1]) is mg.nn.GRU
    assert repr(loaded) == repr(model)
    with mg.no_grad():
        expected, got = model(TOKENS)[0].numpy(), loaded(TOKENS)[0].numpy()
    assert np.array_equal(expected, got)
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert all(type(p) is mg.nn.Parameter and p.requires_grad for p in loaded.parameters())


def minigrad_module_classes() -> list[type]:
    return [c for c in vars(mg.nn).values() if isinstance(c, type) and issubclass(c, mg.nn.Module)]


@pytest.mark.parametrize("cls", minigrad_module_classes(), ids=lambda c: c.__name__)
def test_every_minigrad_module_round_trips_with_the_default_allow_list(cls):
    """Whatever mg.nn exports (built with the first argument list its constructor takes)."""
    for args in [(), (3,), (3, 3), (3, 3, 3), (1, (3, 1)), ("LSTM", 3, 3), (3, 3, True, 4), (mg.nn.LSTMCell(3, 3),)]:
        try:
            model = cls(*args)
            break
        except (TypeError, ValueError):
            continue
    else:
        pytest.skip(f"no simple constructor call for {cls.__name__}")
    model.eval()
    loaded = mg.load(saved(model))
    assert type(loaded) is cls and repr(loaded) == repr(model) and loaded.training is False
    expected, got = model.state_dict(), loaded.state_dict()
    assert list(got) == list(expected)
    for key in expected:
        assert np.array_equal(got[key].numpy(), expected[key].numpy()), key


def test_user_module_is_refused_until_allowed_and_never_constructed():
    mg.manual_seed(2)
    model = Net()
    model.eval()
    raw = saved(model).getvalue()
    constructed_before = len(CONSTRUCTED)
    path = f"{Net.__module__}.Net"
    with pytest.raises(WeightsOnlyError, match=rf"class {path}, which is not allowed by default") as error:
        mg.load(io.BytesIO(raw))
    message = str(error.value)
    assert "mg.serialization.add_safe_globals([Net])" in message and "safe_globals([Net])" in message
    assert serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(raw)) == [path]

    with safe_globals([Net]):
        loaded = mg.load(io.BytesIO(raw))
    with pytest.raises(WeightsOnlyError):
        mg.load(io.BytesIO(raw))  # the context manager's permission ended with the block
    serialization.add_safe_globals([Net])
    assert serialization.get_safe_globals() == [Net]
    assert serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(raw)) == []
    again = mg.load(io.BytesIO(raw))

    assert len(CONSTRUCTED) == constructed_before, "loading ran Net.__init__"
    for m in (loaded, again):
        assert type(m) is Net and m.training is False and m.config == model.config
        assert m.decoder.weight is m.embed.weight, "tied weights must stay one Parameter"
        assert m.seen.dtype == np.int64
        assert np.array_equal(outputs(m, TOKENS), outputs(model, TOKENS))


def test_loaded_module_trains_like_the_original():
    mg.manual_seed(3)
    model = Net()
    serialization.add_safe_globals([Net])
    twin = mg.load(saved(model))
    for m in (model, twin):
        opt = mg.optim.Adam(m.parameters(), lr=0.01)
        m.eval()  # dropout off: both runs see the same numbers
        for _ in range(3):
            opt.zero_grad()
            loss = mg.nn.functional.cross_entropy(m(TOKENS).reshape(-1, 7), mg.tensor([1, 2, 3, 4, 5, 6]))
            loss.backward()
            opt.step()
    for (name, a), (_, b) in zip(model.named_parameters(), twin.named_parameters()):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy()), name


def test_stored_class_paths_and_both_spellings_load():
    raw = saved(mg.nn.Linear(2, 3)).getvalue()
    stored = structure_of(raw)["object"]
    assert stored == allow_list.public_path(mg.nn.Linear)
    for spelling in ("minigrad.nn.Linear", "minigrad.nn.layers.Linear"):
        loaded = mg.load(with_structure(raw, lambda s, spelling=spelling: s.replace(stored, spelling)))
        assert type(loaded) is mg.nn.Linear


def test_minigrad_classes_are_stored_under_the_torch_like_path_when_nn_modules_exists(tmp_path):
    """Another package provides minigrad.nn.modules.<file> re-exports; a stand-in for it here."""
    package = tmp_path / "modules"
    package.mkdir()
    (package / "activation.py").write_text("from minigrad.nn import Linear, Tanh\n__all__ = ['Tanh']\n")
    (package / "linear.py").write_text("from minigrad.nn import Linear\n__all__ = ['Linear']\n")
    fake = types.ModuleType("minigrad.nn.modules")
    fake.__path__ = [str(package)]
    names = ["minigrad.nn.modules", "minigrad.nn.modules.linear", "minigrad.nn.modules.activation"]
    real = {name: sys.modules.pop(name) for name in names if name in sys.modules}  # the real package, if any
    sys.modules["minigrad.nn.modules"] = fake
    allow_list._minigrad_public_path.cache_clear()
    try:
        raw = saved(mg.nn.Linear(2, 3)).getvalue()
        assert structure_of(raw)["object"] == "minigrad.nn.modules.linear.Linear"  # its home, not activation.py
        assert type(mg.load(io.BytesIO(raw))) is mg.nn.Linear
    finally:
        for name in names:
            sys.modules.pop(name, None)
        sys.modules.update(real)
        allow_list._minigrad_public_path.cache_clear()


def test_weights_only_false_imports_the_class_by_its_path(tmp_path, monkeypatch):
    (tmp_path / "user_models_for_ckpt.py").write_text(
        "import minigrad as mg\n\n"
        "class Tiny(mg.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = mg.nn.Linear(2, 1)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("user_models_for_ckpt")
    raw = saved(module.Tiny()).getvalue()
    with pytest.raises(WeightsOnlyError, match=r"user_models_for_ckpt\.Tiny, which is not allowed by default"):
        mg.load(io.BytesIO(raw))
    loaded = mg.load(io.BytesIO(raw), weights_only=False)
    assert type(loaded) is module.Tiny and loaded(mg.ones(3, 2)).shape == (3, 1)

    class Local(mg.nn.Module):
        pass

    raw = saved(Local()).getvalue()
    with pytest.raises(WeightsOnlyError, match="cannot be imported by that path"):
        mg.load(io.BytesIO(raw), weights_only=False)
    serialization.add_safe_globals([Local])
    assert type(mg.load(io.BytesIO(raw))) is Local


def test_renamed_class_allowed_under_its_old_path():
    class Renamed(mg.nn.Module):
        pass

    raw = saved(mg.nn.Linear(1, 1)).getvalue()
    old = with_structure(raw, lambda s: s.replace(structure_of(raw)["object"], "old_project.models.Net"))
    with safe_globals([(Renamed, "old_project.models.Net")]):
        loaded = mg.load(old)
    assert type(loaded) is Renamed and loaded.weight.shape == (1, 1)


def test_shared_submodules_and_cycles_round_trip():
    child = mg.nn.Linear(2, 2)
    model = mg.nn.Sequential(child, mg.nn.Tanh(), child)
    child.owner = model  # a reference back up the tree (a cycle)
    loaded = mg.load(saved(model))
    assert loaded[0] is loaded[2] and loaded[0].owner is loaded
    assert len(list(loaded.parameters())) == 2


def test_functions_and_classes_in_attributes_are_stored_by_name():
    model = mg.nn.Linear(2, 2)
    model.act = mg.nn.functional.relu
    model.cell_type = mg.nn.GRUCell
    raw = saved(model).getvalue()
    with pytest.raises(WeightsOnlyError, match=r"a reference to minigrad\.nn\.functional\.relu, which is not allowed.*"
                                               r"trust this function or class.*add_safe_globals\(\[relu\]\)"):
        mg.load(io.BytesIO(raw))
    assert serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(raw)) == ["minigrad.nn.functional.relu"]
    for loaded in (mg.load(io.BytesIO(raw), weights_only=False),
                   _load_allowing(raw, [mg.nn.functional.relu])):
        assert loaded.act is mg.nn.functional.relu and loaded.cell_type is mg.nn.GRUCell


def _load_allowing(raw: bytes, allowed: list):
    with safe_globals(allowed):
        return mg.load(io.BytesIO(raw))


def test_plain_objects_such_as_argparse_namespace_need_allowing():
    args = argparse.Namespace(lr=0.1, layers=2, name="run")
    raw = saved({"args": args, "model": mg.nn.Linear(1, 1).state_dict()}).getvalue()
    with pytest.raises(WeightsOnlyError, match=r"argparse\.Namespace.*add_safe_globals\(\[Namespace\]\)"):
        mg.load(io.BytesIO(raw))
    with safe_globals([argparse.Namespace]):
        loaded = mg.load(io.BytesIO(raw))
    assert loaded["args"] == args


@pytest.mark.parametrize("path, error, match", [
    ("os.system", WeightsOnlyError, r"class os\.system, which is not allowed"),
    ("subprocess.Popen", WeightsOnlyError, r"class subprocess\.Popen, which is not allowed"),
    ("minigrad.__main__.main", WeightsOnlyError, "not allowed"),
    ("minigrad.nn.functional.relu", WeightsOnlyError, "not allowed"),
    ("minigrad.tensor.Tensor", WeightsOnlyError, "not allowed"),
])
def test_classes_outside_the_allow_list_are_refused(path, error, match):
    raw = saved(mg.nn.Linear(1, 1)).getvalue()
    forged = with_structure(raw, lambda s: s.replace(structure_of(raw)["object"], path))
    with pytest.raises(error, match=match):
        mg.load(forged)


def test_trusted_load_of_a_function_path_is_still_refused():
    raw = saved(mg.nn.Linear(1, 1)).getvalue()
    forged = with_structure(raw, lambda s: s.replace(structure_of(raw)["object"], "os.system"))
    with pytest.raises(WeightsOnlyError, match=r"names os\.system as the class of an object, but it is a"):
        mg.load(forged, weights_only=False)


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.replace('["_parameters",{"dict"', '["_parameters",{"tuple"'), "_parameters is missing or"),
    (lambda s: s.replace('"state":[', '"state":7,"x":['), "invalid entry"),
    (lambda s: s.replace('{"parameter":"weight"}', '{"ref":5}'), "reference 5 to an object"),
])
def test_forged_module_state_is_a_clear_error(edit, match):
    raw = saved(mg.nn.Linear(1, 1)).getvalue()
    with pytest.raises(ValueError, match=match):
        mg.load(with_structure(raw, edit))


# --------------------------------------------------------------------------------------------
# PyTorch reads our files, and we explain theirs
# --------------------------------------------------------------------------------------------


def test_whole_module_file_gives_pytorch_a_state_dict_its_twin_accepts(tmp_path, torch):
    import safetensors.torch

    mg.manual_seed(4)
    model = Net()
    model.eval()
    mg.save(model, tmp_path / "net.pt")

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(7, 4)
            self.rnn = torch.nn.LSTM(4, 4, num_layers=2)
            self.drop = torch.nn.Dropout(0.5)
            self.decoder = torch.nn.Linear(4, 7)
            self.decoder.weight = self.embed.weight
            self.register_buffer("seen", torch.zeros(1, dtype=torch.int64))

        def forward(self, tokens):
            return self.decoder(self.rnn(self.drop(self.embed(tokens)))[0])

    state = safetensors.torch.load_file(str(tmp_path / "net.pt"))
    twin = TorchNet().eval()
    # tied: the file stores the shared weight once, under its first name (PyTorch's state_dict has both)
    state["decoder.weight"] = state["embed.weight"]
    assert twin.load_state_dict(state, strict=True)
    with torch.no_grad():
        expected = twin(torch.tensor(TOKENS.numpy())).numpy()
    np.testing.assert_allclose(outputs(model, TOKENS), expected, rtol=1e-5, atol=1e-6)


def test_files_pytorch_wrote_load_here_and_compute_its_numbers_fixture():
    """tests/fixture_makers/checkpoint.py: safetensors files from PyTorch, and PyTorch's outputs."""
    fixture = load_fixture("checkpoint")
    state = mg.load(io.BytesIO(fixture["model_file"].tobytes()))

    class Twin(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = mg.nn.LSTM(4, 8, num_layers=2)
            self.fc = mg.nn.Linear(8, 3)

    twin = Twin()
    assert not any(twin.load_state_dict(state, strict=True))
    with mg.no_grad():
        out = twin.fc(twin.lstm(mg.tensor(fixture["input"]))[0]).numpy()
    np.testing.assert_allclose(out, fixture["output"], rtol=0, atol=1e-6)

    tensors = mg.load(io.BytesIO(fixture["dtypes_file"].tobytes()), map_location="cpu")
    for name in ("half", "bfloat16", "ints", "mask"):
        assert tensors[name].dtype == fixture[name].dtype and np.array_equal(tensors[name].numpy(), fixture[name])


def test_pytorch_pickle_files_get_an_explanation(tmp_path, torch):
    torch.save({"w": torch.ones(2)}, tmp_path / "torch.pt")
    with pytest.raises(ValueError, match="is a PyTorch pickle checkpoint .* minigrad never unpickles"):
        mg.load(tmp_path / "torch.pt")
