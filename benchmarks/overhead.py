"""Per-op overhead: forward + backward of one small op, minigrad next to PyTorch.

    /work/venv/bin/python benchmarks/overhead.py            # full run (~2 minutes)
    /work/venv/bin/python benchmarks/overhead.py --quick    # a short run
    /work/venv/bin/python benchmarks/overhead.py --only chain index_int
    /work/venv/bin/python benchmarks/overhead.py --baseline ../main   # also another checkout, before/after
    /work/venv/bin/python benchmarks/overhead.py --sized    # ops on bigger tensors, where the arithmetic counts

On tiny tensors the arithmetic is free: what is timed is each framework's bookkeeping per op
(making tensors, recording the node, the backward engine). Every case is written once against a
module ``L`` that is ``minigrad`` or ``torch``, so both run the very same code.

Three worker processes, one per contender: minigrad, PyTorch with ``torch.set_num_threads(1)``
and PyTorch with its default threads. Each runs alone in its process (as users run them); the
parent asks them in turn for one *block* (every case, a fixed number of calls each), rotating
the order every round, so a burst of load from another process hits all of them alike. The
report gives medians over the blocks, in microseconds per op, and the ratio minigrad / PyTorch,
worst first. ``lstm_reference`` is minigrad's primitive-op LSTM against PyTorch's fused one: it
shows how per-op overhead adds up in the layer learners read, not a race it can win.

``--sized`` times another table (``sized_cases``): the ops a script composes by hand (activations,
normalisation, masks, losses, shape ops) on a batch of one (1 x 128), a small batch (32 x 256) and
a big one (64 x 1024), forward, ``.sum()`` and backward each: there the arithmetic and the number
of passes over memory count, not only the bookkeeping.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONTENDERS = ("minigrad", "torch-1t", "torch")
# After a block of a contender with a pool of threads, the parent waits this long: OpenMP workers
# (PyTorch's with its default threads, and Numba's in minigrad and in a baseline checkout) keep
# spinning on the cores after their last parallel region, which would slow down whichever contender
# runs next.
SPIN_PAUSE_S = 0.3

# ------------------------------------------------------------------------------ the cases


def chain_case(L: Any) -> tuple[Callable[[], None], int]:
    """``y = y * 1.0001 + 0.0001`` 50 times on a 4-element tensor, then backward: 100 ops."""
    x = L.ones(4, requires_grad=True)
    g = L.ones(4)

    def step() -> None:
        y = x
        for _ in range(50):
            y = y * 1.0001 + 0.0001
        y.backward(g)

    return step, 100


def single_op_case(L: Any, op: Callable[[Any], Any], shape: tuple[int, ...]) -> tuple[Callable[[], None], int]:
    """One op on a leaf of ``shape`` and its backward with a ready-made output gradient."""
    x = L.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32), requires_grad=True)
    with L.no_grad():
        g = L.ones_like(op(x))

    def step() -> None:
        op(x).backward(g)

    return step, 1


def forward_only_case(L: Any, op: Callable[[Any], Any], shape: tuple[int, ...]) -> tuple[Callable[[], None], int]:
    """One op's forward on a leaf of ``shape``, recording the graph (then dropped): no backward.

    A framework's ``backward()`` call has a fixed cost of its own, which a single-op case pays
    once per op and a model's step once per step: these cases show the forward's share alone.
    """
    x = L.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32), requires_grad=True)

    def step() -> None:
        op(x)

    return step, 1


def tutorial_rnn_case(L: Any) -> tuple[Callable[[], None], int]:
    """One train step of the char-rnn tutorials' model: three ``nn.Linear`` on ``cat``, stepped in Python.

    i2h and i2o read cat(letter, hidden), o2o reads cat(hidden, output), then dropout and
    log-softmax; 12 letters (57 one-hot), batch 1, hidden 128, 18 classes, NLL loss on the last
    output, SGD (lr 0.005), as pytorch/tutorials' char-rnn scripts do.
    """
    nn = L.nn
    n_letters, hidden_size, n_classes, steps = 57, 128, 18, 12

    class RNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.i2h = nn.Linear(n_letters + hidden_size, hidden_size)
            self.i2o = nn.Linear(n_letters + hidden_size, n_classes)
            self.o2o = nn.Linear(hidden_size + n_classes, n_classes)
            self.dropout = nn.Dropout(0.1)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, letter: Any, hidden: Any) -> tuple[Any, Any]:
            combined = L.cat((letter, hidden), 1)
            hidden = self.i2h(combined)
            output = self.i2o(combined)
            output = self.o2o(L.cat((hidden, output), 1))
            return self.softmax(self.dropout(output)), hidden

    L.manual_seed(0)
    rnn = RNN()
    optimizer = L.optim.SGD(rnn.parameters(), lr=0.005)
    criterion = nn.NLLLoss()
    line = L.zeros(steps, 1, n_letters)
    for i in range(steps):
        line[i, 0, (7 * i) % n_letters] = 1.0
    target = L.tensor([3])

    def step() -> None:
        hidden = L.zeros(1, hidden_size)
        optimizer.zero_grad()
        for i in range(steps):
            output, hidden = rnn(line[i], hidden)
        criterion(output, target).backward()
        optimizer.step()

    return step, 1


def lstm_reference_case(L: Any) -> tuple[Callable[[], None], int]:
    """LSTM B=8 T=20 I=16 H=32 train step: minigrad's ``impl='reference'`` (primitive ops) vs PyTorch's LSTM."""
    L.manual_seed(0)
    extra = {"impl": "reference"} if L.__name__ == "minigrad" else {}
    lstm = L.nn.LSTM(16, 32, batch_first=True, **extra)
    optimizer = L.optim.SGD(lstm.parameters(), lr=0.01)
    x = L.randn(8, 20, 16)

    def step() -> None:
        optimizer.zero_grad()
        out, _ = lstm(x)
        (out * out).mean().backward()
        optimizer.step()

    return step, 1


def cell_loop_case(L: Any, kind: str, batch: int, inputs: int, hidden: int, steps: int = 10
                   ) -> tuple[Callable[[], None], int]:
    """A train step of a cell stepped in Python (``nn.RNNCell``/``LSTMCell``/``GRUCell``), as
    seq2seq decoders and custom loops do: ``steps`` steps, a ``Linear`` head on the last state,
    cross-entropy, SGD. Ops per step: the cell's calls (what the per-op figure divides by)."""
    nn = L.nn
    L.manual_seed(0)
    cell = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](inputs, hidden)
    head = nn.Linear(hidden, 10)
    optimizer = L.optim.SGD(list(cell.parameters()) + list(head.parameters()), lr=0.01)
    xs = L.tensor(np.random.default_rng(2).standard_normal((steps, batch, inputs)).astype(np.float32))
    target = L.tensor(np.arange(batch) % 10)

    def step() -> None:
        optimizer.zero_grad()
        h = L.zeros(batch, hidden)
        state = (h, L.zeros(batch, hidden)) if kind == "lstm" else h
        for t in range(steps):
            state = cell(xs[t], state)
        last = state[0] if kind == "lstm" else state
        L.nn.functional.cross_entropy(head(last), target).backward()
        optimizer.step()

    return step, steps


