"""One seeded random source for the whole library: ``mg.manual_seed(0)`` makes runs repeatable.

Initialisation, dropout masks, ``mg.randn``/``mg.rand`` and the examples all draw from
``rng()``, a ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

_state = {"rng": np.random.default_rng()}


def manual_seed(seed: int) -> np.random.Generator:
    """Seed every random source of the library. Python's own ``random`` is left alone, as PyTorch
    leaves it: scripts that use it seed it themselves (``random.seed``), and reseeding it here would
    change what they draw.

    Example::

        >>> import minigrad as mg
        >>> _ = mg.manual_seed(0); a = mg.randn(2).tolist()
        >>> _ = mg.manual_seed(0); a == mg.randn(2).tolist()
        True
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"manual_seed: seed must be in [-2**63, 2**64), got {seed}")
    seed %= 2**64  # PyTorch maps negative seeds to their unsigned 64-bit value
    _state["rng"] = np.random.default_rng(seed)
    return _state["rng"]


def seed() -> int:
    """Seed with fresh entropy and return the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


def rng() -> np.random.Generator:
    """The library's random generator (use it for anything random inside minigrad)."""
    return _state["rng"]
