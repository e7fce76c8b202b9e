"""PyTorch parity fixtures for the recurrent layers, cells and sequence packing.

Files: ``rnn_layers.npz`` (RNN tanh/relu, LSTM, GRU over many configurations), ``rnn_cells.npz``
(RNNCell, LSTMCell, GRUCell) and ``rnn_packing.npz`` (pack/pad functions). Keys are
``<case>__<array>``. Inputs, weights and upstream gradients are seeded NumPy float64 arrays stored
in the file; PyTorch's outputs and gradients sit next to them. The same ``torch_*`` functions run
the live parity tests, so fixture and live tests check exactly the same thing.

    .venv/bin/python tests/make_fixtures.py rnn
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")
CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")

# ------------------------------------------------------------------------------------------------
# Layer configurations: every argument, each in a few combinations
# ------------------------------------------------------------------------------------------------

_BASE: dict[str, Any] = dict(input_size=3, hidden_size=4, num_layers=1, bias=True, batch_first=False,
                             bidirectional=False, proj_size=0, T=5, B=3, unbatched=False, hx=False,
                             lengths=None, enforce_sorted=True)

_VARIANTS: dict[str, dict[str, Any]] = {
    "base": {},
    "hx": dict(hx=True),
    "l2_hx": dict(num_layers=2, hx=True),
    "l3_bi_hx": dict(num_layers=3, bidirectional=True, hx=True),
    "bf_bi": dict(batch_first=True, bidirectional=True),
    "t1_hx": dict(T=1, hx=True),
    # One layer, one direction: one fused node on the user's tensors when their rows are time-major.
    "bf_b1_hx": dict(batch_first=True, B=1, hx=True),
    "bf_t1_hx": dict(batch_first=True, T=1, hx=True),
    "bf_b1_nobias": dict(batch_first=True, B=1, bias=False),
    "bf": dict(batch_first=True),  # (B > 1 and T > 1: the general path, with its transposes)
    "t1_l2_bi_bf": dict(T=1, num_layers=2, bidirectional=True, batch_first=True, hx=True),
    "unbatched": dict(unbatched=True),
    "unbatched_l2_bi_bf_hx": dict(unbatched=True, num_layers=2, bidirectional=True, batch_first=True, hx=True),
    "nobias_l2": dict(bias=False, num_layers=2, hx=True),
    "packed_sorted_hx": dict(lengths=[5, 3, 2], hx=True),
    "packed_unsorted_l2_bi_hx": dict(lengths=[2, 5, 3], enforce_sorted=False, num_layers=2, bidirectional=True,
                                     hx=True),
    "packed_unsorted_bf_bi": dict(lengths=[3, 1, 5, 3], B=4, enforce_sorted=False, batch_first=True,
                                  bidirectional=True),
    "packed_equal_l2": dict(lengths=[4, 4, 4], T=4, num_layers=2, hx=True),
    "packed_t1": dict(lengths=[1, 1], B=2, T=1, bidirectional=True, hx=True),
}
_LSTM_ONLY: dict[str, dict[str, Any]] = {
    "proj_l2_bi_hx": dict(proj_size=2, num_layers=2, bidirectional=True, hx=True),
    "proj_packed_unsorted": dict(proj_size=3, lengths=[2, 5, 3], enforce_sorted=False, hx=True),
}


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def param_names(opts: dict[str, Any]) -> list[str]:
    """PyTorch's parameter names for a layer with these options, in registration order."""
    names = []
    for layer in range(opts["num_layers"]):
        for suffix in ("", "_reverse") if opts["bidirectional"] else ("",):
            names += [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
            if opts["bias"]:
                names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
            if opts["proj_size"]:
                names.append(f"weight_hr_l{layer}{suffix}")
    return names


def _param_shape(name: str, opts: dict[str, Any]) -> tuple[int, ...]:
    gates = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}[opts["mode"]] * opts["hidden_size"]
    real_h = opts["proj_size"] or opts["hidden_size"]
    layer = int(name.split("_l")[1].split("_")[0])
    directions = 2 if opts["bidirectional"] else 1
    if name.startswith("weight_ih"):
        return (gates, opts["input_size"] if layer == 0 else real_h * directions)
    if name.startswith("weight_hh"):
        return (gates, real_h)
    if name.startswith("weight_hr"):
        return (opts["proj_size"], opts["hidden_size"])
    return (gates,)


