"""Shared test helpers: the fixture directory and an optional torch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# Kernels compile in this process on first use (no background helper running NumPy references in
# the meantime): results are then the same on every run. tests/kernels/test_background.py covers
# the background mode in subprocesses of its own.
os.environ.setdefault("MINIGRAD_COMPILE", "wait")

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
