"""Recurrent layers and cells: shapes, every argument, errors, scopes, fused == reference, gradcheck.

PyTorch parity lives in test_recurrent_parity.py; packing in test_packing.py; truncated BPTT in
test_tbptt.py; the worked examples of the source articles in test_seeds.py.
"""

from __future__ import annotations

import itertools
import warnings
import zlib
from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, reference_rnn_layer
from minigrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")


def make_layer(mode: str, input_size: int = 3, hidden_size: int = 4, **kw: Any) -> mg.nn.Module:
    if mode.startswith("rnn"):
        return RNN(input_size, hidden_size, nonlinearity=mode[4:], **kw)
    return {"lstm": LSTM, "gru": GRU}[mode](input_size, hidden_size, **kw)


def make_cell(mode: str, input_size: int = 3, hidden_size: int = 4, **kw: Any) -> mg.nn.Module:
    if mode.startswith("rnn"):
        return RNNCell(input_size, hidden_size, nonlinearity=mode[4:], **kw)
    return {"lstm": LSTMCell, "gru": GRUCell}[mode](input_size, hidden_size, **kw)


def graph_scopes(*roots: mg.Tensor) -> list[str]:
    """The scope of every node reachable from ``roots`` (iterative walk)."""
    seen: set[int] = set()
    stack = [r.grad_fn for r in roots if r.grad_fn is not None]
    scopes = []
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        scopes.append(fn.scope)
        stack.extend(e[0] for e in fn.next_functions if type(e) is tuple)
    return scopes


# ================================================================================================ shapes


