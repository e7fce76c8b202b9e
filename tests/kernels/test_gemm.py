"""The register-tiled matmul of the sequence kernels (minigrad/kernels/gemm.py) against NumPy.

Shapes cover every path: full tiles, a partial last block of rows, columns left over after the
last full panel, fewer columns than one panel, one row, empty dimensions. Small on purpose: CI
runs this folder again with NUMBA_DISABLE_JIT=1 (plain Python loops).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from minigrad.kernels import cpu as CPU
from minigrad.kernels import gemm as G
from minigrad.kernels import gemm_blocks as GB
from minigrad.kernels import products as P
from minigrad.kernels import rnn as K

DTYPES = [np.float32, np.float64]


def _tol(dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-5} if np.dtype(dtype) == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 16, 64), (5, 7, 64), (3, 4, 130), (9, 3, 200), (1, 5, 64), (4, 6, 10),
                                   (2, 1, 65), (0, 3, 64), (3, 0, 64), (3, 4, 0),
                                   (5, 200, 100), (6, 130, 300),  # ragged last panel, several K blocks
                                   (7, 33, 28), (9, 300, 40), (3, 5, 17),  # narrower than the tile: vector by vector
                                   (32, 150, 128), (35, 130, 256), (40, 7, 512)])  # rows of b copied (L1 conflicts)
def test_matmul_matches_numpy(shape, dtype):
    m, k, n = shape
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    ours = np.full((m, n), np.nan, dtype)  # every element must be written
    ref = np.empty((m, n), dtype)
    G.matmul(a, b, ours)
    G.matmul_ref(a, b, ref)
    np.testing.assert_allclose(ours, ref, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_column_ranges(dtype):
    """gemm_cols writes exactly the columns it is given (the rest of ``out`` stays as it was)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 5)).astype(dtype)
    b = rng.standard_normal((5, 150)).astype(dtype)
    out = np.full((6, 150), 7.0, dtype)
    G.matmul_cols(a, b, out, 20, 149)
    np.testing.assert_allclose(out[:, 20:149], a @ b[:, 20:149], **_tol(dtype))
    assert (out[:, :20] == 7).all() and (out[:, 149:] == 7).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_copied_panel_blocks_give_what_b_in_place_gives(dtype):
    """Rows of ``b`` a multiple of ``CONFLICT_STRIDE_BYTES`` apart, ``COPY_BLOCK_MIN_ROWS`` rows of ``a``: the
    tiles read each block of a panel from its copy. A column range with a ragged last panel and two
    blocks of ``K``. Without its last row the product reads ``b`` in place: the same sums in the same
    order, so the rows both compute are equal bit for bit. (A tile narrower than ``COPY_MIN_TILE_BYTES``,
    AVX2's, reads ``b`` in place in both.)"""
    rng = np.random.default_rng(2)
    cols = G.CONFLICT_STRIDE_BYTES // np.dtype(dtype).itemsize * 2
    b = rng.standard_normal((G.K_BLOCK + 3, cols)).astype(dtype)
    a = rng.standard_normal((G.COPY_BLOCK_MIN_ROWS, b.shape[0])).astype(dtype)
    copied, in_place = np.full((len(a), cols), 7.0, dtype), np.full((len(a) - 1, cols), 7.0, dtype)
    G.matmul_cols(a, b, copied, 3, cols - 5)
    G.matmul_cols(a[:-1], b, in_place, 3, cols - 5)
    np.testing.assert_allclose(copied[:, 3:cols - 5], a @ b[:, 3:cols - 5], **_tol(dtype))
    assert (copied[:, :3] == 7).all() and (copied[:, cols - 5:] == 7).all()
    np.testing.assert_array_equal(copied[:-1], in_place)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ragged_last_panel_gives_the_same_values_as_a_full_one(dtype):
    """The ragged last panel overlaps the one before it: the overlapped columns come out bit for bit
    as the columns of a product whose width is a whole number of panels."""
    tc = G.tile_shape(dtype)[1]
    rng = np.random.default_rng(2)
    a = rng.standard_normal((7, 300)).astype(dtype)  # K = 300: several K blocks
    b = rng.standard_normal((300, 2 * tc)).astype(dtype)
    whole, ragged = np.empty((7, 2 * tc), dtype), np.full((7, 2 * tc - 5), np.nan, dtype)
    G.matmul(a, b, whole)
    G.matmul(a, np.ascontiguousarray(b[:, :-5]), ragged)
    np.testing.assert_array_equal(ragged[:, :tc], whole[:, :tc])
    np.testing.assert_allclose(ragged, a @ b[:, :-5], **_tol(dtype))


def test_matmul_propagates_nan_and_inf():
    """FMA contraction changes rounding only: NaN and Inf come out where NumPy puts them."""
    a = np.ones((5, 3), np.float32)
    b = np.ones((3, 70), np.float32)
    a[1, 2], b[0, 5], b[2, 66] = np.nan, np.inf, -np.inf
    ours, ref = np.empty((5, 70), np.float32), a @ b
    G.matmul(a, b, ours)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_array_equal(ours[np.isinf(ref)], ref[np.isinf(ref)])


