"""Each helper compiles once per argument type, not once more for each literal constant.

Numba types a bare ``0`` passed to a helper as ``Literal[int](0)`` and compiles that helper again
for it, beside the copy for run-time integers; each copy of a big helper (the LSTM step's
backward, the gemm tile) costs about a second of every new machine's warmup. The rule
(``minigrad/kernels/_jit.py: Inline``) is to pass such constants as ``np.int64(0)``. This test
compiles the kernels that share the big helpers in a fresh process with an empty Numba cache
(the suite's cache would skip the compiling) and looks at what each helper was compiled for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"),
                                reason="NUMBA_DISABLE_JIT=1: there is no compiler to test")

ROOT = Path(__file__).resolve().parents[2]

_COMPILE_AND_REPORT = """
import json
import numpy as np
import minigrad.kernels as K
from minigrad.kernels._background import forced_mode
from minigrad.kernels._jit import Inline
from numba.core import types

wanted = {"lstm_step_backward", "lstm_sequence_backward_parallel", "lstm_sequence_backward_rows",
          "gru_sequence_backward", "gru_sequence_backward_rows", "rnn_sequence_backward", "rnn_sequence_backward_rows"}
with forced_mode("wait"):
    for k, dtype in K.warmup_jobs(("float32",), everything=True):
        if k.name.rsplit(".", 1)[1] in wanted:
            (k.warmup_fn or K.EXTRA_WARMUPS[k.name])(np.dtype(dtype))

report = {}
for module in ("gemm", "lstm", "gru", "elman", "rnn_common"):
    namespace = vars(__import__("minigrad.kernels." + module, fromlist=["_"]))
    for name, helper in namespace.items():
        dispatcher = getattr(helper, "_dispatcher", None) if isinstance(helper, Inline) else None
        if dispatcher is not None and hasattr(dispatcher, "signatures"):
            report[module + "." + name] = [[str(a) for a in sig] for sig in dispatcher.signatures]
print(json.dumps(report))
"""


def test_no_helper_is_compiled_again_for_a_literal_argument(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_COMPILE_AND_REPORT)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert "lstm._lstm_backward_units" in report and "gemm.gemm_panel" in report, sorted(report)
    literal_copies = {name: sigs for name, sigs in report.items()
                      if len(sigs) > 1 and any("Literal" in arg for sig in sigs for arg in sig)}
    assert not literal_copies, f"helpers compiled again for a literal argument (pass np.int64(...)): {literal_copies}"
    # The LSTM backward helper serves the step kernel, the units split and the rows split: one copy.
    assert len(report["lstm._lstm_backward_units"]) == 1, report["lstm._lstm_backward_units"]