@pytest.mark.parametrize("impl", ["reference", "fused"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers,bidirectional,batch_first",
                         [(1, False, False), (2, True, False), (3, False, True), (2, True, True)])
def test_layer_output_shapes(mode: str, num_layers: int, bidirectional: bool, batch_first: bool, impl: str) -> None:
    m = make_layer(mode, 3, 5, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                   impl=impl)
    D = 2 if bidirectional else 1
    x = mg.randn(2, 6, 3) if batch_first else mg.randn(6, 2, 3)
    out, hidden = m(x)
    assert out.shape == ((2, 6, D * 5) if batch_first else (6, 2, D * 5))
    h_n, c_n = hidden if mode == "lstm" else (hidden, None)
    assert h_n.shape == (num_layers * D, 2, 5)
    if mode == "lstm":
        assert c_n.shape == (num_layers * D, 2, 5)
    assert out.dtype == mg.float32 and h_n.dtype == mg.float32
    # Unbatched (T, I) input: batch_first does not apply; states are (L*D, H).
    out_u, hidden_u = m(mg.randn(6, 3))
    assert out_u.shape == (6, D * 5)
    h_u = hidden_u[0] if mode == "lstm" else hidden_u
    assert h_u.shape == (num_layers * D, 5)


@pytest.mark.parametrize("impl", ["reference", "fused"])
@pytest.mark.parametrize("mode", MODES)
def test_cell_shapes(mode: str, impl: str) -> None:
    cell = make_cell(mode, 3, 5, impl=impl)
    res = cell(mg.randn(4, 3))
    h, c = res if mode == "lstm" else (res, None)
    assert h.shape == (4, 5)
    if c is not None:
        assert c.shape == (4, 5)
    res = cell(mg.randn(3))
    h = res[0] if mode == "lstm" else res
    assert h.shape == (5,)


def test_lstm_proj_size_shapes() -> None:
    m = LSTM(3, 6, num_layers=2, proj_size=2, bidirectional=True)
    assert m.weight_hh_l1.shape == (24, 2) and m.weight_ih_l1.shape == (24, 4) and m.weight_hr_l0.shape == (2, 6)
    out, (h, c) = m(mg.randn(5, 3, 3))
    assert out.shape == (5, 3, 4) and h.shape == (4, 3, 2) and c.shape == (4, 3, 6)


# ================================================================================================ parameters


@pytest.mark.parametrize("mode,gates", [("rnn_tanh", 1), ("lstm", 4), ("gru", 3)])
def test_parameter_names_shapes_and_init(mode: str, gates: int) -> None:
    mg.manual_seed(0)
    m = make_layer(mode, 3, 16, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    expected = []
    for layer in range(2):
        for sfx in ("", "_reverse"):
            expected += [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}", f"bias_ih_l{layer}{sfx}",
                         f"bias_hh_l{layer}{sfx}"]
    assert names == expected
    assert m.weight_ih_l0.shape == (gates * 16, 3)
    assert m.weight_ih_l1_reverse.shape == (gates * 16, 32)
    assert m.weight_hh_l1.shape == (gates * 16, 16)
    assert m.bias_hh_l0_reverse.shape == (gates * 16,)
    # Default init: U(-1/sqrt(H), 1/sqrt(H)) for every weight AND bias.
    k = 1 / np.sqrt(16)
    for name, p in m.named_parameters():
        assert p.dtype == mg.float32 and p.requires_grad
        assert np.all(np.abs(p._array) <= k), name
    allv = np.concatenate([p._array.ravel() for p in m.parameters()])
    assert allv.max() > 0.9 * k and allv.min() < -0.9 * k and abs(allv.mean()) < 0.02
    assert len(m.all_weights) == 4 and m.all_weights[1][0] is m.weight_ih_l0_reverse


def test_bias_false_registers_no_bias() -> None:
    m = GRU(3, 4, num_layers=2, bias=False)
    assert [n for n, _ in m.named_parameters()] == ["weight_ih_l0", "weight_hh_l0", "weight_ih_l1", "weight_hh_l1"]
    cell = LSTMCell(3, 4, bias=False)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh"]
    assert cell.bias_ih is None


def test_cell_parameter_names() -> None:
    for cls, g in ((RNNCell, 1), (LSTMCell, 4), (GRUCell, 3)):
        cell = cls(3, 4)
        assert [(n, p.shape) for n, p in cell.named_parameters()] == [
            ("weight_ih", (g * 4, 3)), ("weight_hh", (g * 4, 4)), ("bias_ih", (g * 4,)), ("bias_hh", (g * 4,))]


def test_dtype_argument_and_double() -> None:
    m = LSTM(3, 4, dtype=mg.float64)
    assert all(p.dtype == mg.float64 for p in m.parameters())
    out, _ = m(mg.randn(2, 1, 3, dtype=mg.float64))
    assert out.dtype == mg.float64
    m2 = GRU(3, 4).double()
    assert m2(mg.randn(2, 1, 3, dtype=mg.float64))[0].dtype == mg.float64


def test_positional_arguments_follow_torch() -> None:
    # RNN(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout, bidirectional)
    r = RNN(3, 4, 2, "relu", False, True, 0.25, True)
    assert (r.num_layers, r.nonlinearity, r.bias, r.batch_first, r.dropout, r.bidirectional) == \
           (2, "relu", False, True, 0.25, True)
    assert r.mode == "RNN_RELU"
    # LSTM(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size)
    m = LSTM(3, 4, 2, False, True, 0.5, True, 2)
    assert (m.num_layers, m.bias, m.batch_first, m.dropout, m.bidirectional, m.proj_size) == \
           (2, False, True, 0.5, True, 2)
    c = RNNCell(3, 4, False, "relu")
    assert (c.bias, c.nonlinearity) == (False, "relu")


# ================================================================================================ semantics


@pytest.mark.parametrize("impl", ["reference", "fused"])
@pytest.mark.parametrize("mode", MODES)
def test_hx_none_is_zeros_and_batch_first_is_a_transpose(mode: str, impl: str) -> None:
    m = make_layer(mode, num_layers=2, bidirectional=True, dtype=mg.float64, impl=impl)
    x = mg.randn(5, 3, 3, dtype=mg.float64)
    out, hid = m(x)
    zeros = mg.zeros(4, 3, 4, dtype=mg.float64)
    out2, hid2 = m(x, (zeros, zeros) if mode == "lstm" else zeros)
    np.testing.assert_array_equal(out._array, out2._array)
    m.batch_first = True
    out3, hid3 = m(x.transpose(0, 1))
    np.testing.assert_allclose(out3._array, out._array.transpose(1, 0, 2), atol=1e-14)
    h1 = hid[0] if mode == "lstm" else hid
    h3 = hid3[0] if mode == "lstm" else hid3
    np.testing.assert_allclose(h3._array, h1._array, atol=1e-14)


@pytest.mark.parametrize("impl", ["reference", "fused"])
@pytest.mark.parametrize("mode", MODES)
def test_unbatched_equals_batch_of_one(mode: str, impl: str) -> None:
    m = make_layer(mode, num_layers=2, bidirectional=True, dtype=mg.float64, impl=impl)
    x = mg.randn(5, 3, dtype=mg.float64)
    h0 = mg.randn(4, 4, dtype=mg.float64)
    hx = (h0, h0 * 0.5) if mode == "lstm" else h0
    out, hid = m(x, hx)
    hx_b = (h0.unsqueeze(1), (h0 * 0.5).unsqueeze(1)) if mode == "lstm" else h0.unsqueeze(1)
    out_b, hid_b = m(x.unsqueeze(1), hx_b)
    np.testing.assert_allclose(out._array, out_b._array[:, 0], atol=1e-14)
    if mode == "lstm":
        np.testing.assert_allclose(hid[1]._array, hid_b[1]._array[:, 0], atol=1e-14)
        hid, hid_b = hid[0], hid_b[0]
    np.testing.assert_allclose(hid._array, hid_b._array[:, 0], atol=1e-14)


@pytest.mark.parametrize("impl", ["reference", "fused"])
@pytest.mark.parametrize("mode", MODES)
def test_layer_equals_a_loop_over_the_cell(mode: str, impl: str) -> None:
    """A one-layer network is the cell applied step by step with the same weights."""
    layer = make_layer(mode, dtype=mg.float64, impl=impl)
    cell = make_cell(mode, dtype=mg.float64, impl=impl)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})  # weight_ih_l0 -> weight_ih
    x = mg.randn(6, 2, 3, dtype=mg.float64)
    out, hid = layer(x)
    state = None
    for t in range(6):
        state = cell(x[t], state)
        h = state[0] if mode == "lstm" else state
        np.testing.assert_allclose(h._array, out._array[t], atol=1e-14)


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_packed_equals_each_sequence_alone(impl: str) -> None:
    """Packing: every sequence gets exactly the result it would get alone (no padding leaks in)."""
    m = LSTM(3, 4, num_layers=2, bidirectional=True, dtype=mg.float64, impl=impl)
    lengths = [2, 5, 3]
    x = mg.randn(5, 3, 3, dtype=mg.float64)
    out, (h_n, c_n) = m(pack_padded_sequence(x, lengths, enforce_sorted=False))
    padded, out_lengths = pad_packed_sequence(out)
    assert out_lengths.tolist() == lengths
    for b, n in enumerate(lengths):
        alone, (h_b, c_b) = m(x[:n, b])
        np.testing.assert_allclose(padded._array[:n, b], alone._array, atol=1e-13)
        np.testing.assert_array_equal(padded._array[n:, b], 0.0)
        np.testing.assert_allclose(h_n._array[:, b], h_b._array, atol=1e-13)
        np.testing.assert_allclose(c_n._array[:, b], c_b._array, atol=1e-13)


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_dropout_between_layers_only_in_training(impl: str) -> None:
    mg.manual_seed(1)
    m = GRU(3, 4, num_layers=3, dropout=0.5, dtype=mg.float64, impl=impl)
    x = mg.randn(4, 2, 3, dtype=mg.float64)
    m.eval()
    out_eval, h_eval = m(x)
    out_eval2, _ = m(x)
    np.testing.assert_array_equal(out_eval._array, out_eval2._array)
    m.train()
    out_a, h_a = m(x)
    out_b, _ = m(x)
    assert not np.allclose(out_a._array, out_eval._array) and not np.allclose(out_a._array, out_b._array)
    # Layer 0 sees the raw input: dropout comes only *between* layers.
    np.testing.assert_allclose(h_a._array[0], h_eval._array[0], atol=1e-14)
    # p = 1 zeroes the input of layers 1 and 2; the last layer's output gets no dropout, so it is
    # exactly a one-layer GRU (layer 2's weights) run on zeros.
    m.dropout = 1.0
    out_1, _ = m(x)
    last = GRU(4, 4, dtype=mg.float64, impl=impl)
    last.load_state_dict({k.replace("_l2", "_l0"): v for k, v in m.state_dict().items() if k.endswith("_l2")})
    np.testing.assert_allclose(out_1._array, last(mg.zeros(4, 2, 4, dtype=mg.float64))[0]._array, atol=1e-14)