def test_tile_shape():
    rows, cols = G.tile_shape(np.float32)
    assert rows == G.TILE_ROWS and cols in (24, 64)  # AVX2, AVX-512
    assert G.tile_shape(np.float64)[1] * 2 == cols
    assert cols % CPU.vector_lanes(np.float32) == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("a_layout", ["C", "transposed"])
@pytest.mark.parametrize("accumulate", [False, True])
@pytest.mark.parametrize("i0, last_row, j0, k0, k1", [(0, 9, 0, 0, 7), (4, 9, 5, 2, 7), (8, 9, 3, 0, 7),
                                                      (0, 2, 0, 3, 3), (0, 0, 1, 6, 7)])
def test_tile_loop_compiled_matches_its_python(dtype, a_layout, accumulate, i0, last_row, j0, k0, k1):
    """``_tile_multiply_add``, the tile's vector loop in LLVM IR, against its plain-Python version: any
    layout of ``a``, a column offset into ``b``, a block of ``k`` from ``k0``, rows past ``last_row``
    clamped to it (they are the last row again, in its place of ``c``), an empty range of ``k``, the sums
    started from zero or from ``c``, and ``c`` a bigger array (``out``) with the tile at an offset:
    nothing else of it is touched, not even the rows where the tile's rows past ``last_row`` would be."""
    import numba

    tr, tc = G.tile_shape(dtype)
    rng = np.random.default_rng(i0 + j0 + k0)
    a = rng.standard_normal((10, 7)).astype(dtype)
    if a_layout == "transposed":
        a = np.ascontiguousarray(a.T).T  # the same values, columns contiguous (a weight gradient's dG.T)
    b = rng.standard_normal((7, tc + 5)).astype(dtype)
    start = rng.standard_normal((tr + 3, tc + 6)).astype(dtype)
    call = numba.njit(lambda c, ci, cj, a, b, i0, last, j0, k0, k1, acc:
                      G._tile_multiply_add(c, ci, cj, a, b, i0, last, j0, k0, k1, acc))
    ours, ref = start.copy(), start.copy()
    call(ours, 2, 4, a, b, i0, last_row, j0, k0, k1, accumulate)
    G._tile_multiply_add.py_func(ref, 2, 4, a, b, i0, last_row, j0, k0, k1, accumulate)
    np.testing.assert_allclose(ours, ref, **_tol(dtype))
    rows = min(tr, last_row - i0 + 1)  # the tile's real rows
    np.testing.assert_allclose(ours[2:2 + rows, 4:4 + tc], (start[2:2 + rows, 4:4 + tc] if accumulate else 0)
                               + a[i0:i0 + rows, k0:k1] @ b[k0:k1, j0:j0 + tc], **_tol(dtype))
    outside = np.ones(start.shape, bool)
    outside[2:2 + rows, 4:4 + tc] = False
    np.testing.assert_array_equal(ours[outside], start[outside])
    if k0 == k1:
        expected = start[2:2 + rows, 4:4 + tc] if accumulate else 0
        np.testing.assert_array_equal(ours[2:2 + rows, 4:4 + tc], expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m", [1, 2, 3, 5, 10])
def test_tile_at_the_bottom_edge_stays_inside_out(dtype, m):
    """A tile over the last rows of ``out`` (fewer than ``TILE_ROWS`` of them) runs on ``out`` itself:
    with ``out`` exactly ``m`` rows long, its rows past the end must be neither read nor written
    (they are the last row again). A guard row after ``out`` in the same buffer stays as it was."""
    import numba

    tr, tc = G.tile_shape(dtype)
    rng = np.random.default_rng(m)
    a = rng.standard_normal((m, 9)).astype(dtype)
    b = rng.standard_normal((9, tc)).astype(dtype)
    buffer = np.full((m + tr, tc), 7.0, dtype)
    out = buffer[:m]
    call = numba.njit(lambda c, ci, cj, a, b, i0, last, j0, k0, k1, acc:
                      G._tile_multiply_add(c, ci, cj, a, b, i0, last, j0, k0, k1, acc))
    for i0 in range(0, m, tr):
        call(out, i0, 0, a, b, i0, m - 1, 0, 0, 9, False)
    np.testing.assert_allclose(out, a @ b, **_tol(dtype))
    np.testing.assert_array_equal(buffer[m:], 7.0)


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"), reason="no machine code without the JIT")
def test_the_tile_runs_on_512_bit_registers_on_avx512():
    """The machine code of the tiled matmul: 512-bit FMAs where the CPU has AVX-512 (on every such
    CPU, including those LLVM tunes to prefer 256-bit vectors), and no 256-bit ones."""
    import re

    import numba

    if not CPU.host_cpu_features().get("avx512f", False):
        pytest.skip("no AVX-512 on this CPU (the AVX2 test below compiles for one)")
    a, b, out = np.ones((5, 3), np.float32), np.ones((3, 70), np.float32), np.empty((5, 70), np.float32)
    dispatcher = numba.njit(**G.matmul.options)(G.matmul.py_func)  # not from the disk cache: no assembly there
    dispatcher(a, b, out)
    asm = dispatcher.inspect_asm(dispatcher.signatures[0])
    assert re.search(r"vfmadd\w*ps\s[^\n]*zmm", asm), "no zmm FMA in the tile"
    assert not re.search(r"vfmadd\w*ps\s[^\n]*ymm", asm), "the tile fell back to 256-bit vectors"


_AVX2_TILE_PROBE = r"""
import re, numpy as np, numba
from minigrad.kernels import gemm as G
a, b, out = np.ones((5, 3), np.float32), np.ones((3, 70), np.float32), np.empty((5, 70), np.float32)
compiled = numba.njit(**G.matmul.options)(G.matmul.py_func)
compiled(a, b, out)
assert (out == 3).all()
asm = compiled.inspect_asm(compiled.signatures[0])
blocks = re.split(r"\n[.\w]+:", asm)  # basic blocks: the tile's loop is one of them
fmas = lambda block: len(re.findall(r"vfmadd\w*ps\s[^\n]*%ymm", block))
loop = max(blocks, key=fmas)
vector_spill = re.search(r"%ymm[^\n]*\(%rsp\)|\(%rsp\)[^\n]*%ymm", loop)  # a sum or a row of b on the stack
print(fmas(loop), vector_spill is not None)
"""


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"), reason="no machine code without the JIT")
def test_the_tile_runs_in_vector_registers_on_avx2(tmp_path):
    """Compiled for Haswell (AVX2: 16 vector registers of 256 bits), the tile's loop over ``k`` is at
    least its 4 x 3 = 12 FMAs on ``ymm`` registers, with no vector register spilled to the stack (an
    index reloaded there, when LLVM unrolls the loop twice, costs one scalar load per 24 FMAs). Left
    to LLVM's loop vectorizer, this tile was scalar (72 ``vfmadd...ss``, no ``ymm`` FMA at all)."""
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "", CPU.SIMULATE_CPU_ENV: "avx2",
           "NUMBA_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", _AVX2_TILE_PROBE], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    fmas, spills = done.stdout.split()
    assert int(fmas) >= 12 and spills == "False", done.stdout


