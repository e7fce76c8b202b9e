"""The compile modes (minigrad/kernels/_background.py): background helper, wait, off.

The background mode is tested in subprocesses of its own, each with a fresh temporary Numba cache,
so that what they compile neither comes from nor lands in the suite's cache.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import minigrad.kernels as K
from minigrad.kernels import _background as bg
from minigrad.kernels._references import reference_of

# These tests are about compiling (in the background or here); with NUMBA_DISABLE_JIT=1 nothing
# compiles. The test that trains with the JIT disabled sets that variable in its own subprocess.
pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"),
                                reason="NUMBA_DISABLE_JIT=1: there is no compiler to test")

ROOT = Path(__file__).resolve().parents[2]

# Calls one small kernel (quick to compile) until its machine code has replaced the reference.
_SWITCH_OVER = """
import sys, time
import numpy as np
from minigrad.kernels import _background as bg
from minigrad.kernels.loss import mse_grad as k, mse_grad_ref
from minigrad.kernels._references import reference_of

reference, reference_runs = reference_of(k), []
k._reference = lambda *args: reference_runs.append(1) or reference(*args)  # counts the reference's runs
rng = np.random.default_rng(0)
y, grad = rng.uniform(0, 1, 1000), rng.standard_normal(1000)
expected = np.empty(1000)
mse_grad_ref(y, grad, 0.5, expected)
deadline = time.monotonic() + {timeout}
while k._ready[False] is None:
    out = np.empty(1000)
    k(y, grad, 0.5, out)
    np.testing.assert_array_equal(out, expected)  # the reference, while the helper compiles
    assert time.monotonic() < deadline, "the kernel never switched to its machine code"
    time.sleep(0.05)
out = np.empty(1000)
k(y, grad, 0.5, out)
compiled = np.empty(1000)
k._ready[False](y, grad, 0.5, compiled)  # the dispatcher itself: machine code only
np.testing.assert_array_equal(out, compiled)
assert len(k._ready[False].overloads) == 1
print("helper" if bg.HELPER._process is not None else "no helper", len(reference_runs))
"""


def _run(code: str, cache_dir: Path, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT), **env)
    environ.pop("MINIGRAD_COMPILE", None)  # the default mode: background
    environ.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environ, timeout=300, check=False)


def test_every_kernel_has_a_reference_with_its_arguments():
    for kernel in K.all_kernels():
        reference = reference_of(kernel)
        assert list(inspect.signature(reference).parameters) == list(inspect.signature(kernel.py_func).parameters), \
            kernel.name


def test_background_runs_the_reference_then_switches_to_machine_code(tmp_path):
    first = _run(_SWITCH_OVER.format(timeout=240), tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.split()[0] == "helper"
    assert int(first.stdout.split()[1]) >= 1  # the reference ran while the helper compiled
    lines = [line for line in first.stderr.splitlines() if line.startswith("minigrad:")]
    assert len(lines) == 1 and "background" in lines[0] and "once" in lines[0], first.stderr
    assert str(tmp_path) in lines[0]  # says where the machine code is kept

    # The next process finds the machine code in the disk cache: no helper, nothing on stderr.
    second = _run(_SWITCH_OVER.format(timeout=60), tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["no", "helper", "0"]  # and the reference never ran
    assert "minigrad:" not in second.stderr


# A row-split parallel kernel runs its stand-in (the serial kernel, compiled first here as the warmup
# would) while the helper compiles it; the serial kernel is never sent to the helper.
_STAND_IN = """
import time
import numpy as np
from minigrad.kernels import _background as bg, rnn as K
from minigrad.kernels._jit import threads_usable

name = "rnn_sequence_forward_rows"
k, serial = getattr(K, name), K.rnn_sequence_forward
args = K.example_args(name, np.float32, n_time=3, batch=4, hidden=6, lengths=[3, 1, 0, 2])
fresh = lambda: [a.copy() if isinstance(a, np.ndarray) else a for a in args]
with bg.forced_mode("wait"):
    k.stand_in(*fresh())  # compiles the serial kernel in this process
stand_in, runs = k.stand_in, []
k._stand_in = lambda *a: runs.append(1) or stand_in(*a)  # counts the stand-in's runs
expected = fresh()
k.reference(*expected)
parallel = k.parallel and threads_usable()
deadline = time.monotonic() + {timeout}
while k._ready[parallel] is None:
    out = fresh()
    k(*out)
    for a, b in zip(out, expected):
        if isinstance(a, np.ndarray):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    assert not serial._pending[False], "the stand-in's serial kernel was sent to the helper"
    assert time.monotonic() < deadline, "the kernel never switched to its machine code"
    time.sleep(0.05)