def test_dropout_one_layer_warns_and_does_nothing() -> None:
    with pytest.warns(UserWarning, match="dropout option adds dropout after all but last recurrent layer"):
        m = LSTM(3, 4, dropout=0.5, dtype=mg.float64)
    x = mg.randn(3, 2, 3, dtype=mg.float64)
    np.testing.assert_array_equal(m(x)[0]._array, m(x)[0]._array)


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_no_grad_builds_no_graph(impl: str) -> None:
    m = LSTM(3, 4, num_layers=2, impl=impl)
    with mg.no_grad():
        out, (h, c) = m(mg.randn(4, 2, 3, requires_grad=True))
    assert out.grad_fn is None and h.grad_fn is None and not out.requires_grad


def test_impl_attribute_switch_and_validation() -> None:
    m = RNN(3, 4, impl="reference")
    assert m.impl == "reference"
    m.impl = "fused"
    m(mg.randn(2, 1, 3))
    m.impl = "cuda"
    with pytest.raises(ValueError, match="impl must be 'fused' or 'reference', got 'cuda'"):
        m(mg.randn(2, 1, 3))
    with pytest.raises(ValueError, match="impl must be"):
        LSTM(3, 4, impl="numba")
    with pytest.raises(ValueError, match="impl must be"):
        GRUCell(3, 4, impl="fast")


