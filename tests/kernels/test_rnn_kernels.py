"""Recurrent kernels (minigrad/kernels/rnn.py) against their NumPy references.

Tiny sizes on purpose: CI runs this folder again with NUMBA_DISABLE_JIT=1 (plain Python loops).
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

from minigrad.kernels import rnn as K

KERNELS = [f"{mode}_{kind}_{direction}" for mode in ("lstm", "gru", "rnn")
           for kind in ("step", "sequence") for direction in ("forward", "backward")]
KERNELS += ["lstm_sequence_forward_parallel", "lstm_sequence_backward_parallel"]  # split by hidden units
KERNELS += [f"{mode}_sequence_{direction}_rows" for mode in ("lstm", "gru", "rnn")  # split by rows of the batch
            for direction in ("forward", "backward")]
DTYPES = [np.float32, np.float64]


def _tol(dtype) -> dict:
    return {"rtol": 2e-5, "atol": 2e-6} if np.dtype(dtype) == np.float32 else {"rtol": 1e-12, "atol": 1e-13}


def _run_both(name: str, args: tuple) -> tuple[tuple, tuple]:
    """Call the kernel and its reference on separate copies; return both argument tuples after the call."""
    copy = lambda a: a.copy() if isinstance(a, np.ndarray) else a  # noqa: E731
    ours, ref = tuple(map(copy, args)), tuple(map(copy, args))
    getattr(K, name)(*ours)
    getattr(K, name + "_ref")(*ref)
    return ours, ref


def _assert_same(name: str, ours: tuple, ref: tuple, dtype) -> None:
    for k, (a, b) in enumerate(zip(ours, ref)):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, err_msg=f"{name}: argument {k} differs", **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", KERNELS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("lengths", [None, [3, 0, 1]], ids=["full", "ragged"])
def test_kernel_matches_reference(name, dtype, reverse, lengths):
    for t in (0, 1, 2):  # step kernels at every step; sequence kernels ignore t
        args = K.example_args(name, dtype, n_time=3, batch=3, hidden=5, reverse=reverse, lengths=lengths, t=t,
                              relu=t == 1, seed=t)
        ours, ref = _run_both(name, args)
        _assert_same(name, ours, ref, dtype)
        if "sequence" in name:
            break


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [k for k in KERNELS if k.endswith("backward")])
def test_backward_without_output_gradient(name, dtype):
    """grad_out of shape (T, B, 0): only h_n (and c_n) received a gradient."""
    args = list(K.example_args(name, dtype, n_time=3, batch=2, hidden=3, lengths=[3, 2]))
    index = next(i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.shape == (3, 2, 3)
                 and i >= (3 if "lstm" in name or "gru" in name else 2))
    args[index] = np.empty((3, 2, 0), dtype)
    ours, ref = _run_both(name, tuple(args))
    _assert_same(name, ours, ref, dtype)


def _non_contiguous(a: np.ndarray, how: str) -> np.ndarray:
    """The same values as ``a``, stored transposed or as a strided slice of a bigger array."""
    if how == "transposed":
        return np.asfortranarray(a)  # every axis reversed in memory
    wide = np.repeat(a[..., None], 2, axis=-1)  # every value twice in memory
    return wide[..., 0]  # a slice with stride 2 in the last axis


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("how", ["transposed", "sliced"])
@pytest.mark.parametrize("name", ["lstm_step_forward", "gru_step_backward", "rnn_sequence_forward",
                                  "lstm_sequence_backward"])
def test_non_contiguous_inputs_made_contiguous(name, dtype, how):
    """Callers pass np.ascontiguousarray of transposed/sliced data; the reference takes the views."""
    args = K.example_args(name, dtype, n_time=3, batch=3, hidden=5, seed=3)
    views = tuple(_non_contiguous(a, how) if isinstance(a, np.ndarray) and a.ndim >= 2 else a for a in args)
    assert any(isinstance(v, np.ndarray) and not v.flags.c_contiguous for v in views)
    contiguous = tuple(np.ascontiguousarray(v) if isinstance(v, np.ndarray) else v for v in views)
    getattr(K, name)(*contiguous)
    getattr(K, name + "_ref")(*views)
    _assert_same(name, contiguous, views, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_odd_sizes(dtype):
    """Sizes that are not multiples of any SIMD width (and B=1, H=1)."""
    for T, B, H in [(1, 1, 1), (2, 1, 7), (3, 5, 3)]:
        for name in KERNELS:
            args = K.example_args(name, dtype, n_time=T, batch=B, hidden=H, t=T - 1, seed=T + B + H)
            ours, ref = _run_both(name, args)
            _assert_same(name, ours, ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", [k for k in KERNELS if k.endswith("_rows")])
def test_row_split_at_layer_sizes(name, dtype):
    """The row-split kernels with several packed panels of W_hh, a ragged last one, and (backward,
    K = gate width > K_BLOCK) sums over K in blocks; 7 rows: blocks of 4 and 3."""
    # Sums over 70-520 products, in another order than BLAS's (tiles, FMA): float32 gets a wider atol.
    tol = {"rtol": 1e-4, "atol": 2e-5} if np.dtype(dtype) == np.float32 else _tol(dtype)
    for hidden, lengths in [(70, None), (130, [4, 4, 1, 0, 4, 3, 2])]:
        args = K.example_args(name, dtype, n_time=4, batch=7, hidden=hidden, lengths=lengths, seed=hidden)
        ours, ref = _run_both(name, args)
        for k, (a, b) in enumerate(zip(ours, ref)):
            if isinstance(a, np.ndarray):
                np.testing.assert_allclose(a, b, err_msg=f"{name}: argument {k} differs", **tol)


# The parallel kernels compile on first use (kernels/__init__.py: FIRST_USE_ONLY); meanwhile their
# stand-ins run the serial kernels, which the default warmup compiles.
PARALLEL = [k for k in KERNELS if k.endswith(("_rows", "_parallel"))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", PARALLEL)
@pytest.mark.parametrize("lengths", [None, [3, 0, 1]], ids=["full", "ragged"])
def test_stand_in_runs_the_serial_kernel_and_matches_reference(name, dtype, lengths, monkeypatch):
    kernel = getattr(K, name)
    assert kernel.stand_in.__name__ == name + "_stand_in"
    assert list(inspect.signature(kernel.stand_in).parameters) == list(inspect.signature(kernel.py_func).parameters)
    serial_name = name.rsplit("_", 1)[0]  # lstm_sequence_forward_rows -> lstm_sequence_forward
    serial, calls = getattr(K, serial_name), []
    monkeypatch.setattr(sys.modules[kernel.py_func.__module__], serial_name,
                        lambda *args: calls.append(1) or serial(*args))
    for reverse in (False, True):
        args = K.example_args(name, dtype, n_time=3, batch=3, hidden=5, reverse=reverse, lengths=lengths)
        copy = lambda a: a.copy() if isinstance(a, np.ndarray) else a  # noqa: E731
        ours, ref = tuple(map(copy, args)), tuple(map(copy, args))
        kernel.stand_in(*ours)
        kernel.reference(*ref)
        _assert_same(name, ours, ref, dtype)
    assert len(calls) == 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("transposed", [True, False], ids=["W.T", "W"])
def test_packed_weight_matches_reference(dtype, transposed):
    """W_hh in packed panels (several, the last one ragged, shared by 1-3 threads), and back."""
    w = np.random.default_rng(1).standard_normal((130, 70)).astype(dtype)
    for parts in (1, 2, 3):
        cols, panels = K.packed_weight(w, transposed, parts)
        want_cols, want_panels = K.packed_weight_ref(w, transposed, parts)
        np.testing.assert_array_equal(cols, want_cols)
        np.testing.assert_array_equal(panels, want_panels)  # the padding too: zeros
        np.testing.assert_array_equal(K.unpacked_weight(cols, panels), w.T if transposed else w)
    assert len(cols) > 1 and cols[-1, 1] < panels.shape[2], "want several panels, the last one ragged"


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_tanh_accuracy(dtype):
    """Our vectorisable sigmoid/tanh: ~1 ulp, stable at +-1000, inf and NaN, no warnings."""
    x = np.concatenate([np.linspace(-1000, 1000, 401), np.linspace(-3, 3, 601), [1e-30, -1e-30, 1e-7, -1e-7],
                        [0.0, -0.0, np.inf, -np.inf, np.nan]]).astype(dtype)
    sig, th = np.empty_like(x), np.empty_like(x)
    K.sigmoid_tanh(x, sig, th)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        sig_true = 1 / (1 + np.exp(-x64))
    eps = np.finfo(dtype).eps
    finite = ~np.isnan(x64)
    np.testing.assert_allclose(sig[finite], sig_true[finite], rtol=4 * eps, atol=2e-37)
    np.testing.assert_allclose(th[finite], np.tanh(x64[finite]), rtol=4 * eps, atol=0)
    assert np.isnan(sig[-1]) and np.isnan(th[-1])
    assert sig[-3] == 1 and sig[-2] == 0 and th[-3] == 1 and th[-2] == -1
    assert ((sig >= 0) & (sig <= 1))[finite].all() and (np.abs(th[finite]) <= 1).all()


def test_warmup_registered_for_every_kernel():
    from minigrad.kernels._jit import LazyKernel

    kernels = [v for v in vars(K).values() if isinstance(v, LazyKernel)]
    assert len(kernels) == len(KERNELS) + 2  # and sigmoid_tanh, packed_weight
    for k in kernels:
        assert k.warmup_fn is not None
        assert callable(getattr(K, k.__name__ + "_ref"))
    kernels[0].warmup_fn(np.dtype(np.float32))


@pytest.mark.parametrize("n_time", [0, 1, 2])
@pytest.mark.parametrize("reverse", [False, True])
def test_parallel_lstm_backward_short_sequences(n_time, reverse):
    """The product for dL/dh_0 runs as the time loop's last pass: also right after one step, and
    never for an empty sequence (rec stays as given)."""
    args = K.example_args("lstm_sequence_backward_parallel", np.float64, n_time=n_time, batch=2, hidden=5,
                          reverse=reverse)
    ours, ref = _run_both("lstm_sequence_backward_parallel", args)
    _assert_same("lstm_sequence_backward_parallel", ours, ref, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reverse", [False, True])
def test_parallel_lstm_backward_without_dh0(dtype, reverse):
    """need_h0=False skips the product for dL/dh_0: every other result is the same; rec is then
    what the last step read (the product of the step before it), not dgates[first] @ W_hh."""
    args = list(K.example_args("lstm_sequence_backward_parallel", dtype, n_time=3, batch=2, hidden=5,
                               reverse=reverse, lengths=[3, 2]))
    args[-1] = False
    ours, ref = _run_both("lstm_sequence_backward_parallel", tuple(args))
    rec_index = 5
    for k, (a, b) in enumerate(zip(ours, ref)):
        if isinstance(a, np.ndarray) and k != rec_index:
            np.testing.assert_allclose(a, b, err_msg=f"argument {k} differs", **_tol(dtype))
    gates, w_hh = ref[0], ref[1]
    # With 3 steps the last step (t = 0, or t = 2 reversed) read rec = dgates[1] @ W_hh either way.
    np.testing.assert_allclose(ours[rec_index], gates[1] @ w_hh, **_tol(dtype))
    assert not np.allclose(ours[rec_index], ref[rec_index])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [1, 2, 3])
@pytest.mark.parametrize("inner", [1, 3, 4, 5, 8, 11])
def test_matmul_rows_sums_in_order(dtype, rows, inner):
    """The sequence kernels' small product takes four rows of b per pass over out, yet sums as one row
    per pass does (out[j] + a[k] b[k, j], k rising): the same numbers bit for bit, and a @ b."""
    from minigrad.kernels.rnn_common import _matmul_rows

    rng = np.random.default_rng(rows * 10 + inner)
    a, b = rng.standard_normal((rows, inner)).astype(dtype), rng.standard_normal((inner, 7)).astype(dtype)
    out = np.full((rows, 7), np.nan, dtype)
    _matmul_rows(a, b, out)
    expected = np.zeros((rows, 7), dtype)
    for i in range(rows):
        for k in range(inner):
            expected[i] = expected[i] + a[i, k] * b[k]  # one rounding for the product, one for the sum
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(out, a @ b, **_tol(dtype))
