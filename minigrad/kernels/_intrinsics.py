"""The five pieces of machine code the kernels need that Numba has no Python spelling for.

- ``stack_array(shape_of)``: a small array on the stack. A NumPy array made inside a kernel lives
  on the heap, where LLVM must assume that anything can alias it, so it stays in memory; an
  ``alloca`` of a shape known at compile time is promoted to registers once the loops over it
  are unrolled. ``gemm``'s register tile and the softmax kernels' reduction lanes are such arrays.
  The function holding one asks LLVM for 512-bit vectors on an AVX-512 CPU (``_full_width_vectors``).
- ``tile_loop(shape_of, lanes_of)``: the inner loop of a register tile, written in LLVM's vector
  instructions. Left to its loop vectorizer, LLVM keeps only tiles of 64 columns or more in vector
  registers (narrower ones are unrolled first and stay scalar): written out, every tile shape is
  as fast as the CPU allows, on AVX2 as on AVX-512.
- ``transpose_block(lanes_of)``: a square block of a matrix moved to its transposed place as whole
  vectors, transposed in registers: LLVM turns the scalar loop into one element at a time.
- ``copy_rows(width_of, lanes_of)``: rows of a panel copied as whole vectors: LLVM, unable to rule
  out that source and destination overlap, copies such a loop one number at a time.
- ``exp2(m, one)``: ``2^m`` written straight into the exponent bits of a float, as every libm's
  ``exp`` does at its last step. Numba has no bit-cast of a scalar; this one is three
  instructions, and it vectorizes.

All are Numba ``@intrinsic``s wrapped in ``Inline`` (``_jit.py``): plain Python functions
when called from Python or with ``NUMBA_DISABLE_JIT=1``, LLVM IR inside a kernel.

Example::

    >>> import numpy as np
    >>> float(exp2(np.float32(3.0), np.float32(1.0)))
    8.0
    >>> stack_array(lambda dtype: (2, 3))(np.float32(0)).shape
    (2, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from minigrad.kernels._jit import Inline

_OPTIONS = {"error_model": "numpy", "nogil": True, "fastmath": {"contract"}}


def stack_array(shape_of: Callable[[np.dtype], tuple[int, ...]]) -> Inline:
    """A helper ``f(zero)``: a C-contiguous array of shape ``shape_of(dtype of zero)`` on the stack.

    ``zero`` is any number of the wanted float dtype (its value is not used). The shape is a
    compile-time constant of the kernel. The array is uninitialised in a kernel (zeros from Python).
    """

    def python(zero):
        return np.zeros(shape_of(np.dtype(type(zero))), type(zero))

    def make_jit() -> Any:
        from numba import types
        from numba.core import cgutils
        from numba.extending import intrinsic
        from numba.np.arrayobj import make_array, populate_array

        @intrinsic
        def on_stack(typingctx, zero):
            if not isinstance(zero, types.Float):
                return None
            shape = tuple(shape_of(np.dtype(str(zero))))
            array_type = types.Array(zero, len(shape), "C")

            def codegen(context, builder, sig, args):
                _full_width_vectors(builder.function)
                item = context.get_value_type(zero)
                itemsize = context.get_abi_sizeof(item)
                data = cgutils.alloca_once(builder, item, size=int(np.prod(shape)))  # in the entry block
                intp = lambda v: context.get_constant(types.intp, v)  # noqa: E731
                strides = [int(np.prod(shape[d + 1:])) * itemsize for d in range(len(shape))]
                array = make_array(array_type)(context, builder)
                populate_array(array, data=data, shape=[intp(n) for n in shape],
                               strides=[intp(s) for s in strides], itemsize=intp(itemsize), meminfo=None)
                return array._getvalue()

            return array_type(zero), codegen

        return on_stack

    return Inline(python, make_jit=make_jit)


# LLVM tunes for Intel's AVX-512 CPUs (Skylake-SP to Sapphire Rapids, Ice/Rocket/Tiger Lake) with
# "prefer-256-bit": it then vectorizes with 256-bit registers even where 512-bit ones exist, and a
# register tile sized for 512-bit vectors needs twice the instructions and twice the registers.
# Rule: every function that holds a stack array (the register tiles, the lanes of a reduction) asks
# for 512-bit vectors where the CPU has AVX-512. It is an attribute of those functions only: the
# process's other Numba code, and its settings, are untouched.
_PREFER_512 = '"prefer-vector-width"="512"'


def _full_width_vectors(function: Any) -> None:
    """Mark an LLVM function (``llvmlite.ir.Function``) to vectorize with 512-bit registers on AVX-512."""
    from minigrad.kernels.cpu import host_cpu_features  # the one feature query (it knows the simulated CPU)

    if host_cpu_features().get("avx512f", False):
        # A string attribute: llvmlite's own list of attributes does not have it, so it goes into
        # the set as it is written in the IR.
        set.add(function.attributes, _PREFER_512)


def tile_loop(shape_of: Callable[[np.dtype], tuple[int, int]], lanes_of: Callable[[np.dtype], int]) -> Inline:
    """A helper ``f(c, ci, cj, a, b, i0, last_row, j0, k0, k1, accumulate)``: one register tile's product.

    For every row ``r`` of the ``(tr, tc) = shape_of(dtype)`` tile::

        c[ci + r, cj:cj + tc] = (c[ci + r, cj:cj + tc] if accumulate else 0)
                                + a[min(i0 + r, last_row), k0:k1] @ b[k0:k1, j0:j0 + tc]

    ``c`` is where the sums start and end: ``out`` itself for a whole tile, or a ``stack_array``
    of the tile's shape at an edge. ``c`` and ``b`` C-contiguous (``b`` a packed panel, or a whole
    matrix with its columns from ``j0``), ``a`` any layout; one float dtype. In a kernel, the sums
    live in ``tc / lanes_of(dtype)`` vector registers per row while ``k`` runs: each step loads one
    row of ``b`` as whole vectors, broadcasts ``a``'s ``tr`` numbers and does ``tr x tc``
    multiply-adds as fused multiply-adds (one rounding; NaN and Inf propagate).

    Rows past ``last_row`` are the last row again: they read row ``last_row`` of ``a`` and start
    from and end in the last row's place in ``c``, so they store the very values that row stores.
    A tile at the bottom edge of ``out`` may therefore start and end in ``out`` itself: no row
    past its end is read or written.

    Example::

        >>> f = tile_loop(lambda dtype: (2, 4), lambda dtype: 4)
        >>> c = np.ones((2, 4), np.float32)
        >>> f(c, 0, 0, np.ones((1, 3), np.float32), np.ones((3, 4), np.float32), 0, 0, 0, 0, 3, True)
        >>> c.tolist()  # a has one row (last_row 0): the tile's second row is the first again, c's second row untouched
        [[4.0, 4.0, 4.0, 4.0], [1.0, 1.0, 1.0, 1.0]]
    """

    def python(c, ci, cj, a, b, i0, last_row, j0, k0, k1, accumulate):
        tr, tc = shape_of(c.dtype)
        rows = np.minimum(np.arange(i0, i0 + tr), last_row)
        c_rows = ci + (rows - i0)
        product = a[rows, k0:k1] @ b[k0:k1, j0:j0 + tc]
        c[c_rows, cj:cj + tc] = c[c_rows, cj:cj + tc] + product if accumulate else product

    def make_jit() -> Any:
        from numba import types
        from numba.extending import intrinsic

        @intrinsic
        def multiply_add(typingctx, c, ci, cj, a, b, i0, last_row, j0, k0, k1, accumulate):
            arrays, ints = (c, a, b), (ci, cj, i0, last_row, j0, k0, k1)
            if not all(isinstance(x, types.Array) and x.ndim == 2 and x.dtype == c.dtype for x in arrays):
                return None
            if not (isinstance(c.dtype, types.Float) and c.layout == "C" and b.layout == "C"):
                return None
            if not (all(isinstance(x, types.Integer) for x in ints) and isinstance(accumulate, types.Boolean)):
                return None
            dtype = np.dtype(str(c.dtype))
            shape, lanes = tuple(shape_of(dtype)), int(lanes_of(dtype))

            def codegen(context, builder, sig, args):
                _emit_tile_loop(context, builder, sig, args, shape, lanes)
                return context.get_dummy_value()

            i64 = types.int64
            return types.none(c, i64, i64, a, b, i64, i64, i64, i64, i64, types.boolean), codegen

        return multiply_add

    return Inline(python, make_jit=make_jit)


def _emit_tile_loop(context: Any, builder: Any, sig: Any, args: Any, shape: tuple[int, int], lanes: int) -> None:
    """The LLVM IR of ``tile_loop``: load the tile's rows of ``c`` into vectors (or zeros), loop over
    ``k``, store them back.

    The loop carries the tile's ``tr x tc / lanes`` vectors as phi nodes: SSA values, which the
    register allocator keeps in registers for the whole loop (``gemm.tile_shape`` picks shapes
    that fit: 16 of AVX-512's 32 vector registers, 12 of AVX2's 16).
    """
    from llvmlite import ir
    from numba.core import cgutils

    tile_rows, tile_cols = shape
    n_vectors = tile_cols // lanes
    c, a, b = (context.make_array(sig.args[n])(context, builder, args[n]) for n in (0, 3, 4))
    ci, cj, i0, last_row, j0, k0, k1 = (args[n] for n in (1, 2, 5, 6, 7, 8, 9))  # int64: the signature says so
    accumulate = args[10]
    item = context.get_value_type(sig.args[0].dtype)
    itemsize = context.get_abi_sizeof(item)
    vector = ir.VectorType(item, lanes)
    i64, i32, byte_ptr = ir.IntType(64), ir.IntType(32), ir.IntType(8).as_pointer()
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3),
                                         f"llvm.fma.v{lanes}f{itemsize * 8}")

    def at(base, byte_offset, kind):  # a pointer `byte_offset` bytes past `base`, to a `kind`
        return builder.bitcast(builder.gep(base, [byte_offset]), kind.as_pointer())

    def const(n):
        return ir.Constant(i64, n)

    a_row_stride, a_col_stride = cgutils.unpack_tuple(builder, a.strides, 2)
    b_row_stride = cgutils.unpack_tuple(builder, b.strides, 2)[0]
    c_row_stride = cgutils.unpack_tuple(builder, c.strides, 2)[0]
    c_corner = builder.gep(builder.bitcast(c.data, byte_ptr),
                           [builder.add(builder.mul(ci, c_row_stride), builder.mul(cj, const(itemsize)))])
    a_rows, slots = [], []  # per row of the tile: its row of a and its vectors in c, past last_row the last one's
    for r in range(tile_rows):
        row = builder.add(i0, const(r))
        row = builder.select(builder.icmp_signed("<", row, last_row), row, last_row)
        a_rows.append(builder.gep(builder.bitcast(a.data, byte_ptr), [builder.mul(row, a_row_stride)]))
        c_row = builder.gep(c_corner, [builder.mul(builder.sub(row, i0), c_row_stride)])
        slots += [at(c_row, const(v * lanes * itemsize), vector) for v in range(n_vectors)]
    zeros = ir.Constant(vector, None)
    start = [builder.select(accumulate, builder.load(slot, align=itemsize), zeros) for slot in slots]
    b_columns = builder.gep(builder.bitcast(b.data, byte_ptr), [builder.mul(j0, const(itemsize))])

    before = builder.block
    loop = builder.append_basic_block("tile.loop")
    done = builder.append_basic_block("tile.done")
    builder.cbranch(builder.icmp_signed("<", k0, k1), loop, done)

    builder.position_at_end(loop)
    k = builder.phi(i64)
    sums = [builder.phi(vector) for _ in start]
    b_row = builder.gep(b_columns, [builder.mul(k, b_row_stride)])
    b_k = [builder.load(at(b_row, const(v * lanes * itemsize), vector), align=itemsize) for v in range(n_vectors)]
    a_offset = builder.mul(k, a_col_stride)
    undef = ir.Constant(vector, ir.Undefined)
    splat = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)
    new_sums = []
    for r in range(tile_rows):
        a_rk = builder.load(at(a_rows[r], a_offset, item), align=itemsize)
        a_rk = builder.shuffle_vector(builder.insert_element(undef, a_rk, ir.Constant(i32, 0)), undef, splat)
        new_sums += [builder.call(fma, [a_rk, b_k[v], sums[r * n_vectors + v]]) for v in range(n_vectors)]
    k_next = builder.add(k, const(1))
    k.add_incoming(k0, before)
    k.add_incoming(k_next, loop)
    for phi, first, new in zip(sums, start, new_sums):
        phi.add_incoming(first, before)
        phi.add_incoming(new, loop)
    builder.cbranch(builder.icmp_signed("<", k_next, k1), loop, done)

    builder.position_at_end(done)
    final = []
    for first, new in zip(start, new_sums):  # all phis first: LLVM wants them at the top of the block
        phi = builder.phi(vector)
        phi.add_incoming(first, before)
        phi.add_incoming(new, loop)
        final.append(phi)
    for slot, value in zip(slots, final):
        builder.store(value, slot, align=itemsize)


def _float_matrices_and_indices(matrices: tuple, indices: tuple) -> bool:
    """Whether Numba types fit ``transpose_block`` and ``copy_rows``: C-contiguous 2-D arrays of one
    float dtype, and integers."""
    from numba import types

    return (all(isinstance(x, types.Array) and x.ndim == 2 and x.layout == "C" for x in matrices)
            and isinstance(matrices[0].dtype, types.Float) and all(x.dtype == matrices[0].dtype for x in matrices)
            and all(isinstance(x, types.Integer) for x in indices))


def transpose_block(lanes_of: Callable[[np.dtype], int]) -> Inline:
    """A helper ``f(src, r0, c0, dst, d0, e0)``: ``dst[d0 + j, e0 + i] = src[r0 + i, c0 + j]`` for ``i, j < L``.

    ``L = lanes_of(dtype)``: one SIMD vector of numbers. ``src`` and ``dst`` are C-contiguous 2-D
    arrays of one float dtype, not overlapping, and the block lies inside both. In a kernel: ``L``
    vector loads (a row of the block each), ``log2(L)`` rounds of ``L`` shuffles, ``L`` vector
    stores. Each round pairs row ``i`` with row ``i + L/2`` and interleaves them (low halves into
    row ``2i``, high halves into row ``2i + 1``); after ``log2(L)`` rounds row ``j`` holds column ``j``.

    Example::

        >>> f = transpose_block(lambda dtype: 2)
        >>> dst = np.zeros((2, 3), np.float32)
        >>> f(np.arange(6, dtype=np.float32).reshape(3, 2), 1, 0, dst, 0, 1)
        >>> dst.tolist()
        [[0.0, 2.0, 4.0], [0.0, 3.0, 5.0]]
    """

    def python(src, r0, c0, dst, d0, e0):
        n = lanes_of(dst.dtype)
        dst[d0:d0 + n, e0:e0 + n] = src[r0:r0 + n, c0:c0 + n].T

    def make_jit() -> Any:
        from numba import types
        from numba.extending import intrinsic

        @intrinsic
        def transpose(typingctx, src, r0, c0, dst, d0, e0):
            if not _float_matrices_and_indices((src, dst), (r0, c0, d0, e0)):
                return None
            lanes = int(lanes_of(np.dtype(str(dst.dtype))))

            def codegen(context, builder, sig, args):
                _emit_transpose(context, builder, sig, args, lanes)
                return context.get_dummy_value()

            i64 = types.int64
            return types.none(src, i64, i64, dst, i64, i64), codegen

        return transpose

    return Inline(python, make_jit=make_jit)


def _emit_transpose(context: Any, builder: Any, sig: Any, args: Any, lanes: int) -> None:
    """The LLVM IR of ``transpose_block``: load the block's rows, interleave them ``log2(lanes)`` times, store."""
    from llvmlite import ir
    from numba.core import cgutils

    src, dst = (context.make_array(sig.args[n])(context, builder, args[n]) for n in (0, 3))
    r0, c0, d0, e0 = (args[n] for n in (1, 2, 4, 5))
    item = context.get_value_type(sig.args[0].dtype)
    itemsize = context.get_abi_sizeof(item)
    vector = ir.VectorType(item, lanes)
    i64, i32, byte_ptr = ir.IntType(64), ir.IntType(32), ir.IntType(8).as_pointer()
    src_stride = cgutils.unpack_tuple(builder, src.strides, 2)[0]
    dst_stride = cgutils.unpack_tuple(builder, dst.strides, 2)[0]

    def corner(array, stride, row, col):  # a byte pointer to array[row, col]
        offset = builder.add(builder.mul(row, stride), builder.mul(col, ir.Constant(i64, itemsize)))
        return builder.gep(builder.bitcast(array.data, byte_ptr), [offset])

    def row_pointer(base, stride, r):
        return builder.bitcast(builder.gep(base, [builder.mul(ir.Constant(i64, r), stride)]), vector.as_pointer())

    source = corner(src, src_stride, r0, c0)
    rows = [builder.load(row_pointer(source, src_stride, r), align=itemsize) for r in range(lanes)]
    half = lanes // 2
    low = ir.Constant(ir.VectorType(i32, lanes), [x for m in range(half) for x in (m, m + lanes)])
    high = ir.Constant(ir.VectorType(i32, lanes), [x for m in range(half, lanes) for x in (m, m + lanes)])
    for _ in range(lanes.bit_length() - 1):  # log2(lanes) rounds
        paired = [(rows[i], rows[i + half]) for i in range(half)]
        rows = [builder.shuffle_vector(a, b, mask) for a, b in paired for mask in (low, high)]
    target = corner(dst, dst_stride, d0, e0)
    for r, row in enumerate(rows):
        builder.store(row, row_pointer(target, dst_stride, r), align=itemsize)