@pytest.mark.parametrize("cpu", ["", "avx2"])
@pytest.mark.parametrize("dtype, rows, cols, takes_tile", [(np.float32, 8, 128, True), (np.float32, 3, 128, True),
                                                           (np.float32, 2, 128, False), (np.float32, 1, 128, False),
                                                           (np.float32, 8, 20, False), (np.float64, 8, 128, False)])
def test_step_product_takes_the_tile_for_float32_on_every_cpu(monkeypatch, cpu, dtype, rows, cols, takes_tile):
    """The sequence kernels' step product (``rnn_common._matmul``, run here as plain Python: the
    rule is the same code) uses the register tile for float32 with three rows or more and a whole tile
    of columns, on AVX2 as on AVX-512; one or two rows, float64 and narrower outputs take the two-rows loop."""
    from minigrad.kernels import rnn_common as C

    monkeypatch.setenv(CPU.SIMULATE_CPU_ENV, cpu)
    monkeypatch.setattr(CPU, "_SIMD", None)  # read the (simulated) CPU again
    taken = []
    monkeypatch.setattr(C, "gemm", lambda a, b, out: taken.append("tile") or np.matmul(a, b, out=out))
    a, b = np.ones((rows, 32), dtype), np.ones((32, cols), dtype)
    out = np.empty((rows, cols), dtype)
    C._matmul.py_func(a, b, out)
    np.testing.assert_array_equal(out, a @ b)
    assert taken == (["tile"] if takes_tile else [])


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("batch", [3, 5])
def test_sequence_kernels_through_gemm(mode, direction, batch):
    """float32 layers wide enough that the step matmul goes through gemm (4H = 64 columns for LSTM),
    with fewer rows than one tile (3) and one tile and a row (5)."""
    name = f"{mode}_sequence_{direction}"
    hidden = {"lstm": 16, "gru": 22, "rnn": 64}[mode]
    args = K.example_args(name, np.float32, n_time=3, batch=batch, hidden=hidden, lengths=[3, 1, 2, 3, 0][:batch])
    copy = lambda x: x.copy() if isinstance(x, np.ndarray) else x  # noqa: E731
    ours, ref = tuple(map(copy, args)), tuple(map(copy, args))
    getattr(K, name)(*ours)
    getattr(K, name + "_ref")(*ref)
    for i, (x, y) in enumerate(zip(ours, ref)):
        if isinstance(x, np.ndarray):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-5, err_msg=f"{name}: argument {i}")


# ---------------------------------------------------------------------------- blocks and threads
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 16, 64), (9, 129, 200), (33, 300, 70), (2, 1, 65), (3, 0, 64), (0, 5, 130),
                                   (130, 7, 3), (5, 128, 128), (5, 256, 64), (GB.M_BLOCK + 9, 20, 70),
                                   (150, 20, 28), (70, 300, 50)])  # narrower than the tile: in place, many rows
