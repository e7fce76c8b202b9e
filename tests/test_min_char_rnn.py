"""examples/min_char_rnn.py: a char-RNN trained by hand in NumPy whose gradients are compared with
minigrad's autograd at every iteration. Run briefly as a user would, and its checker is shown to
catch a wrong gradient."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "min_char_rnn.py"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def _load_module():
    spec = importlib.util.spec_from_file_location("min_char_rnn", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_trains_briefly_with_every_gradient_checked(tmp_path: Path) -> None:
    proc = _run("--steps", "40", "--print-every", "20", "--hidden", "16", "--seq-len", "10", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["checked"] == 40                       # autograd compared at every step
    assert result["max_grad_diff"] < 1e-9
    assert result["recent_loss"] < result["initial_loss"]  # it learns something in 40 windows
    assert "sample:" in proc.stdout
    assert list(tmp_path.iterdir()) == []                 # no stray files


def test_help_shows_defaults(tmp_path: Path) -> None:
    proc = _run("--help", cwd=tmp_path)
    assert proc.returncode == 0
    assert "(default: 300)" in proc.stdout and "(default: 25)" in proc.stdout


def test_hand_gradients_match_autograd_and_a_wrong_one_is_caught() -> None:
    mcr = _load_module()
    rng = np.random.default_rng(1)
    params = mcr.init_params(vocab_size=7, hidden=5, rng=rng)
    params = {name: p + rng.normal(0, 0.5, p.shape) for name, p in params.items()}   # not tiny: tanh' matters
    inputs, targets, h0 = [0, 3, 6, 2, 2], [3, 6, 2, 2, 1], rng.normal(0, 0.5, (5, 1))
    loss, hand, _ = mcr.loss_and_gradients(params, inputs, targets, h0)
    auto_loss, auto = mcr.autograd_gradients(params, inputs, targets, h0)
    assert loss == pytest.approx(auto_loss, abs=1e-12)
    assert mcr.check_gradients(hand, auto, iteration=0) < 1e-12
    hand["W_hh"][2, 3] += 1e-6                            # one wrong entry
    with pytest.raises(AssertionError, match="dL/dW_hh by hand and by minigrad's autograd differ"):
        mcr.check_gradients(hand, auto, iteration=0)
