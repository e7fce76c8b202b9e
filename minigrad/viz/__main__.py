"""Draw an unrolled RNN / LSTM / GRU from the command line.

    python -m minigrad.viz lstm --seq-len 4 --view ops --out lstm.svg
    python -m minigrad.viz rnn --seq-len 30 --view cells --grads --out rnn_grads.svg
    python -m minigrad.viz gru --seq-len 3 --layers 2 --bidirectional --out gru.dot   # no Graphviz needed
    python -m minigrad.viz explore lstm --seq-len 6 --out bptt.html                  # the BPTT explorer

The format comes from the extension of ``--out``: .svg, .png, .pdf (made by Graphviz's ``dot``)
or .dot (the DOT text, written without Graphviz). With ``--grads`` the loss is the sum of the
last time step's output, so every earlier step gets its gradient only *through time* — the
colours then show how ||dL/dh_t|| shrinks (or grows) on the way back.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

FORMATS = ("svg", "png", "pdf", "dot")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m minigrad.viz", description="Draw an unrolled recurrent layer.")
    p.add_argument("cell", choices=("rnn", "lstm", "gru"), help="the layer to unroll")
    p.add_argument("--seq-len", "--steps", dest="steps", metavar="T", type=int, default=4,
                   help="time steps T (--steps: the older name)")
    p.add_argument("--view", choices=("ops", "cells", "auto"), default="ops",
                   help="ops: every equation / op; cells: one node per layer and step (default ops)")
    p.add_argument("--out", default=None, help="output file; the extension picks the format "
                                               "(.svg .png .pdf .dot; default <cell>.svg)")
    p.add_argument("--layers", type=int, default=1, help="stacked layers (default 1)")
    p.add_argument("--bidirectional", action="store_true", help="a forward and a reverse direction per layer")
    p.add_argument("--grads", action="store_true",
                   help="run backward on the last step's output and colour each step by log10 ||dL/dh_t||")
    p.add_argument("--hidden", type=int, default=4, help="hidden size (default 4)")
    p.add_argument("--input", type=int, default=3, help="input size (default 3)")
    p.add_argument("--batch", type=int, default=2, help="batch size (default 2)")
    p.add_argument("--impl", choices=("fused", "reference"), default="fused",
                   help="fused: one kernel node per layer, drawn as its equations; reference: primitive ops")
    p.add_argument("--values", action="store_true", help="show values on the nodes (numbers or min/mean/max)")
    p.add_argument("--rankdir", choices=("LR", "TB", "RL", "BT"), default="LR", help="layout direction (default LR)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--max-nodes", type=int, default=3000, help="refuse larger drawings (default 3000)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to give Graphviz before giving up")
    p.add_argument("--labels", default=None, help="what each step reads, shown by x_t: one character per step "
                                                  "(e.g. --labels Beau)")
    p.add_argument("--slide", action="store_true", help="scale the picture down to fit a 16:9 slide")
    p.add_argument("--plumbing", action="store_true", help="ops view: also draw permute/split/reshape")
    args = p.parse_args(argv)
    if args.steps < 1 or args.layers < 1 or args.hidden < 1 or args.input < 1 or args.batch < 1:
        p.error("--seq-len, --layers, --hidden, --input and --batch must be positive")
    if args.out is None:
        args.out = f"{args.cell}.svg"
    fmt = Path(args.out).suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        p.error(f"--out {args.out!r}: the extension must be one of {', '.join('.' + f for f in FORMATS)}")
    args.format = fmt
    return args


def build(args: argparse.Namespace):  # noqa: ANN201 - returns a graphviz.Digraph
    """Run the layer once (and backward with --grads) and return the drawing."""
    import minigrad as mg
    from minigrad.nn.recurrent import GRU, LSTM, RNN

    mg.manual_seed(args.seed)
    layer_cls = {"rnn": RNN, "lstm": LSTM, "gru": GRU}[args.cell]
    layer = layer_cls(args.input, args.hidden, num_layers=args.layers, bidirectional=args.bidirectional,
                      impl=args.impl)
    x = mg.randn(args.steps, args.batch, args.input)
    with mg.viz.record():  # the values and gradient norms the drawing shows
        out, _ = layer(x)
        if args.grads:
            # Only the last step's output enters the loss: earlier steps get gradient only through time.
            out[-1].sum().backward()
    return mg.viz.draw_graph(out, params=layer, view=args.view, show_values=args.values, show_grads=args.grads,
                             rankdir=args.rankdir, max_nodes=args.max_nodes, labels=args.labels,
                             size="slide" if args.slide else None, show_plumbing=args.plumbing)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["explore"]:
        from minigrad.viz.explorer.cli import main as explore_main

        return explore_main(argv[1:])
    args = parse_args(argv)
    out = Path(args.out)
    if args.format != "dot" and shutil.which("dot") is None:
        print(f"error: Graphviz's `dot` was not found on PATH, so {out} cannot be made. Install Graphviz "
              "(e.g. `apt-get install graphviz` or `brew install graphviz`), or write the DOT text instead: "
              f"--out {out.with_suffix('.dot')}", file=sys.stderr)
        return 2
    try:
        graph = build(args)
    except ValueError as e:  # too many nodes, bad sizes: say it plainly
        print(f"error: {e}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.format == "dot":
        out.write_text(graph.source, encoding="utf-8")
    else:
        # Our own subprocess call, with a timeout: a huge drawing must never keep `dot` busy for minutes.
        try:
            subprocess.run(["dot", f"-T{args.format}", "-o", str(out)], input=graph.source.encode("utf-8"),
                           check=True, timeout=args.timeout, capture_output=True)
        except subprocess.TimeoutExpired:
            print(f"error: Graphviz took more than {args.timeout:g} s; try --view cells or a shorter --seq-len",
                  file=sys.stderr)
            return 3
        except subprocess.CalledProcessError as e:
            print(f"error: dot failed: {e.stderr.decode(errors='replace').strip()}", file=sys.stderr)
            return 3
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