# ================================================================================================ scopes


def test_every_step_has_its_scope_reference() -> None:
    m = LSTM(3, 4, num_layers=2, bidirectional=True, impl="reference")
    x = mg.randn(3, 2, 3, requires_grad=True)
    out, (h, c) = m(x)
    scopes = set(graph_scopes(out, h, c))
    for layer in ("l0", "l0_reverse", "l1", "l1_reverse"):
        for t in (1, 2, 3):  # time counts t = 1..T, as in the equations
            assert f"lstm/{layer}/t{t}" in scopes, (layer, t, sorted(scopes))
    assert all(s == "lstm" or s.startswith("lstm/") for s in scopes), sorted(scopes)


def test_fused_layer_node_names_the_same_step_scopes() -> None:
    """The fused path is one node per layer and direction; it names its steps like the reference."""
    m = LSTM(3, 4, num_layers=2, bidirectional=True, impl="fused")
    out, (h, c) = m(mg.randn(3, 2, 3, requires_grad=True))
    scopes = set(graph_scopes(out, h, c))
    assert {"lstm/l0", "lstm/l0_reverse", "lstm/l1", "lstm/l1_reverse"} <= scopes
    nodes = []
    stack, seen = [out.grad_fn], set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if hasattr(fn, "step_scope"):
            nodes.append(fn)
        stack.extend(e[0] for e in fn.next_functions if type(e) is tuple)
    assert sorted(n.step_scope(2) for n in nodes) == [f"lstm/{k}/t3" for k in ("l0", "l0_reverse", "l1", "l1_reverse")]


def test_reference_scopes_tag_every_textbook_op() -> None:
    m = GRU(3, 4, impl="reference")
    out, h = m(mg.randn(4, 2, 3))
    scopes = graph_scopes(out)
    step_nodes = [s for s in scopes if "/t" in s]
    # Every step holds the whole GRU step: 6 matmuls, 3 activations, ... (more than 20 nodes).
    for t in range(1, 5):
        assert sum(s == f"gru/l0/t{t}" for s in step_nodes) > 20


@pytest.mark.parametrize("cls,name", [(RNN, "rnn"), (GRU, "gru")])
def test_top_scope_is_lower_case_class_name(cls: type, name: str) -> None:
    out, _ = cls(3, 4, impl="reference")(mg.randn(2, 1, 3))
    assert {s.split("/")[0] for s in graph_scopes(out)} == {name}


@pytest.mark.parametrize("impl", ["reference", "fused"])
def test_cell_loop_nests_in_user_scopes(impl: str) -> None:
    cell = LSTMCell(3, 4, impl=impl)
    state = None
    with mg.scope("encoder"):
        for t in range(3):
            with mg.scope(f"t{t}"):
                state = cell(mg.randn(2, 3), state)
    scopes = set(graph_scopes(*state))
    assert {"encoder/t0/lstm_cell", "encoder/t1/lstm_cell", "encoder/t2/lstm_cell"} <= scopes
    assert all(s.startswith("encoder/t") for s in scopes), sorted(scopes)
    for name, cls in (("rnn_cell", RNNCell), ("gru_cell", GRUCell)):
        h = cls(3, 4, impl="reference")(mg.randn(2, 3))
        assert {s.split("/")[0] for s in graph_scopes(h)} == {name}


# ================================================================================================ errors


def test_error_input_size() -> None:
    m = LSTM(10, 20)
    with pytest.raises(mg.ShapeError, match=r"^LSTM: expected input of size 10 in the last dimension, "
                                            r"got shape \(5, 3, 7\)$"):
        m(mg.randn(5, 3, 7))
    with pytest.raises(RuntimeError, match="expected input of size 10"):  # also a RuntimeError, like torch
        m(mg.randn(5, 7))
    with pytest.raises(ValueError, match=r"GRUCell: expected input of size 10 in the last dimension, got shape \(7,\)"):
        GRUCell(10, 2)(mg.randn(7))


