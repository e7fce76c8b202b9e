"""A character-level language model: Embedding -> LSTM -> Linear, trained with truncated BPTT.

The text is one long stream of characters. It is cut into ``--batch`` parallel streams, and
each training step takes the next window of ``--seq-len`` characters from every stream. The LSTM's
final state of one window is the initial state of the next, so the model remembers across
window boundaries - but the state is *detached* first (``.detach()`` on each state tensor), so
backpropagation stops at the boundary: that is truncated BPTT (docs/bptt.md)::

    state = None
    for x, y in windows:                          # x, y: (batch, seq) character ids, y = x shifted by one
        logits, state = model(x, state)           # (batch, seq, vocab)
        loss = cross_entropy(logits, y)           # nats per character
        loss.backward()                           # BPTT through these seq steps only
        clip_grad_norm_(model.parameters(), 1.0)  # guard against exploding gradients
        opt.step()
        state = tuple(s.detach() for s in state)  # keep the values, drop the graph

The last ``--val-frac`` of the text is held out; ``val_loss`` is the mean cross-entropy on it
in nats per character (ln 2 = 0.69 nats is one bit). Samples are drawn with a temperature:
softmax(logits / T), lower T = safer, more repetitive text.

The default corpus, examples/data/python_docs.txt, ships with the repository (the Zen of Python
and standard-library docstrings; see examples/data/make_corpus.py): nothing to download.
``--text FILE`` trains on any UTF-8 file.

    python examples/char_lstm.py                                   # default corpus, about a minute
    python examples/char_lstm.py --text tinyshakespeare.txt --hidden 256 --seconds 540 --steps 100000
    python examples/char_lstm.py --checkpoint out/char.safetensors --steps 500
    python examples/char_lstm.py --checkpoint out/char.safetensors --resume --steps 1000   # 500 more

Checkpoints (``mg.save``/``mg.load``, safetensors) hold the model's and the optimizer's state
dicts, the step, the vocabulary, the configuration and the carried LSTM state; the model's
weights are stored under ``model.<PyTorch name>``.

Last line of stdout: JSON with ``train_loss``, ``val_loss`` (nats/char), ``steps``, ``seconds``
and ``sample``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

# One BLAS thread: our matrices are small, and OpenBLAS's worker threads cost more than they save -
# on a busy machine they spin-wait (measured: 5x slower training with 2 threads on 2 busy cores).
# Must be set before NumPy loads; export OPENBLAS_NUM_THREADS yourself to override.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad.nn.utils import clip_grad_norm_  # noqa: E402


def minigrad_only(**options):
    """Options only minigrad understands (``impl=``: fused kernels or the textbook reference); they are
    left out when this script runs on PyTorch (``import torch as mg``)."""
    return options if mg.__name__ == "minigrad" else {}

DEFAULT_TEXT = Path(__file__).with_name("data") / "python_docs.txt"


# ---- the model ---------------------------------------------------------------------------------
class CharLSTM(mg.nn.Module):
    """Embedding -> LSTM -> Linear: for every position, scores (logits) for the next character."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int = 1, dropout: float = 0.0,
                 impl: str = "fused") -> None:
        super().__init__()
        self.embed = mg.nn.Embedding(vocab, embed)
        self.lstm = mg.nn.LSTM(embed, hidden, num_layers=layers, batch_first=True, dropout=dropout,
                               **minigrad_only(impl=impl))
        self.head = mg.nn.Linear(hidden, vocab)

    def forward(self, x: mg.Tensor, state=None):
        out, state = self.lstm(self.embed(x), state)   # out: (batch, seq, hidden)
        return self.head(out), state                   # logits: (batch, seq, vocab)


