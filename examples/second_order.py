"""Second derivatives with ``create_graph=True``: Newton's method, a gradient penalty, and an RNN's curvature.

``mg.autograd.grad(y, x, create_graph=True)`` returns dy/dx as a Tensor *with a graph*: the
backward pass itself was recorded, so the gradient can be differentiated again. Three uses:

1. **Newton's method** on f(x) = x^4 - 2 x^2 (DeZero's example): x <- x - f'(x) / f''(x), with
   f' and f'' both from autograd. From x = 2 it reaches the minimum x = 1 in a handful of steps,
   where gradient descent needs hundreds.
2. **A gradient penalty** (as in WGAN-GP): train a small critic so that the norm of its gradient
   with respect to its *input* is 1. The loss contains a gradient, so training it needs the
   gradient of a gradient.
3. **Curvature of an RNN's loss along its recurrent weights.** For h_t = tanh(x_t W_ih^T +
   h_{t-1} W_hh^T), the loss L = mean(h_T^2) and the direction V = W_hh / ||W_hh||, the
   Hessian-vector product H V (``mg.autograd.functional.hvp``) is how fast the gradient dL/dW_hh
   changes when W_hh moves along V. When every singular value of W_hh is 0.9, ||H V|| levels off
   as the sequence length T grows; at 1.3 it grows by orders of magnitude: the loss surface gets
   sharply curved, and a step size that was safe for short sequences overshoots on long ones.
   That is the exploding-gradient story, seen from the second derivative.

    python examples/second_order.py [--newton-steps N] [--penalty-steps N] [--seq-lens 5,10,20,40]

Last line of stdout: JSON with ``newton_x``, ``newton_steps``, ``penalty_grad_norm`` and
``curvature`` (``{radius: {T: ||H V||}}``).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import minigrad as mg
from minigrad.autograd.functional import hvp


def newton(x0: float, steps: int) -> list[float]:
    """Newton's method on f(x) = x^4 - 2x^2: every step uses f'(x) and f''(x) from autograd."""
    x = mg.tensor(x0, dtype=mg.float64, requires_grad=True)
    path = [x.item()]
    for _ in range(steps):
        y = x ** 4 - 2 * x ** 2
        (dy,) = mg.autograd.grad(y, x, create_graph=True)  # 4x^3 - 4x, still a function of x
        (d2y,) = mg.autograd.grad(dy, x)                   # 12x^2 - 4
        with mg.no_grad():
            x -= dy / d2y
        path.append(x.item())
    return path


def gradient_penalty(steps: int, seed: int = 0) -> list[float]:
    """Train a critic f(x) = tanh(x W1^T) w2 so that ||df/dx|| = 1 on random points."""
    rng = np.random.default_rng(seed)
    w1 = mg.tensor(rng.standard_normal((16, 2)), dtype=mg.float64, requires_grad=True)
    w2 = mg.tensor(rng.standard_normal(16) * 0.1, dtype=mg.float64, requires_grad=True)
    opt = mg.optim.Adam([w1, w2], lr=0.02)
    norms = []
    for _ in range(steps):
        x = mg.tensor(rng.standard_normal((64, 2)), dtype=mg.float64, requires_grad=True)
        critic = (x @ w1.T).tanh() @ w2
        (dx,) = mg.autograd.grad(critic.sum(), x, create_graph=True)  # df/dx for each point
        grad_norm = (dx * dx).sum(1).sqrt()
        penalty = ((grad_norm - 1) ** 2).mean()
        opt.zero_grad()
        penalty.backward()  # through the gradient: second derivatives of the critic
        opt.step()
        norms.append(grad_norm.mean().item())
    return norms


def rnn_curvature(length: int, hidden: int = 8, radius: float = 1.3, seed: int = 0) -> float:
    """||H V|| for L = mean(h_T^2), H its Hessian with respect to W_hh, V = W_hh / ||W_hh||."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((hidden, hidden)))
    w_hh = mg.tensor(q * radius, dtype=mg.float64)  # every singular value = radius
    w_ih = mg.tensor(rng.standard_normal((hidden, 3)) * 0.5, dtype=mg.float64)
    xs = mg.tensor(rng.standard_normal((length, 1, 3)) * 0.1, dtype=mg.float64)

    def loss(w: mg.Tensor) -> mg.Tensor:
        h = mg.zeros(1, hidden, dtype=mg.float64)
        for t in range(length):
            h = (xs[t] @ w_ih.T + h @ w.T).tanh()
        return (h * h).mean()

    direction = w_hh / w_hh.norm()
    _, hv = hvp(loss, w_hh, direction)
    return float(hv.norm().item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--newton-steps", type=int, default=8, help="Newton iterations on x^4 - 2x^2")
    parser.add_argument("--penalty-steps", type=int, default=300, help="training steps with the gradient penalty")
    parser.add_argument("--seq-lens", default="5,10,20,40",
                        help="sequence lengths T of the curvature table, comma-separated")
    args = parser.parse_args()

    path = newton(2.0, args.newton_steps)
    print("Newton's method on f(x) = x^4 - 2x^2 from x = 2:")
    for i, x in enumerate(path):
        print(f"  step {i}: x = {x:.12f}")

    norms = gradient_penalty(args.penalty_steps)
    print(f"\nGradient penalty: mean ||df/dx|| {norms[0]:.3f} at the start, {norms[-1]:.3f} after "
          f"{len(norms)} steps (target 1)")

    lengths = [int(n) for n in args.seq_lens.split(",")]
    curvature = {radius: {n: rnn_curvature(n, radius=radius) for n in lengths} for radius in (0.9, 1.3)}
    print("\nCurvature of mean(h_T^2) along W_hh: ||H V|| by sequence length T")
    print("      T " + "".join(f"  radius {radius:<6}" for radius in curvature))
    for n in lengths:
        print(f"  {n:5d} " + "".join(f"  {curvature[radius][n]:<13.4e}" for radius in curvature))
    print(json.dumps({"newton_x": path[-1], "newton_steps": len(path) - 1, "penalty_grad_norm": norms[-1],
                      "curvature": {str(r): {str(n): c for n, c in by_n.items()} for r, by_n in curvature.items()}}))


if __name__ == "__main__":
    main()
