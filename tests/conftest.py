"""Shared test helpers: the fixture directory and an optional torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def torch():
    """The torch module for live parity tests; the test skips with a reason when torch is missing."""
    return pytest.importorskip("torch", reason="torch not installed: live PyTorch parity skipped "
                                               "(fixture-based parity still runs)")


def load_fixture(name: str) -> dict[str, np.ndarray]:
    """Arrays of ``tests/fixtures/<name>.npz`` (written by tests/make_fixtures.py)."""
    with np.load(FIXTURES / f"{name}.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}
