"""The op catalog, and the PyTorch fixture made from it (tests/fixtures/ops.npz).

Every differentiable op of API.md's "Tensors" section appears here as one or more ``Case``s:
a name, the input shapes with the *kind* of values each needs (see tests/strategies.py), and a
function ``fn(L, *xs)`` written once for both libraries -- ``L`` is ``torch`` or ``minigrad``,
which works because minigrad uses PyTorch's names. Integer and boolean index arrays are
constants inside ``fn`` (made with ``L.tensor``), so only float inputs are stored.

The same catalog drives three tests:

* tests/test_ops_parity.py   values and gradients against PyTorch, live and from the fixture;
* tests/test_ops_gradcheck.py finite differences on non-contiguous float64 inputs;
* this module's ``make``     writes, for every case, the float64 inputs, a random upstream
  gradient per output, PyTorch's outputs and input gradients, and PyTorch's float32 outputs.

Regenerate (needs torch==2.13.0, not minigrad)::

    .venv/bin/python tests/make_fixtures.py ops
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for strategies.py
from strategies import seeded_rng, values  # noqa: E402

FIXTURE = "ops"


@dataclass(frozen=True)
class Case:
    """One op call. ``inputs`` are (shape, kind) pairs; ``fn(L, *xs)`` returns a tensor or a tuple."""

    name: str
    fn: Callable[..., Any]
    inputs: tuple[tuple[tuple[int, ...], str], ...]
    gradcheck: bool = True                     # finite differences are meaningful for these values
    gradcheck_kw: dict = field(default_factory=dict)
    f32_tol: dict = field(default_factory=lambda: {"rtol": 2e-5, "atol": 2e-5})
    through_float32: bool = False              # float64 in and out, but float32 in the middle


def C(name: str, fn: Callable[..., Any], *inputs: tuple[tuple[int, ...], str], **kw: Any) -> Case:
    return Case(name, fn, tuple(inputs), **kw)


def n(*shape: int) -> tuple[tuple[int, ...], str]:
    return (shape, "n")


def pos(*shape: int) -> tuple[tuple[int, ...], str]:
    return (shape, "pos")


def away(*shape: int) -> tuple[tuple[int, ...], str]:
    return (shape, "away")


def distinct(*shape: int) -> tuple[tuple[int, ...], str]:
    return (shape, "distinct")


def ties(*shape: int) -> tuple[tuple[int, ...], str]:
    return (shape, "ties")


# Constant index/mask arrays (module-level so they are the same in every run).
IDX_REPEAT = np.array([2, 0, 2, 1, 2])
MASK_2D = np.array([[True, False, True, False, True],
                    [False, False, False, False, False],
                    [True, True, False, False, True],
                    [False, True, True, True, False]])
MASK_ROWS = np.array([True, False, True, True])
COND = np.array([[True, False, False, True],
                 [False, True, True, False],
                 [True, True, False, False]])
IDX_2D = np.array([[0, 3], [3, 3], [1, 0]])
CAST_KW = {"gradcheck_kw": {"eps": 1e-2, "atol": 1e-3, "rtol": 1e-2}}  # float32 in the middle

CASES: list[Case] = [
    # ------------------------------------------------------------------ + - * / ** and unary -
    C("add", lambda L, a, b: a + b, n(3, 4), n(3, 4)),
    C("add_broadcast", lambda L, a, b: a + b, n(2, 3, 4), n(3, 1)),
    C("add_0d", lambda L, a, b: a + b, n(3, 4), n()),
    C("add_0d_0d", lambda L, a, b: a + b, n(), n()),
    C("add_empty", lambda L, a, b: a + b, n(0, 3), n(3)),
    C("add_scalar", lambda L, a: a + 1.5, n(3, 4)),
    C("radd_scalar", lambda L, a: 1.5 + a, n(3, 4)),
    C("radd_int_scalar", lambda L, a: 2 + a, n(3)),
    C("add_self", lambda L, a: a + a, n(3, 4)),
    C("sub_broadcast", lambda L, a, b: a - b, n(4, 1), n(1, 5)),
    C("sub_scalar", lambda L, a: a - 0.5, n(3, 4)),
    C("rsub_scalar", lambda L, a: 2.0 - a, n(3, 4)),
    C("mul", lambda L, a, b: a * b, n(3, 4), n(3, 4)),
    C("mul_broadcast", lambda L, a, b: a * b, n(2, 1, 4), n(3, 1)),
    C("mul_scalar", lambda L, a: a * 3.0, n(3, 4)),
    C("rmul_int_scalar", lambda L, a: 3 * a, n(3, 4)),
    C("mul_self", lambda L, a: a * a, n(3, 4)),
    C("div", lambda L, a, b: a / b, n(3, 4), pos(3, 4)),
    C("div_broadcast", lambda L, a, b: a / b, n(3, 4), pos(4)),
    C("div_scalar", lambda L, a: a / 4.0, n(3, 4)),
    C("rdiv_scalar", lambda L, b: 2.0 / b, pos(3, 4)),
    C("neg", lambda L, a: -a, n(3, 4)),
    C("pow_scalar", lambda L, a: a**2.5, pos(3, 4)),
    C("pow_int", lambda L, a: a**2, n(3, 4)),
    C("pow_int3_negative_base", lambda L, a: a**3, n(3, 4)),
    C("pow_negative_exponent", lambda L, a: a**-1.5, pos(3, 4)),
    C("pow_zero", lambda L, a: a**0, n(3, 4)),
    C("pow_half", lambda L, a: a**0.5, pos(5)),
    C("pow_tensor", lambda L, a, b: a**b, pos(3, 4), n(3, 4)),
    C("pow_tensor_broadcast", lambda L, a, b: a**b, pos(3, 4), n(4)),
    C("rpow_scalar", lambda L, b: 2.0**b, n(3, 4)),
    C("pow_method", lambda L, a: a.pow(3), n(3, 4)),
    C("pow_method_tensor", lambda L, a, b: a.pow(b), pos(2, 3), n(2, 3)),
    C("pow_fn", lambda L, a, b: L.pow(a, b), pos(3), n(2, 1)),
    C("pow_fn_scalar_exponent", lambda L, a: L.pow(a, 2.0), n(3, 4)),
    C("chain_arith", lambda L, a, b: (a * b - a / (b + 3.0)) ** 2 + 1.0 - b, n(3, 4), pos(4)),
    # ------------------------------------------------------------------ matmul
    C("matmul_2d", lambda L, a, b: a @ b, n(3, 4), n(4, 5)),
    C("matmul_1d_1d", lambda L, a, b: a @ b, n(4), n(4)),
    C("matmul_1d_2d", lambda L, a, b: a @ b, n(4), n(4, 3)),
    C("matmul_2d_1d", lambda L, a, b: a @ b, n(3, 4), n(4)),
    C("matmul_batched", lambda L, a, b: a @ b, n(2, 3, 4), n(2, 4, 5)),
    C("matmul_broadcast_batch", lambda L, a, b: a @ b, n(2, 1, 3, 4), n(5, 4, 2)),
    C("matmul_3d_2d", lambda L, a, b: a @ b, n(2, 3, 4), n(4, 5)),
    C("matmul_2d_3d", lambda L, a, b: a @ b, n(3, 4), n(2, 4, 5)),
    C("matmul_3d_1d", lambda L, a, b: a @ b, n(2, 3, 4), n(4)),
    C("matmul_1d_3d", lambda L, a, b: a @ b, n(4), n(2, 4, 3)),
    C("matmul_fn", lambda L, a, b: L.matmul(a, b), n(3, 4), n(4, 2)),
    C("matmul_method", lambda L, a, b: a.matmul(b), n(2, 3, 4), n(4, 2)),
    C("matmul_self_t", lambda L, a: a @ a.T, n(3, 4)),
    # ------------------------------------------------------------------ reductions
    C("sum_all", lambda L, x: x.sum(), n(2, 3, 4)),
    C("sum_dim", lambda L, x: x.sum(dim=1), n(2, 3, 4)),
    C("sum_dim_negative", lambda L, x: x.sum(-1), n(2, 3, 4)),
    C("sum_dim_tuple", lambda L, x: x.sum(dim=(0, 2)), n(2, 3, 4)),
    C("sum_dim_tuple_keepdim", lambda L, x: x.sum(dim=(0, 2), keepdim=True), n(2, 3, 4)),
    C("sum_dim_keepdim", lambda L, x: x.sum(1, keepdim=True), n(2, 3, 4)),
    C("sum_0d", lambda L, x: x.sum(), n()),
    C("sum_empty", lambda L, x: x.sum(dim=0), n(0, 3)),
    C("sum_fn", lambda L, x: L.sum(x, dim=0), n(3, 4)),
    C("mean_all", lambda L, x: x.mean(), n(2, 3, 4)),
    C("mean_dim", lambda L, x: x.mean(dim=2), n(2, 3, 4)),
    C("mean_dim_tuple_keepdim", lambda L, x: x.mean(dim=(0, 1), keepdim=True), n(2, 3, 4)),
    C("mean_fn", lambda L, x: L.mean(x, dim=-1, keepdim=True), n(3, 4)),
    C("var_all", lambda L, x: x.var(), n(2, 3, 4)),
    C("var_dim", lambda L, x: x.var(dim=1), n(2, 3, 4)),
    C("var_dim_tuple_keepdim", lambda L, x: x.var(dim=(0, 2), keepdim=True), n(2, 3, 4)),
    C("var_biased", lambda L, x: x.var(dim=1, unbiased=False), n(3, 4)),
    C("var_correction0", lambda L, x: x.var(dim=0, correction=0), n(3, 4)),
    C("var_fn", lambda L, x: L.var(x, dim=-1), n(3, 4)),
    C("max_all", lambda L, x: x.max(), distinct(3, 4)),
    C("max_dim", lambda L, x: x.max(dim=1).values, distinct(2, 3, 4)),
    C("max_dim_keepdim", lambda L, x: x.max(dim=-1, keepdim=True)[0], distinct(2, 3, 4)),
    C("max_fn", lambda L, x: L.max(x, dim=0).values, distinct(3, 4)),
    C("max_fn_all", lambda L, x: L.max(x), distinct(3, 4)),
    C("max_all_ties", lambda L, x: x.max(), ties(3, 4), gradcheck=False),
    C("min_all", lambda L, x: x.min(), distinct(3, 4)),
    C("min_dim", lambda L, x: x.min(dim=0).values, distinct(3, 4)),
    C("min_dim_keepdim", lambda L, x: x.min(2, keepdim=True).values, distinct(2, 3, 4)),
    C("min_fn", lambda L, x: L.min(x, dim=1)[0], distinct(3, 4)),
    C("min_all_ties", lambda L, x: x.min(), ties(3, 4), gradcheck=False),
    # ------------------------------------------------------------------ elementwise math
    C("exp", lambda L, x: x.exp(), n(3, 4)),
    C("exp_fn", lambda L, x: L.exp(x), n(3, 4)),
    C("exp_0d", lambda L, x: x.exp(), n()),
    C("log", lambda L, x: x.log(), pos(3, 4)),
    C("log_fn", lambda L, x: L.log(x), pos(3, 4)),
    C("sqrt", lambda L, x: x.sqrt(), pos(3, 4)),
    C("sqrt_fn", lambda L, x: L.sqrt(x), pos(3, 4)),
    C("abs", lambda L, x: x.abs(), away(3, 4)),
    C("abs_fn", lambda L, x: L.abs(x), away(3, 4)),
    C("abs_builtin", lambda L, x: abs(x), away(3, 4)),
    C("tanh", lambda L, x: x.tanh(), n(3, 4)),
    C("tanh_fn", lambda L, x: L.tanh(x), n(3, 4)),
    C("tanh_saturated", lambda L, x: (x * 30).tanh(), n(3, 4)),
    C("tanh_large", lambda L, x: x.tanh(), n(64, 64), gradcheck=False),
    C("sigmoid", lambda L, x: x.sigmoid(), n(3, 4)),
    C("sigmoid_fn", lambda L, x: L.sigmoid(x), n(3, 4)),
    C("sigmoid_saturated", lambda L, x: (x * 40).sigmoid(), n(3, 4)),
    C("sigmoid_large", lambda L, x: (x * 10).sigmoid(), n(64, 64), gradcheck=False),
    C("relu", lambda L, x: x.relu(), away(3, 4)),
    C("relu_fn", lambda L, x: L.relu(x), away(3, 4)),
    C("clamp", lambda L, x: x.clamp(-0.5, 0.5), away(3, 4)),
    C("clamp_min", lambda L, x: x.clamp(min=-0.5), away(3, 4)),
    C("clamp_max", lambda L, x: x.clamp(max=1.0), away(3, 4)),
    C("clamp_fn", lambda L, x: L.clamp(x, min=-1.0, max=0.5), away(3, 4)),
    # ------------------------------------------------------------------ softmax family
    C("softmax", lambda L, x: x.softmax(dim=1), n(2, 3, 4)),
    C("softmax_last", lambda L, x: x.softmax(-1), n(2, 3, 4)),
    C("softmax_first", lambda L, x: x.softmax(0), n(2, 3, 4)),
    C("softmax_1d", lambda L, x: x.softmax(0), n(5)),
    C("softmax_fn", lambda L, x: L.softmax(x, dim=1), n(3, 4)),
    C("softmax_big_logits", lambda L, x: (x * 50).softmax(-1), n(3, 4)),
    C("softmax_large", lambda L, x: x.softmax(-1), n(64, 64), gradcheck=False),
    C("log_softmax", lambda L, x: x.log_softmax(dim=-1), n(2, 3, 4)),
    C("log_softmax_first", lambda L, x: x.log_softmax(0), n(2, 3, 4)),
    C("log_softmax_fn", lambda L, x: L.log_softmax(x, dim=1), n(3, 4)),
    C("log_softmax_big_logits", lambda L, x: (x * 50).log_softmax(-1), n(3, 4)),
    C("log_softmax_large", lambda L, x: x.log_softmax(0), n(64, 64), gradcheck=False),
    C("logsumexp", lambda L, x: x.logsumexp(dim=1), n(2, 3, 4)),
    C("logsumexp_keepdim", lambda L, x: x.logsumexp(dim=-1, keepdim=True), n(2, 3, 4)),
    C("logsumexp_dim_tuple", lambda L, x: x.logsumexp(dim=(0, 2)), n(2, 3, 4)),
    C("logsumexp_fn", lambda L, x: L.logsumexp(x, dim=0), n(3, 4)),
    C("logsumexp_big_logits", lambda L, x: (x * 100).logsumexp(dim=1), n(3, 4)),
    # ------------------------------------------------------------------ shape ops
    C("reshape", lambda L, x: x.reshape(4, 6), n(2, 3, 4)),
    C("reshape_minus_one", lambda L, x: x.reshape(-1, 2), n(2, 3, 4)),
    C("reshape_tuple", lambda L, x: x.reshape((6, 4)), n(2, 3, 4)),
    C("reshape_fn", lambda L, x: L.reshape(x, (3, 8)), n(2, 3, 4)),
    C("reshape_0d", lambda L, x: x.reshape(1, 1), n()),
    C("view", lambda L, x: x.view(6, 4), n(2, 3, 4)),
    C("view_flat", lambda L, x: x.view(-1), n(2, 3, 4)),
    C("transpose", lambda L, x: x.transpose(0, 2), n(2, 3, 4)),
    C("transpose_negative", lambda L, x: x.transpose(-1, -2), n(2, 3, 4)),
    C("transpose_fn", lambda L, x: L.transpose(x, 0, 1), n(2, 3, 4)),
    C("permute", lambda L, x: x.permute(2, 0, 1), n(2, 3, 4)),
    C("permute_tuple", lambda L, x: x.permute((1, 2, 0)), n(2, 3, 4)),
    C("permute_fn", lambda L, x: L.permute(x, (2, 1, 0)), n(2, 3, 4)),
    C("T_2d", lambda L, x: x.T, n(3, 4)),
    C("T_1d", lambda L, x: x.T, n(4)),
    C("squeeze_all", lambda L, x: x.squeeze(), n(3, 1, 4, 1)),
    C("squeeze_dim", lambda L, x: x.squeeze(1), n(3, 1, 4, 1)),
    C("squeeze_negative", lambda L, x: x.squeeze(-1), n(3, 1, 4, 1)),
    C("squeeze_noop", lambda L, x: x.squeeze(0), n(3, 1, 4, 1)),
    C("squeeze_fn", lambda L, x: L.squeeze(x, 1), n(3, 1, 4)),
    C("unsqueeze_front", lambda L, x: x.unsqueeze(0), n(3, 4)),
    C("unsqueeze_back", lambda L, x: x.unsqueeze(-1), n(3, 4)),
    C("unsqueeze_middle", lambda L, x: x.unsqueeze(1), n(3, 4)),
    C("unsqueeze_fn", lambda L, x: L.unsqueeze(x, 2), n(3, 4)),
    C("expand", lambda L, x: x.expand(2, 3, 4), n(3, 1)),
    C("expand_minus_one", lambda L, x: x.expand(-1, 5), n(3, 1)),
    C("expand_tuple", lambda L, x: x.expand((2, 4)), n(4)),
    C("expand_0d", lambda L, x: x.expand(3), n()),
    C("flatten", lambda L, x: x.flatten(), n(2, 3, 4)),
    C("flatten_start", lambda L, x: x.flatten(1), n(2, 3, 4)),
    C("flatten_range", lambda L, x: x.flatten(0, 1), n(2, 3, 4)),
    C("flatten_fn", lambda L, x: L.flatten(x), n(2, 3, 4)),
    C("cat_dim0", lambda L, a, b: L.cat([a, b], dim=0), n(2, 3), n(4, 3)),
    C("cat_dim1_three", lambda L, a, b, c: L.cat([a, b, c], dim=1), n(2, 3), n(2, 1), n(2, 2)),
    C("cat_negative_dim", lambda L, a, b: L.cat((a, b), dim=-1), n(2, 3, 1), n(2, 3, 2)),
    C("cat_same_tensor", lambda L, a: L.cat([a, a * 2.0, a], 0), n(2, 3)),
    C("stack_dim0", lambda L, a, b, c: L.stack([a, b, c]), n(2, 3), n(2, 3), n(2, 3)),
    C("stack_dim1", lambda L, a, b: L.stack([a, b], dim=1), n(2, 3), n(2, 3)),
    C("stack_negative_dim", lambda L, a, b: L.stack((a, b), dim=-1), n(2, 3), n(2, 3)),
    C("stack_same_tensor", lambda L, a: L.stack([a, a]), n(4)),
    C("where", lambda L, a, b: L.where(L.tensor(COND), a, b), n(3, 4), n(3, 4)),
    C("where_broadcast", lambda L, a, b: L.where(L.tensor(COND), a, b), n(3, 1), n(4)),
    C("where_scalar_other", lambda L, a: L.where(L.tensor(COND), a, 0.0), n(3, 4)),
    C("where_scalar_input", lambda L, b: L.where(L.tensor(COND), 1.5, b), n(3, 4)),
    C("where_from_comparison", lambda L, a, b: L.where(a > b, a, b), away(3, 4), away(3, 4)),
    C("split_size", lambda L, x: x.split(2, dim=1), n(4, 5)),
    C("split_sections", lambda L, x: x.split([1, 3], dim=0), n(4, 5)),
    C("split_fn", lambda L, x: L.split(x, 3), n(7, 2)),
    C("split_one_used", lambda L, x: x.split(2, dim=1)[1], n(4, 5)),
    C("chunk", lambda L, x: x.chunk(3, dim=1), n(4, 5)),
    C("chunk_dim0", lambda L, x: x.chunk(2), n(5, 3)),
    C("chunk_fn", lambda L, x: L.chunk(x, 2, dim=1), n(3, 4)),
    # ------------------------------------------------------------------ indexing
    C("index_int", lambda L, x: x[1], n(4, 5)),
    C("index_negative_int", lambda L, x: x[-1], n(4, 5)),
    C("index_two_ints", lambda L, x: x[1, 2], n(4, 5)),
    C("index_slice", lambda L, x: x[:, 1:3], n(4, 5)),
    C("index_slice_step", lambda L, x: x[::2], n(4, 5)),
    C("index_slices_mixed", lambda L, x: x[1:, ::2], n(4, 5)),
    C("index_ellipsis", lambda L, x: x[..., 1], n(2, 3, 4)),
    C("index_ellipsis_slice", lambda L, x: x[0, ..., 1:], n(2, 3, 4)),
    C("index_none", lambda L, x: x[None], n(4, 5)),
    C("index_none_middle", lambda L, x: x[:, None, :], n(4, 5)),
    C("index_none_ellipsis", lambda L, x: x[..., None], n(4, 5)),
    C("index_int_tensor_repeated", lambda L, x: x[L.tensor(IDX_REPEAT)], n(4, 5)),
    C("index_list_repeated", lambda L, x: x[[0, 0, 3]], n(4, 5)),
    C("index_list_negative", lambda L, x: x[[-1, 0, -1]], n(4, 5)),
    C("index_1d_repeated", lambda L, x: x[L.tensor(IDX_REPEAT)], n(4)),
    C("index_columns_repeated", lambda L, x: x[:, [1, 1, 4]], n(4, 5)),
    C("index_pairs", lambda L, x: x[[0, 2, 2], [1, 1, 3]], n(4, 5)),
    C("index_2d_int_tensor", lambda L, x: x[L.tensor(IDX_2D)], n(4, 5)),
    C("index_slice_and_list", lambda L, x: x[1:, [0, 2, 0]], n(3, 4, 5)),
    C("index_bool_mask", lambda L, x: x[L.tensor(MASK_2D)], n(4, 5)),
    C("index_bool_rows", lambda L, x: x[L.tensor(MASK_ROWS)], n(4, 5)),
    C("index_bool_from_comparison", lambda L, x: x[x > 0], away(4, 5)),
    # ------------------------------------------------------------------ casts
    C("float", lambda L, x: x.float(), n(3, 4), **CAST_KW),
    C("double", lambda L, x: x.double(), n(3, 4)),
    C("float_then_ops", lambda L, x: (x.float() * 2.0).tanh().double(), n(3, 4), through_float32=True,
      **CAST_KW),
]

NAMES = [c.name for c in CASES]
assert len(set(NAMES)) == len(NAMES), "duplicate case names"
CASES_BY_NAME = {c.name: c for c in CASES}


def case_inputs(case: Case) -> list[np.ndarray]:
    """The case's float64 input arrays, seeded by its name (C-contiguous)."""
    rng = seeded_rng("ops", case.name)
    out = []
    for shape, kind in case.inputs:
        if kind == "ties":  # few distinct values: many ties for max/min
            out.append(rng.integers(-1, 2, size=shape).astype(np.float64))
        else:
            out.append(values(rng, shape, kind))
    return out