@pytest.mark.parametrize("shape", [(5,), (2, 5, 3, 10)])
def test_error_rank(shape: tuple[int, ...]) -> None:
    with pytest.raises(mg.ShapeError, match=rf"GRU: expected input to be 3-D or 2-D, got {len(shape)}-D input"):
        GRU(10, 20)(mg.randn(*shape))
    with pytest.raises(mg.ShapeError, match="RNNCell: expected input to be 1-D .* or 2-D"):
        RNNCell(5, 2)(mg.randn(2, 3, 5))


def test_error_hx_shape_names_expected_and_got() -> None:
    m = RNN(10, 20, num_layers=2)
    with pytest.raises(mg.ShapeError, match=r"RNN: expected hx of shape \(2, 3, 20\), got \(1, 3, 20\)"):
        m(mg.randn(5, 3, 10), mg.randn(1, 3, 20))
    with pytest.raises(mg.ShapeError, match=r"for batched 3-D input, hx should also be 3-D: expected shape "
                                            r"\(2, 3, 20\), got \(3, 20\)"):
        m(mg.randn(5, 3, 10), mg.randn(3, 20))
    with pytest.raises(mg.ShapeError, match=r"for unbatched 2-D input, hx should also be 2-D"):
        m(mg.randn(5, 10), mg.randn(2, 1, 20))
    lstm = LSTM(10, 20, bidirectional=True)
    with pytest.raises(mg.ShapeError, match=r"LSTM: expected c_0 of shape \(2, 3, 20\), got \(2, 3, 21\)"):
        lstm(mg.randn(5, 3, 10), (mg.zeros(2, 3, 20), mg.zeros(2, 3, 21)))
    with pytest.raises(mg.ShapeError, match=r"LSTMCell: expected h_0 of shape \(3, 20\)"):
        LSTMCell(10, 20)(mg.randn(3, 10), (mg.zeros(4, 20), mg.zeros(3, 20)))
    with pytest.raises(mg.ShapeError, match=r"GRUCell: expected hx of shape \(20,\)"):
        GRUCell(10, 20)(mg.randn(10), mg.zeros(1, 20))


def test_error_lstm_hx_not_a_tuple() -> None:
    with pytest.raises(TypeError, match=r"LSTM: hx must be a tuple \(h_0, c_0\) of two Tensors, got Tensor"):
        LSTM(3, 4)(mg.randn(2, 1, 3), mg.zeros(1, 1, 4))
    with pytest.raises(TypeError, match="got a tuple of 3"):
        LSTM(3, 4)(mg.randn(2, 1, 3), (mg.zeros(1, 1, 4),) * 3)
    with pytest.raises(TypeError, match=r"LSTMCell: hx must be a tuple"):
        LSTMCell(3, 4)(mg.randn(1, 3), mg.zeros(1, 4))
    with pytest.raises(TypeError, match="GRU: hx must be a Tensor"):
        GRU(3, 4)(mg.randn(2, 1, 3), (mg.zeros(1, 1, 4), mg.zeros(1, 1, 4)))


def test_error_dtype_and_type() -> None:
    with pytest.raises(ValueError, match=r"LSTM: input dtype \(float64\) does not match weight dtype \(float32\)"):
        LSTM(3, 4)(mg.randn(2, 1, 3, dtype=mg.float64))
    with pytest.raises(ValueError, match=r"hx dtype \(float64\) does not match input dtype \(float32\)"):
        RNN(3, 4)(mg.randn(2, 1, 3), mg.zeros(1, 1, 4, dtype=mg.float64))
    with pytest.raises(TypeError, match="input must be a Tensor or a PackedSequence, got ndarray"):
        GRU(3, 4)(np.zeros((2, 1, 3), dtype=np.float32))


def test_error_packed_hx_batch() -> None:
    packed = pack_padded_sequence(mg.randn(4, 3, 2), [4, 2, 1])
    with pytest.raises(mg.ShapeError, match=r"GRU: expected hx of shape \(1, 3, 5\), got \(1, 2, 5\)"):
        GRU(2, 5)(packed, mg.zeros(1, 2, 5))
    with pytest.raises(mg.ShapeError, match="expected input of size 3"):
        GRU(3, 5)(packed)


