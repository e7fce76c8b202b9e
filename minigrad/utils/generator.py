"""``mg.Generator``: a random source of its own, as ``torch.Generator``.

Pass one as ``generator=`` (to ``DataLoader``, samplers, ``random_split``) to make that shuffle
repeatable without touching the library-wide stream that ``mg.manual_seed`` seeds. Without one,
those functions draw from the library-wide stream, so ``mg.manual_seed`` alone also makes them
repeatable.

Example::

    >>> import minigrad as mg
    >>> from minigrad.utils.data import DataLoader
    >>> g = mg.Generator().manual_seed(0)
    >>> first = [b.tolist() for b in DataLoader(range(6), batch_size=3, shuffle=True, generator=g)]
    >>> g.manual_seed(0)  # doctest: +ELLIPSIS
    <minigrad.Generator object at ...>
    >>> first == [b.tolist() for b in DataLoader(range(6), batch_size=3, shuffle=True, generator=g)]
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.random import rng as _library_rng
from minigrad.random import state_from_bytes, state_to_bytes
from minigrad.tensor import Tensor

__all__ = ["Generator"]

# A new torch.Generator starts from this fixed seed (not from entropy); so does ours.
DEFAULT_SEED = 67280421310721


class Generator:
    """A seedable random number generator (``torch.Generator``); CPU only.

    A new generator starts from PyTorch's fixed default seed. ``manual_seed(seed)`` returns the
    generator itself, so ``mg.Generator().manual_seed(42)`` is the usual one-liner.
    ``get_state()``/``set_state()`` save and restore its position.

    Example::

        >>> import minigrad as mg
        >>> g = mg.Generator().manual_seed(3)
        >>> g.initial_seed()
        3
    """

    def __init__(self, device: Any = "cpu") -> None:
        if str(device) != "cpu":
            raise RuntimeError(f"Generator: device {str(device)!r} is not available; minigrad runs on the CPU "
                               "(use device='cpu')")
        self.device = device
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from ``seed`` (an int; negative seeds wrap to 64 bits as in PyTorch)."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {type(seed).__name__}")
        seed = int(seed)
        if not -(2**63) <= seed < 2**64:
            raise ValueError(f"Generator.manual_seed: seed must be in [-2**63, 2**64), got {seed}")
        self._seed = seed % 2**64
        self._rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Seed from fresh operating-system entropy; returns the seed used."""
        fresh = int(np.random.SeedSequence().entropy % 2**63)
        self.manual_seed(fresh)
        return fresh

    def initial_seed(self) -> int:
        """The seed the stream was last started from."""
        return self._seed

    def get_state(self) -> Tensor:
        """The generator's position as a uint8 tensor (give it back to ``set_state``)."""
        return Tensor(state_to_bytes(self._seed, self._rng))

    def set_state(self, new_state: Tensor) -> Generator:
        """Return to a position saved by ``get_state``."""
        self._seed, self._rng = state_from_bytes(new_state, "Generator.set_state", "Generator.get_state()")
        return self

    def __repr__(self) -> str:
        return f"<minigrad.Generator object at {id(self):#x}>"


def numpy_rng(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator behind ``generator``, or the library-wide one (``mg.manual_seed``) for None.

    Example::

        >>> import minigrad as mg
        >>> from minigrad.utils.generator import numpy_rng
        >>> g = mg.Generator().manual_seed(0)
        >>> numpy_rng(g).permutation(3).tolist() == numpy_rng(mg.Generator().manual_seed(0)).permutation(3).tolist()
        True
    """
    if generator is None:
        return _library_rng()
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be an mg.Generator or None, got {type(generator).__name__}")
    return generator._rng