def seq2seq_decoder_case(L: Any, hidden: int = 256, vocab: int = 1000, steps: int = 10
                         ) -> tuple[Callable[[], None], int]:
    """A train step of the PyTorch seq2seq tutorial's ``DecoderRNN`` fed its own targets: per step an
    embedding, ReLU, a one-step ``nn.GRU`` (batch 1, batch_first), a ``Linear`` to ``vocab`` words,
    log-softmax and NLL; one backward for the summed loss, SGD. Ops per step: the decoder's steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    embedding, out = nn.Embedding(vocab, hidden), nn.Linear(hidden, vocab)
    gru = nn.GRU(hidden, hidden, batch_first=True)
    params = list(embedding.parameters()) + list(gru.parameters()) + list(out.parameters())
    optimizer, criterion = L.optim.SGD(params, lr=0.01), nn.NLLLoss()
    tokens = L.tensor(np.random.default_rng(3).integers(0, vocab, steps + 1))

    def step() -> None:
        optimizer.zero_grad()
        hidden_state, loss = L.zeros(1, 1, hidden), 0
        for t in range(steps):
            output, hidden_state = gru(F.relu(embedding(tokens[t].view(1, 1))), hidden_state)
            log_probs = F.log_softmax(out(output[:, 0]), dim=-1)
            loss = loss + criterion(log_probs, tokens[t + 1].view(1))
        loss.backward()
        optimizer.step()

    return step, steps


def cases(L: Any) -> dict[str, tuple[Callable[[], None], int, int]]:
    """name -> (step, ops per step, calls per block)."""
    F = L.nn.functional
    w = L.tensor(np.random.default_rng(1).standard_normal((4, 4)).astype(np.float32), requires_grad=True)
    linear = L.nn.Linear(4, 4)
    target = L.tensor([0, 1, 2, 3])
    letter, i2h, dropout, class_3 = L.zeros(1, 57), L.nn.Linear(185, 128), L.nn.Dropout(0.1), L.tensor([3])
    table = {
        "chain": (chain_case(L), 20),
        "mul": (single_op_case(L, lambda x: x * 1.0001, (4,)), 200),
        "add": (single_op_case(L, lambda x: x + 0.0001, (4,)), 200),
        "matmul": (single_op_case(L, lambda x: x @ w, (4, 4)), 200),
        "index_int": (single_op_case(L, lambda x: x[5], (10, 4)), 200),
        "index_slice": (single_op_case(L, lambda x: x[:, 1], (10, 4)), 200),
        "linear": (single_op_case(L, linear, (4, 4)), 200),
        "tanh": (single_op_case(L, lambda x: x.tanh(), (4, 4)), 200),
        "cross_entropy": (single_op_case(L, lambda x: F.cross_entropy(x, target), (4, 4)), 200),
        # The tutorial RNN's ops at its shapes, forward only (see forward_only_case).
        "fwd_cat": (forward_only_case(L, lambda x: L.cat((letter, x), 1), (1, 128)), 200),
        "fwd_linear": (forward_only_case(L, i2h, (1, 185)), 200),
        "fwd_dropout": (forward_only_case(L, dropout, (1, 18)), 200),
        "fwd_log_softmax": (forward_only_case(L, lambda x: F.log_softmax(x, dim=1), (1, 18)), 200),
        "fwd_nll_loss": (forward_only_case(L, lambda x: F.nll_loss(x, class_3), (1, 18)), 200),
        "tutorial_rnn": (tutorial_rnn_case(L), 10),
        # Cells stepped in Python, a train step each (see cell_loop_case): us per cell call.
        "rnn_cell_b1_h64": (cell_loop_case(L, "rnn", 1, 32, 64), 10),
        "lstm_cell_b1_h128": (cell_loop_case(L, "lstm", 1, 32, 128), 10),
        "gru_cell_b8_h128": (cell_loop_case(L, "gru", 8, 64, 128), 10),
        "lstm_cell_b32_h256": (cell_loop_case(L, "lstm", 32, 100, 256), 3),
        "seq2seq_decoder": (seq2seq_decoder_case(L), 3),
        "lstm_reference": (lstm_reference_case(L), 3),
    }
    return {name: (step, ops, calls) for name, ((step, ops), calls) in table.items()}


SIZES = ((1, 128), (32, 256), (64, 1024))


def sized_ops(L: Any, b: int, h: int) -> dict[str, Callable[[], Any]]:
    """name -> the op's forward on (b, h) float32 leaves (and a mask, targets, layers of that size)."""
    nn, F = L.nn, L.nn.functional
    rng = np.random.default_rng(4)

    def leaf(low: float = -3.0, high: float = 3.0) -> Any:
        return L.tensor(rng.uniform(low, high, (b, h)).astype(np.float32), requires_grad=True)

    x, y, positive = leaf(), leaf(), leaf(0.1, 3.0)
    bias = L.tensor(rng.uniform(-3.0, 3.0, h).astype(np.float32), requires_grad=True)
    mask, target = L.tensor(rng.random((b, h)) > 0.5), L.tensor(rng.integers(0, h, b))
    probabilities = L.tensor(rng.random((b, h)).astype(np.float32))
    norm, linear, dropout = nn.LayerNorm(h), nn.Linear(h, h), nn.Dropout(0.2)
    return {
        "add": lambda: x + y, "add_bias": lambda: x + bias, "mul": lambda: x * y, "div": lambda: x / positive,
        "exp": lambda: x.exp(),
        "log": lambda: positive.log(), "pow2": lambda: x ** 2, "abs": lambda: x.abs(),
        "tanh": lambda: x.tanh(), "sigmoid": lambda: x.sigmoid(), "relu": lambda: F.relu(x),
        "leaky_relu": lambda: F.leaky_relu(x, 0.1), "elu": lambda: F.elu(x), "gelu": lambda: F.gelu(x),
        "softplus": lambda: F.softplus(x), "softmax": lambda: F.softmax(x, dim=1),
        "log_softmax": lambda: F.log_softmax(x, dim=1), "cross_entropy": lambda: F.cross_entropy(x, target),
        "nll_loss": lambda: F.nll_loss(x, target), "mse_loss": lambda: F.mse_loss(x, y),
        "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(x, probabilities),
        "mean": lambda: x.mean(1), "max": lambda: x.max(1)[0], "cumsum": lambda: x.cumsum(1),
        "clamp": lambda: x.clamp(-1, 1), "where": lambda: L.where(mask, x, y),
        "masked_fill": lambda: x.masked_fill(mask, 0.0), "cat": lambda: L.cat([x, y], 1),
        "stack": lambda: L.stack([x, y]), "t": lambda: x.t(), "slice": lambda: x[:, 1:],
        "matmul": lambda: x @ linear.weight, "linear": lambda: linear(x), "layer_norm": lambda: norm(x),
        "dropout": lambda: dropout(x),
    }


