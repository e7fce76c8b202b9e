"""A first look at autograd (``make demo``): a tiny expression, its gradients, and a check.

A later step turns this into the char-LSTM demo; for now it shows the engine at work.
"""

from __future__ import annotations

import minigrad as mg


def main() -> None:
    mg.manual_seed(0)
    a = mg.tensor([2.0, -3.0], requires_grad=True)
    b = mg.tensor([0.5, 4.0], requires_grad=True)
    c = a * b          # forward: every op records a node
    d = c.tanh() + a   # a is used twice: its gradients add up
    loss = (d * d).sum()
    loss.backward()    # reverse mode: one pass from loss back to a and b
    print(f"loss = {loss.item():.6f}")
    print(f"dloss/da = {a.grad.tolist()}")
    print(f"dloss/db = {b.grad.tolist()}")
    a64, b64 = a.detach().double().requires_grad_(), b.detach().double().requires_grad_()
    ok = mg.autograd.gradcheck(lambda x, y: ((x * y).tanh() + x).pow(2).sum(), [a64, b64])
    print(f"finite-difference check: {'passed' if ok else 'failed'}")


if __name__ == "__main__":
    main()