# ---- data --------------------------------------------------------------------------------------
def batchify(ids: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut one stream into ``batch`` parallel streams: inputs and next-character targets, (batch, S)."""
    S = (len(ids) - 1) // batch
    if S < 2:
        raise ValueError(f"text too short: {len(ids)} characters for {batch} streams")
    x = ids[: batch * S].reshape(batch, S)
    y = ids[1: batch * S + 1].reshape(batch, S)
    return x, y


def evaluate(model: CharLSTM, ids: np.ndarray, batch: int, seq: int) -> float:
    """Mean cross-entropy (nats/char) over a whole stream, state carried across windows, no graph."""
    batch = max(1, min(batch, (len(ids) - 1) // (seq + 1)))
    x, y = batchify(ids, batch)
    total, count, state = 0.0, 0, None
    model.eval()
    with mg.no_grad():
        for s in range(0, x.shape[1], seq):
            xb, yb = x[:, s:s + seq], y[:, s:s + seq]
            logits, state = model(mg.tensor(xb), state)
            loss = mg.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), mg.tensor(yb.reshape(-1)),
                                                  reduction="sum")
            total += loss.item()
            count += yb.size
    model.train()
    return total / count


def sample(model: CharLSTM, chars: str, n: int, temperature: float, prime: str, rng: np.random.Generator) -> str:
    """Generate ``n`` characters after ``prime``: softmax(logits / temperature), one character at a time."""
    index = {c: i for i, c in enumerate(chars)}
    prime = "".join(c for c in prime if c in index) or chars[0]
    model.eval()
    out = []
    with mg.no_grad():
        logits, state = model(mg.tensor([[index[c] for c in prime]]))   # read the prime, keep the state
        for _ in range(n):
            z = logits.numpy()[0, -1].astype(np.float64) / max(temperature, 1e-6)
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(chars), p=p / p.sum()))
            out.append(chars[nxt])
            logits, state = model(mg.tensor([[nxt]]), state)
    model.train()
    return prime + "".join(out)


# ---- checkpoints -------------------------------------------------------------------------------
def save_checkpoint(path: Path, model: CharLSTM, opt: mg.optim.Optimizer, step: int, chars: str, config: dict,
                    state) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mg.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "vocab": chars,
             "config": config, "state": None if state is None else tuple(state)}, path)


def build_parser() -> argparse.ArgumentParser:
    """The command line; examples/demo.py builds its settings with it too."""
    ap = argparse.ArgumentParser(description="Character-level LSTM language model with truncated BPTT.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--text", default=str(DEFAULT_TEXT), help="UTF-8 text file to train on")
    ap.add_argument("--steps", type=int, default=2000, help="training steps (total, including resumed ones)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="stop training earlier after this many seconds (the result then depends on the speed)")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    ap.add_argument("--batch", type=int, default=32, help="parallel streams")
    ap.add_argument("--seq-len", type=int, default=64, help="truncated-BPTT window (time steps)")
    ap.add_argument("--embed", type=int, default=32, help="embedding size")
    ap.add_argument("--hidden", type=int, default=128, help="LSTM hidden size")
    ap.add_argument("--layers", type=int, default=1, help="stacked LSTM layers")
    ap.add_argument("--dropout", type=float, default=0.0, help="between LSTM layers (needs --layers >= 2)")
    ap.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate at the start")
    ap.add_argument("--lr-min", type=float, default=3e-4, help="cosine decay to this lr by the last step")
    ap.add_argument("--clip", type=float, default=1.0, help="max gradient norm")
    ap.add_argument("--val-frac", type=float, default=0.1, help="last fraction of the text held out for validation")
    ap.add_argument("--eval-every", type=int, default=0, help="validate every N steps (0: only at the end)")
    ap.add_argument("--sample-len", type=int, default=300, help="characters per sample")
    ap.add_argument("--temperature", type=float, nargs="+", default=[0.5, 0.8], help="one sample per temperature")
    ap.add_argument("--prime", default="The ", help="text the samples start from")
    ap.add_argument("--checkpoint", default=None, help="save model + optimizer here (safetensors)")
    ap.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    ap.add_argument("--impl", choices=["fused", "reference"], default="fused", help="LSTM implementation")
    return ap


def run(args: argparse.Namespace) -> dict:
    """Train (or resume), evaluate, sample. Returns the metrics, the samples, the model and the vocabulary."""
    t_start = time.perf_counter()

    mg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    text = Path(args.text).read_text(encoding="utf-8")
    ckpt = None
    if args.resume:
        if not args.checkpoint:
            raise SystemExit("--resume needs --checkpoint PATH")
        ckpt = mg.load(args.checkpoint)
        chars = ckpt["vocab"]
        for k in ("embed", "hidden", "layers", "seq_len", "batch"):      # the model must be the same shape
            setattr(args, k, ckpt["config"][k])
        missing = sorted(set(text) - set(chars))
        if missing:
            raise SystemExit(f"--resume: the text has characters the checkpoint's vocabulary lacks: {missing[:10]}")
    else:
        chars = "".join(sorted(set(text)))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    n_val = int(len(ids) * args.val_frac)
    train_ids, val_ids = ids[: len(ids) - n_val], ids[len(ids) - n_val:]
    x_all, y_all = batchify(train_ids, args.batch)
    n_windows = x_all.shape[1] // args.seq_len
    if n_windows < 1:
        raise SystemExit(f"text too short for --batch {args.batch} x --seq-len {args.seq_len}")
    print(f"text: {args.text} ({len(text):,} chars, vocabulary {len(chars)}); train {len(train_ids):,}, "
          f"validation {len(val_ids):,}; {args.batch} streams x {n_windows} windows of {args.seq_len}")

    model = CharLSTM(len(chars), args.embed, args.hidden, args.layers, args.dropout, args.impl)
    opt = mg.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params:,} parameters\n{model}")
    config = {k: getattr(args, k) for k in ("embed", "hidden", "layers", "seq_len", "batch", "lr", "clip")}

    step, state = 0, None
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        step = int(ckpt["step"])
        state = None if ckpt["state"] is None else tuple(mg.tensor(a) for a in ckpt["state"])
        print(f"resumed from {args.checkpoint} at step {step}")

    budget = args.seconds

    def progress() -> float:
        """How far through training we are (0..1), by steps or by the time budget, whichever is further."""
        p = step / max(args.steps, 1)
        if budget is not None:
            p = max(p, (time.perf_counter() - t_start) / budget)
        return min(p, 1.0)

    def set_lr() -> None:
        # Cosine decay from --lr to --lr-min over the run (by steps or by time).
        lr = args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + math.cos(math.pi * progress()))
        for g in opt.param_groups:
            g["lr"] = lr

    recent: list[float] = []
    history = []
    if budget is None:
        bar = tqdm(total=args.steps, initial=step, desc="training", unit="step")
    else:  # a time budget: the bar shows seconds, the step count goes in the postfix
        bar = tqdm(total=round(budget), desc=f"training for {budget:g} s", unit="s",
                   bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s{postfix}")
    while step < args.steps and (budget is None or time.perf_counter() - t_start < budget):
        w = step % n_windows
        if w == 0:
            state = None                                   # back at the start of the streams
        xb = x_all[:, w * args.seq_len:(w + 1) * args.seq_len]
        yb = y_all[:, w * args.seq_len:(w + 1) * args.seq_len]
        set_lr()
        logits, state = model(mg.tensor(xb), state)
        loss = mg.nn.functional.cross_entropy(logits.reshape(-1, len(chars)), mg.tensor(yb.reshape(-1)))
        opt.zero_grad()
        loss.backward()                                    # BPTT through this window
        grad_norm = float(clip_grad_norm_(model.parameters(), args.clip))
        opt.step()
        state = tuple(s.detach() for s in state)           # truncated BPTT: carry values, not the graph
        step += 1
        recent = (recent + [loss.item()])[-100:]
        if budget is None:
            bar.update(1)
        else:
            bar.update(min(time.perf_counter() - t_start, budget) - bar.n)
        if step % 10 == 0:
            bar.set_postfix(step=step, loss=f"{np.mean(recent):.3f}", grad=f"{grad_norm:.2f}",
                            lr=f"{opt.param_groups[0]['lr']:.1e}")
        if args.eval_every and step % args.eval_every == 0:
            v = evaluate(model, val_ids, 32, 128)
            history.append((step, float(np.mean(recent)), v))
            bar.write(f"step {step}: train {np.mean(recent):.3f}, validation {v:.3f} nats/char "
                      f"({time.perf_counter() - t_start:.0f} s)")
            if args.checkpoint:
                save_checkpoint(Path(args.checkpoint), model, opt, step, chars, config, state)
    bar.close()
    train_seconds = time.perf_counter() - t_start

    if args.checkpoint:
        save_checkpoint(Path(args.checkpoint), model, opt, step, chars, config, state)
        print(f"checkpoint written to {args.checkpoint} (step {step})")

    train_loss = float(np.mean(recent)) if recent else None      # None: no step was run (resumed at --steps)
    val_loss = evaluate(model, val_ids, 32, 128)
    trained = (f"train loss {train_loss:.3f} nats/char (mean of the last {len(recent)} steps)" if recent
               else "no training steps run (already at --steps)")
    print(f"\nafter {step} steps ({train_seconds:.0f} s): {trained}, validation loss {val_loss:.3f} nats/char "
          f"= {val_loss / math.log(2):.2f} bits/char")
    samples = {}
    for temp in args.temperature:
        s = sample(model, chars, args.sample_len, temp, args.prime, rng)
        samples[temp] = s
        print(f"\n--- sample, temperature {temp} ---\n{s}")
    print()
    return {"train_loss": train_loss, "val_loss": val_loss, "steps": step, "train_seconds": round(train_seconds, 1),
            "seconds": round(time.perf_counter() - t_start, 1), "params": n_params, "history": history,
            "samples": samples, "model": model, "chars": chars}


def main() -> None:
    result = run(build_parser().parse_args())
    metrics = {k: v for k, v in result.items() if k not in ("model", "chars", "samples")}
    metrics["sample"] = next(iter(result["samples"].values()))
    print(json.dumps(metrics))


if __name__ == "__main__":
    main()