def test_constructor_errors() -> None:
    with pytest.raises(ValueError, match="Unknown nonlinearity 'sigmoid'"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        LSTM(3, 4, 2, dropout=1.5)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        LSTM(3, 4, 2, dropout=True)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        GRU(3, 0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        GRU(3, 4, num_layers=0)
    with pytest.raises(TypeError, match="input_size should be of type int"):
        GRU(3.0, 4)
    with pytest.raises(TypeError, match="bias should be of type bool"):
        LSTM(3, 4, bias=1)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        LSTM(3, 4, proj_size=4)
    with pytest.raises(RuntimeError, match="CPU only"):  # the shared device rule, as every CUDA request
        LSTM(3, 4, device="cuda")
    with pytest.raises(ValueError, match="input_size must be greater than zero"):
        LSTMCell(0, 4)


# ================================================================================================ fused == reference


def _run(m: mg.nn.Module, mode: str, x: mg.Tensor, hx: Any, packed: dict | None, leaves: list[mg.Tensor],
         rng: np.random.Generator) -> dict[str, np.ndarray]:
    for t in leaves:
        t.grad = None
    for p in m.parameters():
        p.grad = None
    inp: Any = x
    if packed is not None:
        inp = pack_padded_sequence(x, packed["lengths"], batch_first=m.batch_first,
                                   enforce_sorted=packed["enforce_sorted"])
    out, hidden = m(inp, hx)
    if packed is not None:
        out = out.data
    hs = list(hidden) if mode == "lstm" else [hidden]
    ws = [np.random.default_rng(7).standard_normal(t.shape) for t in [out] + hs]
    loss = sum(((t * mg.tensor(w)).sum() for t, w in zip([out] + hs, ws)), mg.zeros((), dtype=mg.float64))
    loss.backward()
    res = {"out": out._array.copy()}
    res.update({f"state{i}": h._array.copy() for i, h in enumerate(hs)})
    res.update({f"grad_leaf{i}": t.grad._array.copy() for i, t in enumerate(leaves)})
    res.update({"grad_" + n: p.grad._array.copy() for n, p in m.named_parameters()})
    return res


_LAYOUTS = ("time_major", "batch_first", "unbatched", "packed_sorted", "packed_unsorted")
_STACKS = ((1, False), (2, True), (3, False), (3, True))
_FUSED_CASES = [(mode, L, bi, layout, hx) for mode, (L, bi), layout, hx
                in itertools.product(MODES, _STACKS, _LAYOUTS, (False, True))]


@pytest.mark.parametrize("mode,num_layers,bidirectional,layout,with_hx", _FUSED_CASES)
def test_fused_equals_reference(mode: str, num_layers: int, bidirectional: bool, layout: str,
                                with_hx: bool) -> None:
    case = f"{mode}-{num_layers}-{bidirectional}-{layout}-{with_hx}"
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    T = 1 if (num_layers + len(layout) + with_hx) % 4 == 0 and not layout.startswith("packed") else 4
    B, I, H = 3, 3, 4
    m = make_layer(mode, I, H, num_layers=num_layers, bidirectional=bidirectional,
                   batch_first=layout == "batch_first", dtype=mg.float64)
    for p in m.parameters():  # larger than the default init, so the gates really switch
        p._array = rng.uniform(-0.8, 0.8, p.shape)
    D = 2 if bidirectional else 1
    if layout == "unbatched":
        x_shape, h_shape = (T, I), (num_layers * D, H)
    else:
        x_shape = (B, T, I) if layout == "batch_first" else (T, B, I)
        h_shape = (num_layers * D, B, H)
    x = mg.tensor(rng.standard_normal(x_shape), requires_grad=True)
    leaves = [x]
    hx = None
    if with_hx:
        h0 = mg.tensor(rng.standard_normal(h_shape) * 0.5, requires_grad=True)
        leaves.append(h0)
        hx = h0
        if mode == "lstm":
            c0 = mg.tensor(rng.standard_normal(h_shape) * 0.5, requires_grad=True)
            leaves.append(c0)
            hx = (h0, c0)
    packed = None
    if layout == "packed_sorted":
        packed = {"lengths": [4, 3, 1], "enforce_sorted": True}
    elif layout == "packed_unsorted":
        packed = {"lengths": [2, 4, 2], "enforce_sorted": False}
    m.impl = "reference"
    ref = _run(m, mode, x, hx, packed, leaves, rng)
    m.impl = "fused"
    fused = _run(m, mode, x, hx, packed, leaves, rng)
    assert sorted(ref) == sorted(fused)
    for key in ref:
        err = float(np.max(np.abs(ref[key] - fused[key])))
        assert err <= 1e-10, f"{case}: {key} differs between fused and reference by {err:.3g}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("batched,with_hx,bias", [(True, True, True), (True, False, False), (False, True, True)])
def test_fused_cell_equals_reference_cell(mode: str, batched: bool, with_hx: bool, bias: bool) -> None:
    rng = np.random.default_rng(3)
    cell = make_cell(mode, 3, 4, bias=bias, dtype=mg.float64)
    lead = (2,) if batched else ()
    x = mg.tensor(rng.standard_normal(lead + (3,)), requires_grad=True)
    leaves = [x]
    hx = None
    if with_hx:
        n_states = 2 if mode == "lstm" else 1
        hs = [mg.tensor(rng.standard_normal(lead + (4,)), requires_grad=True) for _ in range(n_states)]
        leaves += hs
        hx = tuple(hs) if mode == "lstm" else hs[0]
    results = {}
    for impl in ("reference", "fused"):
        cell.impl = impl
        for t in leaves + list(cell.parameters()):
            t.grad = None
        res = cell(x, hx)
        outs = list(res) if mode == "lstm" else [res]
        sum(((o * (i + 1.5)).sum() for i, o in enumerate(outs)), mg.zeros((), dtype=mg.float64)).backward()
        grads = [t.grad._array.copy() for t in leaves + list(cell.parameters())]
        results[impl] = [o._array.copy() for o in outs] + grads
    for a, b in zip(results["reference"], results["fused"]):
        assert np.max(np.abs(a - b)) <= 1e-10


# ================================================================================================ gradcheck


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("num_layers,bidirectional,packed", [(2, False, False), (1, True, True)])
def test_gradcheck_reference_layer(mode: str, num_layers: int, bidirectional: bool, packed: bool) -> None:
    rng = np.random.default_rng(11)
    m = make_layer(mode, 2, 3, num_layers=num_layers, bidirectional=bidirectional, dtype=mg.float64,
                   impl="reference")
    for p in m.parameters():
        p._array = rng.uniform(-0.9, 0.9, p.shape)
    if mode == "rnn_relu":  # keep pre-activations away from relu's kink
        for name, p in m.named_parameters():
            if name.startswith("bias"):
                p._array = np.abs(p._array) + 0.3
    D = 2 if bidirectional else 1
    x = mg.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal((num_layers * D, 2, 3)) * 0.5, requires_grad=True)
    c0 = mg.tensor(rng.standard_normal((num_layers * D, 2, 3)) * 0.5, requires_grad=True)

    def fn(x: mg.Tensor, h0: mg.Tensor, c0: mg.Tensor, *params: mg.Tensor) -> tuple[mg.Tensor, ...]:
        inp: Any = pack_padded_sequence(x, [3, 2]) if packed else x
        out, hidden = m(inp, (h0, c0) if mode == "lstm" else h0)
        out = out.data if packed else out
        return (out, *hidden) if mode == "lstm" else (out, hidden)

    inputs = [x, h0, c0] + list(m.parameters())
    if mode != "lstm":
        c0.requires_grad = False
    assert mg.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_reference_cell(mode: str) -> None:
    rng = np.random.default_rng(5)
    cell = make_cell(mode, 2, 3, dtype=mg.float64, impl="reference")
    for p in cell.parameters():
        p._array = rng.uniform(-0.9, 0.9, p.shape) + (0.4 if mode == "rnn_relu" else 0.0)
    x = mg.tensor(rng.uniform(0.1, 1.0, (2, 2)), requires_grad=True)
    h = mg.tensor(rng.uniform(0.1, 1.0, (2, 3)), requires_grad=True)
    c = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)

    def fn(x: mg.Tensor, h: mg.Tensor, c: mg.Tensor, *params: mg.Tensor) -> Any:
        return cell(x, (h, c)) if mode == "lstm" else cell(x, h)

    if mode != "lstm":
        c.requires_grad = False
    assert mg.autograd.gradcheck(fn, [x, h, c] + list(cell.parameters()))


