"""End-to-end models, minigrad against PyTorch: the shapes real scripts have, not one layer alone.

- ``word_lm``: pytorch/examples' word_language_model: Embedding(10000, 200) -> dropout 0.2 ->
  2-layer LSTM(200) with dropout 0.2 -> dropout -> Linear(200, 10000) tied to the embedding ->
  cross-entropy -> ``clip_grad_norm_(0.25)`` -> SGD (lr 20); batch 20, bptt 35, the hidden state
  carried over (detached) from one batch to the next, as the example's training loop does.
- ``tutorial_rnn``: the char-RNN tutorial's model of three ``nn.Linear`` stepped in Python; the
  case itself lives in ``benchmarks/overhead.py`` (``tutorial_rnn_case``) and is reused here.
- the models of other tutorials and examples at their own shapes, held-out workloads that nothing
  was tuned for (``benchmarks/script_models.py``): ``sine_cells``, ``timeseries``, ``mnist_rows``,
  ``sentiment``, ``names_rnn``, ``gru_doc``, ``seq2seq_encoder``, ``seq2seq_attention``,
  ``names_generation``, ``pos_tagger``, ``d2l_scratch``, ``d2l_lstm_scratch``, ``d2l_concise``;
- the patterns a new user writes around them (``benchmarks/user_models.py``): ``one_feature_series``,
  ``multivariate_series``, ``gru_one_feature``, ``packed_gru_classifier``, ``char_lstm``,
  ``carried_state_lm``, ``lstm_cell_loop``, ``wide_cell_generator``, ``projected_lstm``, ``relu_rnn``,
  ``bilstm_tagger``, ``gru_seq2seq``, ``mlp``.

    .venv/bin/python benchmarks/models.py                    # every model, native CPU
    .venv/bin/python benchmarks/models.py --cpu avx2 --only word_lm

Each framework runs in its own processes, in interleaved blocks (minigrad, PyTorch, PyTorch,
minigrad, ...); the report gives medians of the train-step times and the ratio minigrad / PyTorch,
and writes ``benchmarks/results/models_<cpu>.json``.
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

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # benchmarks/ and the checkout (minigrad)
from cpu_profile import add_cpu_arguments, describe_host  # noqa: E402
from run import worker_env  # noqa: E402
from script_models import SCRIPT_MODELS  # noqa: E402
from sweep import CLOCKS, ONE_THREAD, time_step  # noqa: E402
from user_models import USER_MODELS  # noqa: E402

RESULTS = HERE / "results"
VOCAB, EMBED, HIDDEN, LAYERS, DROPOUT, BATCH, BPTT = 10_000, 200, 200, 2, 0.2, 20, 35


def word_lm_case(L: Any) -> Callable[[], None]:
    """One training batch of pytorch/examples' word_language_model (LSTM, tied weights), in ``L``."""
    nn = L.nn

    class RNNModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.drop = nn.Dropout(DROPOUT)
            self.encoder = nn.Embedding(VOCAB, EMBED)
            self.rnn = nn.LSTM(EMBED, HIDDEN, LAYERS, dropout=DROPOUT)
            self.decoder = nn.Linear(HIDDEN, VOCAB)
            self.decoder.weight = self.encoder.weight  # tied weights (EMBED == HIDDEN)

        def forward(self, tokens: Any, hidden: Any) -> tuple[Any, Any]:
            emb = self.drop(self.encoder(tokens))
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(self.drop(output)).view(-1, VOCAB)
            return L.nn.functional.log_softmax(decoded, dim=1), hidden

    L.manual_seed(0)
    model = RNNModel()
    model.train()
    criterion = nn.NLLLoss()
    optimizer = L.optim.SGD(model.parameters(), lr=20.0)
    rng = np.random.default_rng(0)
    corpus = L.tensor(rng.integers(0, VOCAB, (8 * BPTT + 1, BATCH)))
    state = {"hidden": (L.zeros(LAYERS, BATCH, HIDDEN), L.zeros(LAYERS, BATCH, HIDDEN)), "i": 0}

    def step() -> None:
        i = state["i"]
        data, targets = corpus[i:i + BPTT], corpus[i + 1:i + 1 + BPTT].reshape(-1)
        state["i"] = (i + BPTT) % (corpus.shape[0] - BPTT - 1)
        hidden = tuple(h.detach() for h in state["hidden"])  # the example's repackage_hidden
        optimizer.zero_grad()
        output, state["hidden"] = model(data, hidden)
        criterion(output, targets).backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()

    return step


