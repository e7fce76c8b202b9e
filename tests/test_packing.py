"""Variable-length sequences: pack_padded_sequence, pad_packed_sequence, pad_sequence, PackedSequence.

PyTorch parity (fixtures + live), gradients (gradcheck), round trips and errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import load_fixture
from fixture_makers.rnn import packing_cases, split_case, torch_packing

import minigrad as mg
from minigrad.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)

CASES = packing_cases()


def minigrad_packing(spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The minigrad twin of fixture_makers.rnn.torch_packing."""
    if "lens" in spec:
        seqs = [mg.tensor(arrays[f"seq{i}"], requires_grad=True) for i in range(len(spec["lens"]))]
        padded = pad_sequence(seqs, batch_first=spec["batch_first"], padding_value=spec["padding_value"],
                              padding_side=spec["padding_side"])
        (padded * mg.tensor(arrays["g_padded"])).sum().backward()
        out = {"padded": padded._array}
        for i, s in enumerate(seqs):
            out[f"grad_seq{i}"] = s.grad._array
        return out
    x = mg.tensor(arrays["x"], requires_grad=True)
    packed = pack_padded_sequence(x, arrays["lengths"], batch_first=spec["batch_first"],
                                  enforce_sorted=spec["enforce_sorted"])
    padded, lengths = pad_packed_sequence(packed, batch_first=spec["batch_first"],
                                          padding_value=spec.get("padding_value", 0.0),
                                          total_length=spec.get("total_length"))
    loss = (packed.data * mg.tensor(arrays["g_data"])).sum() + (padded * mg.tensor(arrays["g_padded"])).sum()
    loss.backward()
    out = {"data": packed.data._array, "batch_sizes": packed.batch_sizes._array, "padded": padded._array,
           "out_lengths": lengths._array, "grad_x": x.grad._array}
    if packed.sorted_indices is not None:
        out["sorted_indices"] = packed.sorted_indices._array
        out["unsorted_indices"] = packed.unsorted_indices._array
    return out


