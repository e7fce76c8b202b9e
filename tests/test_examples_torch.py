"""The training examples run on real PyTorch with their import swapped the other way.

Each example is written in the API minigrad shares with PyTorch (model, loss, optimizer, loop);
minigrad-only extras (``impl=``, ``mg.scope``) sit behind ``mg.__name__ == "minigrad"``. Here the
example is copied with ``import minigrad as mg`` -> ``import torch as mg`` (and ``from minigrad.x``
-> ``from torch.x``), nothing else, run under torch in a subprocess, and its JSON result line is
checked like tests/test_examples.py checks the minigrad run. That is the path from one minigrad
script to PyTorch (and its many-machine stack): swap the import back.

Skipped when torch is not installed. The drawing examples (demo, vanishing_gradients,
visualize_unrolled) are minigrad-only by purpose and not run here.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                reason="torch not installed: the examples are not run under PyTorch")


def to_torch(source: str) -> str:
    """Swap a minigrad example's imports to PyTorch; nothing else changes.

    >>> to_torch("import minigrad as mg  # noqa: E402\\nfrom minigrad.nn.utils import clip_grad_norm_")
    'import torch as mg  # noqa: E402\\nfrom torch.nn.utils import clip_grad_norm_'
    """
    source = re.sub(r"^(\s*)import minigrad as (\w+)", r"\1import torch as \2", source, flags=re.M)
    return re.sub(r"^(\s*)from minigrad((?:\.\w+)*) import ", r"\1from torch\2 import ", source, flags=re.M)


def run_under_torch(name: str, *args: str, tmp_path: Path, timeout: float = 300) -> dict:
    """Copy examples/<name> with its imports swapped to torch into ``tmp_path``, run it there, and
    return the JSON object on its last stdout line."""
    source = (EXAMPLES / name).read_text()
    assert re.search(r"^import minigrad as mg", source, flags=re.M), f"{name} does not `import minigrad as mg`"
    script = tmp_path / name
    script.write_text(to_torch(source))
    (tmp_path / "data").symlink_to(EXAMPLES / "data")        # examples read their bundled data next to them
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, str(script), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} under torch failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_lstm_by_hand(tmp_path: Path) -> None:
    r = run_under_torch("lstm_by_hand.py", tmp_path=tmp_path)
    assert r["max_abs_diff"] < 1e-6
    assert r["h1"] == pytest.approx([0.107118, 0.016830, -0.016390], abs=1e-5)
    assert r["c1"] == pytest.approx([0.242602, 0.028698, -0.030507], abs=1e-5)


def test_bptt_by_hand(tmp_path: Path) -> None:
    r = run_under_torch("bptt_by_hand.py", "--seq-len", "12", "--seed", "3", tmp_path=tmp_path)
    assert r["max_abs_diff"] < 1e-8                   # torch's autograd agrees with the hand-written BPTT
    assert r["T"] == 12


def test_stock_lstm(tmp_path: Path) -> None:
    r = run_under_torch("stock_lstm.py", tmp_path=tmp_path)
    assert r["handset_A"] == pytest.approx(0.0, abs=0.01)
    assert r["handset_B"] == pytest.approx(0.97, abs=0.01)
    assert abs(r["trained_A"] - 0.0) < 0.05
    assert abs(r["trained_B"] - 1.0) < 0.05


def test_binary_addition(tmp_path: Path) -> None:
    r = run_under_torch("binary_addition.py", "--steps", "400", tmp_path=tmp_path)
    assert r["accuracy"] == 1.0
    assert r["carry_probe_accuracy"] > 0.95


def test_next_value(tmp_path: Path) -> None:
    r = run_under_torch("next_value.py", "--steps", "150", tmp_path=tmp_path)
    assert r["test_mse"] < 0.5 * r["baseline_mse"]


def test_char_lstm_and_resume(tmp_path: Path) -> None:
    common = ["--hidden", "32", "--embed", "16", "--batch", "8", "--seq-len", "32", "--sample-len", "40",
              "--checkpoint", "ck.pt"]
    r = run_under_torch("char_lstm.py", "--steps", "40", *common, tmp_path=tmp_path)
    assert r["steps"] == 40
    assert r["val_loss"] < 3.6
    assert len(r["sample"]) > 40
    (tmp_path / "data").unlink()
    r2 = run_under_torch("char_lstm.py", "--steps", "60", "--resume", *common, tmp_path=tmp_path)
    assert r2["steps"] == 60                          # 20 more steps from torch's own checkpoint
    assert r2["val_loss"] < r["val_loss"] + 0.05
