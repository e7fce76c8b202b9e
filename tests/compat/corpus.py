"""The PyTorch compatibility corpus: real public PyTorch scripts, run as they are and with only their
imports swapped to minigrad.

Each script in ``scripts/`` is a real recurrent-model script (header: source, license, the exact edits
that made it self-contained). This module knows three things about them:

- ``swap_imports(source)``: the textual rewrite of import lines, ``import torch`` ->
  ``import minigrad as torch`` and so on; nothing else in the script changes;
- ``SPECS``: per script, the regular expression that finds its logged losses in stdout, and how the
  curve must fall;
- ``run_script(name, framework)``: run a script in a subprocess (in a fresh temporary folder) under
  ``"torch"`` or ``"minigrad"``, and collect its exit code, losses and first error line.

Example::

    >>> swap_imports("import torch.nn as nn\\nx = torch.zeros(3)")
    'import minigrad.nn as nn\\nx = torch.zeros(3)'
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"
REPO = Path(__file__).resolve().parents[2]
DOCS_PAGE = "docs/pytorch-compat.md"


@dataclass(frozen=True)
class Spec:
    """How to read and judge one script's loss curve.

    ``loss_regex`` has one group, the loss value, and is searched line by line in stdout.
    ``window`` logged points are averaged at the start and at the end of the curve; the curve
    *falls* when ``mean(last) < (1 - margin) * mean(first)``. With torch installed, the final
    window means of both runs must be within a factor ``ratio`` of each other.
    """

    loss_regex: str
    window: int = 2
    margin: float = 0.1
    ratio: float = 1.5
    timeout: float = 240.0


SPECS: dict[str, Spec] = {
    "word_language_model": Spec(r"batches \| lr .* \| loss\s+([\d.]+) \| ppl", window=3, margin=0.2),
    "time_sequence_prediction": Spec(r"^test loss: ([\d.eE+-]+)$", window=1, margin=0.5, ratio=3.0),
    "chatbot_tutorial": Spec(r"Average loss: ([\d.]+)$", window=2, margin=0.15),
    "char_rnn_classification_tutorial": Spec(r"^avg loss ([\d.]+)$", window=4, margin=0.3, ratio=2.0),
    "char_rnn_classification_tutorial_2024": Spec(r"average batch loss = ([\d.]+)$", window=2, margin=0.3, ratio=2.0),
    "char_rnn_generation_tutorial": Spec(r"^avg loss ([\d.]+)$", window=4, margin=0.1),
    "seq2seq_translation_tutorial": Spec(r"\(\d+ \d+%\) ([\d.]+)$", window=2, margin=0.2),
    "sequence_models_tutorial": Spec(r"^epoch \d+ loss ([\d.]+)$", window=2, margin=0.5, ratio=3.0),
    "practical_pytorch_char_rnn_generation": Spec(r"^\[\S+ \S+ \(\d+ \d+%\) ([\d.]+)\]$", window=2, margin=0.1),
    "practical_pytorch_char_rnn_classification": Spec(r"^avg loss ([\d.]+)$", window=4, margin=0.2, ratio=2.0),
    "udacity_sentiment_rnn": Spec(r"Val Loss: ([\d.]+)$", window=3, margin=0.05),
    "udacity_char_rnn": Spec(r"Val Loss: ([\d.]+)$", window=2, margin=0.1),
    "udacity_simple_rnn": Spec(r"^Loss:\s+([\d.eE+-]+)$", window=1, margin=0.5, ratio=20.0),
    "yunjey_bidirectional_rnn": Spec(r"Loss: ([\d.]+)$", window=2, margin=0.2),
    "yunjey_language_model": Spec(r"Loss: ([\d.]+), Perplexity", window=3, margin=0.2),
}

# ------------------------------------------------------------------------------ the import swap
# One rule per form of import line that scripts use. Only the module path changes: `torch` ->
# `minigrad`; the names a script binds stay the same, so the rest of the script is untouched.
_IMPORT_AS = re.compile(r"^(\s*)import torch((?:\.\w+)*) as (\w+)(.*)$")        # import torch.nn as nn
_IMPORT_PLAIN = re.compile(r"^(\s*)import torch((?:\.\w+)*)(\s*(?:#.*)?)$")       # import torch / torch.onnx
_FROM = re.compile(r"^(\s*)from torch((?:\.\w+)*) import (.*)$")                   # from torch.x import y


def swap_imports(source: str) -> str:
    """Rewrite the import lines of a PyTorch script so that it runs on minigrad; nothing else changes.

    ``import torch`` -> ``import minigrad as torch``; ``import torch.a.b as x`` -> ``import minigrad.a.b
    as x``; ``from torch.a import x`` -> ``from minigrad.a import x``; ``import torch.a`` (which binds
    ``torch``) -> ``import minigrad.a; import minigrad as torch``.

    >>> swap_imports("from torch import nn, optim\\nimport torch.onnx")
    'from minigrad import nn, optim\\nimport minigrad.onnx; import minigrad as torch'
    """
    out = []
    for line in source.split("\n"):
        if m := _IMPORT_AS.match(line):
            indent, sub, alias, rest = m.groups()
            line = f"{indent}import minigrad{sub} as {alias}{rest}"
        elif m := _IMPORT_PLAIN.match(line):
            indent, sub, rest = m.groups()
            line = (f"{indent}import minigrad{sub}; import minigrad as torch{rest}" if sub
                    else f"{indent}import minigrad as torch{rest}")
        elif m := _FROM.match(line):
            indent, sub, names = m.groups()
            line = f"{indent}from minigrad{sub} import {names}"
        out.append(line)
    return "\n".join(out)


# ------------------------------------------------------------------------------ running a script
@dataclass
class RunResult:
    """What one run of one script produced."""

    name: str
    framework: str
    returncode: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def first_error(self) -> str:
        """The exception line of a failed run ('' when it exited 0)."""
        if self.ok:
            return ""
        lines = [ln for ln in self.stderr.strip().splitlines() if ln.strip()]
        for ln in reversed(lines):
            if re.match(r"^[\w.]+(Error|Exception|Interrupt|Exit)\b", ln) or ln.startswith("Traceback"):
                return ln.strip()
        return lines[-1].strip() if lines else f"exit code {self.returncode}"


def torch_available() -> bool:
    """True when real PyTorch can be imported (the torch side of the comparison runs)."""
    return importlib.util.find_spec("torch") is not None


def script_names() -> list[str]:
    """Names of the corpus scripts (file stems), sorted."""
    return sorted(p.stem for p in SCRIPTS.glob("*.py"))


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONHASHSEED="0", PYTHONWARNINGS="ignore", MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MINIGRAD_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def parse_losses(stdout: str, regex: str) -> list[float]:
    """The loss values that ``regex`` (one group) finds in ``stdout``, line by line, in order."""
    pattern = re.compile(regex)
    return [float(m.group(1)) for line in stdout.splitlines() if (m := pattern.search(line))]


@cache
def run_script(name: str, framework: str) -> RunResult:
    """Run ``scripts/<name>.py`` under ``framework`` ("torch": as it is; "minigrad": imports swapped).

    The run happens in a fresh temporary folder, with one thread and fixed hash seed; results are
    cached for the session so that several tests can judge one run.
    """
    spec = SPECS[name]
    source = (SCRIPTS / f"{name}.py").read_text()
    if framework == "minigrad":
        source = swap_imports(source)
    elif framework != "torch":
        raise ValueError(f"run_script: framework must be 'torch' or 'minigrad', got {framework!r}")
    with tempfile.TemporaryDirectory(prefix=f"compat_{name}_") as tmp:
        path = Path(tmp) / f"{name}.py"
        path.write_text(source)
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, str(path)], cwd=tmp, env=_child_env(), capture_output=True,
                                  text=True, timeout=spec.timeout)
            code, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as e:
            code = -9
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            err = f"TimeoutError: {name} under {framework} ran longer than {spec.timeout:.0f} s"
        seconds = time.perf_counter() - t0
    return RunResult(name, framework, code, seconds, parse_losses(out, spec.loss_regex), out, err)


def curve_falls(losses: list[float], spec: Spec) -> bool:
    """True when the mean of the last ``window`` losses is below the first window's by ``margin``."""
    w = spec.window
    if len(losses) < 2 * w:
        return False
    first, last = sum(losses[:w]) / w, sum(losses[-w:]) / w
    return last < (1.0 - spec.margin) * first


def final_mean(losses: list[float], spec: Spec) -> float:
    """Mean of the last ``window`` logged losses."""
    return sum(losses[-spec.window:]) / spec.window
