"""PyTorch parity of RNN (tanh, relu), LSTM, GRU and the three cells, for both implementations.

Weights, inputs, initial states and upstream gradients are copied into both frameworks; in float64
the outputs, h_n, c_n and the gradients of the input, h0, c0 and every parameter must agree within
1e-8. Each case runs twice: against the committed fixtures (tests/fixtures/rnn_*.npz, made by
tests/fixture_makers/rnn.py) and live against torch when it is installed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.rnn import cell_cases, layer_cases, split_case, torch_cell, torch_layer

import minigrad as mg
from minigrad.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from minigrad.nn.utils.rnn import pack_padded_sequence

TOL = 1e-8
IMPLS = ("reference", "fused")
LAYER_CASES = layer_cases()
CELL_CASES = cell_cases()


def _leaf(a: np.ndarray) -> mg.Tensor:
    return mg.tensor(a, dtype=mg.float64, requires_grad=True)


def _load_params(module: mg.nn.Module, arrays: dict[str, np.ndarray]) -> None:
    names = [n for n, _ in module.named_parameters()]
    expected = sorted(k[2:] for k in arrays if k.startswith("p_"))
    assert sorted(names) == expected, f"parameter names differ from PyTorch: {names} vs {expected}"
    module.load_state_dict({k[2:]: v for k, v in arrays.items() if k.startswith("p_")})


def minigrad_layer(opts: dict[str, Any], arrays: dict[str, np.ndarray], impl: str) -> dict[str, np.ndarray]:
    """The minigrad twin of fixture_makers.rnn.torch_layer."""
    mode = opts["mode"]
    kw = dict(num_layers=opts["num_layers"], bias=opts["bias"], batch_first=opts["batch_first"],
              bidirectional=opts["bidirectional"], dtype=mg.float64, impl=impl)
    if mode.startswith("rnn"):
        m = RNN(opts["input_size"], opts["hidden_size"], nonlinearity=mode[4:], **kw)
    elif mode == "lstm":
        m = LSTM(opts["input_size"], opts["hidden_size"], proj_size=opts["proj_size"], **kw)
    else:
        m = GRU(opts["input_size"], opts["hidden_size"], **kw)
    _load_params(m, arrays)
    x = _leaf(arrays["x"])
    h0 = _leaf(arrays["h0"]) if "h0" in arrays else None
    c0 = _leaf(arrays["c0"]) if "c0" in arrays else None
    inp: Any = x
    if "lengths" in arrays:
        inp = pack_padded_sequence(x, arrays["lengths"], batch_first=opts["batch_first"],
                                   enforce_sorted=opts["enforce_sorted"])
    hx = None if h0 is None else ((h0, c0) if mode == "lstm" else h0)
    out, hidden = m(inp, hx)
    if "lengths" in arrays:
        out = out.data
    h_n, c_n = hidden if mode == "lstm" else (hidden, None)
    loss = (out * mg.tensor(arrays["g_out"])).sum() + (h_n * mg.tensor(arrays["g_h"])).sum()
    if c_n is not None:
        loss = loss + (c_n * mg.tensor(arrays["g_c"])).sum()
    loss.backward()
    res = {"out": out._array, "h_n": h_n._array, "grad_x": x.grad._array}
    if c_n is not None:
        res["c_n"] = c_n._array
    if h0 is not None:
        res["grad_h0"] = h0.grad._array
    if c0 is not None:
        res["grad_c0"] = c0.grad._array
    for name, p in m.named_parameters():
        res["grad_" + name] = p.grad._array
    return res


def minigrad_cell(opts: dict[str, Any], arrays: dict[str, np.ndarray], impl: str) -> dict[str, np.ndarray]:
    """The minigrad twin of fixture_makers.rnn.torch_cell."""
    mode = opts["mode"]
    kw = dict(bias=opts["bias"], dtype=mg.float64, impl=impl)
    if mode.startswith("rnn"):
        m = RNNCell(opts["input_size"], opts["hidden_size"], nonlinearity=mode[4:], **kw)
    elif mode == "lstm":
        m = LSTMCell(opts["input_size"], opts["hidden_size"], **kw)
    else:
        m = GRUCell(opts["input_size"], opts["hidden_size"], **kw)
    _load_params(m, arrays)
    x = _leaf(arrays["x"])
    h0 = _leaf(arrays["h0"]) if "h0" in arrays else None
    c0 = _leaf(arrays["c0"]) if "c0" in arrays else None
    hx = None if h0 is None else ((h0, c0) if mode == "lstm" else h0)
    res = m(x, hx)
    h, c = res if mode == "lstm" else (res, None)
    loss = (h * mg.tensor(arrays["g_h"])).sum()
    if c is not None:
        loss = loss + (c * mg.tensor(arrays["g_c"])).sum()
    loss.backward()
    out = {"h_n": h._array, "grad_x": x.grad._array}
    if c is not None:
        out["c_n"] = c._array
    if h0 is not None:
        out["grad_h0"] = h0.grad._array
    if c0 is not None:
        out["grad_c0"] = c0.grad._array
    for name, p in m.named_parameters():
        out["grad_" + name] = p.grad._array
    return out


def assert_same(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], case: str) -> None:
    assert sorted(ours) == sorted(theirs), f"{case}: results differ in keys {sorted(ours)} vs {sorted(theirs)}"
    for key, want in theirs.items():
        got = ours[key]
        assert got.shape == want.shape, f"{case}: {key} has shape {got.shape}, PyTorch {want.shape}"
        assert got.dtype == np.float64, f"{case}: {key} has dtype {got.dtype}"
        err = float(np.max(np.abs(got - want))) if want.size else 0.0
        assert err <= TOL, f"{case}: {key} differs from PyTorch by {err:.3g}"


def _expected_keys(ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v for k, v in ref.items() if k in ("out", "h_n", "c_n") or k.startswith("grad_")}


def _inputs(ref: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v for k, v in ref.items() if not (k in ("out", "h_n", "c_n") or k.startswith("grad_"))}


# ------------------------------------------------------------------------------------------------ layers


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_matches_fixture(case: str, impl: str) -> None:
    flat = load_fixture("rnn_layers")
    ref = split_case(flat, case)
    assert ref, f"no fixture for {case}: run tests/make_fixtures.py rnn"
    opts, _ = LAYER_CASES[case]
    assert_same(minigrad_layer(opts, _inputs(ref), impl), _expected_keys(ref), case)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_matches_torch_live(case: str, impl: str, torch: Any) -> None:
    opts, arrays = LAYER_CASES[case]
    assert_same(minigrad_layer(opts, arrays, impl), torch_layer(opts, arrays), case)


# ------------------------------------------------------------------------------------------------ cells


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", sorted(CELL_CASES))
def test_cell_matches_fixture(case: str, impl: str) -> None:
    ref = split_case(load_fixture("rnn_cells"), case)
    assert ref, f"no fixture for {case}: run tests/make_fixtures.py rnn"
    opts, _ = CELL_CASES[case]
    assert_same(minigrad_cell(opts, _inputs(ref), impl), _expected_keys(ref), case)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("case", sorted(CELL_CASES))
def test_cell_matches_torch_live(case: str, impl: str, torch: Any) -> None:
    opts, arrays = CELL_CASES[case]
    assert_same(minigrad_cell(opts, arrays, impl), torch_cell(opts, arrays), case)


# ------------------------------------------------------------------------------------------------ init, names


@pytest.mark.parametrize("cls_name", ["RNN", "LSTM", "GRU"])
def test_parameter_names_shapes_and_state_dict_match_torch(cls_name: str, torch: Any) -> None:
    ours = getattr(mg.nn.recurrent, cls_name)(5, 6, num_layers=2, bidirectional=True)
    theirs = getattr(torch.nn, cls_name)(5, 6, num_layers=2, bidirectional=True)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # A PyTorch state dict loads into minigrad and gives the same numbers.
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 2, 5)).astype(np.float32)
    out_t = theirs(torch.from_numpy(x))[0].detach().numpy()
    out_m = ours(mg.tensor(x))[0]._array
    np.testing.assert_allclose(out_m, out_t, atol=1e-5)


@pytest.mark.parametrize("cls_name", ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"])
def test_repr_matches_torch(cls_name: str, torch: Any) -> None:
    kwargs: dict[str, Any] = {"bias": False}
    if "Cell" not in cls_name:
        kwargs.update(num_layers=2, batch_first=True, dropout=0.5, bidirectional=True)
    ours = getattr(mg.nn.recurrent, cls_name)(5, 6, **kwargs)
    theirs = getattr(torch.nn, cls_name)(5, 6, **kwargs)
    assert repr(ours) == repr(theirs)
