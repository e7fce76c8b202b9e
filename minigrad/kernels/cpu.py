"""The CPU Numba compiles for: its features, its LLVM name, the width of its vector registers.

The register tile (``kernels/gemm.py: tile_shape``), the vector instructions of its loop
(``kernels/_intrinsics.py``) and the plan's row per kind of CPU (``nn/rnn_plan.py:
blas_step_cpu``) all ask here, so that one switch, ``MINIGRAD_SIMULATE_CPU=avx2``, makes every one
of them see a CPU without AVX-512.

Example::

    >>> vector_lanes(np.float32) in (8, 16)
    True
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

_SIMD: tuple[int, int] | None = None

# ``MINIGRAD_SIMULATE_CPU=avx2`` makes the feature query below report a CPU without AVX-512
# (set it together with ``NUMBA_CPU_NAME=haswell`` and a separate ``NUMBA_CACHE_DIR``, so that
# Numba compiles for that CPU too): how benchmarks and tests run the AVX2 profile on any host.
SIMULATE_CPU_ENV = "MINIGRAD_SIMULATE_CPU"
SIMULATED_CPUS = ("avx2",)


def host_cpu_features() -> dict[str, bool]:
    """The CPU features Numba compiles for, as llvmlite reports them (``{}`` without llvmlite).

    With ``MINIGRAD_SIMULATE_CPU=avx2`` every ``avx512*`` feature reads False.

    Example::

        >>> isinstance(host_cpu_features(), dict)
        True
    """
    simulated = os.environ.get(SIMULATE_CPU_ENV, "").strip().lower()
    if simulated and simulated not in SIMULATED_CPUS:
        raise ValueError(f"{SIMULATE_CPU_ENV}={simulated!r}: expected one of {SIMULATED_CPUS} or unset")
    try:
        import llvmlite.binding as ll

        features = {name: bool(on) for name, on in ll.get_host_cpu_features().items()}
    except Exception:  # no llvmlite (plain-Python runs): any tile shape is correct
        return {}
    if simulated == "avx2":
        features = {name: on and not name.startswith("avx512") for name, on in features.items()}
    return features


@functools.cache
def host_cpu_name() -> str:
    """The host CPU's LLVM name (``"znver5"``, ``"rocketlake"``, ...; ``""`` without llvmlite).

    Always the real host: ``MINIGRAD_SIMULATE_CPU`` hides features, not the maker.

    Example::

        >>> isinstance(host_cpu_name(), str)
        True
    """
    try:
        import llvmlite.binding as ll

        return str(ll.get_host_cpu_name())
    except Exception:  # no llvmlite (plain-Python runs)
        return ""


def simd() -> tuple[int, int]:
    """(bytes per SIMD register, vectors per tile row) of the CPU Numba compiles for.

    Example::

        >>> simd() in ((64, 4), (32, 3))  # AVX-512, AVX2
        True
    """
    global _SIMD
    if _SIMD is None:
        features = host_cpu_features()
        avx512 = features.get("avx512f", False) and features.get("avx512vl", False)
        _SIMD = (64, 4) if avx512 else (32, 3)
    return _SIMD


def vector_lanes(dtype: Any) -> int:
    """How many numbers of ``dtype`` one SIMD register of this CPU holds.

    Example::

        >>> vector_lanes(np.float32) in (8, 16)
        True
    """
    return simd()[0] // np.dtype(dtype).itemsize
