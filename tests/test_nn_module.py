"""Module, Parameter, Sequential, ModuleList: registration, traversal, modes, state dicts, repr."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
from minigrad.tensor import Tensor as TensorClass  # the one class (mg.Tensor is its PyTorch-style public face)


class Block(nn.Module):
    def __init__(self, n: int = 3):
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.drop = nn.Dropout(0.1)
        self.register_buffer("steps", mg.zeros(1))
        self.register_buffer("scratch", mg.zeros(2), persistent=False)

    def forward(self, x):
        return self.drop(self.fc(x)).tanh()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.scale = nn.Parameter(mg.ones(1))
        self.head = nn.Linear(3, 2, bias=False)

    def forward(self, idx):
        h = self.embed(idx)
        for b in self.blocks:
            h = b(h)
        return self.head(h * self.scale)


# PyTorch's order: each module's own parameters, then its own buffers, then its children.
NET_KEYS = ["scale", "embed.weight", "blocks.0.steps", "blocks.0.fc.weight", "blocks.0.fc.bias",
            "blocks.1.steps", "blocks.1.fc.weight", "blocks.1.fc.bias", "head.weight"]


# ------------------------------------------------------------------------------------------------
# Parameter
# ------------------------------------------------------------------------------------------------


def test_parameter_basics():
    p = nn.Parameter(mg.zeros(2, 3))
    assert isinstance(p, mg.Tensor) and p.requires_grad and p.is_leaf and p.grad_fn is None
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert "requires_grad=True" in repr(p)
    frozen = nn.Parameter(mg.zeros(2), requires_grad=False)
    assert not frozen.requires_grad
    assert nn.Parameter().shape == (0,)
    y = p * 2  # ops on parameters give plain tensors
    assert type(y) is TensorClass and y.grad_fn is not None


def test_parameter_shares_memory_and_rejects_integer_grad():
    t = mg.zeros(3)
    p = nn.Parameter(t)
    p._array[0] = 5
    assert t._array[0] == 5
    with pytest.raises(RuntimeError, match="floating"):
        nn.Parameter(mg.tensor([1, 2]))
    assert nn.Parameter(mg.tensor([1, 2]), requires_grad=False).dtype == mg.int64


def test_parameter_repr_matches_torch(torch):
    ours = repr(nn.Parameter(mg.tensor([1.0, 2.0])))
    theirs = repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert ours.split("\n")[0] == theirs.split("\n")[0] == "Parameter containing:"


# ------------------------------------------------------------------------------------------------
# Registration and traversal
# ------------------------------------------------------------------------------------------------


def test_registration_order_and_dotted_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "embed.weight", "blocks.0.fc.weight", "blocks.0.fc.bias", "blocks.1.fc.weight",
                     "blocks.1.fc.bias", "head.weight"]
    assert [p for p in net.parameters()] == [p for _, p in net.named_parameters()]
    assert [n for n, _ in net.named_children()] == ["embed", "blocks", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "embed", "blocks", "blocks.0", "blocks.0.fc", "blocks.0.drop",
                                                   "blocks.1", "blocks.1.fc", "blocks.1.drop", "head"]
    assert list(net.modules())[0] is net
    assert [n for n, _ in net.named_buffers()] == ["blocks.0.steps", "blocks.0.scratch", "blocks.1.steps",
                                                   "blocks.1.scratch"]
    assert len(list(net.buffers())) == 4
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.scale"
    assert net.get_parameter("blocks.1.fc.bias") is net.blocks[1].fc.bias
    assert net.get_submodule("blocks.0.fc") is net.blocks[0].fc


def test_named_modules_matches_torch_order(torch):
    ours = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Tanh(), nn.Linear(3, 3)), nn.Linear(3, 1))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sequential(torch.nn.Tanh(), torch.nn.Linear(3, 3)),
                                 torch.nn.Linear(3, 1))
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_state_dict_keys_match_torch_twin(torch):
    tnn = torch.nn

    class TBlock(tnn.Module):
        def __init__(self, n=3):
            super().__init__()
            self.fc = tnn.Linear(n, n)
            self.drop = tnn.Dropout(0.1)
            self.register_buffer("steps", torch.zeros(1))
            self.register_buffer("scratch", torch.zeros(2), persistent=False)

    class TNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.embed = tnn.Embedding(10, 3)
            self.blocks = tnn.ModuleList([TBlock(), TBlock()])
            self.scale = tnn.Parameter(torch.ones(1))
            self.head = tnn.Linear(3, 2, bias=False)

    theirs, ours = TNet(), Net()
    assert list(theirs.state_dict()) == list(ours.state_dict()) == NET_KEYS
    assert [n for n, _ in theirs.named_parameters()] == [n for n, _ in ours.named_parameters()]
    assert [n for n, _ in theirs.named_buffers()] == [n for n, _ in ours.named_buffers()]
    assert [n for n, _ in theirs.named_modules()] == [n for n, _ in ours.named_modules()]


def test_shared_parameters_and_modules_are_yielded_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.Tanh(), lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.modules())) == 3
    assert len(list(seq.named_modules(remove_duplicate=False))) == 4
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # as PyTorch


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(mg.zeros(2))
    assert m.__dict__["w"] is m._parameters["w"]  # an entry is an attribute too (nn/_registry.py)
    with pytest.raises(TypeError, match=r"cannot assign Tensor as parameter 'w'"):
        m.w = mg.zeros(2)
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    m.sub = nn.Linear(2, 2)
    m.sub = nn.Tanh()  # replacing a child keeps one entry
    assert list(m._modules) == ["sub"]
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__
    del m.sub
    assert not hasattr(m, "sub")
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        m.missing  # noqa: B018


def test_assignment_before_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)
            super().__init__()

    with pytest.raises(AttributeError, match="super\\(\\).__init__\\(\\)"):
        Bad()


def test_register_methods_validate():
    m = nn.Module()
    m.register_parameter("b", None)
    assert m.b is None and "b" in m._parameters
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", nn.Parameter(mg.zeros(1)))
    with pytest.raises(TypeError):
        m.register_buffer("buf", np.zeros(2))
    m.plain = 1
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", mg.zeros(1))
    m.add_module("child", nn.Tanh())
    assert list(m.children())[0] is m.child
    with pytest.raises(TypeError, match="not a Module"):
        m.add_module("x", 3)


def test_forward_missing():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(mg.zeros(1))


# ------------------------------------------------------------------------------------------------
# Modes, gradients, dtype, apply
# ------------------------------------------------------------------------------------------------


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("yes")


def test_zero_grad_both_ways():
    net = Net()
    net(mg.tensor([[1, 2, 3]])).sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None for g in grads)
    net.zero_grad(set_to_none=False)
    assert all(p.grad is g and np.all(g._array == 0) for p, g in zip(net.parameters(), grads))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_and_apply():
    net = Net()
    assert net.requires_grad_(False) is net
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen[-1] == "Net" and seen[0] == "Embedding"  # children first, self last (PyTorch order)

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.ones_(m.weight)

    net.apply(init)
    assert np.all(net.head.weight._array == 1)


def test_double_float_to_keep_parameter_objects():
    net = Net()
    params = list(net.parameters())
    net(mg.tensor([1])).sum().backward()
    assert net.double() is net
    assert all(p.dtype == mg.float64 for p in net.parameters())
    assert all(p.grad.dtype == mg.float64 for p in net.parameters())
    assert net.blocks[0].steps.dtype == mg.float64
    assert list(net.parameters()) == params  # same objects: an optimizer built before still holds them
    net.float()
    assert all(p.dtype == mg.float32 for p in net.parameters())
    net.to(mg.float64)
    assert net.head.weight.dtype == mg.float64
    net.to("cpu")
    net.to(dtype=mg.float32)
    assert net.head.weight.dtype == mg.float32
    out = net.to("cpu", mg.float64)(mg.tensor([1, 2]))
    assert out.dtype == mg.float64
    with pytest.raises(TypeError, match="floating"):
        net.to(mg.int64)


def test_deepcopy_is_independent():
    net = Net()
    clone = copy.deepcopy(net)
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]
    clone.head.weight._array[...] = 7
    assert not np.any(net.head.weight._array == 7)
    assert isinstance(clone.head.weight, nn.Parameter) and clone.head.weight.requires_grad


# ------------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ------------------------------------------------------------------------------------------------


def test_state_dict_order_and_sharing():
    net = Net()
    sd = net.state_dict()
    assert list(sd) == NET_KEYS  # the non-persistent buffer is left out
    assert all(type(v) is TensorClass and not v.requires_grad for v in sd.values())
    sd["head.weight"]._array[0, 0] = 42.0  # shares memory with the parameter, like PyTorch
    assert net.head.weight._array[0, 0] == 42.0
    kv = net.state_dict(keep_vars=True)
    assert kv["head.weight"] is net.head.weight


def test_state_dict_round_trip_in_place():
    a, b = Net(), Net()
    arrays_before = [p._array for p in b.parameters()]
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    for (n, pa), pb, arr in zip(a.named_parameters(), b.parameters(), arrays_before):
        np.testing.assert_array_equal(pa._array, pb._array, err_msg=n)
        assert pb._array is arr  # copied in place: optimizers keep working
    x = mg.tensor([[1, 2]])
    np.testing.assert_array_equal(a.eval()(x)._array, b.eval()(x)._array)


def test_load_state_dict_from_ndarrays_and_casts_dtype():
    fc = nn.Linear(2, 3)
    sd = {"weight": np.arange(6, dtype=np.float64).reshape(3, 2), "bias": np.zeros(3)}
    fc.load_state_dict(sd)
    assert fc.weight.dtype == mg.float32 and fc.weight._array[2, 1] == 5.0


def test_load_state_dict_missing_and_unexpected():
    fc = nn.Linear(2, 3)
    sd = {"weight": np.zeros((3, 2)), "extra": np.zeros(1)}
    with pytest.raises(RuntimeError) as err:
        fc.load_state_dict(sd)
    assert str(err.value) == ('Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
                              '\n\tUnexpected key(s) in state_dict: "extra". ')
    result = fc.load_state_dict(sd, strict=False)
    assert result == (["bias"], ["extra"])
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    assert np.all(fc.weight._array == 0)


def test_load_state_dict_shape_mismatch_names_key_and_shapes():
    fc = nn.Linear(4, 3)
    sd = {"weight": np.zeros((3, 5)), "bias": np.zeros(3)}
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape \(3, 5\) from "
                                               r"checkpoint, the shape in current model is \(3, 4\)\."):
            fc.load_state_dict(sd, strict=strict)
    with pytest.raises(RuntimeError, match='While copying the parameter named "bias"'):
        fc.load_state_dict({"weight": np.zeros((3, 4)), "bias": [0, 0, 0]})


def test_load_state_dict_keeps_optimizer_valid():
    net = nn.Linear(3, 1)
    opt = mg.optim.SGD(net.parameters(), lr=0.1)
    other = nn.Linear(3, 1)
    net.load_state_dict(other.state_dict())
    net(mg.ones(2, 3)).sum().backward()
    opt.step()  # the optimizer updates the loaded values, not stale arrays
    np.testing.assert_allclose(net.bias._array, other.bias._array - 0.1 * 2, rtol=1e-6)


def test_torch_state_dict_loads_and_gives_same_outputs(torch):
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).double()
    ours = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(ours(mg.tensor(x))._array, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    # and back: our state dict is accepted by PyTorch
    theirs.load_state_dict({k: torch.tensor(v._array) for k, v in ours.state_dict().items()})


# ------------------------------------------------------------------------------------------------
# repr
# ------------------------------------------------------------------------------------------------

SEQ_REPR = """Sequential(
  (0): Linear(in_features=4, out_features=8, bias=True)
  (1): Tanh()
  (2): Linear(in_features=8, out_features=2, bias=True)
)"""


def test_sequential_repr():
    assert repr(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))) == SEQ_REPR


NESTED_REPR = """Encoder(
  (embed): Embedding(10, 4, padding_idx=0)
  (layers): ModuleList(
    (0-1): 2 x Linear(in_features=4, out_features=4, bias=True)
    (2): Linear(in_features=4, out_features=2, bias=True)
  )
  (out): Sequential(
    (0): Dropout(p=0.2, inplace=False)
    (1): ReLU()
    (2): Sequential(
      (0): Flatten(start_dim=1, end_dim=-1)
      (1): Identity()
    )
  )
  (loss): CrossEntropyLoss()
)"""


def make_encoder(lib):
    """The same nested model in minigrad (lib=mg.nn) or PyTorch (lib=torch.nn)."""

    class Encoder(lib.Module):
        def __init__(self):
            super().__init__()
            self.embed = lib.Embedding(10, 4, padding_idx=0)
            self.layers = lib.ModuleList([lib.Linear(4, 4), lib.Linear(4, 4), lib.Linear(4, 2)])
            self.out = lib.Sequential(lib.Dropout(0.2), lib.ReLU(), lib.Sequential(lib.Flatten(), lib.Identity()))
            self.loss = lib.CrossEntropyLoss()

    return Encoder()


def test_nested_repr():
    assert repr(make_encoder(nn)) == NESTED_REPR


def test_repr_matches_torch(torch):
    tnn = torch.nn
    assert repr(tnn.Sequential(tnn.Linear(4, 8), tnn.Tanh(), tnn.Linear(8, 2))) == SEQ_REPR
    assert repr(make_encoder(tnn)) == repr(make_encoder(nn)) == NESTED_REPR
    assert repr(nn.ModuleList()) == repr(tnn.ModuleList()) == "ModuleList()"


def test_module_without_children_or_extra_repr():
    assert repr(nn.Module()) == "Module()"

    class Multi(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(Multi()) == "Multi(\n  a=1\n  b=2\n)"


# ------------------------------------------------------------------------------------------------
# Containers
# ------------------------------------------------------------------------------------------------


def test_sequential_container():
    a, t, b = nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)
    seq = nn.Sequential(a, t, b)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is b and list(seq) == [a, t, b]
    assert seq(mg.randn(5, 2)).shape == (5, 1)
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [t, b] and list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is b
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and len(seq) == 4
    seq[0] = nn.ReLU()
    assert isinstance(seq[0], nn.ReLU)
    named = nn.Sequential({"enc": nn.Linear(2, 2), "act": nn.Tanh()})
    assert [n for n, _ in named.named_parameters()] == ["enc.weight", "enc.bias"]
    assert named.enc is named[0]


def test_module_list_container():
    layers = nn.ModuleList([nn.Linear(2, 2)])
    layers.append(nn.Linear(2, 3))
    layers.extend([nn.Tanh(), nn.Linear(3, 1)])
    assert len(layers) == 4 and isinstance(layers[-1], nn.Linear)
    layers.insert(1, nn.Identity())
    assert isinstance(layers[1], nn.Identity) and list(layers._modules) == ["0", "1", "2", "3", "4"]
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight",
                                                          "4.bias"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert len(layers) == 4 and isinstance(layers[0], nn.Identity)
    layers += [nn.ReLU()]
    assert len(layers) == 5 and len(list(iter(layers))) == 5
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(nn.Linear(1, 1))
    with pytest.raises(NotImplementedError):
        layers(mg.zeros(1))


def test_module_list_repr_compresses_repeats():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.Tanh()])
    assert repr(layers) == ("ModuleList(\n  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n"
                            "  (3): Tanh()\n)")