def sized_cases(L: Any) -> dict[str, tuple[Callable[[], None], int, int]]:
    """name -> (step, 1, calls per block): an op of ``sized_ops``, then ``.sum().backward()``."""
    table = {}
    for b, h in SIZES:
        calls = 20 if b * h < 10_000 else 4
        for name, op in sized_ops(L, b, h).items():
            table[f"{name} {b}x{h}"] = (lambda op=op: op().sum().backward(), 1, calls)
    return table


# ------------------------------------------------------------------------------ one worker process


def worker(contender: str, only: list[str] | None, clock: str, baseline: str | None, sized: bool = False) -> None:
    """Read "block" lines from stdin; answer each with one JSON line: case -> microseconds per op."""
    now = time.perf_counter if clock == "wall" else time.process_time
    if contender in ("minigrad", "baseline"):
        sys.path.insert(0, str(ROOT) if contender == "minigrad" else str(Path(baseline).resolve()))
        import minigrad as L
    else:
        import torch as L

        if contender == "torch-1t":
            L.set_num_threads(1)
    table = {k: v for k, v in (sized_cases if sized else cases)(L).items()
             if only is None or k in only or k.split()[0] in only}
    for step, _, _ in table.values():  # warm-up: first calls compile kernels, fill caches
        for _ in range(3):
            step()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "block":
            break
        result = {}
        for name, (step, ops, calls) in table.items():
            start = now()
            for _ in range(calls):
                step()
            result[name] = (now() - start) / (calls * ops) * 1e6
        print(json.dumps(result), flush=True)


