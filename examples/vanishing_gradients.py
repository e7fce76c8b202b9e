"""Vanishing gradients: ||dL/dh_t|| against t for an RNN, an LSTM and a GRU.

Time runs t = 1..T, as in the equations of docs/bptt.md: step t reads x_t and makes h_t, and
h_0 is the initial state. A loss that only looks at the *last* hidden state, L = w . h_T, still
sends gradient to every earlier state through the chain of Jacobians (column vectors)::

    dL/dh_t = (dh_{t+1}/dh_t)^T dL/dh_{t+1} = (dh_{t+1}/dh_t)^T ... (dh_T/dh_{T-1})^T dL/dh_T

For a tanh RNN each Jacobian is dh_{t+1}/dh_t = diag(1 - h_{t+1}^2) W_hh; when its norm is below 1
the product shrinks geometrically and the first steps get (almost) nothing: the network cannot
learn what the start of a long sequence should have done. The LSTM's cell state adds a second path,
c_t = f_t * c_{t-1} + i_t * g_t, whose Jacobian is just diag(f_t): with forget gates near 1 the
gradient survives far longer. The GRU's h_t = (1 - z_t) * n_t + z_t * h_{t-1} does the same.

The script steps each cell by hand over ``--seq-len`` time steps (random inputs, PyTorch's default
initialisation, float64), calls ``h_t.retain_grad()`` on every hidden state so that
``loss.backward()`` keeps dL/dh_t, and prints the norms. Then it draws short unrolled graphs
coloured by gradient (``mg.viz``, cells view, recorded with ``mg.viz.record()``) into
``out/`` (SVG when Graphviz's ``dot`` exists, DOT text otherwise), plus a log-scale chart of the
norms as SVG (no matplotlib needed; with ``--plot`` a PNG too, which needs matplotlib:
``pip install 'minigrad[plots]'``).

At PyTorch's default initialisation all three vanish: the LSTM's forget gates and the GRU's update
gates start near sigmoid(0) = 0.5, so their "memory" paths also halve the gradient at every step.
What the gates buy is that they *can* open: the script runs the LSTM and the GRU a second time
with the forget-gate bias (LSTM, b_if + b_hf) and the update-gate bias (GRU, b_iz + b_hz) set to
``--gate-bias`` (default 2, gates near 0.88 - the "forget bias" trick of Jozefowicz et al., 2015),
and the gradient then reaches the initial state h_0 many orders of magnitude stronger.

    python examples/vanishing_gradients.py [--seq-len T] [--seed S] [--hidden H] [--gate-bias B]

Last line of stdout: JSON with ``ratio_rnn``, ``ratio_lstm``, ``ratio_gru`` (each
||dL/dh_0|| / ||dL/dh_T|| at the default initialisation) and ``ratio_lstm_open``,
``ratio_gru_open`` (with the gate bias).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

import minigrad as mg

KINDS = ("rnn", "lstm", "gru")
VARIANTS = ("rnn", "lstm", "gru", "lstm_open", "gru_open")   # *_open: gate bias set, gates start open
COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "gru": "#2ca02c", "lstm_open": "#1f77b4", "gru_open": "#2ca02c"}


def make_cell(kind: str, inp: int, hidden: int, gate_bias: float, impl: str) -> mg.nn.Module:
    cls = {"rnn": mg.nn.RNNCell, "lstm": mg.nn.LSTMCell, "gru": mg.nn.GRUCell}[kind]
    cell = cls(inp, hidden, dtype=mg.float64, impl=impl)
    if kind != "rnn" and gate_bias:
        # Rows hidden:2*hidden are the LSTM's forget gate (order i, f, g, o) and the GRU's update
        # gate (order r, z, n). The two biases add up, so each gets half.
        cell.bias_ih.data[hidden:2 * hidden] = gate_bias / 2
        cell.bias_hh.data[hidden:2 * hidden] = gate_bias / 2
    return cell


def grad_norms(kind: str, T: int, inp: int, hidden: int, seed: int, gate_bias: float, impl: str) -> np.ndarray:
    """||dL/dh_t|| with L = w . h_T: element 0 is the initial state h_0, element t is step t = 1..T."""
    mg.manual_seed(seed)
    cell = make_cell(kind, inp, hidden, gate_bias, impl)
    rng = np.random.default_rng(seed)
    xs = mg.tensor(rng.normal(size=(T, 1, inp)))             # (time, batch 1, features)
    w = mg.tensor(rng.normal(size=(1, hidden)))
    h0 = mg.zeros(1, hidden, dtype=mg.float64, requires_grad=True)   # a leaf: its .grad is dL/dh_0
    hs, h, c = [h0], h0, mg.zeros(1, hidden, dtype=mg.float64)
    for t in range(1, T + 1):          # step t reads x_t (row t - 1 of xs)
        if kind == "lstm":
            h, c = cell(xs[t - 1], (h, c))
        else:
            h = cell(xs[t - 1], h)
        h.retain_grad()                # h_t is not a leaf: ask autograd to keep dL/dh_t
        hs.append(h)
    loss = (w * h).sum()               # L = w . h_T: only the last state is looked at
    loss.backward()
    return np.array([np.linalg.norm(ht.grad.numpy()) for ht in hs])


def draw(kind: str, T: int, inp: int, hidden: int, seed: int, out: Path, have_dot: bool) -> list[Path]:
    """A short unrolled layer, coloured by gradient, cells view (and ops view for T <= 3)."""
    mg.manual_seed(seed)
    cls = {"rnn": mg.nn.RNN, "lstm": mg.nn.LSTM, "gru": mg.nn.GRU}[kind]
    layer = cls(inp, hidden, impl="reference")
    x = mg.randn(T, 1, inp)
    with mg.viz.record():              # record the gradient norms the drawing colours by
        output, _ = layer(x)
        loss = output[-1].sum()        # gradient enters at the last step only
        loss.backward()
    written = []
    g = mg.viz.draw_graph(loss, params=layer, view="cells", show_grads=True)
    name = f"vanishing_{kind}_cells"
    if have_dot:
        written.append(Path(g.render(filename=name, directory=str(out), format="svg", cleanup=True)))
    else:
        (out / f"{name}.dot").write_text(g.source)
        written.append(out / f"{name}.dot")
    return written


def svg_chart(norms: dict[str, np.ndarray], path: Path, title: str, label: dict[str, str]) -> None:
    """A log-scale line chart of ||dL/dh_t|| against t, as plain SVG (no plotting library)."""
    W, H, L, R, Tp, B = 700, 380, 70, 150, 40, 50
    T = len(next(iter(norms.values()))) - 1
    logs = {k: np.log10(np.maximum(v, 1e-300)) for k, v in norms.items()}
    lo = np.floor(min(v.min() for v in logs.values()))
    hi = np.ceil(max(v.max() for v in logs.values()))
    hi = max(hi, lo + 1)

    def px(t: float) -> float:
        return L + (W - L - R) * t / T

    def py(y: float) -> float:
        return Tp + (H - Tp - B) * (hi - y) / (hi - lo)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" '
             f'font-size="12"><rect width="{W}" height="{H}" fill="white"/>',
             f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']
    step = max(1, int(np.ceil((hi - lo) / 8)))
    for e in np.arange(lo, hi + 1, step):
        parts.append(f'<line x1="{L}" x2="{W - R}" y1="{py(e):.1f}" y2="{py(e):.1f}" stroke="#ddd"/>'
                     f'<text x="{L - 6}" y="{py(e) + 4:.1f}" text-anchor="end">1e{int(e)}</text>')
    for t in np.linspace(0, T, 6):
        parts.append(f'<text x="{px(t):.1f}" y="{H - B + 18}" text-anchor="middle">{int(round(t))}</text>')
    parts.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">'
                 f'time step t (t = 0: the initial state h_0)</text>')
    parts.append(f'<text transform="translate(16 {H / 2}) rotate(-90)" text-anchor="middle">||dL/dh_t||</text>')
    parts.append(f'<rect x="{L}" y="{Tp}" width="{W - L - R}" height="{H - Tp - B}" fill="none" stroke="#444"/>')
    for i, (k, v) in enumerate(logs.items()):
        pts = " ".join(f"{px(t):.1f},{py(y):.1f}" for t, y in enumerate(v))
        dash = ' stroke-dasharray="6 4"' if k.endswith("_open") else ""
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS[k]}" stroke-width="2"{dash}/>')
        parts.append(f'<line x1="{W - R + 10}" x2="{W - R + 34}" y1="{Tp + 14 + 20 * i}" y2="{Tp + 14 + 20 * i}" '
                     f'stroke="{COLORS[k]}" stroke-width="3"{dash}/><text x="{W - R + 40}" y="{Tp + 18 + 20 * i}">'
                     f'{label[k]}</text>')
    parts.append("</svg>\n")
    path.write_text("\n".join(parts))


def load_pyplot(ap: argparse.ArgumentParser):
    """matplotlib's pyplot (drawing to files only), or a clear command-line error when it is missing."""
    try:
        import matplotlib
    except ImportError:
        ap.error("--plot needs matplotlib, which minigrad does not install by default: "
                 "pip install 'minigrad[plots]' (or pip install matplotlib)")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def main() -> None:
    ap = argparse.ArgumentParser(description="||dL/dh_t|| against t for RNN, LSTM and GRU.",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--seq-len", type=int, default=100, help="sequence length T (time steps t = 1..T)")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    ap.add_argument("--input", type=int, default=8, help="input size")
    ap.add_argument("--hidden", type=int, default=32, help="hidden size")
    ap.add_argument("--gate-bias", type=float, default=2.0,
                    help="forget (LSTM) / update (GRU) gate bias of the *_open runs")
    ap.add_argument("--impl", choices=["fused", "reference"], default="fused", help="cell implementation")
    ap.add_argument("--draw-seq-len", type=int, default=6, help="time steps in the drawings")
    ap.add_argument("--out", default="out", help="directory for the chart and the drawings")
    ap.add_argument("--no-draw", action="store_true", help="skip the drawings")
    ap.add_argument("--plot", action="store_true", help="also save the chart as a PNG with matplotlib")
    args = ap.parse_args()
    plt = load_pyplot(ap) if args.plot else None

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    norms = {}
    for v in tqdm(VARIANTS, desc="backward through time"):
        kind, gate_bias = v.split("_")[0], (args.gate_bias if v.endswith("_open") else 0.0)
        norms[v] = grad_norms(kind, args.seq_len, args.input, args.hidden, args.seed, gate_bias, args.impl)

    T = args.seq_len
    label = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "lstm_open": f"LSTM b_f={args.gate_bias:g}",
             "gru_open": f"GRU b_z={args.gate_bias:g}"}
    print(f"||dL/dh_t|| with L = w . h_T, T = {T}, hidden = {args.hidden}; PyTorch's default initialisation, "
          f"and for the last two columns the forget/update-gate bias set to {args.gate_bias:g}")
    print(f"{'state':>6} " + " ".join(f"{label[v]:>13}" for v in VARIANTS))
    rows = sorted(set(np.linspace(0, T, 11).round().astype(int).tolist()))
    for t in rows:                     # h_0 is the initial state; h_1 .. h_T come out of steps 1..T
        print(f"{'h_' + str(t):>6} " + " ".join(f"{norms[v][t]:>13.3e}" for v in VARIANTS))
    ratios = {v: float(norms[v][0] / norms[v][T]) for v in VARIANTS}
    print("\n||dL/dh_0|| / ||dL/dh_T|| and the average shrink factor per step (geometric mean):")
    for v in VARIANTS:
        print(f"  {label[v]:>13}: {ratios[v]:.2e}   {ratios[v] ** (1 / T):.3f} per step")

    chart = out / "vanishing_gradients.svg"
    svg_chart(norms, chart, f"Gradient reaching step t from a loss on h_{T}", label)
    written = [chart]
    if plt is not None:
        fig, ax = plt.subplots(figsize=(7, 4))
        for v in VARIANTS:
            ax.semilogy(norms[v], label=label[v], color=COLORS[v], ls="--" if v.endswith("_open") else "-")
        ax.set_xlabel("time step t (t = 0: the initial state h_0)")
        ax.set_ylabel("||dL/dh_t||")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "vanishing_gradients.png", dpi=120)
        written.append(out / "vanishing_gradients.png")

    if not args.no_draw:
        have_dot = shutil.which("dot") is not None
        for kind in KINDS:
            written += draw(kind, args.draw_seq_len, 3, 4, args.seed, out, have_dot)
        if not have_dot:
            print("(Graphviz 'dot' not found: wrote DOT text; render with 'dot -Tsvg file.dot -o file.svg')")
    print("written: " + ", ".join(str(p) for p in written))
    print(json.dumps({f"ratio_{v}": ratios[v] for v in VARIANTS} | {"T": T}))


if __name__ == "__main__":
    main()
