"""ModuleDict, ParameterList, ParameterDict, Identity/Flatten/Unflatten, and torch.nn.modules' paths."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

# ------------------------------------------------------------------------------------------------
# PyTorch module paths: the very same classes
# ------------------------------------------------------------------------------------------------

MODULE_PATHS = {
    "rnn": ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "RNNBase"],
    "linear": ["Linear", "Identity"],
    "sparse": ["Embedding"],
    "dropout": ["Dropout", "Dropout1d", "Dropout2d"],
    "activation": ["Tanh", "Sigmoid", "ReLU", "LeakyReLU", "ELU", "GELU", "Softplus", "Softmax", "LogSoftmax"],
    "loss": ["MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "SmoothL1Loss",
             "HuberLoss", "KLDivLoss"],
    "container": ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"],
    "normalization": ["LayerNorm"],
    "batchnorm": ["BatchNorm1d"],
    "flatten": ["Flatten", "Unflatten"],
    "module": ["Module"],
}


@pytest.mark.parametrize("path", sorted(MODULE_PATHS))
def test_torch_module_paths_are_the_same_classes(path):
    module = importlib.import_module(f"minigrad.nn.modules.{path}")
    for name in MODULE_PATHS[path]:
        assert getattr(module, name) is getattr(nn, name), f"minigrad.nn.modules.{path}.{name}"
        assert getattr(nn.modules, name) is getattr(nn, name)


def test_module_paths_as_scripts_write_them():
    from minigrad.nn.modules.rnn import LSTM

    assert mg.nn.modules.rnn.LSTM is mg.nn.LSTM is LSTM
    assert isinstance(mg.nn.LSTM(2, 3), mg.nn.modules.rnn.RNNBase)
    assert isinstance(mg.nn.Linear(2, 3), mg.nn.modules.module.Module)


def test_module_paths_exist_in_torch(torch):
    for path, names in MODULE_PATHS.items():
        module = importlib.import_module(f"torch.nn.modules.{path}")
        for name in names:
            assert hasattr(module, name), f"torch.nn.modules.{path}.{name}"


def test_containers_still_importable_from_module_py():
    from minigrad.nn.module import ModuleList, Sequential

    assert Sequential is nn.Sequential and ModuleList is nn.ModuleList


def test_every_new_name_is_exported():
    for name in ("ModuleDict", "ParameterList", "ParameterDict", "LayerNorm", "BatchNorm1d", "Dropout1d",
                 "Dropout2d", "Unflatten", "LeakyReLU", "GELU", "ELU", "Softplus", "NLLLoss", "BCELoss",
                 "SmoothL1Loss", "HuberLoss", "KLDivLoss"):
        assert name in nn.__all__ and hasattr(nn, name)
    for name in ("nll_loss", "binary_cross_entropy", "smooth_l1_loss", "huber_loss", "kl_div", "leaky_relu", "gelu",
                 "elu", "softplus", "layer_norm", "batch_norm", "dropout1d", "dropout2d"):
        assert name in nn.functional.__all__ and callable(getattr(nn.functional, name))


# ------------------------------------------------------------------------------------------------
# ModuleDict
# ------------------------------------------------------------------------------------------------


def test_module_dict_registers_and_behaves_like_a_dict(torch):
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    d["act"] = nn.Tanh()
    assert list(d) == list(d.keys()) == ["enc", "dec", "act"] and len(d) == 3 and "dec" in d
    assert [n for n, _ in d.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(d.pop("act"), nn.Tanh) and "act" not in d
    d.update([("extra", nn.ReLU())])
    assert [k for k, _ in d.items()] == ["enc", "dec", "extra"]
    del d["extra"]
    t = torch.nn.ModuleDict({"enc": torch.nn.Linear(2, 3), "dec": torch.nn.Linear(3, 2)})
    assert repr(d) == repr(t)
    d.clear()
    assert len(d) == 0
    with pytest.raises(NotImplementedError, match="ModuleDict has no forward"):
        d(1)


def test_module_dict_errors():
    with pytest.raises(ValueError, match=r"ModuleDict.update: element #0 should be a \(name, module\) pair"):
        nn.ModuleDict([("a", nn.Tanh(), 3)])
    with pytest.raises(TypeError, match="ModuleDict.update should be called with an iterable"):
        nn.ModuleDict(5)
    with pytest.raises(KeyError):
        nn.ModuleDict()["missing"]


# ------------------------------------------------------------------------------------------------
# ParameterList / ParameterDict
# ------------------------------------------------------------------------------------------------


def test_parameter_list_converts_registers_and_trains():
    params = nn.ParameterList([mg.ones(2), nn.Parameter(mg.zeros(3))])
    params.append(mg.full((1,), 2.0))
    assert len(params) == 3 and all(isinstance(p, nn.Parameter) for p in params)
    assert [n for n, _ in params.named_parameters()] == ["0", "1", "2"]
    assert params[-1].tolist() == [2.0] and len(params[1:]) == 2
    params[0] = mg.full((2,), 5.0)
    assert isinstance(params[0], nn.Parameter) and params[0].tolist() == [5.0, 5.0]
    opt = mg.optim.SGD(params.parameters(), lr=0.5)
    (params[0] * params[0]).sum().backward()
    opt.step()
    assert params[0].tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        params()
    with pytest.raises(IndexError, match=r"ParameterList: index 3 is out of range for length 3"):
        params[3]
    with pytest.raises(TypeError, match="ParameterList.extend should be called with an iterable, but got Tensor"):
        params.extend(mg.ones(2))


def test_parameter_list_repr_like_pytorch(torch):
    ours = nn.ParameterList([mg.ones(2, 3)])
    theirs = torch.nn.ParameterList([torch.ones(2, 3)])
    assert repr(ours) == repr(theirs).replace("torch.float32", "float32")


def test_parameter_dict():
    p = nn.ParameterDict({"w": mg.ones(2), "b": mg.zeros(1)})
    p["scale"] = mg.full((1,), 3.0)
    assert list(p) == ["w", "b", "scale"] and "b" in p and len(p) == 3
    assert all(isinstance(v, nn.Parameter) for v in p.values())
    assert [n for n, _ in p.named_parameters()] == ["w", "b", "scale"]
    assert list(p.state_dict()) == ["w", "b", "scale"]
    assert p.get("nope") is None and p.pop("b").tolist() == [0.0] and "b" not in p
    assert p.setdefault("c", mg.ones(1)).tolist() == [1.0]
    p.update({"w": mg.full((2,), 7.0)})
    assert p["w"].tolist() == [7.0, 7.0]
    with pytest.raises(TypeError, match=r"ParameterDict: keys must be strings, got int"):
        p[0] = mg.ones(1)
    p.clear()
    assert len(p) == 0 and list(p.parameters()) == []


def test_parameter_containers_inside_a_model_move_with_it():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.scales = nn.ParameterList([mg.ones(2)])
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 1)})

        def forward(self, x):
            return self.heads["a"](x * self.scales[0])

    model = Model().double()
    assert {p.dtype for p in model.parameters()} == {mg.float64}
    assert sorted(model.state_dict()) == ["heads.a.bias", "heads.a.weight", "scales.0"]
    assert model(mg.ones(3, 2, dtype=mg.float64)).shape == (3, 1)


# ------------------------------------------------------------------------------------------------
# Identity, Flatten, Unflatten
# ------------------------------------------------------------------------------------------------


def test_identity_flatten_unflatten(torch):
    x = np.arange(24.0).reshape(2, 12)
    for args in [(1, (3, 4)), (1, (3, -1)), (-1, [2, 2, 3])]:
        ours, theirs = nn.Unflatten(*args), torch.nn.Unflatten(*args)
        assert ours(mg.tensor(x)).shape == tuple(theirs(torch.tensor(x)).shape)
        assert repr(ours) == repr(theirs)
    y = nn.Flatten()(nn.Unflatten(1, (3, 4))(mg.tensor(x)))
    np.testing.assert_array_equal(y.numpy(), x)
    assert nn.Identity(54, unused="x")(y) is y


def test_unflatten_errors():
    with pytest.raises(ValueError, match=r"Unflatten: sizes \(5, 2\) don't multiply up to the size of dimension 1 "
                                         r"\(12\) of input of shape \(2, 12\)"):
        nn.Unflatten(1, (5, 2))(mg.zeros(2, 12))
    with pytest.raises(TypeError, match="unflattened_size must be a tuple of ints, but found type int"):
        nn.Unflatten(1, 12)
    with pytest.raises(TypeError, match="found element of type float at pos 1"):
        nn.Unflatten(1, (3, 4.0))


def test_missing_nn_names_say_so_without_a_misleading_suggestion():
    import traceback

    for get, name in [(lambda: mg.nn.Conv2d, "torch.nn.Conv2d"), (lambda: mg.nn.functional.conv2d,
                                                                  "torch.nn.functional.conv2d"),
                      (lambda: mg.nn.MultiheadAttention, "torch.nn.MultiheadAttention")]:
        with pytest.raises(AttributeError) as info:
            get()
        text = "".join(traceback.format_exception(info.value))
        assert f"minigrad does not implement {name}" in text and "docs/pytorch-compat.md" in text
        assert "Did you mean" not in text
    assert not hasattr(mg.nn, "__wrapped__") and not hasattr(mg.nn.functional, "_no_such_helper")
    from minigrad.nn import modules, utils  # submodules still import through the hook

    assert modules.rnn.LSTM is mg.nn.LSTM and utils.rnn.pad_sequence