def tutorial_rnn_case(L: Any) -> Callable[[], None]:
    """The tutorial-style ``nn.Linear`` RNN of ``benchmarks/overhead.py`` (one train step)."""
    from overhead import tutorial_rnn_case as case

    return case(L)[0]


MODELS: dict[str, Callable[[Any], Callable[[], None]]] = {"word_lm": word_lm_case, "tutorial_rnn": tutorial_rnn_case,
                                                         **SCRIPT_MODELS, **USER_MODELS}


def available_models() -> list[str]:
    """The models this checkout can run (``tutorial_rnn`` needs ``benchmarks/overhead.py``)."""
    return [m for m in MODELS if m != "tutorial_rnn" or (HERE / "overhead.py").exists()]


def worker(framework: str, name: str, budget_s: float, max_steps: int, clock: str = "wall") -> list[float]:
    """In a fresh process: build the model, two warm-up steps, then time steps."""
    if framework == "torch":
        import torch as lib

        if os.environ.get("OMP_NUM_THREADS") == "1":
            lib.set_num_threads(1)
    else:
        import minigrad as lib
    return time_step(MODELS[name](lib), CLOCKS[clock], budget_s, max_steps)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="*", choices=list(MODELS))
    p.add_argument("--blocks", type=int, default=4, help="timing processes per framework and model (default 4)")
    p.add_argument("--budget", type=float, default=2.0, help="seconds per process at most (default 2)")
    p.add_argument("--max-steps", type=int, default=40)
    add_cpu_arguments(p)
    p.add_argument("--threads", type=int, choices=(1,), help="1: one thread in both frameworks (default: theirs)")
    p.add_argument("--clock", choices=tuple(CLOCKS), default="wall", help="wall (default) or cpu: process CPU time")
    p.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        framework, name, budget, max_steps, clock = args.worker
        print(json.dumps(worker(framework, name, float(budget), int(max_steps), clock)))
        return 0
    if args.clock == "cpu" and args.threads != 1:
        p.error("--clock cpu needs --threads 1")

    command = "python benchmarks/models.py " + " ".join(argv if argv is not None else sys.argv[1:])
    rows = []
    for name in args.only or available_models():
        times: dict[str, list[float]] = {"minigrad": [], "torch": []}
        for block in range(args.blocks):
            for fw in ("minigrad", "torch") if block % 2 == 0 else ("torch", "minigrad"):
                env = worker_env("torch" if fw == "torch" else "fused", args.cpu, args.blas_defaults)
                if args.threads == 1:
                    env.update(ONE_THREAD)
                out = subprocess.run([sys.executable, __file__, "--worker", fw, name, str(args.budget),
                                      str(args.max_steps), args.clock], capture_output=True, text=True,
                                     cwd=HERE.parent, env=env)
                if out.returncode != 0:
                    raise RuntimeError(f"{fw} on {name} failed:\n{out.stderr[-3000:]}")
                times[fw] += json.loads(out.stdout.strip().splitlines()[-1])
        m, t = (statistics.median(times[fw]) * 1e3 for fw in ("minigrad", "torch"))
        rows.append({"model": name, "minigrad_ms": m, "torch_ms": t, "ratio": m / t,
                     "runs": {fw: len(v) for fw, v in times.items()}})
        print(f"{name:16s} minigrad {m:8.2f} ms  torch {t:8.2f} ms  ratio {m / t:5.2f}", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_1thread_cpu" if args.clock == "cpu" else ""
    record = {"command": command.strip(), "cpu": args.cpu, "host": describe_host(),
              "date": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}
    (RESULTS / f"models_{args.cpu}{suffix}.json").write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