def test_reference_layer_function_directly() -> None:
    """reference_rnn_layer has the fused entry point's signature and masking semantics."""
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((4, 2, 3)))
    w_ih, w_hh = mg.tensor(rng.standard_normal((4, 3))), mg.tensor(rng.standard_normal((4, 4)))
    h0 = mg.tensor(rng.standard_normal((2, 4)))
    out, h, c = reference_rnn_layer("rnn_tanh", x, h0, None, w_ih, w_hh, None, None, lengths=np.array([4, 2]))
    assert c is None and out.shape == (4, 2, 4)
    np.testing.assert_array_equal(out._array[2:, 1], 0.0)      # inactive steps output 0 ...
    np.testing.assert_array_equal(h._array[1], out._array[1, 1])  # ... and keep the state of the last active step
    out_r, h_r, _ = reference_rnn_layer("rnn_tanh", x, h0, None, w_ih, w_hh, None, None, reverse=True,
                                        lengths=np.array([4, 2]))
    # Reverse direction of the short sequence starts at its own last step (t=1), from h0.
    step1 = np.tanh(x._array[1, 1] @ w_ih._array.T + h0._array[1] @ w_hh._array.T)
    np.testing.assert_allclose(out_r._array[1, 1], step1, atol=1e-6)
    np.testing.assert_allclose(h_r._array[0], out_r._array[0, 0], atol=0)