def copy_rows(width_of: Callable[[np.dtype], int], lanes_of: Callable[[np.dtype], int]) -> Inline:
    """A helper ``f(src, r0, c0, dst, d0, rows)``: ``dst[d0 + r, :W] = src[r0 + r, c0:c0 + W]`` for ``r < rows``.

    ``W = width_of(dtype)``, a whole number of SIMD vectors (``lanes_of(dtype)`` numbers each): a
    row of a packed panel. ``src`` and ``dst`` are C-contiguous 2-D arrays of one float dtype, not
    overlapping, and the rows lie inside both. In a kernel each row is ``W / lanes`` vector loads
    and as many vector stores: LLVM, not knowing that ``src`` and ``dst`` never overlap, copies
    such a loop one number at a time.

    Example::

        >>> f = copy_rows(lambda dtype: 2, lambda dtype: 2)
        >>> dst = np.zeros((2, 2), np.float32)
        >>> f(np.arange(6, dtype=np.float32).reshape(2, 3), 0, 1, dst, 0, 2)
        >>> dst.tolist()
        [[1.0, 2.0], [4.0, 5.0]]
    """

    def python(src, r0, c0, dst, d0, rows):
        w = width_of(dst.dtype)
        dst[d0:d0 + rows, :w] = src[r0:r0 + rows, c0:c0 + w]

    def make_jit() -> Any:
        from numba import types
        from numba.extending import intrinsic

        @intrinsic
        def copy(typingctx, src, r0, c0, dst, d0, rows):
            if not _float_matrices_and_indices((src, dst), (r0, c0, d0, rows)):
                return None
            dtype = np.dtype(str(dst.dtype))
            width, lanes = int(width_of(dtype)), int(lanes_of(dtype))

            def codegen(context, builder, sig, args):
                _emit_copy_rows(context, builder, sig, args, width // lanes, lanes)
                return context.get_dummy_value()

            i64 = types.int64
            return types.none(src, i64, i64, dst, i64, i64), codegen

        return copy

    return Inline(python, make_jit=make_jit)


def _emit_copy_rows(context: Any, builder: Any, sig: Any, args: Any, n_vectors: int, lanes: int) -> None:
    """The LLVM IR of ``copy_rows``: a loop over the rows, each ``n_vectors`` vector loads and stores."""
    from llvmlite import ir
    from numba.core import cgutils

    src, dst = (context.make_array(sig.args[n])(context, builder, args[n]) for n in (0, 3))
    r0, c0, d0, rows = (args[n] for n in (1, 2, 4, 5))
    item = context.get_value_type(sig.args[0].dtype)
    itemsize = context.get_abi_sizeof(item)
    vector = ir.VectorType(item, lanes)
    i64, byte_ptr = ir.IntType(64), ir.IntType(8).as_pointer()
    src_stride = cgutils.unpack_tuple(builder, src.strides, 2)[0]
    dst_stride = cgutils.unpack_tuple(builder, dst.strides, 2)[0]
    source = builder.gep(builder.bitcast(src.data, byte_ptr),
                         [builder.add(builder.mul(r0, src_stride), builder.mul(c0, ir.Constant(i64, itemsize)))])
    target = builder.gep(builder.bitcast(dst.data, byte_ptr), [builder.mul(d0, dst_stride)])

    before = builder.block
    loop = builder.append_basic_block("copy.loop")
    done = builder.append_basic_block("copy.done")
    builder.cbranch(builder.icmp_signed(">", rows, ir.Constant(i64, 0)), loop, done)
    builder.position_at_end(loop)
    r = builder.phi(i64)
    src_row = builder.gep(source, [builder.mul(r, src_stride)])
    dst_row = builder.gep(target, [builder.mul(r, dst_stride)])
    for v in range(n_vectors):
        offset = ir.Constant(i64, v * lanes * itemsize)
        value = builder.load(builder.bitcast(builder.gep(src_row, [offset]), vector.as_pointer()), align=itemsize)
        builder.store(value, builder.bitcast(builder.gep(dst_row, [offset]), vector.as_pointer()), align=itemsize)
    r_next = builder.add(r, ir.Constant(i64, 1))
    r.add_incoming(ir.Constant(i64, 0), before)
    r.add_incoming(r_next, loop)
    builder.cbranch(builder.icmp_signed("<", r_next, rows), loop, done)
    builder.position_at_end(done)


def _exp2_python(m, one):
    """``2^m`` in the dtype of ``one`` for an integer-valued ``m`` (the plain-Python version)."""
    return type(one)(np.ldexp(1.0, int(m)))


def _make_exp2() -> Any:
    """The compiled ``2^m``: float -> int, add the bias (127 / 1023), shift into place (23 / 52), reinterpret.

    IEEE floats store ``x = 1.f * 2^(e - bias)``; with ``f = 0`` and ``e = m + bias`` the bits ARE
    ``2^m``. Computing ``2^m`` from integer shifts in Python's way would need int64 lanes (half
    as many for float32).
    """
    import numba
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def exp2_bits(typingctx, m, one):
        if not isinstance(m, types.Float) or m != one:
            return None

        def codegen(context, builder, sig, args):
            width, bias, shift = (32, 127, 23) if sig.return_type == types.float32 else (64, 1023, 52)
            int_t = ir.IntType(width)
            e = builder.add(builder.fptosi(args[0], int_t), ir.Constant(int_t, bias))
            bits = builder.shl(e, ir.Constant(int_t, shift))
            return builder.bitcast(bits, context.get_value_type(sig.return_type))

        return one(m, one), codegen

    return numba.njit(**_OPTIONS)(lambda m, one: exp2_bits(m, one))


# 2^m for an integer-valued float m with |m| < 127 (a normal number), in the dtype of `one`.
exp2 = Inline(_exp2_python, _OPTIONS, make_jit=_make_exp2)