def upstream_grads(case: Case, out_shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """One random upstream gradient per output (seeded by the case name)."""
    rng = seeded_rng("ops-grad", case.name)
    return [rng.standard_normal(s) for s in out_shapes]


def as_tuple(out: Any) -> tuple:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def run_torch(torch: Any, case: Case, arrays: list[np.ndarray], dtype: Any = None,
              grads: list[np.ndarray] | None = None) -> tuple[list[np.ndarray], list[str], list[np.ndarray] | None]:
    """PyTorch's outputs (as float64 arrays), their dtype names, and input grads (when ``grads``)."""
    dtype = dtype or torch.float64
    xs = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # x.T of a 1-D tensor is deprecated in PyTorch
        outs = as_tuple(case.fn(torch, *xs))
    values_ = [o.detach().double().numpy().copy() for o in outs]
    dtypes = [str(o.dtype).replace("torch.", "") for o in outs]
    if grads is None:
        return values_, dtypes, None
    torch.autograd.backward(list(outs), [torch.tensor(g, dtype=o.dtype) for o, g in zip(outs, grads)])
    in_grads = [x.grad.double().numpy().copy() if x.grad is not None else np.zeros(x.shape) for x in xs]
    return values_, dtypes, in_grads


def make(fixtures_dir: Path) -> list[Path]:
    return [write_catalog(fixtures_dir / f"{FIXTURE}.npz", CASES)]


def write_catalog(path: Path, cases: list[Case]) -> Path:
    """Run every case on PyTorch and store inputs, outputs, upstream and input gradients in ``path``."""
    import torch

    arrays: dict[str, np.ndarray] = {"__names__": np.array([c.name for c in cases])}
    for case in cases:
        xs = case_inputs(case)
        outs, _, _ = run_torch(torch, case, xs)
        gouts = upstream_grads(case, [o.shape for o in outs])
        outs, dtypes, in_grads = run_torch(torch, case, xs, grads=gouts)
        outs32, dtypes32, _ = run_torch(torch, case, xs, dtype=torch.float32)
        for i, x in enumerate(xs):
            arrays[f"{case.name}__x{i}"] = x
            arrays[f"{case.name}__grad{i}"] = in_grads[i]
        for j in range(len(outs)):
            arrays[f"{case.name}__gout{j}"] = gouts[j]
            arrays[f"{case.name}__out{j}"] = outs[j]
            arrays[f"{case.name}__dtype{j}"] = np.array(dtypes[j])
            arrays[f"{case.name}__out32_{j}"] = outs32[j]
            arrays[f"{case.name}__dtype32_{j}"] = np.array(dtypes32[j])
    np.savez_compressed(path, **arrays)
    return path
