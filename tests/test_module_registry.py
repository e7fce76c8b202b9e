"""A Module's registries and its attributes never disagree (minigrad/nn/_registry.py).

Parameters, buffers and children are kept in ``_parameters``/``_buffers``/``_modules`` and, as a
fast path for ``self.weight``, in the module's ``__dict__``. Scripts written for PyTorch change the
registries directly (AWD-LSTM's WeightDrop deletes ``_parameters[name]``); copies and pickles
rebuild them. Each way in is checked here against what ``getattr`` then finds.
"""

from __future__ import annotations

import copy
import gc
import pickle
import weakref

import minigrad as mg
from minigrad import nn


def agree(m: nn.Module) -> None:
    """Every registered name is found by getattr as the registered object; nothing stale is left."""
    for registry in (m._parameters, m._buffers, m._modules):
        for name, value in registry.items():
            assert getattr(m, name) is value, name
    for name, value in m.__dict__.items():
        if isinstance(value, (nn.Parameter, nn.Module)):
            assert name in m._parameters or name in m._modules, f"stale attribute {name}"


def test_direct_registry_changes_are_attributes():
    lin = nn.Linear(3, 2)
    del lin._parameters["weight"]  # what WeightDrop does before it sets a plain tensor
    assert not hasattr(lin, "weight")
    lin.weight = mg.ones(2, 3)  # now a plain attribute
    assert "weight" not in lin._parameters and lin.weight.shape == (2, 3)
    agree(lin)
    p = nn.Parameter(mg.zeros(2))
    lin._parameters["bias"] = p
    assert lin.bias is p
    assert lin._parameters.pop("bias") is p and not hasattr(lin, "bias")
    lin._parameters.update(bias=p)
    assert lin.bias is p
    lin._parameters.setdefault("extra", None)
    assert lin.extra is None
    lin._parameters.clear()
    assert not hasattr(lin, "bias") and not hasattr(lin, "extra")
    lin._parameters |= {"scale": p}
    assert lin.scale is p
    agree(lin)


def test_setattr_register_and_del_keep_them_in_step():
    m = nn.Module()
    m.register_buffer("mean", mg.zeros(3))
    m.fc = nn.Linear(2, 2)
    m.fc = None
    assert m.fc is None and m._modules["fc"] is None
    m.fc = nn.Tanh()
    del m.mean
    assert not hasattr(m, "mean") and "mean" not in m.__dict__
    agree(m)


def test_names_of_class_attributes_are_not_shadowed():
    md = nn.ModuleDict({"a": nn.ReLU()})
    md._modules["keys"] = nn.Tanh()  # a script writing the registry directly (add_module would refuse)
    assert callable(md.keys) and list(md.keys()) == ["a", "keys"]  # the method still answers


def test_copies_and_pickles_rebuild_the_registries():
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    for other in (copy.deepcopy(net), pickle.loads(pickle.dumps(net)), copy.copy(net)):
        agree(other)
        other[0].weight = nn.Parameter(mg.zeros(3, 2))
        assert other[0]._parameters["weight"] is other[0].weight
        agree(other)
    deep = copy.deepcopy(net)
    assert deep[0].weight is not net[0].weight and deep[0].weight is deep[0]._parameters["weight"]


def test_a_model_is_freed_without_the_garbage_collector():
    gc.disable()
    try:
        net = nn.Sequential(nn.Linear(2, 2), nn.Tanh())
        alive = weakref.ref(net)
        del net
        assert alive() is None  # the registries hold their module weakly: no reference cycle
    finally:
        gc.enable()
