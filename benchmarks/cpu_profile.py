"""The ``--cpu`` switch every benchmark shares: time on this CPU, or simulate one without AVX-512.

``--cpu native`` (the default) changes nothing. ``--cpu avx2`` makes each timing process behave as
on an AVX2-only CPU (most laptops: Intel client CPUs, AMD before Zen 4):

- minigrad: ``NUMBA_CPU_NAME=haswell`` with ``NUMBA_CPU_FEATURES`` empty (Numba compiles for
  Haswell's own features, AVX2 + FMA; with the variable unset it would keep the host's, AVX-512
  included), a separate ``NUMBA_CACHE_DIR`` (machine code compiled for the host must not be
  loaded), ``MINIGRAD_SIMULATE_CPU=avx2`` (``minigrad/kernels/cpu.py: host_cpu_features`` then
  reports no ``avx512*``, so the plan and the register tiles are those of an AVX2 machine) and
  ``OPENBLAS_CORETYPE=Haswell`` (NumPy's OpenBLAS takes its Haswell kernels, as it would there);
- PyTorch: ``ATEN_CPU_CAPABILITY=avx2`` (its kernels), ``DNNL_MAX_CPU_ISA=AVX2`` (oneDNN) and
  ``MKL_ENABLE_INSTRUCTIONS=AVX2`` (MKL).

NumPy's OpenBLAS picks its kernels at run time; ``--blas-defaults`` removes ``OPENBLAS_CORETYPE``
and ``OPENBLAS_L2_SIZE`` from the caller's environment, as a user's shell has them (the AVX2
profile still sets its own core type).

Example::

    >>> env = profile_env("avx2", "minigrad", {})
    >>> env["NUMBA_CPU_NAME"], env["NUMBA_CPU_FEATURES"], env["MINIGRAD_SIMULATE_CPU"], env["OPENBLAS_CORETYPE"]
    ('haswell', '', 'avx2', 'Haswell')
    >>> profile_env("avx2", "torch", {})["ATEN_CPU_CAPABILITY"]
    'avx2'
"""

from __future__ import annotations

import argparse
import os
import platform
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CPU_PROFILES = ("native", "avx2")
# Per profile and framework, the variables a timing process gets on top of the caller's environment.
_PROFILE_ENV = {
    "native": {"minigrad": {}, "torch": {}},
    "avx2": {
        "minigrad": {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "",
                     "NUMBA_CACHE_DIR": str(ROOT / ".numba_cache" / "avx2"), "MINIGRAD_SIMULATE_CPU": "avx2",
                     "OPENBLAS_CORETYPE": "Haswell"},
        "torch": {"ATEN_CPU_CAPABILITY": "avx2", "DNNL_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    },
}
BLAS_TUNING_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def profile_env(profile: str, framework: str, base: Mapping[str, str] | None = None, *,
                blas_defaults: bool = False) -> dict[str, str]:
    """The environment of a timing process for ``framework`` (``"minigrad"`` or ``"torch"``) on ``profile``.

    ``base`` defaults to ``os.environ``. ``blas_defaults`` drops the OpenBLAS tuning variables.
    """
    if profile not in _PROFILE_ENV:
        raise ValueError(f"--cpu: unknown CPU profile {profile!r}; expected one of {CPU_PROFILES}")
    if framework not in ("minigrad", "torch"):
        raise ValueError(f"profile_env: framework must be 'minigrad' or 'torch', got {framework!r}")
    env = dict(os.environ if base is None else base)
    if blas_defaults:
        for name in BLAS_TUNING_VARIABLES:
            env.pop(name, None)
    env.update(_PROFILE_ENV[profile][framework])  # the simulated CPU's own BLAS core stays
    return env


def describe_host() -> str:
    """The CPU the numbers were taken on: its model and what LLVM (Numba's compiler) takes it for.

    The same code runs at different speeds on different CPUs of one kind of machine (LLVM tunes
    Intel's AVX-512 CPUs and AMD's differently), so every result records it.

    Example::

        >>> "LLVM:" in describe_host()
        True
    """
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    from minigrad.kernels.cpu import host_cpu_features  # the features the kernels are compiled for

    try:
        import llvmlite.binding as ll

        llvm_name = ll.get_host_cpu_name()
    except Exception:  # no llvmlite
        llvm_name = "unknown"
    avx512 = host_cpu_features().get("avx512f", False)
    return f"{model} (LLVM: {llvm_name}, {'AVX-512' if avx512 else 'no AVX-512'})"


def add_cpu_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--cpu {native,avx2}`` and ``--blas-defaults`` to a benchmark's command line."""
    parser.add_argument("--cpu", choices=CPU_PROFILES, default="native",
                        help="native: this CPU; avx2: simulate a CPU without AVX-512 (minigrad and PyTorch)")
    parser.add_argument("--blas-defaults", action="store_true",
                        help="unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE in the timing processes")