def _check(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], case: str) -> None:
    assert sorted(ours) == sorted(theirs), case
    for key, want in theirs.items():
        got = ours[key]
        assert got.shape == want.shape, f"{case}: {key} shape {got.shape} vs {want.shape}"
        if want.dtype.kind in "iu":
            assert got.dtype == np.int64, f"{case}: {key} dtype {got.dtype}"
            np.testing.assert_array_equal(got, want, err_msg=f"{case}: {key}")
        else:
            np.testing.assert_allclose(got, want, atol=1e-12, rtol=0, err_msg=f"{case}: {key}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_packing_matches_fixture(case: str) -> None:
    ref = split_case(load_fixture("rnn_packing"), case)
    assert ref, f"no fixture for {case}: run tests/make_fixtures.py rnn"
    spec, arrays = CASES[case]
    inputs = {k: ref[k] for k in arrays}
    _check(minigrad_packing(spec, inputs), {k: v for k, v in ref.items() if k not in arrays}, case)


@pytest.mark.parametrize("case", sorted(CASES))
def test_packing_matches_torch_live(case: str, torch: Any) -> None:
    spec, arrays = CASES[case]
    _check(minigrad_packing(spec, arrays), torch_packing(spec, arrays), case)


# ------------------------------------------------------------------------------------------------ semantics


def test_packed_layout_by_hand() -> None:
    # T=3, B=3, one feature; value = 10*t + b
    x = mg.tensor(np.array([[[10 * t + b] for b in range(3)] for t in range(3)], dtype=np.float64))
    p = pack_padded_sequence(x, [3, 2, 1])
    assert p.data.numpy().reshape(-1).tolist() == [0, 1, 2, 10, 11, 20]
    assert p.batch_sizes.tolist() == [3, 2, 1] and p.batch_sizes.dtype == mg.int64
    assert p.sorted_indices is None and p.unsorted_indices is None
    q = pack_padded_sequence(x, [1, 3, 2], enforce_sorted=False)
    assert q.sorted_indices.tolist() == [1, 2, 0] and q.unsorted_indices.tolist() == [2, 0, 1]
    assert q.data.numpy().reshape(-1).tolist() == [1, 2, 0, 11, 12, 21]
    data, batch_sizes, sorted_indices, unsorted_indices = q  # a namedtuple, like PyTorch's
    assert data is q.data and isinstance(q, tuple)


@pytest.mark.parametrize("batch_first", [False, True])
def test_round_trip_and_helpers(batch_first: bool) -> None:
    seqs = [mg.randn(n, 2, dtype=mg.float64) for n in (2, 5, 1)]
    padded = pad_sequence(seqs, batch_first=batch_first)
    assert padded.shape == ((3, 5, 2) if batch_first else (5, 3, 2))
    packed = pack_padded_sequence(padded, [2, 5, 1], batch_first=batch_first, enforce_sorted=False)
    back, lengths = pad_packed_sequence(packed, batch_first=batch_first)
    np.testing.assert_array_equal(back._array, padded._array)
    assert lengths.tolist() == [2, 5, 1]
    for a, b in zip(unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(a._array, b._array)
    for a, b in zip(unpad_sequence(padded, lengths, batch_first=batch_first), seqs):
        np.testing.assert_array_equal(a._array, b._array)
    p2 = pack_sequence(seqs, enforce_sorted=False)
    np.testing.assert_array_equal(p2.data._array, packed.data._array)
    assert p2.batch_sizes.tolist() == [3, 2, 1, 1, 1]


def test_packed_sequence_casts_and_accessible_from_mg_nn() -> None:
    p = mg.nn.utils.rnn.pack_sequence([mg.ones(3, 2), mg.ones(2, 2)])
    assert p.double().data.dtype == mg.float64 and p.to(mg.float64).batch_sizes is p.batch_sizes
    assert p.double().float().data.dtype == mg.float32
    assert isinstance(p, PackedSequence) and not p.is_cuda
    built = PackedSequence(p.data, [2, 2, 1], [1, 0])
    assert built.unsorted_indices.tolist() == [1, 0]


# ------------------------------------------------------------------------------------------------ gradients


def test_gradcheck_pack_and_pad() -> None:
    x = mg.tensor(np.random.default_rng(0).standard_normal((4, 3, 2)), requires_grad=True)

    def fn(x: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        p = pack_padded_sequence(x.transpose(0, 1), [2, 4, 1], batch_first=True, enforce_sorted=False)
        padded, _ = pad_packed_sequence(p, total_length=5, padding_value=2.0)
        return p.data * p.data, padded

    assert mg.autograd.gradcheck(fn, [x])


def test_gradcheck_pad_sequence() -> None:
    rng = np.random.default_rng(1)
    seqs = [mg.tensor(rng.standard_normal((n, 2)), requires_grad=True) for n in (3, 1, 2)]
    assert mg.autograd.gradcheck(lambda *s: pad_sequence(list(s), batch_first=True, padding_side="left") ** 2, seqs)


# ------------------------------------------------------------------------------------------------ errors


def test_errors() -> None:
    x = mg.zeros(4, 3, 2)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order"):
        pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(ValueError, match="Length of all samples has to be greater than 0"):
        pack_padded_sequence(x, [4, 2, 0])
    with pytest.raises(ValueError, match=r"a length \(5\) is larger than the number of time steps \(4\)"):
        pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(mg.ShapeError, match="expected 3 lengths"):
        pack_padded_sequence(x, [4, 2])
    with pytest.raises(TypeError, match="lengths must be a 1-D sequence of integers"):
        pack_padded_sequence(x, [4.0, 2.0, 1.0])
    p = pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest"):
        pad_packed_sequence(p, total_length=3)
    with pytest.raises(mg.ShapeError, match=r"sequence 0 has shape \(2, 3\) but sequence 1 has shape \(2, 4\)"):
        pad_sequence([mg.zeros(2, 3), mg.zeros(2, 4)])
    with pytest.raises(ValueError, match="empty list"):
        pad_sequence([])
    with pytest.raises(TypeError, match="expected a PackedSequence"):
        pad_packed_sequence(x)
