"""Draw the unrolled graphs of an RNN, an LSTM and a GRU over a few time steps, in both views.

Backpropagation through time is ordinary backpropagation on this picture: the forward pass
records one node per op per time step, the parameters are shared by every step, and
``backward()`` walks the arrows in reverse. For each layer the script writes:

- ``unrolled_<kind>_cells.svg`` - one node per time step carrying h_t (and c_t), with
  ||dL/dh_t|| on it and the steps coloured by gradient (log scale, legend included);
- ``unrolled_<kind>_ops.svg`` - every primitive op (matmuls, gates, products, ...) grouped in one
  cluster per time step; the shared weights are drawn as dashed copies inside each step.

The loss is the mean square of the last output, so the gradient enters at the last step and
flows back through time: watch it change from step to step. ``mg.viz.record()`` keeps the
values and gradient norms of the forward and backward passes so that the drawing can show them.

Files go to ``--out`` (default ``out/``): SVG when Graphviz's ``dot`` program is installed, the
DOT text (``.dot``, render it anywhere with ``dot -Tsvg``) otherwise.

    python examples/visualize_unrolled.py [--seq-len T] [--seed S] [--impl reference|fused]

Last line of stdout: JSON with ``files`` (what was written) and ``format`` ("svg" or "dot").
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import minigrad as mg

LAYERS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def unrolled(kind: str, steps: int, impl: str) -> tuple[mg.Tensor, mg.nn.Module]:
    """Run a small layer over ``steps`` time steps and backpropagate a loss on the last output."""
    layer = getattr(mg.nn, LAYERS[kind])(input_size=2, hidden_size=3, impl=impl)
    x = mg.randn(steps, 1, 2)                  # (time, batch, features)
    with mg.viz.record():                      # keep values and gradient norms for the drawing
        output, _ = layer(x)                   # output[t] is h_t
        loss = (output[-1] ** 2).mean()
        loss.backward()
    return loss, layer


def write(graph, name: str, out: Path, have_dot: bool) -> Path:
    if have_dot:
        return Path(graph.render(filename=name, directory=str(out), format="svg", cleanup=True))
    path = out / f"{name}.dot"
    path.write_text(graph.source)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description="Unrolled graphs of RNN/LSTM/GRU, cells view and ops view.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--seq-len", type=int, default=4, help="time steps to unroll (t = 1..T)")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    ap.add_argument("--impl", choices=["reference", "fused"], default="reference",
                    help="reference: the primitive ops autograd records; fused: the Numba layer (drawn as equations)")
    ap.add_argument("--values", action="store_true", help="print the numbers on the nodes of the ops view")
    ap.add_argument("--out", default="out", help="directory for the drawings")
    args = ap.parse_args()

    mg.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    have_dot = shutil.which("dot") is not None
    files = []
    for kind in LAYERS:
        loss, layer = unrolled(kind, args.seq_len, args.impl)
        for view in ("cells", "ops"):
            g = mg.viz.draw_graph(loss, params=layer, view=view, show_grads=True,
                                  show_values=args.values and view == "ops")
            path = write(g, f"unrolled_{kind}_{view}", out, have_dot)
            files.append(str(path))
            print(f"{LAYERS[kind]:>4} {view:>5} view: {path}")
    if not have_dot:
        print("Graphviz 'dot' is not installed: wrote DOT text. Install it (apt-get install graphviz / brew install "
              "graphviz) or paste a .dot file into any Graphviz viewer.")
    print(json.dumps({"files": files, "format": "svg" if have_dot else "dot", "seq_len": args.seq_len}))


if __name__ == "__main__":
    main()