@pytest.mark.parametrize("a_transposed", [False, True])
@pytest.mark.parametrize("b_transposed", [False, True])
def test_matmul_blocks_matches_numpy(shape, dtype, a_transposed, b_transposed):
    """Every split of the output, K across block boundaries (K_BLOCK), rows past one chunk (M_BLOCK),
    ``a`` and ``b`` given as transposes (a weight gradient's dG.T, Linear's W.T)."""
    m, k, n = shape
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    a_data = np.ascontiguousarray(a.T) if a_transposed else a  # a == a_data.T: what the kernel is given
    b_data = np.ascontiguousarray(b.T) if b_transposed else b
    tol = _tol(dtype)
    tol["atol"] *= max(1.0, k ** 0.5)  # sums of k products: rounding grows with k (float32 FMA vs BLAS)
    for parts in (1, 2, 3):
        tile_cols = G.tile_shape(dtype)[1]
        blocks = P.split_blocks(m, n, parts, G.TILE_ROWS, tile_cols)
        # The panels in the caller's scratch (full of NaN: every panel is written before it is read),
        # and with no room there (the kernel allocates them itself).
        kept = P.panel_scratch(blocks, k, tile_cols, dtype)
        planned, panels = P.block_plan(m, k, n, parts, tile_cols, 16, np.dtype(dtype).itemsize)  # as parallel_matmul
        in_place = GB.reads_b_in_place(blocks, False, tile_cols, 16)  # (then parallel_matmul gives no scratch)
        assert planned.tolist() == blocks.tolist() and panels * k * tile_cols == (0 if in_place else kept.size)
        kept.fill(np.nan)
        for scratch in (kept, np.empty(0, dtype)):
            ours, ref = np.full((m, n), np.nan, dtype), np.full((m, n), np.nan, dtype)
            GB.matmul_blocks(a_data, a_transposed, b_data, b_transposed, ours, blocks, scratch)
            GB.matmul_blocks_ref(a_data, a_transposed, b_data, b_transposed, ref, blocks, scratch)
            np.testing.assert_allclose(ours, ref, **tol)
            np.testing.assert_allclose(ours, a.astype(np.float64) @ b, **tol)
        if GB.reads_b_in_place(blocks, b_transposed, tile_cols, CPU.vector_lanes(dtype)):
            assert np.isnan(kept).all()  # b read where it is: nothing packed
        else:
            assert not np.isnan(kept).any()  # panel_scratch counts the panels exactly: all of it was packed into


def test_which_blocks_read_b_in_place():
    """Unpacked: an untransposed B, blocks each a vector wide or more and of at most IN_PLACE_MAX_ROWS
    rows, or of any number of rows where they are narrower than the tile."""
    tc, lanes, most = 24, 8, GB.IN_PLACE_MAX_ROWS

    def blocks(*rows_and_cols):
        return np.array(rows_and_cols, np.int64)

    assert GB.reads_b_in_place(blocks((0, most, 0, tc), (0, most, tc, 3 * tc)), False, tc, lanes)
    assert GB.reads_b_in_place(blocks((0, most, 0, lanes + 3)), False, tc, lanes)  # narrower than a tile
    assert not GB.reads_b_in_place(blocks((0, most, 0, tc)), True, tc, lanes)  # a transposed B is packed
    assert not GB.reads_b_in_place(blocks((0, most + 1, 0, tc)), False, tc, lanes)  # more rows: packing pays
    assert GB.reads_b_in_place(blocks((0, 10 * most, 0, tc - 1)), False, tc, lanes)  # ... unless B is narrow
    narrow = blocks((0, 4, 0, lanes), (0, 4, lanes, 2 * lanes - 1))
    assert not GB.reads_b_in_place(narrow, False, tc, lanes)  # a block narrower than a vector


def test_which_blocks_pack_b_each_for_itself():
    """Bands of rows (every block spans the same columns) each pack a small B for themselves; column
    blocks, a single block and a B past PRIVATE_PANELS_MAX_BYTES share one packed copy."""
    def blocks(*rows_and_cols):
        return np.array(rows_and_cols, np.int64)

    bands, columns = blocks((0, 64, 0, 50), (64, 128, 0, 50)), blocks((0, 64, 0, 64), (0, 64, 64, 128))
    assert GB.private_copies(bands, 1, 650, 64, 4) == 2
    assert GB.private_copies(blocks((0, 9, 0, 50), (9, 20, 0, 50), (20, 30, 0, 50)), 1, 650, 64, 4) == 3
    assert GB.private_copies(columns, 2, 650, 64, 4) == 1
    assert GB.private_copies(blocks((0, 64, 0, 50)), 1, 650, 64, 4) == 1
    most = GB.PRIVATE_PANELS_MAX_BYTES // (64 * 4)  # rows of K that fill one copy
    assert GB.private_copies(bands, 1, most, 64, 4) == 2 and GB.private_copies(bands, 1, most + 1, 64, 4) == 1