out = fresh()
k(*out)
for a, b in zip(out, expected):
    if isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
print(len(runs))
"""


def test_a_parallel_kernel_runs_its_serial_stand_in_while_it_compiles(tmp_path):
    done = _run(_STAND_IN.format(timeout=240), tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) >= 1  # the stand-in ran while the helper compiled


def test_one_stderr_line_for_many_kernels(tmp_path):
    code = """
    import numpy as np
    from minigrad.kernels import loss as L, softmax as S, _background as bg
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    for _ in range(3):
        L.mse_sum(x.ravel(), x.ravel()); L.mse_grad(x.ravel(), x.ravel(), 0.5, np.empty(12))
        S.softmax_rows(x); S.log_softmax_rows(x.astype(np.float32))
    np.testing.assert_allclose(S.softmax_rows(x), S.softmax_rows_ref(x), rtol=1e-12)
    print(bg.HELPER.join(timeout=240))
    """
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0"]  # the helper compiled all four and exited cleanly
    assert sum(line.startswith("minigrad:") for line in result.stderr.splitlines()) == 1, result.stderr


def test_off_runs_references_without_numba(tmp_path):
    code = """
    import sys
    import numpy as np
    from minigrad.kernels.loss import mse_grad as k, mse_grad_ref
    y, out, expected = np.linspace(0, 1, 5), np.empty(5), np.empty(5)
    k(y, y[::-1].copy(), 0.5, out)
    mse_grad_ref(y, y[::-1].copy(), 0.5, expected)
    np.testing.assert_array_equal(out, expected)
    print("numba" in sys.modules)
    """
    result = _run(code, tmp_path, MINIGRAD_COMPILE="off")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]
    assert result.stderr == ""


def test_disable_jit_runs_python_and_starts_no_helper(tmp_path):
    code = """
    import sys; sys.path.insert(0, "benchmarks")
    import minigrad as mg
    from minigrad.kernels import _background as bg
    from run import WORKLOADS, minigrad_step
    w = [w for w in WORKLOADS if w.name == "lstm_tiny"][0]
    step, _ = minigrad_step(w, "fused")
    print(float(step()) > 0, bg.HELPER._process is None)
    """
    environ = {"NUMBA_DISABLE_JIT": "1"}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            cwd=ROOT, timeout=300, check=False,
                            env=dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT),
                                     MINIGRAD_COMPILE="background", **environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
    assert "minigrad:" not in result.stderr


def test_a_failed_helper_means_compiling_here(tmp_path, monkeypatch):
    # A helper that exits at once without compiling: the kernel must still end up compiled.
    code = """
    import sys, time
    import numpy as np
    from minigrad.kernels import _background as bg, _jit
    from minigrad.kernels.loss import mse_grad as k
    bg.Helper._start_command = lambda self: [sys.executable, "-c", "raise SystemExit(3)"]
    y = np.linspace(-1, 1, 7)
    deadline = time.monotonic() + 120
    while k._ready[False] is None:
        k(y, y, 0.5, np.empty(7))
        assert time.monotonic() < deadline
        time.sleep(_jit.LOOK_INTERVAL)
    print(bg.HELPER.exit_code())
    """
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3"]
    assert "stopped (exit code 3)" in result.stderr and "compiling" in result.stderr


def test_helpers_run_this_copy_of_minigrad_from_any_directory(tmp_path):
    # Standing in another checkout (a directory holding a `minigrad` of its own), `python -m
    # minigrad` would import that one; a helper must run the copy that started it.
    decoy = tmp_path / "minigrad"
    decoy.mkdir()
    (decoy / "__init__.py").write_text("raise SystemExit('the decoy minigrad was imported')\n")
    (decoy / "__main__.py").write_text("raise SystemExit('the decoy minigrad was run')\n")
    assert subprocess.run([sys.executable, "-m", "minigrad", "warmup", "--help"], cwd=tmp_path,
                          capture_output=True, text=True).returncode != 0  # (the trap works)
    done = subprocess.run(bg.this_minigrad_command("warmup", "--help"), cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "usage: python -m minigrad warmup" in done.stdout
    assert bg.Helper()._start_command() == bg.this_minigrad_command("warmup", "--requests", "-")


def test_a_mode_that_does_not_exist_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(bg.ENV_VAR, "later")
    with pytest.raises(ValueError, match=r"MINIGRAD_COMPILE='later'.*background, wait, off"):
        bg.compile_mode()


def test_requests_round_trip():
    import numba

    signature = (numba.typeof(np.zeros((2, 3), np.float32)), numba.typeof(True), numba.typeof(3))
    line = bg.encode_request("minigrad.kernels.gemm", "matmul", False, signature)
    assert "\n" not in line
    assert bg.decode_request(line) == ("minigrad.kernels.gemm", "matmul", False, signature)


def test_every_kernel_has_a_warmup_and_shares_split_the_jobs():
    for kernel in K.all_kernels():
        assert kernel.warmup_fn is not None or kernel.name in K.EXTRA_WARMUPS, kernel.name
    jobs = K.warmup_jobs(("float32", "float64"), everything=True)
    assert len(jobs) == 2 * len(K.all_kernels())
    assert {k.name for k, _ in K.warmup_jobs()} == ({k.name for k in K.all_kernels()}
                                                         - K.NOT_CALLED_BY_LAYERS - K.FIRST_USE_ONLY)
    assert [dtype for _, dtype in jobs[:len(jobs) // 2]] == ["float32"] * (len(jobs) // 2)
    parallel = [k.parallel for k, _ in jobs[:len(jobs) // 2]]
    assert parallel == sorted(parallel, reverse=True)  # the longest to compile first


def test_warmup_processes_claim_each_job_once(tmp_path):
    from minigrad.kernels import _claim

    assert [_claim(str(tmp_path), 3), _claim(str(tmp_path), 3), _claim(str(tmp_path), 4)] == [True, False, True]


_TRAIN = """
import json, sys
sys.path.insert(0, "benchmarks")
from run import WORKLOADS, minigrad_step
losses = {}
for w in WORKLOADS:
    if w.name in ("lstm_tiny", "lstm_small", "gru_small", "rnn_small", "charlm"):
        step, _ = minigrad_step(w, "fused")
        losses[w.name] = [float(step()) for _ in range(3)]