def test_many_warnings_free() -> None:
    """A full forward/backward of every layer emits no warning (e.g. NumPy overflow)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for mode in MODES:
            m = make_layer(mode, num_layers=2, bidirectional=True, impl="reference")
            out, _ = m(mg.randn(3, 2, 3) * 100)
            out.sum().backward()


def test_docs_equations_appear_verbatim_in_the_code() -> None:
    """docs/rnn-lstm-gru.md: every line of a block marked 'equations' is in the code it names."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    doc = (root / "docs" / "rnn-lstm-gru.md").read_text()
    # The cells' equations live in their descriptions (minigrad/nn/cells/), the masking in the layer machinery.
    sources = sorted((root / "minigrad" / "nn" / "cells").glob("*.py")) + [root / "minigrad" / "nn" / "sequence.py"]
    code = "".join(p.read_text() for p in sources)
    blocks = doc.split("<!-- equations:")[1:]
    assert len(blocks) == 3
    checked = 0
    for block in blocks:
        body = block.split("```", 2)[1].split("\n", 1)[1]  # the fenced block after the marker
        for line in body.splitlines():
            if line.strip():
                assert line.strip() in code, f"docs equation not in the code: {line.strip()!r}"
                checked += 1
    assert checked >= 24


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional,packed", [(False, False), (True, True)])
def test_fused_equals_reference_on_the_per_step_kernel_path(mode: str, bidirectional: bool, packed: bool) -> None:
    """B * H above rnn_plan.SEQUENCE_KERNEL_MAX: the fused layer loops over steps in Python (BLAS + kernel)."""
    from minigrad.nn import fused_rnn

    B, H = 6, 96
    assert fused_rnn.plan(mode, np.float64, B, H) is fused_rnn.Strategy.PER_STEP
    rng = np.random.default_rng(21)
    m = make_layer(mode, 5, H, num_layers=2, bidirectional=bidirectional, dtype=mg.float64)
    for p in m.parameters():
        p._array = rng.uniform(-0.3, 0.3, p.shape)
    D = 2 if bidirectional else 1
    x = mg.tensor(rng.standard_normal((4, B, 5)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal((2 * D, B, H)) * 0.5, requires_grad=True)
    leaves = [x, h0]
    hx: Any = h0
    if mode == "lstm":
        c0 = mg.tensor(rng.standard_normal((2 * D, B, H)) * 0.5, requires_grad=True)
        leaves.append(c0)
        hx = (h0, c0)
    spec = {"lengths": [3, 4, 1, 4, 2, 3], "enforce_sorted": False} if packed else None
    m.impl = "reference"
    ref = _run(m, mode, x, hx, spec, leaves, rng)
    m.impl = "fused"
    fused = _run(m, mode, x, hx, spec, leaves, rng)
    for key in ref:
        err = float(np.max(np.abs(ref[key] - fused[key])))
        assert err <= 1e-10, f"{key} differs between fused and reference by {err:.3g}"


@pytest.mark.parametrize("mode", MODES)
def test_fused_equals_reference_float32_and_with_dropout(mode: str) -> None:
    m = make_layer(mode, 5, 8, num_layers=3, bidirectional=True, dropout=0.3)
    x = mg.randn(6, 4, 5)
    outs = {}
    for impl in ("reference", "fused"):
        m.impl = impl
        mg.manual_seed(3)  # the same dropout masks for both: dropout lives outside the layer kernels
        out, _ = m(x)
        outs[impl] = out._array
    assert outs["fused"].dtype == np.float32
    np.testing.assert_allclose(outs["fused"], outs["reference"], atol=2e-6)
