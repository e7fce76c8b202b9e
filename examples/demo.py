"""``make demo``: train a small character-level LSTM (about a minute on two cores), sample from it, and
draw its unrolled graph.

1. Trains Embedding -> LSTM -> Linear on the bundled corpus (examples/data/python_docs.txt: the
   Zen of Python and standard-library docstrings) with truncated BPTT, Adam and gradient
   clipping, for ``--steps`` training steps (default 2000), with a progress bar; then prints the
   validation loss and samples at two temperatures. Everything is examples/char_lstm.py - read
   that next. A fixed number of steps makes the run repeatable: the same command gives the same
   loss and samples however fast or busy the machine is (a fast one just finishes sooner; another
   CPU or thread count can change the last digits). ``--seconds`` stops earlier on a time limit
   instead, and then the result depends on the machine's speed.
2. Runs the trained model over a short window of text, backpropagates the loss with
   ``mg.viz.record()`` and draws the unrolled graph twice with ``mg.viz.draw_graph``: the cells
   view (one node per time step, coloured by ||dL/dh_t||) and the ops view (every equation of
   every step). ``--window`` is that text: 2 to 9 characters, so 1 to 8 time steps (t = 1..T, each
   step reads one character and predicts the next). SVG when Graphviz's ``dot`` is installed,
   DOT text otherwise.
3. Says where everything was written (``out/`` by default).

    python examples/demo.py [--steps 2000] [--seconds S] [--seed 0] [--out out] [--window Beautiful]

Needs nothing but the repository: no download, no data outside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

# See char_lstm.py: one BLAS thread is faster for these small matrices (set before NumPy loads).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # so that `import char_lstm` works from anywhere

import char_lstm  # noqa: E402
import numpy as np  # noqa: E402

import minigrad as mg  # noqa: E402

# The drawings (both views and the explorer) are meant to be read whole: at most 8 time steps.
MAX_WINDOW = 9

# The demo's model and optimizer settings (the rest are char_lstm.py's defaults).
TRAIN_FLAGS = ["--hidden", "128", "--embed", "32", "--batch", "32", "--seq-len", "64", "--lr", "4e-3",
               "--lr-min", "4e-4", "--sample-len", "400", "--temperature", "0.5", "0.8", "--prime", "The "]


def check_window(text: str, vocabulary: str) -> str | None:
    """Why ``text`` cannot be the drawn window, or None when it can.

    >>> check_window("Beautiful", "Beaftilu")
    >>> check_window("B", "B")
    "--window 'B' is 1 character: it needs at least 2 (one time step reads a character and predicts the next)"
    >>> check_window("Beautiful is", "Beaftilus ")
    "--window 'Beautiful is' is 12 characters: at most 9 (8 time steps) are drawn, so that the drawings stay readable"
    >>> check_window("Zz", "Z")
    "--window 'Zz' has characters the corpus never uses, so the model has no input for them: ['z']"
    """
    if len(text) < 2:
        return (f"--window {text!r} is {len(text)} character{'s' * (len(text) != 1)}: it needs at least 2 "
                "(one time step reads a character and predicts the next)")
    if len(text) > MAX_WINDOW:
        return (f"--window {text!r} is {len(text)} characters: at most {MAX_WINDOW} ({MAX_WINDOW - 1} time steps) "
                "are drawn, so that the drawings stay readable")
    unknown = sorted(set(text) - set(vocabulary))
    if unknown:
        return f"--window {text!r} has characters the corpus never uses, so the model has no input for them: {unknown}"
    return None


def draw_window(model: char_lstm.CharLSTM, chars: str, text: str, out: Path) -> list[Path]:
    """Unroll the trained model over a few characters and draw both views of the graph."""
    index = {c: i for i, c in enumerate(chars)}
    ids = [index[c] for c in text]
    x = mg.tensor([ids[:-1]])                     # (batch 1, T): predict each next character
    y = mg.tensor(ids[1:])
    with mg.viz.record():                         # record values and ||dL/dh_t|| for the colours
        logits, _ = model(x)
        loss = mg.nn.functional.cross_entropy(logits.reshape(-1, len(chars)), y)
        loss.backward(retain_graph=True)          # kept for the explorer, which walks it again
    have_dot = shutil.which("dot") is not None
    written = []
    if have_dot:                                  # the explorer inlines Graphviz's SVG
        explorer = mg.viz.explore(loss, out / "demo_bptt_explorer.html", params=model,
                                  title=f"char-LSTM over {text!r}")
        written.append(Path(explorer.path))
    for view in ("cells", "ops"):
        g = mg.viz.draw_graph(loss, params=model, view=view, show_grads=True)
        name = f"demo_unrolled_{view}"
        if have_dot:
            written.append(Path(g.render(filename=name, directory=str(out), format="svg", cleanup=True)))
        else:
            (out / f"{name}.dot").write_text(g.source)
            written.append(out / f"{name}.dot")
    model.zero_grad()
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description="Train a char-LSTM (about a minute), sample, draw its unrolled graph.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--steps", type=int, default=2000,
                    help="training steps (repeatable: the result does not depend on the machine's speed)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="stop training earlier after this many seconds (the result then depends on the speed)")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    ap.add_argument("--out", default="out", help="directory for the checkpoint, samples and drawings")
    ap.add_argument("--window", default="Beautiful",
                    help=f"text whose unrolled graph is drawn: 2 to {MAX_WINDOW} characters of the corpus")
    args = ap.parse_args()
    problem = check_window(args.window, Path(char_lstm.DEFAULT_TEXT).read_text(encoding="utf-8"))
    if problem:                                   # before training, not after a minute of it
        ap.error(problem)
    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "demo_char_lstm.safetensors"

    print("minigrad demo: a character-level LSTM learns to write like Python's docstrings.\n")
    limit = [] if args.seconds is None else ["--seconds", str(args.seconds)]
    train_args = char_lstm.build_parser().parse_args([
        *TRAIN_FLAGS, "--steps", str(args.steps), *limit, "--seed", str(args.seed), "--checkpoint", str(checkpoint)])
    result = char_lstm.run(train_args)

    samples_file = out / "demo_samples.txt"
    samples_file.write_text("".join(f"--- temperature {t} ---\n{s}\n\n" for t, s in result["samples"].items()))
    drawings = draw_window(result["model"], result["chars"], args.window, out)

    T = len(args.window) - 1
    print(f"Trained for {result['train_seconds']:.0f} s ({result['steps']} steps of 32 x 64 characters): "
          f"validation loss {result['val_loss']:.3f} nats/char ({result['val_loss'] / np.log(2):.2f} bits/char; "
          f"a uniform guess over {len(result['chars'])} characters is {np.log(len(result['chars'])):.2f} nats).\n")
    print("Written:")
    print(f"  {checkpoint}  model + optimizer (safetensors); train on with\n"
          f"      python examples/char_lstm.py --checkpoint {checkpoint} --resume --steps {result['steps'] + 2000}")
    print(f"  {samples_file}  the samples above")
    for p in drawings:
        if p.suffix == ".html":
            print(f"  {p}  the BPTT explorer: open it in a browser and step through backpropagation")
            continue
        what = "one node per time step" if "cells" in p.name else "every op of every step"
        print(f"  {p}  the LSTM unrolled over {T} steps of {args.window!r}, {what}, coloured by ||dL/dh_t||")
    if drawings and drawings[0].suffix == ".dot":
        print("  (Graphviz 'dot' is not installed: these are DOT text; install graphviz to get SVG.)")
    print("\nNext: examples/bptt_by_hand.py (BPTT derived by hand = autograd), examples/vanishing_gradients.py, "
          "docs/index.md.")
    print(json.dumps({"train_loss": result["train_loss"], "val_loss": result["val_loss"], "steps": result["steps"],
                      "seconds": round(time.perf_counter() - t0, 1),
                      "files": [str(checkpoint), str(samples_file)] + [str(p) for p in drawings]}))


if __name__ == "__main__":
    main()
