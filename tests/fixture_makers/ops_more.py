"""The second op catalog: the tensor API that recurrent-model scripts use (tests/fixtures/ops_more.npz).

Same ``Case`` format as tests/fixture_makers/ops.py (``fn(L, *xs)`` written once for torch and
minigrad) and the same three uses: PyTorch parity from the fixture and live, and finite-difference
gradient checks on non-contiguous inputs (tests/test_ops_more.py). Outputs here are the
differentiable ones (``topk(...).values``); indices are compared by their own tests.

Regenerate (needs torch==2.13.0)::

    .venv/bin/python tests/make_fixtures.py ops_more
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fixture_makers.ops import C, Case, away, distinct, n, pos, write_catalog

FIXTURE = "ops_more"

IDX_GATHER = np.array([[0, 3, 3], [1, 0, 2], [3, 3, 3]])          # repeats: gradients add up
IDX_SCATTER = np.array([[2, 0], [1, 3], [0, 2]])                  # no repeats within a row
IDX_SCATTER_ADD = np.array([[0, 1, 0, 2], [2, 2, 1, 0]])          # repeats: sums
MASK = np.array([[True, False, False, True], [False, False, True, False], [True, True, False, False]])
MASK_ROW = np.array([False, True, True, False])
ZEROS_AT = np.array([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]])  # zeros for prod/cumprod

CASES: list[Case] = [
    # ------------------------------------------------------------------ sorting
    C("topk_values", lambda L, x: x.topk(2, dim=1).values, distinct(3, 4)),
    C("topk_smallest_dim0", lambda L, x: x.topk(2, dim=0, largest=False).values, distinct(3, 4)),
    C("topk_fn_3d", lambda L, x: L.topk(x, 3).values, distinct(2, 3, 4)),
    C("topk_one", lambda L, x: x.topk(1, dim=0).values, distinct(3, 4)),  # k = 1 takes no sort
    C("sort_values", lambda L, x: x.sort(dim=0, descending=True).values, distinct(3, 4)),
    C("sort_fn_last", lambda L, x: L.sort(x).values, distinct(2, 3, 4)),
    # ------------------------------------------------------------------ gather family
    C("gather_dim1", lambda L, x: L.gather(x, 1, L.tensor(IDX_GATHER)), n(3, 4)),
    C("gather_dim0", lambda L, x: x.gather(0, L.tensor(IDX_GATHER[:2, :3] % 3)), n(3, 4)),
    C("scatter_src", lambda L, x, s: x.scatter(1, L.tensor(IDX_SCATTER), s), n(3, 4), n(3, 2)),
    C("scatter_value", lambda L, x: L.scatter(x, 1, L.tensor(IDX_SCATTER), 2.5), n(3, 4)),
    C("scatter_add", lambda L, x, s: x.scatter_add(0, L.tensor(IDX_SCATTER_ADD), s), n(3, 4), n(2, 4)),
    C("index_select_repeat", lambda L, x: x.index_select(1, L.tensor([2, 0, 2])), n(3, 4)),
    C("index_select_fn_dim0", lambda L, x: L.index_select(x, 0, L.tensor([1, 1, 0])), n(3, 4)),
    C("index_put", lambda L, x, v: x.index_put((L.tensor([0, 2]),), v), n(3, 4), n(2, 4)),
    C("index_put_broadcast", lambda L, x, v: L.index_put(x, (L.tensor([1]), L.tensor([3])), v), n(3, 4), n()),
    C("index_put_accumulate", lambda L, x, v: x.index_put((L.tensor([0, 0, 2]),), v, accumulate=True),
      n(3, 4), n(3, 4)),
    C("masked_fill", lambda L, x: x.masked_fill(L.tensor(MASK), -1.0), n(3, 4)),
    C("masked_fill_broadcast", lambda L, x: L.masked_fill(x, L.tensor(MASK_ROW), 0.0), n(3, 4)),
    C("masked_fill_tensor_value", lambda L, x, v: x.masked_fill(L.tensor(MASK), v), n(3, 4), n()),
    # ------------------------------------------------------------------ views and rearranging
    C("narrow", lambda L, x: x.narrow(1, 1, 2), n(3, 4)),
    C("narrow_negative_start", lambda L, x: L.narrow(x, 0, -2, 2), n(3, 4)),
    C("unbind", lambda L, x: x.unbind(1), n(3, 4)),
    C("unbind_fn", lambda L, x: L.unbind(x), n(2, 3)),
    C("flip", lambda L, x: x.flip(0, 1), n(3, 4)),
    C("flip_fn", lambda L, x: L.flip(x, [2]), n(2, 3, 4)),
    C("repeat", lambda L, x: x.repeat(2, 1, 3), n(3, 4)),
    C("repeat_same_dims", lambda L, x: x.repeat(1, 2), n(3, 4)),
    C("roll", lambda L, x: x.roll(1, 1), n(3, 4)),
    C("roll_two_dims", lambda L, x: L.roll(x, (1, -2), (0, 1)), n(3, 4)),
    C("roll_flat", lambda L, x: x.roll(5), n(3, 4)),
    C("view_as", lambda L, x: x.view_as(L.zeros(4, 3)), n(3, 4)),
    C("reshape_as", lambda L, x: x.reshape_as(L.zeros(2, 6)), n(3, 4)),
    C("expand_as", lambda L, x: x.expand_as(L.zeros(2, 3, 4)), n(3, 1)),
    # ------------------------------------------------------------------ scans and products
    C("cumsum", lambda L, x: x.cumsum(1), n(3, 4)),
    C("cumsum_fn_dim0", lambda L, x: L.cumsum(x, dim=0), n(3, 4)),
    C("cumprod", lambda L, x: x.cumprod(1), n(3, 4)),
    C("cumprod_with_zeros", lambda L, x: (x * L.tensor(ZEROS_AT, dtype=x.dtype)).cumprod(1), n(3, 4)),
    C("prod_all", lambda L, x: x.prod(), n(3, 4)),
    C("prod_dim", lambda L, x: L.prod(x, 1), n(3, 4)),
    C("prod_dim_keepdim", lambda L, x: x.prod(0, keepdim=True), n(3, 4)),
    C("prod_with_zeros", lambda L, x: (x * L.tensor(ZEROS_AT, dtype=x.dtype)).prod(1), n(3, 4)),
    C("prod_with_zeros_all", lambda L, x: (x * L.tensor(ZEROS_AT, dtype=x.dtype)).prod(), n(3, 4)),
    C("std_all", lambda L, x: x.std(), n(3, 4)),
    C("std_dim", lambda L, x: x.std(dim=1), n(3, 4)),
    C("std_correction0_keepdim", lambda L, x: x.std(dim=0, correction=0, keepdim=True), n(3, 4)),
    C("std_fn", lambda L, x: L.std(x, dim=(0, 1)), n(2, 3, 4)),
    # ------------------------------------------------------------------ unary math
    C("log1p", lambda L, x: x.log1p(), pos(3, 4)),
    C("expm1", lambda L, x: L.expm1(x), n(3, 4)),
    C("sin", lambda L, x: x.sin(), n(3, 4)),
    C("cos", lambda L, x: L.cos(x), n(3, 4)),
    C("reciprocal", lambda L, x: x.reciprocal(), pos(3, 4)),
    C("rsqrt", lambda L, x: L.rsqrt(x), pos(3, 4)),
    C("square", lambda L, x: x.square(), n(3, 4)),
    C("floor_plus_x", lambda L, x: x.floor() + x, away(3, 4)),
    C("round_decimals", lambda L, x: L.round(x, decimals=1) * x, away(3, 4), gradcheck=False),
    C("sign_times_x", lambda L, x: x.sign() * x, away(3, 4)),
    C("ceil_trunc_plus_x", lambda L, x: x.ceil() + L.trunc(x) * x + x, away(3, 4)),
    C("tan_atan", lambda L, x: (x * 0.5).tan() + L.atan(x * 2.0), n(3, 4)),
    C("asin_acos", lambda L, x: (x.tanh() * 0.9).asin() * L.acos(x.tanh() * 0.8), n(3, 4)),
    C("sinh_cosh", lambda L, x: x.sinh() + L.cosh(x) * x, n(3, 4)),
    C("log2_log10", lambda L, x: x.log2() + L.log10(x) * x, pos(3, 4)),
    C("neg_method", lambda L, x: x.neg() * x, n(3, 4)),
    C("amax_dims", lambda L, x: x.amax(dim=(0, 2)) + L.amin(x, 2).sum(0), distinct(2, 3, 4)),
    C("amax_all_keepdim", lambda L, x: x.amax(keepdim=True) * x, distinct(3, 4)),
    C("dot_mv", lambda L, a, m: L.dot(a, a * 2.0) + L.mv(m, a).sum() + m.mv(a)[0], n(4), n(3, 4)),
    C("where_method", lambda L, x, y: x.where(L.tensor(MASK), y), n(3, 4), n(4)),
    C("index_add_repeats", lambda L, x, s: x.index_add(0, L.tensor([2, 0, 2]), s, alpha=1.5), n(3, 4), n(3, 4)),
    C("index_add_dim1", lambda L, x, s: L.index_add(x, 1, L.tensor([3, 1]), s), n(3, 4), n(3, 2)),
    C("index_copy", lambda L, x, s: x.index_copy(1, L.tensor([2, 0]), s), n(3, 4), n(3, 2)),
    C("index_fill", lambda L, x: L.index_fill(x, 1, L.tensor([1, 3]), -2.0) * x, n(3, 4)),
    C("repeat_interleave", lambda L, x: x.repeat_interleave(L.tensor([2, 0, 1]), dim=0) * 1.5, n(3, 4)),
    C("repeat_interleave_flat", lambda L, x: L.repeat_interleave(x, 2), n(2, 3)),
    C("silu_logsigmoid", lambda L, x: L.nn.functional.silu(x) + L.nn.functional.logsigmoid(x * 3.0), n(3, 4)),
    C("hardtanh_relu6", lambda L, x: L.nn.functional.hardtanh(x * 2.0, -1.5, 2.0) + L.nn.functional.relu6(x * 4.0),
      away(3, 4)),
    C("normalize", lambda L, x: L.nn.functional.normalize(x) + L.nn.functional.normalize(x, p=1.0, dim=0), n(3, 4)),
    C("cosine_similarity", lambda L, a, b: L.nn.functional.cosine_similarity(a, b) * 2.0 +
      L.nn.functional.cosine_similarity(a, b[:1], dim=0).sum(), n(3, 4), n(3, 4)),
    # ------------------------------------------------------------------ arithmetic forms
    C("add_alpha", lambda L, a, b: a.add(b, alpha=2.5), n(3, 4), n(4)),
    C("sub_alpha_fn", lambda L, a, b: L.sub(a, b, alpha=0.5), n(3, 1), n(3, 4)),
    C("mul_fn", lambda L, a, b: L.mul(a, b), n(3, 4), n(3, 1)),
    C("div_method", lambda L, a, b: a.div(b), n(3, 4), pos(4)),
    C("div_floor_plus_a", lambda L, a, b: L.div(a, b, rounding_mode="floor") + a, n(3, 4), pos(3, 4)),
    C("div_trunc_plus_b", lambda L, a, b: a.div(b, rounding_mode="trunc") * 0.0 + b, n(3, 4), pos(3, 4)),
    C("remainder_op", lambda L, a, b: a % b, n(3, 4), pos(4)),
    C("remainder_negative_divisor", lambda L, a, b: L.remainder(a, -b), n(3, 4), pos(3, 1)),
    C("remainder_number", lambda L, a: (a * 3.0) % 0.7, n(3, 4)),
    C("fmod", lambda L, a, b: a.fmod(b) + L.fmod(-a, b), n(3, 4), pos(3, 4)),
    C("clamp_tensor_min", lambda L, x, lo: x.clamp(min=lo), away(3, 4), away(4)),
    C("clamp_tensor_bounds", lambda L, x, lo, hi: L.clamp(x, lo, hi), away(3, 4), away(4), away(3, 1)),
    C("clamp_min_fn", lambda L, x: L.clamp_min(x, 0.5), away(3, 4)),
    C("type_as", lambda L, x: x.type_as(L.zeros(1, dtype=L.float64)) * 2.0, n(3, 4)),
    # ------------------------------------------------------------------ matrix products
    C("mm", lambda L, a, b: L.mm(a, b), n(3, 4), n(4, 2)),
    C("mm_method", lambda L, a, b: a.mm(b), n(2, 3), n(3, 3)),
    C("bmm", lambda L, a, b: L.bmm(a, b), n(2, 3, 4), n(2, 4, 5)),
    C("einsum_matmul", lambda L, a, b: L.einsum("ij,jk->ik", a, b), n(3, 4), n(4, 2)),
    C("einsum_batched", lambda L, a, b: L.einsum("bij,bjk->bik", a, b), n(2, 3, 4), n(2, 4, 2)),
    C("einsum_diagonal", lambda L, a: L.einsum("ii->i", a), n(3, 3)),
    C("einsum_trace", lambda L, a: L.einsum("ii", a), n(3, 3)),
    C("einsum_outer", lambda L, a, b: L.einsum("i,j->ij", a, b), n(3), n(4)),
    C("einsum_sum_all", lambda L, a: L.einsum("ij->", a), n(3, 4)),
    C("einsum_implicit", lambda L, a, b: L.einsum("ij,jk", a, b), n(3, 4), n(4, 2)),
    C("einsum_ellipsis", lambda L, a, b: L.einsum("...ij,jk->...ik", a, b), n(2, 3, 4), n(4, 2)),
    C("einsum_list", lambda L, a, b: L.einsum("bi,bi->b", [a, b]), n(3, 4), n(3, 4)),
    C("einsum_broadcast_dim", lambda L, a, b: L.einsum("ij,ij->i", a, b), n(3, 4), n(1, 4)),
    C("einsum_three", lambda L, a, b, c: L.einsum("ij,jk,kl->il", a, b, c), n(2, 3), n(3, 4), n(4, 2)),
    C("matmul_zero_size", lambda L, a, b: a @ b, n(0, 3), n(3, 2)),
    C("matmul_1d_zero_k", lambda L, a, b: a @ b, n(0), n(0, 3)),
    C("matmul_1d_batched_zero", lambda L, a, b: a @ b, n(3), n(0, 3, 2)),
    # ------------------------------------------------------------------ PyTorch's index placement
    C("index_int_slice_array", lambda L, x: x[1, :, L.tensor([0, 2])], n(2, 3, 4)),
    C("index_mixed_ellipsis", lambda L, x: x[-1:, -3, ..., L.tensor([0, 1])], n(2, 3, 4, 5)),
    C("index_0d_tensor_int", lambda L, x: x[:, L.tensor(1), L.tensor([2, 0])], n(2, 3, 4)),
    # ------------------------------------------------------------------ triangles, outer products, padding
    C("tril", lambda L, x: L.tril(x), n(3, 4)),
    C("tril_diagonal_batch", lambda L, x: x.tril(-1), n(2, 4, 3)),
    C("triu_diagonal", lambda L, x: L.triu(x, 1), n(4, 3)),
    C("triu_method_batch", lambda L, x: x.triu(), n(2, 3, 3)),
    C("outer", lambda L, a, b: L.outer(a, b), n(3), n(4)),
    C("outer_method", lambda L, a, b: a.outer(b), n(2), n(5)),
    C("pad_constant", lambda L, x: L.nn.functional.pad(x, (2, 1)), n(2, 3, 4)),
    C("pad_constant_value_two_dims", lambda L, x: L.nn.functional.pad(x, (1, 0, 2, 1), value=1.5), n(2, 3, 4)),
    C("pad_negative_crops", lambda L, x: L.nn.functional.pad(x, (-1, 2, 1, -1)), n(2, 3, 4)),
    C("pad_reflect", lambda L, x: L.nn.functional.pad(x, (3, 2), mode="reflect"), n(2, 3, 4)),
    C("pad_reflect_two_dims", lambda L, x: L.nn.functional.pad(x, (1, 3, 2, 1), mode="reflect"), n(1, 2, 3, 4)),
    C("pad_replicate", lambda L, x: L.nn.functional.pad(x, (3, 1), mode="replicate"), n(2, 3, 4)),
    C("pad_circular", lambda L, x: L.nn.functional.pad(x, (2, 4), mode="circular"), n(2, 3, 4)),
]

NAMES = [c.name for c in CASES]
assert len(set(NAMES)) == len(NAMES), "duplicate case names"


def make(fixtures_dir: Path) -> list[Path]:
    return [write_catalog(fixtures_dir / f"{FIXTURE}.npz", CASES)]
