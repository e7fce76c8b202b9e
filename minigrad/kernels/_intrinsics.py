"""The two pieces of machine code the kernels need that Numba has no Python spelling for.

- ``stack_array(shape_of)``: a small array on the stack. A NumPy array made inside a kernel lives
  on the heap, where LLVM must assume that anything can alias it, so it stays in memory; an
  ``alloca`` of a shape known at compile time is promoted to registers once the loops over it
  are unrolled. ``gemm``'s register tile and the softmax kernels' reduction lanes are such arrays.
  The function holding one asks LLVM for 512-bit vectors on an AVX-512 CPU (``_full_width_vectors``).
- ``exp2(m, one)``: ``2^m`` written straight into the exponent bits of a float, as every libm's
  ``exp`` does at its last step. Numba has no bit-cast of a scalar; this one is three
  instructions, and it vectorizes.

Both are Numba ``@intrinsic``s wrapped in ``Inline`` (``_jit.py``): plain Python functions
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
    from minigrad.kernels.gemm import host_cpu_features  # the one feature query (it knows the simulated CPU)

    if host_cpu_features().get("avx512f", False):
        # A string attribute: llvmlite's own list of attributes does not have it, so it goes into
        # the set as it is written in the IR.
        set.add(function.attributes, _PREFER_512)


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