def layer_cases() -> dict[str, tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """``name -> (options, arrays)``: inputs, weights (``p_<name>``) and upstream gradients."""
    cases = {}
    for mode in MODES:
        variants = dict(_VARIANTS, **(_LSTM_ONLY if mode == "lstm" else {}))
        for vname, v in variants.items():
            name = f"{mode}_{vname}"
            opts = dict(_BASE, mode=mode, **v)
            rng = np.random.default_rng(_seed(name))
            T, B, I, H = opts["T"], opts["B"], opts["input_size"], opts["hidden_size"]
            D = 2 if opts["bidirectional"] else 1
            n_state = opts["num_layers"] * D
            real_h = opts["proj_size"] or H
            if opts["unbatched"]:
                x_shape, h_shape, c_shape = (T, I), (n_state, real_h), (n_state, H)
            else:
                x_shape = (B, T, I) if opts["batch_first"] else (T, B, I)
                h_shape, c_shape = (n_state, B, real_h), (n_state, B, H)
            arrays = {"x": rng.standard_normal(x_shape)}
            bound = 1.5 / np.sqrt(H)  # a little larger than the default init: gates away from 0.5
            for p in param_names(opts):
                arrays["p_" + p] = rng.uniform(-bound, bound, _param_shape(p, opts))
            if opts["hx"]:
                arrays["h0"] = rng.standard_normal(h_shape) * 0.5
                if mode == "lstm":
                    arrays["c0"] = rng.standard_normal(c_shape) * 0.5
            if opts["lengths"] is not None:
                arrays["lengths"] = np.array(opts["lengths"], dtype=np.int64)
                out_rows = int(sum(opts["lengths"]))
                arrays["g_out"] = rng.standard_normal((out_rows, D * real_h))
            else:
                out_shape = x_shape[:-1] + (D * real_h,)
                arrays["g_out"] = rng.standard_normal(out_shape)
            arrays["g_h"] = rng.standard_normal(h_shape)
            if mode == "lstm":
                arrays["g_c"] = rng.standard_normal(c_shape)
            cases[name] = (opts, arrays)
    return cases


def torch_layer(opts: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run PyTorch on one layer case: outputs and the gradients of sum(out*g_out + h_n*g_h + c_n*g_c)."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence

    mode = opts["mode"]
    kw = dict(num_layers=opts["num_layers"], bias=opts["bias"], batch_first=opts["batch_first"],
              bidirectional=opts["bidirectional"], dtype=torch.float64)
    if mode.startswith("rnn"):
        m = torch.nn.RNN(opts["input_size"], opts["hidden_size"], nonlinearity=mode[4:], **kw)
    elif mode == "lstm":
        m = torch.nn.LSTM(opts["input_size"], opts["hidden_size"], proj_size=opts["proj_size"], **kw)
    else:
        m = torch.nn.GRU(opts["input_size"], opts["hidden_size"], **kw)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.from_numpy(arrays["p_" + name]))
    x = torch.tensor(arrays["x"], requires_grad=True)
    h0 = torch.tensor(arrays["h0"], requires_grad=True) if "h0" in arrays else None
    c0 = torch.tensor(arrays["c0"], requires_grad=True) if "c0" in arrays else None
    inp: Any = x
    if "lengths" in arrays:
        inp = pack_padded_sequence(x, torch.from_numpy(arrays["lengths"]), batch_first=opts["batch_first"],
                                   enforce_sorted=opts["enforce_sorted"])
    hx = None if h0 is None else ((h0, c0) if mode == "lstm" else h0)
    out, hidden = m(inp, hx)
    if "lengths" in arrays:
        out = out.data
    h_n, c_n = hidden if mode == "lstm" else (hidden, None)
    loss = (out * torch.from_numpy(arrays["g_out"])).sum() + (h_n * torch.from_numpy(arrays["g_h"])).sum()
    if c_n is not None:
        loss = loss + (c_n * torch.from_numpy(arrays["g_c"])).sum()
    loss.backward()
    res = {"out": out.detach().numpy(), "h_n": h_n.detach().numpy(), "grad_x": x.grad.numpy()}
    if c_n is not None:
        res["c_n"] = c_n.detach().numpy()
    if h0 is not None:
        res["grad_h0"] = h0.grad.numpy()
    if c0 is not None:
        res["grad_c0"] = c0.grad.numpy()
    for name, p in m.named_parameters():
        res["grad_" + name] = p.grad.numpy()
    return res


# ------------------------------------------------------------------------------------------------
# Cells
# ------------------------------------------------------------------------------------------------


def cell_cases() -> dict[str, tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """``name -> (options, arrays)`` for the three cells (RNNCell in both nonlinearities)."""
    cases = {}
    variants = {"batched_hx": dict(hx=True), "batched": dict(hx=False), "unbatched_hx": dict(unbatched=True, hx=True),
                "unbatched": dict(unbatched=True, hx=False), "nobias_hx": dict(bias=False, hx=True)}
    for mode in CELLS:
        for vname, v in variants.items():
            name = f"cell_{mode}_{vname}"
            opts = {**dict(mode=mode, input_size=3, hidden_size=4, B=3, bias=True, unbatched=False), **v}
            rng = np.random.default_rng(_seed(name))
            I, H, B = opts["input_size"], opts["hidden_size"], opts["B"]
            gates = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}[mode] * H
            lead = () if opts["unbatched"] else (B,)
            arrays = {"x": rng.standard_normal(lead + (I,)),
                      "p_weight_ih": rng.uniform(-0.75, 0.75, (gates, I)),
                      "p_weight_hh": rng.uniform(-0.75, 0.75, (gates, H))}
            if opts["bias"]:
                arrays["p_bias_ih"] = rng.uniform(-0.75, 0.75, gates)
                arrays["p_bias_hh"] = rng.uniform(-0.75, 0.75, gates)
            if opts["hx"]:
                arrays["h0"] = rng.standard_normal(lead + (H,)) * 0.5
                if mode == "lstm":
                    arrays["c0"] = rng.standard_normal(lead + (H,)) * 0.5
            arrays["g_h"] = rng.standard_normal(lead + (H,))
            if mode == "lstm":
                arrays["g_c"] = rng.standard_normal(lead + (H,))
            cases[name] = (opts, arrays)
    return cases


def torch_cell(opts: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run a PyTorch cell: outputs and the gradients of sum(h'*g_h + c'*g_c)."""
    import torch

    mode = opts["mode"]
    kw = dict(bias=opts["bias"], dtype=torch.float64)
    if mode.startswith("rnn"):
        m = torch.nn.RNNCell(opts["input_size"], opts["hidden_size"], nonlinearity=mode[4:], **kw)
    elif mode == "lstm":
        m = torch.nn.LSTMCell(opts["input_size"], opts["hidden_size"], **kw)
    else:
        m = torch.nn.GRUCell(opts["input_size"], opts["hidden_size"], **kw)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.from_numpy(arrays["p_" + name]))
    x = torch.tensor(arrays["x"], requires_grad=True)
    h0 = torch.tensor(arrays["h0"], requires_grad=True) if "h0" in arrays else None
    c0 = torch.tensor(arrays["c0"], requires_grad=True) if "c0" in arrays else None
    hx = None if h0 is None else ((h0, c0) if mode == "lstm" else h0)
    res = m(x, hx)
    h, c = res if mode == "lstm" else (res, None)
    loss = (h * torch.from_numpy(arrays["g_h"])).sum()
    if c is not None:
        loss = loss + (c * torch.from_numpy(arrays["g_c"])).sum()
    loss.backward()
    out = {"h_n": h.detach().numpy(), "grad_x": x.grad.numpy()}
    if c is not None:
        out["c_n"] = c.detach().numpy()
    if h0 is not None:
        out["grad_h0"] = h0.grad.numpy()
    if c0 is not None:
        out["grad_c0"] = c0.grad.numpy()
    for name, p in m.named_parameters():
        out["grad_" + name] = p.grad.numpy()
    return out


# ------------------------------------------------------------------------------------------------
# Packing
# ------------------------------------------------------------------------------------------------


def packing_cases() -> dict[str, tuple[dict[str, Any], dict[str, np.ndarray]]]:
    """pack_padded_sequence -> pad_packed_sequence round trips and pad_sequence, with gradients."""
    specs = {
        "sorted": dict(shape=(5, 3, 2), lengths=[5, 3, 2], batch_first=False, enforce_sorted=True),
        "unsorted": dict(shape=(5, 4, 2), lengths=[2, 5, 1, 3], batch_first=False, enforce_sorted=False),
        "unsorted_ties_bf": dict(shape=(4, 6, 3), lengths=[3, 6, 3, 1], batch_first=True, enforce_sorted=False),
        "total_length_bf": dict(shape=(3, 4), lengths=[4, 2, 4], batch_first=True, enforce_sorted=False,
                                total_length=6, padding_value=-1.5),
        "extra_dims": dict(shape=(4, 2, 2, 3), lengths=[4, 1], batch_first=False, enforce_sorted=True,
                           padding_value=7.0),
    }
    cases = {}
    for vname, spec in specs.items():
        name = f"pack_{vname}"
        rng = np.random.default_rng(_seed(name))
        arrays = {"x": rng.standard_normal(spec["shape"]), "lengths": np.array(spec["lengths"], dtype=np.int64)}
        n = int(sum(spec["lengths"]))
        arrays["g_data"] = rng.standard_normal((n,) + spec["shape"][2:])
        T_out = spec.get("total_length") or max(spec["lengths"])
        B = len(spec["lengths"])
        pshape = (B, T_out) if spec["batch_first"] else (T_out, B)
        arrays["g_padded"] = rng.standard_normal(pshape + spec["shape"][2:])
        cases[name] = (spec, arrays)
    # pad_sequence over a list of ragged sequences
    for vname, spec in {"padseq": dict(lens=[3, 5, 1], feat=(2,), batch_first=False, padding_value=0.0,
                                       padding_side="right"),
                        "padseq_bf_left": dict(lens=[2, 4], feat=(), batch_first=True, padding_value=3.0,
                                               padding_side="left")}.items():
        name = f"pack_{vname}"
        rng = np.random.default_rng(_seed(name))
        arrays = {f"seq{i}": rng.standard_normal((n,) + spec["feat"]) for i, n in enumerate(spec["lens"])}
        T, B = max(spec["lens"]), len(spec["lens"])
        arrays["g_padded"] = rng.standard_normal(((B, T) if spec["batch_first"] else (T, B)) + spec["feat"])
        cases[name] = (spec, arrays)
    return cases


def torch_packing(spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """PyTorch's packed data, batch sizes, indices, padded result and input gradients."""
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence

    if "lens" in spec:
        seqs = [torch.tensor(arrays[f"seq{i}"], requires_grad=True) for i in range(len(spec["lens"]))]
        padded = pad_sequence(seqs, batch_first=spec["batch_first"], padding_value=spec["padding_value"],
                              padding_side=spec["padding_side"])
        (padded * torch.from_numpy(arrays["g_padded"])).sum().backward()
        out = {"padded": padded.detach().numpy()}
        for i, s in enumerate(seqs):
            out[f"grad_seq{i}"] = s.grad.numpy()
        return out
    x = torch.tensor(arrays["x"], requires_grad=True)
    packed = pack_padded_sequence(x, torch.from_numpy(arrays["lengths"]), batch_first=spec["batch_first"],
                                  enforce_sorted=spec["enforce_sorted"])
    padded, lengths = pad_packed_sequence(packed, batch_first=spec["batch_first"],
                                          padding_value=spec.get("padding_value", 0.0),
                                          total_length=spec.get("total_length"))
    loss = (packed.data * torch.from_numpy(arrays["g_data"])).sum()
    loss = loss + (padded * torch.from_numpy(arrays["g_padded"])).sum()
    loss.backward()
    out = {"data": packed.data.detach().numpy(), "batch_sizes": packed.batch_sizes.numpy(),
           "padded": padded.detach().numpy(), "out_lengths": lengths.numpy(), "grad_x": x.grad.numpy()}
    if packed.sorted_indices is not None:
        out["sorted_indices"] = packed.sorted_indices.numpy()
        out["unsorted_indices"] = packed.unsorted_indices.numpy()
    return out


# ------------------------------------------------------------------------------------------------


def _save(path: Path, cases: dict, run) -> Path:
    flat: dict[str, np.ndarray] = {}
    for name, (opts, arrays) in cases.items():
        for k, v in {**arrays, **run(opts, arrays)}.items():
            flat[f"{name}__{k}"] = np.asarray(v)
    np.savez_compressed(path, **flat)
    return path


def make(fixtures_dir: Path) -> list[Path]:
    return [
        _save(fixtures_dir / "rnn_layers.npz", layer_cases(), torch_layer),
        _save(fixtures_dir / "rnn_cells.npz", cell_cases(), torch_cell),
        _save(fixtures_dir / "rnn_packing.npz", packing_cases(), torch_packing),
    ]


def split_case(flat: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    """The arrays of one case from a loaded fixture file (keys without the ``<case>__`` prefix)."""
    prefix = name + "__"
    return {k[len(prefix):]: v for k, v in flat.items() if k.startswith(prefix)}