@pytest.mark.parametrize("m0, m1", [(0, 19), (3, 11), (5, 5)])
@pytest.mark.parametrize("k", [7, 64])
@pytest.mark.parametrize("compiled", [False, True])
def test_rows_of_transpose_copies_a_chunk_of_rows(m0, m1, k, compiled):
    """The rows m0..m1 of A = a.T (a weight gradient's dG.T), each in order, an odd number of cache
    lines apart; as plain Python and compiled (matmul_blocks takes it only with AVX2's narrow tile)."""
    import numba

    a = np.arange(k * 19, dtype=np.float32).reshape(k, 19)  # (K, M)
    copy = numba.njit(lambda a, m0, m1: GB.rows_of_transpose(a, m0, m1)) if compiled else GB.rows_of_transpose
    rows = copy(a, np.int64(m0), np.int64(m1))
    np.testing.assert_array_equal(rows, a.T[m0:m1])
    if m1 - m0 > 1:  # (NumPy gives an empty array strides of 0)
        assert rows.strides[1] == a.itemsize and rows.strides[0] // 64 % 2 == 1  # an odd number of lines apart


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("a_transposed", [False, True])
@pytest.mark.parametrize("width", [1, 4, 5, 8, 15, 16, 17, 63])
@pytest.mark.parametrize("m", [19, GB.IN_PLACE_MAX_ROWS + 7])
def test_last_panel_of_every_width(dtype, a_transposed, width, m):
    """The last panel of any width: the narrow tile (up to one vector) or the wide tile, in packed
    panels and in ``b`` itself (few rows); a partial block of rows in each tile, and K over several
    blocks (the tiles go on from what the earlier blocks of K left in ``out``)."""
    k, n = 2 * G.K_ONE_PASS + 3, 64 + width
    rng = np.random.default_rng(width)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    a_data = np.ascontiguousarray(a.T) if a_transposed else a
    ours = np.full((m, n), np.nan, dtype)
    GB.matmul_blocks(a_data, a_transposed, b, False, ours, P.split_blocks(m, n, 1), np.empty(0, dtype))
    tol = _tol(dtype)
    tol["atol"] *= k ** 0.5
    np.testing.assert_allclose(ours, a.astype(np.float64) @ b, **tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_blocks_any_blocks(dtype):
    """Blocks cut anywhere (not at whole tiles or panels): each writes exactly its own part of ``out``."""
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((11, 9)).astype(dtype), rng.standard_normal((9, 150)).astype(dtype)
    blocks = np.array([[0, 3, 0, 10], [3, 11, 0, 150], [0, 3, 10, 97], [0, 2, 97, 150], [2, 3, 97, 150]], np.int64)
    ours = np.full((11, 150), np.nan, dtype)
    GB.matmul_blocks(a, False, b, False, ours, blocks, np.empty(0, dtype))
    np.testing.assert_allclose(ours, a @ b, **_tol(dtype))
    wide = np.array([[0, 3, 0, 70], [3, 11, 0, 80], [0, 3, 70, 150], [3, 11, 80, 150]], np.int64)
    # cut off the tiles, b read in place
    assert GB.reads_b_in_place(wide, False, G.tile_shape(dtype)[1], CPU.vector_lanes(dtype))
    ours = np.full((11, 150), np.nan, dtype)
    GB.matmul_blocks(a, False, b, False, ours, wide, np.empty(0, dtype))
    np.testing.assert_allclose(ours, a @ b, **_tol(dtype))
    out = np.full((11, 150), 7.0, dtype)  # a block set that leaves columns and rows alone
    GB.matmul_blocks(a, False, b, False, out, np.array([[1, 5, 3, 70]], np.int64), np.empty(0, dtype))
    np.testing.assert_allclose(out[1:5, 3:70], a[1:5] @ b[:, 3:70], **_tol(dtype))
    out[1:5, 3:70] = 7.0
    assert (out == 7.0).all()


def test_panel_plan_and_packing():
    """Block u's panels hold its columns of every gate, tile_cols at a time, zero-padded."""
    units = np.array([0, 3, 5], np.int64)
    first, cols = G.panel_plan(2, 5, units, 2)  # Inline helpers run as plain Python when called from Python
    assert first.tolist() == [0, 4, 6]  # block 0: 2 gates x 2 panels (3 units = 2 + 1); block 1: 2 gates x 1
    assert cols.tolist() == [[0, 2], [2, 1], [5, 2], [7, 1], [3, 2], [8, 2]]
    b = np.arange(30, dtype=np.float32).reshape(3, 10)
    panels = np.zeros((6, 3, 2), np.float32)
    G.pack_panels(b, cols, panels, 0, 6)
    for p, (c, w) in enumerate(cols):
        np.testing.assert_array_equal(panels[p, :, :w], b[:, c:c + w])
        assert (panels[p, :, w:] == 0).all()
    # Packing writes the padding too: panels that held anything before (matmul_blocks packs into
    # uninitialised memory) come out the same.
    for pack, source in ((G.pack_panels, b), (G.pack_panels_transposed, np.ascontiguousarray(b.T))):
        dirty = np.full((6, 3, 2), np.nan, np.float32)
        pack(source, cols, dirty, 0, 6)
        np.testing.assert_array_equal(dirty, panels)


@pytest.mark.parametrize("n, k", [(64, 32), (70, 37), (13, 16), (200, 129)])
def test_pack_panels_transposed_moves_blocks_and_edges(n, k):
    """Whole blocks of one vector a side (transposed in registers in a kernel) and the edges past them
    land where ``pack_panels`` of the transpose puts them (here as Python; in the kernels through
    ``test_matmul_blocks_matches_numpy``)."""
    bt = np.random.default_rng(n).standard_normal((n, k)).astype(np.float32)
    units = np.array([0, n], np.int64)
    first, cols = G.panel_plan(1, n, units, 64)
    expected = np.zeros((len(cols), k, 64), np.float32)
    G.pack_panels(np.ascontiguousarray(bt.T), cols, expected, 0, len(cols))
    ours = np.full_like(expected, np.nan)
    G.pack_panels_transposed(bt, cols, ours, 0, len(cols))
    np.testing.assert_array_equal(ours, expected)


def test_matmul_blocks_propagates_nan_and_inf():
    """The zero padding of a narrow panel and the re-read last row never reach a stored element."""
    a = np.ones((5, 3), np.float32)
    b = np.ones((3, 70), np.float32)
    a[4, 2], b[0, 5], b[2, 66] = np.nan, np.inf, -np.inf
    ours, ref = np.empty((5, 70), np.float32), a @ b
    GB.matmul_blocks(a, False, b, False, ours, P.split_blocks(5, 70, 2), np.empty(0, np.float32))
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_array_equal(ours[np.isinf(ref)], ref[np.isinf(ref)])


@pytest.mark.parametrize("rows", [0, 1, 4, 31, 32, 1120])
@pytest.mark.parametrize("cols", [1, 63, 64, 65, 128, 1000])
@pytest.mark.parametrize("parts", [1, 2, 3, 8])
def test_split_blocks_cover_the_output_once(rows, cols, parts):
    """The blocks tile the whole output exactly once, cut at whole tiles (except the last)."""
    cover = np.zeros((rows, cols), int)
    for r0, r1, j0, j1 in P.split_blocks(rows, cols, parts):
        cover[r0:r1, j0:j1] += 1
        assert r0 % G.TILE_ROWS == 0 and j0 % 64 == 0
    assert (cover == 1).all()
    assert len(P.split_blocks(rows, cols, parts)) <= parts


@pytest.mark.parametrize("rows, cols, parts, expected", [
    (32, 1024, 2, [[0, 32, 0, 512], [0, 32, 512, 1024]]),        # 16 panels: 8 each
    (2048, 64, 2, [[0, 1024, 0, 64], [1024, 2048, 0, 64]]),      # one panel: rows
    (700, 10000, 2, [[0, 700, 0, 4992], [0, 700, 4992, 10000]]),  # 157 panels: 78 + 79, even enough
    (700, 300, 2, [[0, 348, 0, 300], [348, 700, 0, 300]]),       # 5 panels: 2 + 3 is not: rows
    (2240, 800, 2, [[0, 1120, 0, 800], [1120, 2240, 0, 800]]),   # 13 panels: 6 + 7 is not either
    (700, 200, 2, [[0, 348, 0, 200], [348, 700, 0, 200]]),       # 2 panels against 1 + a narrow one
    (10000, 200, 2, [[0, 5000, 0, 200], [5000, 10000, 0, 200]]),  # 4 panels: too few for 2 threads
    (1120, 512, 2, [[0, 560, 0, 512], [560, 1120, 0, 512]]),      # 8 panels: still too few
    (2048, 1024, 2, [[0, 2048, 0, 512], [0, 2048, 512, 1024]]),   # 16 panels: 8 each
    (5, 70, 2, [[0, 5, 0, 64], [0, 5, 64, 70]]),                 # too few rows to cut: columns
])
def test_split_blocks_balances_the_threads(rows, cols, parts, expected):
    """Column panels when they share out evenly between the threads, else bands of rows (a table)."""
    assert P.split_blocks(rows, cols, parts, G.TILE_ROWS, 64).tolist() == expected


@pytest.mark.parametrize("rows, cols, b_transposed, expected", [
    (64, 512, True, [[0, 64, 0, 256], [0, 64, 256, 512]]),        # W.T packed, x no bigger: columns
    (64, 512, False, [[0, 32, 0, 512], [32, 64, 0, 512]]),        # bands of 32 rows read b in place
    (128, 512, False, [[0, 128, 0, 256], [0, 128, 256, 512]]),    # 64 rows a thread: b packed, columns
    (512, 512, False, [[0, 512, 0, 256], [0, 512, 256, 512]]),    # a as big as b: columns
    (1120, 512, True, [[0, 560, 0, 512], [560, 1120, 0, 512]]),   # a bigger than b: rows
    (160, 320, True, [[0, 160, 0, 128], [0, 160, 128, 320]]),    # 5 panels, 2 + 3: still columns
    (1120, 320, True, [[0, 560, 0, 320], [560, 1120, 0, 320]]),   # ... but not for an a bigger than b
])
def test_split_blocks_gives_columns_where_b_is_packed(rows, cols, b_transposed, expected):
    """Few panels still go by columns when ``a`` is no bigger than ``b`` and ``b`` is packed (a table)."""
    assert P.split_blocks(rows, cols, 2, G.TILE_ROWS, 64, 16, b_transposed).tolist() == expected


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 4), (300, 70, 65), (64, 64, 64), (0, 64, 5000)])
def test_matmul2d_matches_numpy(shape, dtype):
    """Big float32 products go to parallel_matmul (where threads are usable), the rest to NumPy."""
    m, k, n = shape
    rng = np.random.default_rng(m + k + n)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    np.testing.assert_allclose(P.matmul2d(a, b), a @ b, **_tol(dtype))
    np.testing.assert_allclose(P.matmul2d(b.T, a.T), (a @ b).T, **_tol(dtype))  # transposed operands
    np.testing.assert_allclose(P.matmul2d(a[::2], b[:, ::-1]), a[::2] @ b[:, ::-1], **_tol(dtype))  # strided views
    assert P.matmul2d(a, b).dtype == dtype


