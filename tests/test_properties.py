"""Property tests: random programs against NumPy, and Numba kernels against out-of-bounds access.

1. **Random compositions.** Hypothesis builds small expression trees (elementwise, broadcasting
   binary ops, reductions, shape ops, strided slicing) over 1-3 inputs of mutually broadcastable
   shapes, in random memory layouts (transposed, sliced, negative strides) and sometimes with a
   zero-size dimension. Each program runs twice: on minigrad Tensors and on plain NumPy arrays.
   The values must agree, and autograd's gradients must agree with central finite differences.

2. **Kernels and strides.** Every kernel of ``minigrad/kernels/*`` is called (a) through its
   public wrapper or op with odd-strided, offset views (step 3, start 5, negative steps), and
   (b) directly, with every array argument placed inside a larger buffer filled with NaN
   "canaries" on both sides. Results must match the kernel's NumPy ``*_ref``, the canaries must
   be untouched (no out-of-bounds write) and no NaN may leak into results (no out-of-bounds read
   of a canary). The same direct calls then run in a subprocess with ``NUMBA_BOUNDSCHECK=1`` and
   an empty Numba cache, where any out-of-bounds index raises IndexError.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import layouts, strided_like, values

import minigrad as mg
from minigrad.kernels import activations as KA
from minigrad.kernels import bias_rows as KB
from minigrad.kernels import gelu as KGelu
from minigrad.kernels import gemm as KG
from minigrad.kernels import gemm_blocks as KGB
from minigrad.kernels import gemv as KV
from minigrad.kernels import layer_norm as KLN
from minigrad.kernels import loss as KL
from minigrad.kernels import optim as KO
from minigrad.kernels import products as KP
from minigrad.kernels import rnn as KR
from minigrad.kernels import scan as KScan
from minigrad.kernels import scatter as KS
from minigrad.kernels import selection as KSel
from minigrad.kernels import smooth_activations as KSA
from minigrad.kernels import softmax as KSM
from minigrad.kernels import transpose as KT

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# =====================================================================================================
# 1. Random compositions of ops, against NumPy and finite differences
# =====================================================================================================

def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# name -> (minigrad, numpy). Smooth functions only: finite differences are wrong at kinks.
UNARY: dict[str, tuple[Callable, Callable]] = {
    "tanh": (lambda t: t.tanh(), np.tanh),
    "sigmoid": (lambda t: t.sigmoid(), _np_sigmoid),
    # PyTorch's softplus is exactly linear above its threshold (20).
    "softplus": (lambda t: mg.softplus(t), lambda a: np.where(a > 20, a, np.logaddexp(0.0, a))),
    "neg": (lambda t: -t, np.negative),
    "square": (lambda t: t * t, np.square),
    "exp_tanh": (lambda t: t.tanh().exp(), lambda a: np.exp(np.tanh(a))),
    "log_1p_sq": (lambda t: (t * t + 1.0).log(), lambda a: np.log(a * a + 1.0)),
    "sqrt_1p_sq": (lambda t: (t * t + 1.0).sqrt(), lambda a: np.sqrt(a * a + 1.0)),
    "pow3": (lambda t: t ** 3, lambda a: a ** 3),
    "scale": (lambda t: 2.5 * t - 1.0, lambda a: 2.5 * a - 1.0),
}
BINARY: dict[str, tuple[Callable, Callable]] = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / (b * b + 1.0), lambda a, b: a / (b * b + 1.0)),  # denominator >= 1
    "rsub": (lambda a, b: 1.0 - a * b, lambda a, b: 1.0 - a * b),
}


def _reduce(kind: str, dim: int | None, keepdim: bool) -> tuple[Callable, Callable]:
    if kind == "sum":
        return (lambda t: t.sum(dim, keepdim), lambda a: a.sum(axis=dim, keepdims=keepdim))
    if kind == "mean":
        return (lambda t: t.mean(dim, keepdim), lambda a: a.mean(axis=dim, keepdims=keepdim))
    if kind == "logsumexp":
        def np_lse(a: np.ndarray) -> np.ndarray:
            m = a.max(axis=dim, keepdims=True)
            out = m + np.log(np.exp(a - m).sum(axis=dim, keepdims=True))
            return out if keepdim else np.squeeze(out, dim)
        return (lambda t: t.logsumexp(dim, keepdim), np_lse)
    if kind == "softmax":
        def np_softmax(a: np.ndarray) -> np.ndarray:
            e = np.exp(a - a.max(axis=dim, keepdims=True))
            return e / e.sum(axis=dim, keepdims=True)
        return (lambda t: t.softmax(dim), np_softmax)
    raise ValueError(kind)


@st.composite
def programs(draw: st.DrawFn) -> tuple[list[np.ndarray], Callable, Callable, str]:
    """Inputs (in random layouts) and a random program as (minigrad fn, numpy fn, description)."""
    n_inputs = draw(st.integers(1, 3))
    min_side = draw(st.sampled_from([1, 1, 1, 0]))  # now and then a zero-size dimension
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=n_inputs, min_dims=0, max_dims=3,
                                                    min_side=min_side, max_side=4)).input_shapes
    inputs = []
    for shape in shapes:
        a = values(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), shape, "n")
        if a.ndim and draw(st.booleans()):
            a = strided_like(a, *draw(layouts(a.ndim)))
        inputs.append(a)

    # Build bottom-up: a pool of (mg_fn, np_fn, shape, text) sub-programs, combined at random.
    pool = [(lambda xs, i=i: xs[i], lambda xs, i=i: xs[i], s, f"x{i}") for i, s in enumerate(shapes)]
    for _ in range(draw(st.integers(2, 7))):
        # Mostly extend the latest sub-program (deep programs), sometimes start from any other.
        mg_f, np_f, shape, text = pool[-1] if draw(st.integers(0, 9)) < 7 else draw(st.sampled_from(pool))
        op = draw(st.sampled_from(["unary", "unary", "binary", "binary", "reduce", "shape", "slice"]))
        if op == "unary":
            name = draw(st.sampled_from(sorted(UNARY)))
            fm, fn = UNARY[name]
            new = (lambda xs, f=mg_f, g=fm: g(f(xs)), lambda xs, f=np_f, g=fn: g(f(xs)), shape, f"{name}({text})")
        elif op == "binary":
            mg_g, np_g, shape2, text2 = draw(st.sampled_from(pool))
            try:
                out_shape = np.broadcast_shapes(shape, shape2)
            except ValueError:
                continue
            name = draw(st.sampled_from(sorted(BINARY)))
            fm, fn = BINARY[name]
            new = (lambda xs, f=mg_f, g=mg_g, h=fm: h(f(xs), g(xs)), lambda xs, f=np_f, g=np_g, h=fn: h(f(xs), g(xs)),
                   out_shape, f"{name}({text}, {text2})")
        elif op == "reduce":
            if not shape:
                continue
            dim = draw(st.integers(-len(shape), len(shape) - 1))
            kind = draw(st.sampled_from(["sum", "mean", "logsumexp", "softmax"]))
            if kind != "sum" and shape[dim] == 0:
                continue  # mean/logsumexp over nothing is nan/-inf: not a finite-difference question
            keepdim = draw(st.booleans())
            fm, fn = _reduce(kind, dim, keepdim)
            out_shape = fn(np.zeros(shape)).shape  # shape bookkeeping via NumPy
            new = (lambda xs, f=mg_f, g=fm: g(f(xs)), lambda xs, f=np_f, g=fn: g(f(xs)), out_shape,
                   f"{kind}({text}, dim={dim}{', keepdim' if keepdim else ''})")
        elif op == "shape":
            choice = draw(st.sampled_from(["T", "flatten", "unsqueeze", "transpose", "expand"]))
            if choice == "T":
                fm, fn, out_shape = (lambda t: t.T), (lambda a: a.T), shape[::-1]
            elif choice == "flatten":
                fm, fn, out_shape = (lambda t: t.reshape(-1) if t._array.size else t.reshape(0)), \
                    (lambda a: a.reshape(-1) if a.size else a.reshape(0)), (int(np.prod(shape)),)
            elif choice == "unsqueeze":
                fm, fn, out_shape = (lambda t: t.unsqueeze(0)), (lambda a: a[None]), (1,) + shape
            elif choice == "expand":
                fm, fn, out_shape = (lambda t, s=shape: t.expand((2,) + s)), \
                    (lambda a, s=shape: np.broadcast_to(a, (2,) + s)), (2,) + shape
            else:
                if len(shape) < 2:
                    continue
                fm, fn = (lambda t: t.transpose(0, -1)), (lambda a: np.swapaxes(a, 0, -1))
                out_shape = (shape[-1],) + shape[1:-1] + (shape[0],)
            new = (lambda xs, f=mg_f, g=fm: g(f(xs)), lambda xs, f=np_f, g=fn: g(f(xs)), out_shape,
                   f"{choice}({text})")
        else:  # strided slicing (every other element), or backwards (flip: PyTorch has no negative steps)
            if not shape:
                continue
            sl = draw(st.sampled_from([slice(None, None, 2), slice(None, None, -1), slice(1, None, 3)]))
            index = (Ellipsis, sl) if draw(st.booleans()) else sl
            out_shape = np.zeros(shape)[index].shape
            if sl.step == -1:
                axis = -1 if isinstance(index, tuple) else 0
                new = (lambda xs, f=mg_f, d=axis: f(xs).flip(d), lambda xs, f=np_f, i=index: f(xs)[i], out_shape,
                       f"{text}.flip({axis})")
            else:
                new = (lambda xs, f=mg_f, i=index: f(xs)[i], lambda xs, f=np_f, i=index: f(xs)[i], out_shape,
                       f"{text}[{index}]")
        pool.append(new)
    mg_f, np_f, _, text = pool[-1]
    return inputs, mg_f, np_f, text


@settings(max_examples=200, **SETTINGS)
@given(programs())
def test_random_programs_match_numpy_and_finite_differences(program) -> None:
    inputs, mg_f, np_f, text = program
    originals = [a.copy() for a in inputs]
    expected = np.asarray(np_f(originals))
    leaves = [mg.from_numpy(a).requires_grad_(True) for a in inputs]  # wraps the views: layouts reach the ops
    with np.errstate(all="raise", under="ignore"):
        out = mg_f(leaves)
    assert out.shape == expected.shape, text
    assert out.dtype == np.float64, text
    np.testing.assert_allclose(out._array, expected, rtol=1e-10, atol=1e-12, err_msg=text)
    for a, b in zip(inputs, originals):  # the inputs were only read
        np.testing.assert_array_equal(a, b, err_msg=text)
    assert mg.autograd.gradcheck(lambda *xs: mg_f(list(xs)), leaves, atol=1e-5, rtol=1e-3), text
    # One more backward: every leaf gets a gradient of its own shape and dtype, even when empty.
    out = mg_f(leaves)
    out.backward(mg.ones(out.shape, dtype=mg.float64))
    for i, x in enumerate(leaves):
        if f"x{i}" not in text:  # an input the program never used gets no gradient
            assert x.grad is None, text
            continue
        assert x.grad is not None and x.grad.shape == x.shape and x.grad.dtype == np.float64, text


@settings(max_examples=40, **SETTINGS)
@given(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4), st.data())
def test_zero_size_reductions_and_shape_ops(shape: tuple[int, ...], data: st.DataObject) -> None:
    """Empty inputs: the PyTorch result (0 for sums, empty arrays), no error, and a gradient of the right shape."""
    x = mg.zeros(*shape, dtype=mg.float64, requires_grad=True)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    with np.errstate(all="raise", under="ignore"):
        outs = [x.sum(dim), x.sum(), x.reshape(-1) if x._array.size else x.reshape(0), x.T, x.unsqueeze(0),
                (x * 2).tanh(), x.softmax(dim), x.log_softmax(dim), x.flatten()]
        total = sum(o.sum() for o in outs)
    total.backward()
    assert x.grad.shape == shape
    np.testing.assert_array_equal(outs[0]._array, np.zeros(shape).sum(dim))


# =====================================================================================================
# 2. Kernels: odd strides through the public wrappers, canaries around direct calls
# =====================================================================================================

def _strided(a: np.ndarray, step: int = 3, start: int = 5) -> np.ndarray:
    """The values of ``a`` as a view with an odd step (and offset) in its last axis, NaN in the gaps."""
    shape = a.shape[:-1] + (a.shape[-1] * abs(step) + start + 3,)
    base = np.full(shape, np.nan if a.dtype.kind == "f" else 0, dtype=a.dtype)
    if step > 0:
        view = base[..., start:start + a.shape[-1] * step:step]
    else:
        stop = start + a.shape[-1] * abs(step)
        view = base[..., stop - 1:start - 1 if start else None:step][..., :a.shape[-1]]
    view[...] = a
    assert view.shape == a.shape and not view.flags.c_contiguous
    return view


def _tol(dtype: Any) -> dict[str, float]:
    return {"rtol": 3e-5, "atol": 3e-6} if np.dtype(dtype) == np.float32 else {"rtol": 1e-11, "atol": 1e-12}


class _Canaried:
    """Arrays placed in the middle of bigger buffers whose other elements are canaries."""

    def __init__(self) -> None:
        self.buffers: list[tuple[np.ndarray, slice, np.ndarray]] = []

    def embed(self, a: Any, rng: np.random.Generator) -> Any:
        if not isinstance(a, np.ndarray):
            return a
        before, after = int(rng.integers(1, 9)), int(rng.integers(1, 9))
        canary = np.nan if a.dtype.kind == "f" else 0  # an out-of-bounds int read of 0 changes results
        base = np.full(before + a.size + after, canary, dtype=a.dtype)
        where = slice(before, before + a.size)
        view = base[where].reshape(a.shape)
        view[...] = a
        assert view.flags.c_contiguous
        self.buffers.append((base, where, base.copy()))
        return view

    def check_untouched(self, name: str) -> None:
        for base, where, original in self.buffers:
            outside = np.ones(base.size, bool)
            outside[where] = False
            np.testing.assert_array_equal(base[outside], original[outside],
                                          err_msg=f"{name}: a kernel wrote outside its arrays")


def _out_of_place(ref: Callable) -> Callable:
    """A kernel reference that returns its result, as one that writes it into the last argument."""
    def inplace(*args: Any) -> None:
        args[-1][...] = ref(*args[:-1])
    return inplace


def _panels_only(pack: Callable) -> Callable:
    """``packed_weight`` (or its reference) returning only its panels, padding included, to compare."""
    def panels(w: np.ndarray, transposed: bool, parts: int) -> np.ndarray:
        return pack(w, transposed, parts)[1]
    return panels


def direct_cases(dtype: Any, rng: np.random.Generator, small: bool = False) -> list[tuple[str, Any, Callable, tuple]]:
    """(name, kernel, in-place reference, args) for every kernel of minigrad/kernels, valid args for ``dtype``."""
    dtype = np.dtype(dtype)
    r = lambda *shape: rng.standard_normal(shape).astype(dtype)  # noqa: E731
    n = 7 if small else 37
    cases = [
        ("softmax_rows_kernel", KSM.softmax_rows_kernel, _out_of_place(KSM.softmax_rows_ref),
         (r(3, 5) * 5, np.empty((3, 5), dtype))),
        ("log_softmax_rows_kernel", KSM.log_softmax_rows_kernel, _out_of_place(KSM.log_softmax_rows_ref),
         (r(3, 5) * 5, np.empty((3, 5), dtype))),
        ("scatter_add_rows_kernel", KS.scatter_add_rows_kernel, KS.scatter_add_rows_ref,
         (r(4, 3), np.array([3, 0, 3, 1, 3], np.int64), r(5, 3))),
        ("sigmoid_tanh", KR.sigmoid_tanh, KR.sigmoid_tanh_ref, KR.example_args("sigmoid_tanh", dtype)),
        ("cross_entropy_fwd", KL.cross_entropy_fwd, KL.cross_entropy_fwd_ref,
         (r(4, 5) * 3, np.array([0, 4, -100, 2], np.int64), np.abs(r(5)) + 0.5, -100, 0.1,
          np.empty(4, dtype), np.empty(4, dtype))),
    ]
    x = r(4, 5) * 3
    lse = np.log(np.exp(x.astype(np.float64)).sum(1)).astype(dtype)
    cases.append(("cross_entropy_bwd", KL.cross_entropy_bwd, KL.cross_entropy_bwd_ref,
                  (x, np.array([1, -100, 4, 0], np.int64), np.abs(r(5)) + 0.5, -100, 0.1, lse, r(4),
                   np.empty((4, 5), dtype))))
    cases.append(("sigmoid_kernel", KA.sigmoid_kernel, KA.sigmoid_kernel_ref, (r(n), np.empty(n, dtype))))
    for name, args in (("add_row_kernel", (r(3, 5), r(5), np.empty((3, 5), dtype))),
                       ("add_row_in_place_kernel", (r(3, 5), r(5))),
                       ("sum_rows_kernel", (r(3, 5), np.empty(5, dtype)))):
        cases.append((name, getattr(KB, name), getattr(KB, name + "_ref"), args))
    cases.append(("relu_kernel", KA.relu_kernel, KA.relu_kernel_ref, (r(n), np.empty(n, dtype))))
    cases.append(("leaky_relu_kernel", KA.leaky_relu_kernel, KA.leaky_relu_kernel_ref,
                  (r(n), dtype.type(0.1), np.empty(n, dtype), np.empty(n, np.bool_))))
    cases.append(("leaky_relu_backward_kernel", KA.leaky_relu_backward_kernel, KA.leaky_relu_backward_kernel_ref,
                  (r(n), r(n) > 0, dtype.type(0.1), np.empty(n, dtype))))
    for name in ("sigmoid_backward_kernel", "tanh_backward_kernel", "relu_backward_kernel"):
        cases.append((name, getattr(KA, name), getattr(KA, name + "_ref"), (r(n), np.tanh(r(n)), np.empty(n, dtype))))
    for name in ("gelu_kernel", "gelu_tanh_kernel", "erf_kernel"):
        cases.append((name, getattr(KGelu, name), getattr(KGelu, name + "_ref"), (r(n) * 3, np.empty(n, dtype))))
    for name in ("gelu_backward_kernel", "gelu_tanh_backward_kernel"):
        cases.append((name, getattr(KGelu, name), getattr(KGelu, name + "_ref"), (r(n), r(n) * 3, np.empty(n, dtype))))
    t = dtype.type
    cases.append(("elu_kernel", KSA.elu_kernel, KSA.elu_kernel_ref, (r(n) * 3, t(0.7), np.empty(n, dtype))))
    cases.append(("elu_backward_kernel", KSA.elu_backward_kernel, KSA.elu_backward_kernel_ref,
                  (r(n), r(n) * 3, t(0.7), np.empty(n, dtype))))
    cases.append(("softplus_kernel", KSA.softplus_kernel, KSA.softplus_kernel_ref,
                  (r(n) * 3, t(1.5), t(4.0), np.empty(n, dtype))))
    cases.append(("softplus_backward_kernel", KSA.softplus_backward_kernel, KSA.softplus_backward_kernel_ref,
                  (r(n), r(n) * 3, t(1.5), t(4.0), np.empty(n, dtype))))
    for reverse in (False, True):
        for shape3 in ((5, 7, 1), (2, 4, 3)):  # along the last axis (rows side by side) and any other
            cases.append((f"running_sum_kernel(reverse={reverse}, shape={shape3})", KScan.running_sum_kernel,
                          KScan.running_sum_kernel_ref, (r(*shape3), reverse, np.empty(shape3, dtype))))
    for largest, k in ((True, 5), (False, 1), (True, 0)):  # k = 0: nothing may be written at all
        cases.append((f"top_k_rows_kernel(largest={largest}, k={k})", KSel.top_k_rows_kernel,
                      KSel.top_k_rows_kernel_ref, (r(3, 40), k, largest, np.empty((3, k), dtype),
                                                   np.empty((3, k), np.int64))))
    rows, cols = 5, 9
    rstd = np.abs(rng.standard_normal(rows)) + 0.5
    cases.append(("layer_norm_forward_kernel", KLN.layer_norm_forward_kernel, KLN.layer_norm_forward_kernel_ref,
                  (r(rows, cols), r(cols), r(cols), 1e-5, np.empty((rows, cols), dtype), np.empty((rows, cols), dtype),
                   np.empty(rows, np.float64))))
    cases.append(("layer_norm_backward_kernel", KLN.layer_norm_backward_kernel, KLN.layer_norm_backward_kernel_ref,
                  (r(rows, cols), r(rows, cols), rstd, r(cols), np.empty((rows, cols), dtype), np.empty(cols, dtype),
                   np.empty(cols, dtype))))
    cases.append(("softmax_backward_rows_kernel", KSM.softmax_backward_rows_kernel,
                  KSM.softmax_backward_rows_kernel_ref, (np.abs(r(4, 9)), r(4, 9), np.empty((4, 9), dtype))))
    cases.append(("add_scaled_kernel", KO.add_scaled_kernel, KO.add_scaled_kernel_ref, (r(n), r(n), dtype.type(-0.5))))
    cases.append(("transpose_kernel", KT.transpose_kernel, KT.transpose_kernel_ref,
                  (r(19, 11), np.empty((11, 19), dtype))))
    cases.append(("mse_sum", KL.mse_sum, KL.mse_sum_ref, (r(n), r(n))))
    cases.append(("mse_grad", KL.mse_grad, KL.mse_grad_ref, (r(n), r(n), 0.25, np.empty(n, dtype))))
    for first in (True, False):
        cases.append((f"sgd_step(first={first})", KO.sgd_step, KO.sgd_step_ref,
                      (r(n), r(n), r(n), t(0.1), t(0.9), t(0.9), t(0.01), True, False, first)))
    for amsgrad in (False, True):
        s = KO.adam_scalars(dtype, 1e-2, 0.9, 0.999, 1e-8, 0.01, 3)
        cases.append((f"adam_step(amsgrad={amsgrad})", KO.adam_step, KO.adam_step_ref,
                      (r(n), r(n), r(n) * 0.1, np.abs(r(n)) * 0.1, np.abs(r(n)), *s, amsgrad, False, amsgrad)))
    for mode in ("lstm", "gru", "rnn"):
        for kind in ("step", "sequence"):
            for direction in ("forward", "backward"):
                name = f"{mode}_{kind}_{direction}"
                for reverse, lengths in ((False, None), (True, [3, 1, 2])):
                    args = KR.example_args(name, dtype, n_time=3, batch=3, hidden=3 if small else 5,
                                           reverse=reverse, lengths=lengths, relu=mode == "rnn" and reverse,
                                           seed=int(rng.integers(1000)))
                    cases.append((f"{name}(reverse={reverse})", getattr(KR, name), getattr(KR, name + "_ref"), args))
            if kind == "sequence":  # wide enough that float32 steps go through kernels/gemm.py
                for direction in ("forward", "backward"):
                    name = f"{mode}_sequence_{direction}"
                    hidden = {"lstm": 16, "gru": 22, "rnn": 64}[mode]
                    args = KR.example_args(name, dtype, n_time=2, batch=5, hidden=hidden, lengths=[2, 0, 1, 2, 2],
                                           seed=int(rng.integers(1000)))
                    cases.append((f"{name}(gemm)", getattr(KR, name), getattr(KR, name + "_ref"), args))
    for direction in ("forward", "backward"):  # split by blocks of hidden units (tiles, and a ragged block)
        name = f"lstm_sequence_{direction}_parallel"
        for hidden, block in ((5, 2), (70, 64)):
            args = KR.example_args(name, dtype, n_time=2, batch=5, hidden=hidden, lengths=[2, 0, 1, 2, 2],
                                   reverse=hidden == 5, seed=int(rng.integers(1000)), unit_block=block)
            cases.append((f"{name}(hidden={hidden})", getattr(KR, name), getattr(KR, name + "_ref"), args))
    for mode in ("lstm", "gru", "rnn"):  # split by blocks of rows (uneven blocks; 70 units: several panels)
        for direction in ("forward", "backward"):
            name = f"{mode}_sequence_{direction}_rows"
            for hidden in (5, 70):
                args = KR.example_args(name, dtype, n_time=2, batch=9, hidden=hidden,
                                       lengths=[2, 0, 1, 2, 2, 1, 2, 2, 0], reverse=hidden == 5,
                                       relu=mode == "rnn" and hidden == 70, seed=int(rng.integers(1000)))
                cases.append((f"{name}(hidden={hidden})", getattr(KR, name), getattr(KR, name + "_ref"), args))
    a, b = r(5, 3), r(3, 70)  # a partial block of rows, columns left after the last full panel
    cases.append(("matmul", KG.matmul, KG.matmul_ref, (a, b, np.empty((5, 70), dtype))))
    cases.append(("matmul_cols", KG.matmul_cols, KG.matmul_cols_ref, (a, b, r(5, 70), 3, 68)))
    a_data, b = r(130, 6), r(130, 70)  # a transposed `a`, and an inner dimension across two K_BLOCKs
    cases.append(("matmul_blocks", KGB.matmul_blocks, KGB.matmul_blocks_ref,
                  (a_data, True, b, False, np.empty((6, 70), dtype), np.array(KP.split_blocks(6, 70, 2)),
                   KP.panel_scratch(np.array(KP.split_blocks(6, 70, 2)), 130, KG.tile_shape(dtype)[1], dtype))))
    a, b_data = r(6, 130), r(70, 130)  # a transposed `b` (Linear's W.T)
    cases.append(("matmul_blocks(b transposed)", KGB.matmul_blocks, KGB.matmul_blocks_ref,
                  (a, False, b_data, True, np.empty((6, 70), dtype), np.array(KP.split_blocks(6, 70, 2)),
                   np.empty(0, dtype))))
    for w, transposed, parts in ((r(70, 9), True, 2), (r(9, 70), False, 3)):  # a ragged last panel
        cases.append((f"packed_weight(transposed={transposed})", _panels_only(KR.packed_weight),
                      _panels_only(KR.packed_weight_ref), (w, transposed, parts)))
    a, w, b = r(3, 9), r(70, 9), r(9, 70)  # groups of four and the rest, in K and in the columns
    cases.append(("matmul_few_rows", KV.matmul_few_rows, KV.matmul_few_rows_ref, (a, w, True, r(3, 70), 2)))
    cases.append(("matmul_few_rows(b in rows)", KV.matmul_few_rows, KV.matmul_few_rows_ref, (a, b, False, r(3, 70), 3)))
    if dtype == np.float32:  # float32 only: big float64 inputs go to NumPy
        for cols in (5, 37):  # a partial group of lanes only; full groups and a partial one
            cases.append((f"log_softmax_rows_parallel(cols={cols})", KSM.log_softmax_rows_parallel,
                          KSM.log_softmax_rows_parallel_ref, (r(3, cols) * 5, np.empty((3, cols), dtype))))
            cases.append((f"softmax_rows_parallel(cols={cols})", KSM.softmax_rows_parallel,
                          KSM.softmax_rows_parallel_ref, (r(3, cols) * 5, np.empty((3, cols), dtype))))
            cases.append((f"log_softmax_rows_vector(cols={cols})", KSM.log_softmax_rows_vector,
                          KSM.log_softmax_rows_vector_ref, (r(3, cols) * 5, np.empty((3, cols), dtype))))
            cases.append((f"softmax_rows_vector(cols={cols})", KSM.softmax_rows_vector,
                          KSM.softmax_rows_vector_ref, (r(3, cols) * 5, np.empty((3, cols), dtype))))
            y = KSM.log_softmax_rows_ref(r(3, cols) * 5)
            cases.append((f"log_softmax_backward_rows_parallel(cols={cols})",
                          KSM.log_softmax_backward_rows_parallel, KSM.log_softmax_backward_rows_parallel_ref,
                          (y, r(3, cols), np.empty((3, cols), dtype))))
            cases.append((f"log_softmax_backward_rows_vector(cols={cols})",
                          KSM.log_softmax_backward_rows_vector, KSM.log_softmax_backward_rows_vector_ref,
                          (y, r(3, cols), np.empty((3, cols), dtype))))
    return cases


def run_direct_case(name: str, kernel: Any, ref: Callable, args: tuple, dtype: Any, rng: np.random.Generator) -> None:
    """Kernel on canaried copies of ``args`` vs the reference on plain copies; canaries untouched.

    An argument named ``scratch`` is the kernel's working memory: what it holds afterwards is not
    compared (the reference needs none), but it must stay inside it like any other array.
    """
    canaries = _Canaried()
    ours = tuple(canaries.embed(a, rng) for a in args)
    theirs = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)
    got = kernel(*ours)
    want = ref(*theirs)
    if got is not None or want is not None:
        np.testing.assert_allclose(got, want, **_tol(dtype), err_msg=f"{name}: return value")
    names = list(inspect.signature(getattr(kernel, "py_func", kernel)).parameters)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if isinstance(a, np.ndarray) and names[k] != "scratch":
            np.testing.assert_allclose(a, b, **_tol(dtype), err_msg=f"{name}: argument {k}")
            if a.dtype.kind == "f":
                assert not (np.isnan(a) & ~np.isnan(b)).any(), f"{name}: argument {k} read a canary (NaN)"
    canaries.check_untouched(name)


def all_kernels() -> set[str]:
    """Qualified names of every registered kernel (importing every kernel module first)."""
    import minigrad.kernels as K
    from minigrad.kernels._jit import REGISTRY

    for module in (*K.KERNEL_MODULES, "minigrad.kernels.loss"):
        importlib.import_module(module)
    return {k.py_func.__name__ for k in REGISTRY}


def test_every_kernel_has_a_direct_case() -> None:
    covered = {name.split("(")[0] for dtype in (np.float32, np.float64)
               for name, *_ in direct_cases(dtype, np.random.default_rng(0))}
    missing = all_kernels() - covered
    assert not missing, f"kernels without an out-of-bounds check in tests/test_properties.py: {sorted(missing)}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_kernels_stay_inside_their_arrays(dtype: Any) -> None:
    rng = np.random.default_rng(1)
    for name, kernel, ref, args in direct_cases(dtype, rng):
        run_direct_case(name, kernel, ref, args, dtype, rng)


# ---- odd strides through the public wrappers and ops

@settings(max_examples=12, **SETTINGS)
@given(st.sampled_from([np.float32, np.float64]), st.sampled_from([3, 5, -3]), st.integers(0, 4),
       st.integers(0, 5))
def test_activation_and_softmax_wrappers_on_odd_strides(dtype: Any, step: int, start: int, extra: int) -> None:
    rng = np.random.default_rng(extra)
    n = KSM.EXP_KERNEL_MAX_SIZE - 2 * extra - 1  # the kernel path (larger arrays go to NumPy), odd
    x = _strided((rng.standard_normal(n) * 8).astype(dtype), step, start)
    g = _strided(rng.standard_normal(n).astype(dtype), step, start)
    rows = _strided((rng.standard_normal((KSM.EXP_KERNEL_MAX_SIZE // 8 + extra, 7)) * 5).astype(dtype), step, start)
    before = [a.base.copy() for a in (x, g, rows)]
    np.testing.assert_allclose(KSM.softmax_rows(rows), KSM.softmax_rows_ref(rows.copy()), **_tol(dtype))
    np.testing.assert_allclose(KSM.log_softmax_rows(rows), KSM.log_softmax_rows_ref(rows.copy()), **_tol(dtype))
    np.testing.assert_allclose(KSM.softmax_rows(rows.T), KSM.softmax_rows_ref(rows.T.copy()), **_tol(dtype))
    # Through the public ops, with backward.
    t = mg.from_numpy(x).requires_grad_(True)
    (t.sigmoid() * mg.from_numpy(g)).sum().backward()
    s = _np_sigmoid(x.astype(np.float64))
    np.testing.assert_allclose(t.grad._array, g * s * (1 - s), **_tol(dtype))
    t = mg.from_numpy(x).requires_grad_(True)
    (t.tanh() * mg.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(t.grad._array, g * (1 - np.tanh(x.astype(np.float64)) ** 2), **_tol(dtype))
    t = mg.from_numpy(rows).requires_grad_(True)
    t.log_softmax(-1).sum().backward()
    np.testing.assert_allclose(t.grad._array, 1 - 7 * KSM.softmax_rows_ref(rows.copy()), **_tol(dtype))
    for a, b in zip((x, g, rows), before):
        np.testing.assert_array_equal(a.base, b)  # neither the kernels nor the ops write into their inputs


@settings(max_examples=10, **SETTINGS)
@given(st.sampled_from([np.float32, np.float64]), st.sampled_from([3, -3, 5]), st.integers(0, 3))
def test_scatter_and_embedding_on_odd_strides(dtype: Any, step: int, start: int) -> None:
    rng = np.random.default_rng(start)
    idx = _strided(rng.integers(0, 6, 11).astype(np.int64), step, start)
    src = _strided(rng.standard_normal((11, 4)).astype(dtype), step, start)
    canaries = _Canaried()
    out = canaries.embed(np.zeros((6, 4), dtype), rng)
    expected = np.zeros((6, 4), dtype)
    KS.scatter_add_rows(out, idx, src)
    KS.scatter_add_rows_ref(expected, idx.copy(), src.copy())
    np.testing.assert_allclose(out, expected, **_tol(dtype))
    canaries.check_untouched("scatter_add_rows")
    # Embedding backward is a scatter-add: gather rows with a strided index tensor.
    emb = mg.nn.Embedding(6, 4, dtype=dtype)
    emb(mg.from_numpy(idx)).sum().backward()
    np.testing.assert_allclose(emb.weight.grad._array.sum(1), np.bincount(idx, minlength=6) * 4.0, **_tol(dtype))


@settings(max_examples=10, **SETTINGS)
@given(st.sampled_from([np.float32, np.float64]), st.sampled_from([3, -3]), st.floats(0.0, 0.2))
def test_cross_entropy_on_odd_strides(dtype: Any, step: int, smoothing: float) -> None:
    rng = np.random.default_rng(int(smoothing * 1000))
    x = _strided((rng.standard_normal((9, 5)) * 4).astype(dtype), step, 1)
    target = _strided(rng.integers(0, 5, 9).astype(np.int64), step, 2)
    t = mg.from_numpy(x).requires_grad_(True)
    loss = mg.nn.functional.cross_entropy(t, mg.from_numpy(target), label_smoothing=smoothing, reduction="sum")
    loss.backward()
    lse, per_row = np.empty(9, dtype), np.empty(9, dtype)
    KL.cross_entropy_fwd_ref(x.copy(), target.copy(), np.ones(5, dtype), -100, smoothing, lse, per_row)
    np.testing.assert_allclose(loss.item(), per_row.sum(), **_tol(dtype))
    dx = np.empty((9, 5), dtype)
    KL.cross_entropy_bwd_ref(x.copy(), target.copy(), np.ones(5, dtype), -100, smoothing, lse, np.ones(9), dx)
    np.testing.assert_allclose(t.grad._array, dx, **_tol(dtype))


@settings(max_examples=8, **SETTINGS)
@given(st.sampled_from(["lstm", "gru", "rnn_tanh", "rnn_relu"]), st.sampled_from([np.float32, np.float64]),
       st.booleans(), st.sampled_from([3, 40]))
def test_fused_layers_on_strided_inputs_match_reference(mode: str, dtype: Any, bidirectional: bool,
                                                        batch: int) -> None:
    """Strided x and h0 through the fused layers (sequence kernels for small B*H, step kernels for large)."""
    kind = {"lstm": mg.nn.LSTM, "gru": mg.nn.GRU}.get(mode, mg.nn.RNN)
    kw = {"nonlinearity": mode[4:]} if mode.startswith("rnn") else {}
    hidden = 16
    mg.manual_seed(3)
    fused = kind(5, hidden, bidirectional=bidirectional, dtype=dtype, **kw)
    ref = kind(5, hidden, bidirectional=bidirectional, dtype=dtype, impl="reference", **kw)
    ref.load_state_dict(fused.state_dict())
    rng = np.random.default_rng(batch)
    d = 2 if bidirectional else 1
    x = _strided(rng.standard_normal((4, batch, 5)).astype(dtype), -3, 2)
    h0 = _strided(rng.standard_normal((d, batch, hidden)).astype(dtype), 3, 1)
    c0 = _strided(rng.standard_normal((d, batch, hidden)).astype(dtype), 5, 0)
    results = []
    for layer in (fused, ref):
        xs, hs, cs = (mg.from_numpy(a.copy() if layer is ref else a).requires_grad_(True) for a in (x, h0, c0))
        out, state = layer(xs, (hs, cs) if mode == "lstm" else hs)
        h_n = state[0] if mode == "lstm" else state
        (out.sum() + (h_n * h_n).sum()).backward()
        grads = [p.grad._array for p in layer.parameters()] + [xs.grad._array, hs.grad._array]
        results.append((out._array, h_n._array, grads))
    tol = {"rtol": 2e-4, "atol": 2e-5} if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-10}
    np.testing.assert_allclose(results[0][0], results[1][0], **tol)
    np.testing.assert_allclose(results[0][1], results[1][1], **tol)
    for a, b in zip(results[0][2], results[1][2]):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_optimizers_on_strided_parameters(dtype: Any) -> None:
    """Parameters and gradients as odd-strided views: the fused update equals the NumPy reference."""
    rng = np.random.default_rng(0)
    for make in (lambda ps, impl: mg.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01,
                                               impl=impl),
                 lambda ps, impl: mg.optim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1, impl=impl),
                 lambda ps, impl: mg.optim.AdamW(ps, lr=0.01, impl=impl)):
        values0 = rng.standard_normal((3, 7)).astype(dtype)
        p_fused = mg.nn.Parameter(mg.from_numpy(_strided(values0, 3, 2)))
        p_ref = mg.nn.Parameter(mg.from_numpy(values0.copy()))
        view = p_fused._array
        opt_f, opt_r = make([p_fused], "fused"), make([p_ref], "reference")
        for _ in range(3):
            g = rng.standard_normal((3, 7)).astype(dtype)
            p_fused.grad = mg.from_numpy(_strided(g, -3, 1))
            p_ref.grad = mg.from_numpy(g.copy())
            opt_f.step()
            opt_r.step()
        np.testing.assert_allclose(p_fused._array, p_ref._array, **_tol(dtype))
        assert p_fused._array is view  # updated in place, in its own (strided) memory
        assert np.isnan(view.base[..., :2]).all()  # the gaps around the view were not written


# ---- the same direct kernel calls with Numba's bounds checking on

@pytest.mark.slow
def test_kernels_under_numba_boundscheck(tmp_path: Path) -> None:
    """NUMBA_BOUNDSCHECK=1 makes every out-of-bounds index an IndexError (fresh cache: recompiled)."""
    script = textwrap.dedent("""
        import sys
        import numpy as np
        sys.path.insert(0, {tests!r})
        import numba
        assert numba.config.BOUNDSCHECK, "NUMBA_BOUNDSCHECK not active"
        from test_properties import direct_cases, run_direct_case
        rng = np.random.default_rng(5)
        cases = direct_cases(np.float64, rng, small=True)
        for name, kernel, ref, args in cases:
            run_direct_case(name, kernel, ref, args, np.float64, rng)
        # An out-of-bounds index really is caught: the scatter kernel with a bad row.
        from minigrad.kernels.scatter import scatter_add_rows_kernel
        try:
            scatter_add_rows_kernel(np.zeros((2, 2)), np.array([5], np.int64), np.ones((1, 2)))
        except IndexError:
            print("ok", len(cases))
        else:
            raise SystemExit("boundscheck did not catch an out-of-bounds write")
    """).format(tests=str(ROOT / "tests"))
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "numba_cache"))
    env.pop("NUMBA_DISABLE_JIT", None)
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-4000:]