print(json.dumps(losses))
"""


def test_references_train_like_the_kernels():
    # Every workload of benchmarks/run.py on NumPy references only (`off`: what `background` runs
    # before the switch) and on the compiled kernels (`wait`): the same losses up to float32 rounding.
    def losses(mode: str) -> dict:
        result = subprocess.run([sys.executable, "-c", _TRAIN], capture_output=True, text=True, cwd=ROOT,
                                timeout=600, check=False,
                                env=dict(os.environ, PYTHONPATH=str(ROOT), MINIGRAD_COMPILE=mode))
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    references, kernels = losses("off"), losses("wait")
    assert references.keys() == kernels.keys() and len(kernels) == 5
    for name in kernels:
        np.testing.assert_allclose(references[name], kernels[name], rtol=2e-4, err_msg=name)


def test_wait_says_once_that_it_compiles_and_nothing_when_cached(tmp_path):
    code = """
    import numpy as np
    from minigrad.kernels import loss as L
    x, x32 = np.linspace(-1, 1, 6), np.linspace(-1, 1, 6, dtype=np.float32)
    L.mse_grad(x, x, 0.5, np.empty(6)); L.mse_sum(x, x); L.mse_grad(x32, x32, 0.5, np.empty(6, np.float32))
    """
    cold = _run(code, tmp_path, MINIGRAD_COMPILE="wait")
    assert cold.returncode == 0, cold.stderr
    lines = cold.stderr.splitlines()
    assert len(lines) == 1 and "mse_grad" in lines[0] and "once" in lines[0], cold.stderr
    warm = _run(code, tmp_path, MINIGRAD_COMPILE="wait")
    assert warm.returncode == 0 and warm.stderr == "", warm.stderr


def test_cached_machine_code_is_stamped_with_every_kernel_file(tmp_path, monkeypatch):
    """A kernel's cache entry holds the helpers it inlines from other files, so it is stamped with
    a digest of all of minigrad/kernels: an entry written under other sources is not loaded."""
    import numba

    from minigrad.kernels import _jit
    from minigrad.kernels.loss import mse_grad as k

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))  # not the suite's cache
    dispatcher = _jit.cached_njit(k.py_func, **k.options)
    cache_file = dispatcher._cache._cache_file
    assert cache_file._source_stamp[1] == _jit.kernels_digest()
    assert str(tmp_path) in str(dispatcher._cache.cache_path)
    y, g = np.full(3, 0.5, np.float32), np.ones(3, np.float32)
    out = np.empty(3, np.float32)
    dispatcher(y, g, 0.5, out)  # compiles and saves
    assert cache_file._load_index(), "the entry was saved"
    cache_file._source_stamp = (cache_file._source_stamp[0], "another digest")  # as after an edit of a helper
    assert cache_file._load_index() == {}, "an entry of other sources must not be loaded"
