"""mg.save writes atomically: a failure or a kill at any moment leaves the old file or the new one.

Split from tests/test_serialization.py (the format, round trips and load errors).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from minigrad import serialization
from minigrad.serialization import load, save

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# atomic writes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage, exc", [("_serialize", MemoryError), ("fsync", OSError),
                                        ("replace", KeyboardInterrupt)])
def test_failure_during_write_keeps_previous_file_and_removes_temp(tmp_path, monkeypatch, stage, exc):
    path = tmp_path / "ckpt.safetensors"
    save({"w": np.ones(3)}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise exc("simulated failure")

    if stage == "_serialize":
        monkeypatch.setattr(serialization, "_serialize", boom)
    else:
        monkeypatch.setattr(serialization.os, stage, boom)
    with pytest.raises(exc, match="simulated"):
        save({"w": np.zeros(1000)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    assert np.array_equal(load(path)["w"], np.ones(3))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_permissions_follow_umask_for_new_files_and_are_kept_on_overwrite(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    old = os.umask(0o022)
    try:
        save({"w": np.ones(1)}, path)
        assert path.stat().st_mode & 0o777 == 0o644
        os.chmod(path, 0o600)  # a private checkpoint must stay private after an overwrite
        save({"w": np.zeros(1)}, path)
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_saving_through_a_symlink_replaces_the_file_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.safetensors"
    link = tmp_path / "latest.safetensors"
    save({"w": np.ones(1)}, real)
    link.symlink_to(real.name)
    save({"w": np.full(1, 2.0)}, link)
    assert link.is_symlink()
    assert load(real)["w"].item() == 2.0


KILL_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from minigrad.serialization import save

    path, n = sys.argv[1], int(sys.argv[2])
    version = int(sys.argv[3])
    payload = np.empty(n, np.float32)
    print("ready", flush=True)
    while True:
        version += 1
        payload.fill(version)
        save({"version": np.array(version), "payload": payload,
              "nested": {"step": version, "betas": (0.9, 0.999), "ids": [version] * 3}}, path)
    """
)


def check_complete_version(path) -> int:
    """The file is one whole version: every part agrees with the version number."""
    ckpt = load(path)
    version = int(ckpt["version"].item())
    assert ckpt["payload"].dtype == np.float32 and np.all(ckpt["payload"] == version)
    assert ckpt["nested"] == {"step": version, "betas": (0.9, 0.999), "ids": [version] * 3}
    return version


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killing_a_save_at_random_moments_never_leaves_a_broken_checkpoint(tmp_path):
    """SIGKILL a process that overwrites a 16 MB checkpoint in a loop; the target must always be
    a complete old or new version (never a torn one), and loadable."""
    path = tmp_path / "ckpt.safetensors"
    n = 4_000_000  # float32: 16 MB per save
    save({"version": np.array(0), "payload": np.zeros(n, np.float32),
          "nested": {"step": 0, "betas": (0.9, 0.999), "ids": [0] * 3}}, path)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rng = random.Random(1234)
    versions, interrupted_saves = [], 0
    for _ in range(20):
        check_complete_version(path)
        first = (len(versions) + 1) * 100_000  # each child counts from its own base (exact in float32)
        child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(path), str(n), str(first)],
                                 stdout=subprocess.PIPE, env=env)
        try:
            assert child.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(0.0, 0.4))
        finally:
            child.kill()  # SIGKILL: no cleanup handlers run
            child.wait()
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        versions.append(check_complete_version(path))
        leftovers = [p for p in os.listdir(tmp_path) if p != path.name]
        assert all(p.startswith(".ckpt.safetensors.") and p.endswith(".tmp") for p in leftovers), leftovers
        interrupted_saves += bool(leftovers)
        for p in leftovers:  # a killed save can only leave its own temp file behind
            os.unlink(tmp_path / p)
    print(f"kill test: {len(versions)} kills, {interrupted_saves} mid-save, versions {versions}")
    assert versions[-1] > 0, "the child never completed a save: the test tested nothing"
    assert interrupted_saves > 0, "no kill landed in the middle of a save: the test tested nothing"