# ------------------------------------------------------------------------------ the parent


def run(rounds: int, only: list[str] | None, clock: str, baseline: str | None,
        sized: bool = False) -> dict[str, dict[str, list[float]]]:
    """Interleaved blocks from the workers; returns contender -> case -> per-block times."""
    contenders = CONTENDERS + (("baseline",) if baseline else ())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # each worker picks its own minigrad
    env["MINIGRAD_COMPILE"] = "wait"  # kernels missing from the cache compile before timing, not during it
    cmd = [sys.executable, __file__, "--clock", clock, "--worker"]
    extra = (["--only", *only] if only else []) + (["--baseline", baseline] if baseline else [])
    extra += ["--sized"] if sized else []
    procs = {c: subprocess.Popen([*cmd, c, *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 env=env) for c in contenders}
    for c, p in procs.items():
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError(f"worker {c} failed to start")
    times: dict[str, dict[str, list[float]]] = {c: {} for c in contenders}
    for r in range(rounds):
        k = r % len(contenders)
        order = contenders[k:] + contenders[:k]
        for c in order:  # one at a time: the others wait on stdin
            procs[c].stdin.write("block\n")
            procs[c].stdin.flush()
            for name, us in json.loads(procs[c].stdout.readline()).items():
                times[c].setdefault(name, []).append(us)
            if c != "torch-1t":  # its idle pool of threads spin-waits for a while: let it sleep first
                time.sleep(SPIN_PAUSE_S)
    for p in procs.values():
        p.stdin.close()
        p.wait()
    return times


def report(times: dict[str, dict[str, list[float]]], command: str) -> str:
    med = {c: {k: statistics.median(v) for k, v in per_case.items()} for c, per_case in times.items()}
    base = med.get("baseline")
    rows = []
    for name, ours in med["minigrad"].items():
        rows.append((ours / med["torch-1t"][name], ours / med["torch"][name], name, ours,
                     med["torch-1t"][name], med["torch"][name]))
    rows.sort(reverse=True)
    head = "| case | minigrad us/op | PyTorch 1 thread | PyTorch default | ratio (1 thread) | ratio (default) |"
    rule = "|---|---|---|---|---|---|"
    if base:
        head, rule = head + " baseline us/op | minigrad / baseline |", rule + "---|---|"
    lines = [f"Command: `{command}`", "", head, rule]
    for r1, rd, name, ours, t1, td in rows:
        line = f"| {name} | {ours:.2f} | {t1:.2f} | {td:.2f} | **{r1:.2f}** | {rd:.2f} |"
        if base:
            line += f" {base[name]:.2f} | {ours / base[name]:.2f} |"
        lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 21")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--only", nargs="+", default=None, help="case names (with --sized: also op names)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: elapsed time (default); cpu: the process's CPU time, steadier on a busy "
                             "machine (for PyTorch with threads it adds up all its threads)")
    parser.add_argument("--baseline", default=None, help="the root of another minigrad checkout, timed too")
    parser.add_argument("--sized", action="store_true", help="the ops of sized_cases at three sizes instead")
    parser.add_argument("--worker", choices=(*CONTENDERS, "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.only, args.clock, args.baseline, args.sized)
        return 0
    rounds = args.rounds or (5 if args.quick else 21)
    times = run(rounds, args.only, args.clock, args.baseline, args.sized)
    print(report(times, "python benchmarks/overhead.py " + " ".join(argv if argv is not None else sys.argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