def test_matmul2d_mixed_dtypes_follow_numpy():
    a, b = np.ones((100, 80), np.float32), np.ones((80, 90), np.float64)
    out = P.matmul2d(a, b)
    assert out.dtype == np.float64 and (out == 80).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blas_matmul2d_puts_a_big_result_in_recycled_memory(dtype):
    """NumPy's product, in a recycled buffer from RECYCLE_MIN_BYTES on (a weight gradient made every step)."""
    from minigrad import _allocator

    rng = np.random.default_rng(3)
    g, x = rng.standard_normal((35, 400)).astype(dtype), rng.standard_normal((35, 200)).astype(dtype)
    big = P.blas_matmul2d(g.T, x)  # (400, 200): 320 KB in float32
    np.testing.assert_allclose(big, g.T @ x, **_tol(dtype))
    assert _allocator.kept_by_recycler(big.base) and big.dtype == dtype and big.flags.c_contiguous
    small = P.blas_matmul2d(x[:4, :3].T, x[:4, :5])  # 3 x 5: a plain NumPy array
    np.testing.assert_allclose(small, x[:4, :3].T @ x[:4, :5], **_tol(dtype))
    assert not _allocator.kept_by_recycler(small.base)
    out = np.empty((400, 200), dtype)
    assert P.blas_matmul2d(g.T, x, out=out) is out
    outer = P.blas_matmul2d(g[:1].T, x[:1])  # an inner dimension of 1: an outer product, exact
    np.testing.assert_array_equal(outer, np.multiply(g[:1].T, x[:1]))
    out = np.empty((400, 200), dtype)
    assert P.blas_matmul2d(g[:1].T, x[:1], out=out) is out
    np.testing.assert_array_equal(out, np.multiply(g[:1].T, x[:1]))
    strided = np.empty((400, 400), dtype)[:, ::2]  # an out np.dot cannot write: the broadcast multiply
    np.testing.assert_array_equal(P.blas_matmul2d(g[:1].T, x[:1], out=strided), np.multiply(g[:1].T, x[:1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blas_matmul2d_into_any_out_numpy_can_write(dtype):
    """Into an ``out`` np.dot takes (C-ordered, the result's dtype) and into those it does not: the same values."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((3, 32)).astype(dtype), rng.standard_normal((64, 32)).astype(dtype)
    expected = x.astype(np.float64) @ w.T.astype(np.float64)
    for out in (np.empty((3, 64), dtype), np.empty((3, 128), dtype)[:, ::2], np.empty((64, 3), dtype).T,
                np.empty((3, 64), np.float64 if dtype == np.float32 else np.float32)):
        assert P.blas_matmul2d(x, w.T, out=out) is out
        np.testing.assert_allclose(out, expected, **_tol(np.float32))
        assert P.blas_matmul2d(x, np.ascontiguousarray(w.T), out=out) is out
        np.testing.assert_allclose(out, expected, **_tol(np.float32))


def test_serial_fused_layer_weight_gradients_are_recycled():
    """The serial strategies' all-steps products (BLAS) give weight gradients in recycled memory, as the
    parallel ones (matmul2d) do: freed by zero_grad, taken again by the next step's backward."""
    import minigrad as mg
    from minigrad import _allocator
    from minigrad.nn import fused_rnn

    lstm = mg.nn.LSTM(100, 100)
    assert fused_rnn.plan("lstm", np.float32, batch=1, hidden=100) is fused_rnn.Strategy.SEQUENCE
    x = mg.randn(35, 1, 100)
    lstm(x)[0].sum().backward()
    for w in (lstm.weight_ih_l0, lstm.weight_hh_l0):  # (400, 100) float32: 160 KB each
        assert _allocator.kept_by_recycler(w.grad._array.base)
    first = lstm.weight_ih_l0.grad._array.ctypes.data
    lstm.zero_grad()
    lstm(x)[0].sum().backward()
    assert {w.grad._array.ctypes.data for w in (lstm.weight_ih_l0, lstm.weight_hh_l0)} >= {first}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul2d_outer_product(dtype):
    """An inner dimension of 1 (dL/dW of a batch of one) is a broadcast multiply: same values, NaN/Inf as NumPy's."""
    rng = np.random.default_rng(7)
    g, x = rng.standard_normal((128, 1)).astype(dtype), rng.standard_normal((1, 185)).astype(dtype)
    np.testing.assert_array_equal(P.matmul2d(g, x), np.matmul(g, x))
    np.testing.assert_array_equal(P.matmul2d(g[::-1], x[:, ::2]), np.matmul(g[::-1], x[:, ::2]))
    out = np.empty((128, 185), dtype)
    assert P.matmul2d(g, x, out=out) is out
    g[3, 0], x[0, 5] = np.inf, np.nan
    np.testing.assert_array_equal(P.matmul2d(g, x), np.matmul(g, x))  # equal_nan: inf * x, nan * g as in matmul
    assert P.matmul2d(np.ones((2, 1), np.float32), np.ones((1, 3), np.float64)).dtype == np.float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("inner, rows, cols", [(70, 800, 200), (9, 128, 32), (5, 130, 7), (0, 400, 100), (3, 9, 1),
                                               (40, 128, 512)])
@pytest.mark.parametrize("b_order", ["C", "F"])
def test_parallel_matmul_weight_gradients_match_numpy(inner, rows, cols, dtype, b_order):
    """``g^T x`` (``a`` a transpose), computed as it is or flipped (``out^T = x^T g``), is NumPy's product."""
    rng = np.random.default_rng(inner + rows + cols)
    g = rng.standard_normal((inner, rows)).astype(dtype)
    x = np.asarray(rng.standard_normal((inner, cols)).astype(dtype), order=b_order)
    ours = np.full((rows, cols), np.nan, dtype)  # every element must be written
    P.parallel_matmul(g.T, x, ours)
    np.testing.assert_allclose(ours, g.T @ x, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch, features", [(32, 70), (3, 130), (9, 1)])
def test_parallel_matmul_of_one_time_step(batch, features, dtype):
    """A time step of a batch-first sequence, ``y[:, t]``, and its transpose (a weight gradient's
    ``g^T``) multiply as their copies do; ``_c_order`` copies each the way its rows lie in memory."""
    rng = np.random.default_rng(batch + features)
    steps = rng.standard_normal((batch, 4, features)).astype(dtype)
    w = rng.standard_normal((features, 66)).astype(dtype)
    x = rng.standard_normal((batch, 66)).astype(dtype)
    step = steps[:, 2]
    assert not step.flags.c_contiguous and not step.T.flags.c_contiguous
    data, transposed = P._c_order(step)
    assert data.flags.c_contiguous and not transposed and (data == step).all()
    data, transposed = P._c_order(step.T)
    assert data.flags.c_contiguous and transposed and (data.T == step.T).all()
    for a, b in [(step, w), (step.T, x), (x.T, step)]:
        ours = np.full((a.shape[0], b.shape[1]), np.nan, dtype)
        P.parallel_matmul(a, b, ours)
        np.testing.assert_allclose(ours, a @ b, **_tol(dtype))


@pytest.mark.parametrize("inner, rows, cols, flips", [
    (280, 800, 200, True),     # nn.LSTM(200, 200)'s dW at T*B = 280: 256 padded columns against (200, 832)
    (8, 800, 200, False),      # ... with 8 rows of K the copy costs more than the padding
    (280, 128, 32, True),      # nn.LSTM(32, 32): half of the one panel is padding
    (700, 10000, 200, True),   # a word model's decoder, Linear(200, 10000)
    (2240, 512, 128, False),   # whole tiles either way
    (2240, 1200, 300, True),   # 5% less padding, over a long K
    (280, 1200, 300, False),   # ... not over a short one
    (20, 128, 57, False),      # 6% less padding over K = 20 (measured: 0.42x as fast flipped)
])
def test_weight_gradient_flips_when_that_pads_less(monkeypatch, inner, rows, cols, flips):
    """The rule of ``parallel_matmul``: ``out^T = x^T g`` where the padding it saves costs more than the copy."""
    if G.tile_shape(np.float32)[1] != 64:
        pytest.skip("the table is for the 64-column float32 tile (AVX-512)")
    shapes = []

    def spy(a, at, b, bt, out, blocks, scratch):
        shapes.append(out.shape)

    spy.serial = spy  # (one thread: parallel_matmul calls the kernel's serial variant)
    monkeypatch.setattr(P, "matmul_blocks", spy)
    g, x = np.ones((inner, rows), np.float32), np.ones((inner, cols), np.float32)
    P.parallel_matmul(g.T, x, np.empty((rows, cols), np.float32))
    P.parallel_matmul(np.ascontiguousarray(g.T), x, np.empty((rows, cols), np.float32))  # `a` not a transpose
    assert shapes == [(cols, rows) if flips else (rows, cols), (rows, cols)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_packing_a_weight_whose_rows_lie_4_kib_apart(dtype):
    """Rows of 4 KiB (K = 1024 float32, 512 float64) are packed half as many at a time; same result."""
    inner = 4096 // np.dtype(dtype).itemsize
    rng = np.random.default_rng(7)
    a, w = rng.standard_normal((6, inner)).astype(dtype), rng.standard_normal((70, inner)).astype(dtype)
    out = P.parallel_matmul(a, w.T, np.empty((6, 70), dtype))  # 70 columns: a full panel and a partial one
    np.testing.assert_allclose(out, a @ w.T, rtol=1e-4, atol=1e-3)
