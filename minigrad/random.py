"""One seeded random source for the whole library: ``mg.manual_seed(0)`` makes runs repeatable.

Initialisation, dropout masks, ``mg.randn``/``mg.rand`` and the examples all draw from
``rng()``, a ``numpy.random.Generator``. Without ``manual_seed`` it starts from fresh entropy (each
run differs); ``initial_seed()`` tells which seed that was. ``get_rng_state()`` and
``set_rng_state()`` save and restore the stream's position, as a checkpoint does with PyTorch's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


def _fresh_seed() -> int:
    """A seed from the operating system's entropy."""
    return int(np.random.SeedSequence().entropy % (2**63))


_first_seed = _fresh_seed()
_state = {"rng": np.random.default_rng(_first_seed), "seed": _first_seed}


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
    _state["rng"], _state["seed"] = np.random.default_rng(seed), seed
    return _state["rng"]


def seed() -> int:
    """Seed with fresh entropy and return the seed used.

    Example::

        >>> import minigrad as mg
        >>> s = mg.seed()
        >>> mg.initial_seed() == s
        True
    """
    s = _fresh_seed()
    manual_seed(s)
    return s


def initial_seed() -> int:
    """The seed the library's stream last started from (``manual_seed``'s, or the one drawn at import).

    Example::

        >>> import minigrad as mg
        >>> _ = mg.manual_seed(7)
        >>> mg.initial_seed()
        7
    """
    return _state["seed"]


def rng() -> np.random.Generator:
    """The library's random generator (use it for anything random inside minigrad)."""
    return _state["rng"]


def get_rng_state() -> Tensor:
    """The library stream's position, as a uint8 tensor: give it to ``set_rng_state`` to draw again.

    Example::

        >>> import minigrad as mg
        >>> state = mg.get_rng_state()
        >>> a = mg.rand(3).tolist()
        >>> mg.set_rng_state(state)
        >>> mg.rand(3).tolist() == a
        True
    """
    from minigrad.tensor import Tensor

    return Tensor(state_to_bytes(_state["seed"], _state["rng"]))


def set_rng_state(new_state: Tensor) -> None:
    """Put the library's stream back where ``get_rng_state`` saw it (e.g. from a checkpoint).

    Example::

        >>> import minigrad as mg
        >>> state = mg.get_rng_state(); _ = mg.randn(1)
        >>> mg.set_rng_state(state)
    """
    _state["seed"], _state["rng"] = state_from_bytes(new_state, "set_rng_state", "mg.get_rng_state()")


def state_to_bytes(seed: int, generator: np.random.Generator) -> np.ndarray:
    """A generator's seed and position as uint8 (JSON text: no pickle, readable in a checkpoint).

    Example::

        >>> state_to_bytes(0, np.random.default_rng(0)).dtype
        dtype('uint8')
    """
    state = {"seed": seed, "bit_generator": generator.bit_generator.state}
    return np.frombuffer(json.dumps(state).encode(), dtype=np.uint8).copy()


def state_from_bytes(new_state: Any, who: str, maker: str) -> tuple[int, np.random.Generator]:
    """``(seed, generator)`` back from ``state_to_bytes``' uint8 tensor; a clear error for anything else.

    Example::

        >>> import minigrad as mg
        >>> seed, g = state_from_bytes(mg.tensor(state_to_bytes(5, np.random.default_rng(5))), "f", "g()")
        >>> seed, float(g.random()) == float(np.random.default_rng(5).random())
        (5, True)
    """
    array = getattr(new_state, "_array", None)
    if array is None or array.dtype != np.uint8 or array.ndim != 1:
        shape = getattr(new_state, "shape", None)
        raise ValueError(f"{who}: expected the 1-D uint8 tensor that {maker} returns, got "
                         f"{type(new_state).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else ""))
    try:
        state = json.loads(bytes(array).decode())
        generator = np.random.default_rng()
        generator.bit_generator.state = state["bit_generator"]
        seed = int(state["seed"])
    except (ValueError, KeyError, TypeError) as e:  # (JSON's and the bit generator's errors are ValueErrors)
        raise ValueError(f"{who}: this uint8 tensor is not a state that {maker} returned "
                         f"({array.size} bytes: {e})") from None
    return seed, generator
