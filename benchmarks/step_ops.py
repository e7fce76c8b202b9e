"""Each op of d2l_lstm_scratch's step timed where it runs: inside the step, between the others.

An op timed alone in a loop keeps its data and the interpreter's own in the core's caches; inside
a train step every op follows others that pushed them out, and the same Python runs about twice as
slow (docs/performance.md). This times each line of Dive into Deep Learning's LSTM from scratch
(``script_models.d2l_lstm_scratch_case``: batch 32, 256 hidden units, 28 letters, 35 steps) at
every time step of real train steps, for one framework per process; run it for both and compare.

    .venv/bin/python benchmarks/step_ops.py minigrad
    .venv/bin/python benchmarks/step_ops.py torch

Prints the median microseconds of each op (``X @ W_x``, ``H @ W_h``, ``u + v``, ``+ b``, ``sigmoid``,
a whole gate, ``F * C``, ``+ I * C~``, ``O * tanh(C)``, ``H @ W_hq``) and of the whole forward and
backward in milliseconds.
"""

from __future__ import annotations

import collections
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import script_models  # noqa: E402

# The timed lines of the step, in order ("" for the two gates between, not timed one by one).
LINES = ("X @ W_x", "H @ W_h", "u + v", "+ b", "sigmoid", "", "a whole gate", "F * C", "+ I * C~", "O * tanh(C)",
         "H @ W_hq")


def main(framework: str, steps: int = 40, warm: int = 10) -> str:
    """Time ``steps`` train steps (after ``warm`` untimed ones) in ``framework``: one line of medians.

    Example: ``main("minigrad", steps=2, warm=1)`` -> ``"minigrad: X @ W_x 15.1, H @ W_h 43.6, ..."``.
    """
    L = __import__(framework)
    vocab, hidden, batch, num_steps = 28, 256, 32, 35
    L.manual_seed(0)

    def three() -> list:
        return [L.randn(vocab, hidden) * 0.01, L.randn(hidden, hidden) * 0.01, L.zeros(hidden)]

    params = three() + three() + three() + three() + [L.randn(hidden, vocab) * 0.01, L.zeros(vocab)]
    for p in params:
        p.requires_grad_(True)
    W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q = params
    F = L.nn.functional
    X, Y = script_models._d2l_batch(L, vocab, batch, num_steps)
    loss = L.nn.CrossEntropyLoss()
    clock = time.perf_counter_ns
    times: dict[str, list[int]] = collections.defaultdict(list)

    def forward(record: dict[str, list[int]]) -> object:
        H, C, outputs = L.zeros((batch, hidden)), L.zeros((batch, hidden)), []
        for x in F.one_hot(X.T, vocab).type(L.float32):
            marks = [clock()]  # a mark after each timed line: line k took marks[k + 1] - marks[k]
            u = x @ W_xi
            marks.append(clock())
            v = H @ W_hi
            marks.append(clock())
            s = u + v
            marks.append(clock())
            s = s + b_i
            marks.append(clock())
            I = L.sigmoid(s)  # noqa: E741 - d2l's names
            marks.append(clock())
            F_ = L.sigmoid((x @ W_xf) + (H @ W_hf) + b_f)
            O = L.sigmoid((x @ W_xo) + (H @ W_ho) + b_o)
            marks.append(clock())
            C_tilde = L.tanh((x @ W_xc) + (H @ W_hc) + b_c)
            marks.append(clock())
            f_c = F_ * C
            marks.append(clock())
            C = f_c + I * C_tilde
            marks.append(clock())
            H = O * L.tanh(C)
            marks.append(clock())
            o = H @ W_hq
            marks.append(clock())
            outputs.append(o + b_q)
            for k, name in enumerate(LINES):
                if name:
                    record[name].append(marks[k + 1] - marks[k])
        return loss(L.cat(outputs, 0), Y.T.reshape(-1).long()).mean()

    for i in range(warm + steps):
        record = times if i >= warm else collections.defaultdict(list)
        t0 = clock()
        value = forward(record)
        t1 = clock()
        value.backward()
        record["forward (ms)"].append((t1 - t0) // 1000)
        record["backward (ms)"].append((clock() - t1) // 1000)
        for p in params:
            p.grad = None
    return f"{framework}: " + ", ".join(f"{name} {statistics.median(v) / 1000:.1f}" for name, v in times.items())


if __name__ == "__main__":
    os.environ.setdefault("MINIGRAD_COMPILE", "wait")  # compile before timing, not in the background meanwhile
    print(main(sys.argv[1] if len(sys.argv) > 1 else "minigrad"))
