"""``python -m minigrad.viz explore``: the BPTT explorer of an unrolled layer, from the command line.

    python -m minigrad.viz explore lstm --seq-len 6 --out bptt.html
    python -m minigrad.viz explore rnn --seq-len 200 --out long.html            # the cells view
    python -m minigrad.viz explore gru --seq-len 8 --view ops --window 6 8 --out gru.html
"""

from __future__ import annotations

import argparse
import sys


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m minigrad.viz explore",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                                description="Write the BPTT explorer (one HTML file) of an unrolled recurrent layer.")
    p.add_argument("cell", choices=("rnn", "lstm", "gru"), help="the layer to unroll")
    p.add_argument("--seq-len", "--steps", dest="steps", metavar="T", type=int, default=6,
                   help="time steps T (--steps: the older name)")
    p.add_argument("--layers", type=int, default=1, help="stacked layers")
    p.add_argument("--hidden", type=int, default=4, help="hidden size")
    p.add_argument("--input", type=int, default=3, help="input size")
    p.add_argument("--batch", type=int, default=2, help="batch size")
    p.add_argument("--impl", choices=("fused", "reference"), default="fused", help="the layer's implementation")
    p.add_argument("--view", choices=("auto", "ops", "cells"), default="auto", help="ops: every op; cells: one node "
                   "per layer and step")
    p.add_argument("--window", type=int, nargs=2, metavar=("FIRST", "LAST"), default=None,
                   help="draw only steps FIRST..LAST (t from 1)")
    p.add_argument("--loss", choices=("last", "all"), default="last",
                   help="last: the sum of the last step's output (earlier steps get gradient only through time); "
                        "all: the sum of squares of every step's output")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--max-nodes", type=int, default=2000, help="refuse larger drawings")
    p.add_argument("--gif", default=None, help="also write the backward pass as an animated GIF (needs Pillow)")
    p.add_argument("--out", default="bptt.html", help="the HTML file to write")
    args = p.parse_args(argv)
    if min(args.steps, args.layers, args.hidden, args.input, args.batch) < 1:
        p.error("--seq-len, --layers, --hidden, --input and --batch must be positive")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    import minigrad as mg

    mg.manual_seed(args.seed)
    layer_cls = {"rnn": mg.nn.RNN, "lstm": mg.nn.LSTM, "gru": mg.nn.GRU}[args.cell]
    layer = layer_cls(args.input, args.hidden, num_layers=args.layers, impl=args.impl)
    out, _ = layer(mg.randn(args.steps, args.batch, args.input))
    loss = out[-1].sum() if args.loss == "last" else (out * out).sum()
    try:
        explorer = mg.viz.explore(loss, args.out, params=layer, view=args.view, max_nodes=args.max_nodes,
                                  window=tuple(args.window) if args.window else None)
    except (ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {explorer.path} ({explorer.view} view, {explorer.length} frames); open it in a browser")
    if args.gif:
        try:
            print(f"wrote {explorer.save_gif(args.gif)}")
        except (ImportError, ValueError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return 0
