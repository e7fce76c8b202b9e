"""Second derivatives (grad of grad, Hessian-vector products) of every op, against PyTorch.

Each program is written once against a module ``T`` (minigrad or torch) and gets its inputs from
``Leaves``, which draws them from a seeded NumPy generator: the same numbers for both. ``second_order``
runs the two-level computation PyTorch users write::

    g = grad(f(x), x, v, create_graph=True)       # first derivatives, with a graph
    h = grad(sum(g * u), x)                        # = H u: second derivatives along u

The live tests run it with both modules; ``make`` stores PyTorch's answers in
``tests/fixtures/higher_order.npz`` for runs without torch.

    .venv/bin/python tests/make_fixtures.py higher_order
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class Leaves:
    """Makes the float64 input tensors of a program, the same numbers for every ``T``.

    In replay mode (``given``), it hands out the given tensors instead, in the same order: that is
    how ``gradgradcheck`` calls a program with the inputs it perturbs.
    """

    def __init__(self, T: Any, seed: int, given: tuple | None = None) -> None:
        self.T = T
        self.rng = np.random.default_rng(seed)
        self.given = list(given) if given is not None else None
        self.made: list = []

    def __call__(self, *shape: int, low: float | None = None, requires_grad: bool = True) -> Any:
        values = self.rng.standard_normal(shape)
        if low is not None:  # strictly positive inputs (log, sqrt, a base of pow)
            values = low + np.abs(values)
        if self.given is not None:
            t = self.given[len(self.made)]
        else:
            t = self.T.tensor(values, dtype=self.T.float64, requires_grad=requires_grad)
        self.made.append(t)
        return t

    def const(self, *shape: int, low: float | None = None) -> Any:
        """An input that does not require grad (class weights, say)."""
        return self(*shape, low=low, requires_grad=False)

    @property
    def wrt(self) -> list:
        """The inputs that require grad: what the program is differentiated with respect to."""
        return [t for t in self.made if t.requires_grad]

    def noncontiguous(self, rows: int, cols: int) -> Any:
        """A (rows, cols) input that is a transposed view: strides not in C order."""
        return self(cols, rows).t()


Program = Callable[[Any, Leaves], Any]

# ------------------------------------------------------------------------------------------------
# The programs: name -> f(T, leaf) returning the output to differentiate twice
# ------------------------------------------------------------------------------------------------


def _F(T: Any) -> Any:
    return T.nn.functional


PROGRAMS: dict[str, Program] = {
    # elementwise (broadcast operands on purpose)
    "add_sub_neg": lambda T, x: (x(3, 4) + x(4)) * (x(3, 1) - x(4)) - (-x(3, 4)) ** 2,
    "mul_broadcast": lambda T, x: x(3, 4) * x(4) * x(3, 1),
    "div": lambda T, x: x(3, 4) / x(4, low=0.5) + 1.0 / x(3, 1, low=0.5),
    "pow_scalar": lambda T, x: x(3, 4) ** 3 + x(4, low=0.5) ** -1.5 + x(4) ** 0 * 2.0,
    "pow_tensor": lambda T, x: x(3, 4, low=0.3) ** x(4),
    "rpow": lambda T, x: 2.0 ** x(3, 4),
    "exp_log": lambda T, x: x(3, 4).exp() + x(4, low=0.2).log(),
    "sqrt": lambda T, x: x(3, 4, low=0.2).sqrt(),
    "abs_relu": lambda T, x: (lambda a: a.abs() * a + a.relu() * a)(x(3, 4)),
    "tanh_sigmoid": lambda T, x: x(3, 4).tanh() * x(4).sigmoid(),
    "softplus": lambda T, x: _F(T).softplus(x(3, 4) * 3) + _F(T).softplus(x(4), beta=2.0, threshold=1.0),
    "unary_math": lambda T, x: (lambda a: a.sin() * a.cos() + (a * 0.5).tan() + a.atan() + (a.tanh() * 0.9).asin()
                                + a.sinh() * a.cosh() + a.log1p() + a.expm1() + a.reciprocal() + a.rsqrt()
                                + a.square() + a.log2() * a.log10())(x(3, 4, low=0.2)),
    "amax_amin": lambda T, x: (lambda a: a.amax(1) ** 2 + a.amin((0, 1)) * a.sum(1))(x(3, 4)),
    "clamp": lambda T, x: (lambda a: a.clamp(-0.5, 0.8) * a)(x(3, 4)),
    "maximum_minimum": lambda T, x: (lambda a, b: T.maximum(a, b) * a + T.minimum(a, b) ** 2)(x(3, 4), x(4)),
    "where": lambda T, x: (lambda a, b: T.where(a.detach() > 0, a * a, b.exp()))(x(3, 4), x(4)),
    "clone_cast": lambda T, x: (x(3, 4).clone() ** 2).float().double() * x(4),
    # reductions and the softmax family
    "sum_dims": lambda T, x: (x(2, 3, 4) ** 2).sum((0, 2)) ** 2,
    "sum_all_keepdim": lambda T, x: (lambda a: a * (a ** 2).sum(1, keepdim=True))(x(3, 4)),
    "mean": lambda T, x: (x(3, 4) ** 3).mean(0) * x(4),
    "var_std": lambda T, x: (lambda a: a.var(1).sum() * a.std(0, unbiased=False))(x(3, 4)),
    "max_all": lambda T, x: (lambda a: a.max() * a)(x(3, 4)),
    "max_min_dim": lambda T, x: (lambda a: a.max(1).values.unsqueeze(1) ** 2 + a.min(0, keepdim=True).values * a)(
        x(3, 4)),
    "softmax": lambda T, x: x(3, 4).softmax(1) * x(4),
    "log_softmax": lambda T, x: x(3, 4).log_softmax(0) ** 2,
    "logsumexp": lambda T, x: x(3, 4).logsumexp(1) * x(3) + x(2, 3).logsumexp((0, 1)),
    "norm": lambda T, x: x(3, 4).norm() * x(4).norm(dim=0),
    "cumsum_cumprod_flip": lambda T, x: (lambda a: a.cumsum(1) ** 2 * a.flip(0) + a.cumprod(1) * x(4))(
        x(3, 4, low=0.3)),
    "cumprod_zeros": lambda T, x: (x(3, 4) * T.tensor([1.0, 0.0, 1.0, 1.0], dtype=T.float64)).cumprod(1) ** 2,
    "prod": lambda T, x: x(3, 4, low=0.3).prod(1) ** 2 * x(3) + x(2, 3, low=0.3).prod() * x(2, 3).prod(0, keepdim=True),
    # shape ops
    "reshape_view": lambda T, x: (x(3, 4).reshape(2, 6) ** 2).view(12) * x(12),
    "transpose_permute": lambda T, x: x(2, 3, 4).permute(2, 0, 1) ** 2 * x(4, 2, 3).transpose(1, 2).transpose(1, 2),
    "t_T_mT": lambda T, x: (x(3, 4).t() ** 2) @ x(3, 4) + x(4, 4).T.mT ** 2,
    "squeeze_unsqueeze": lambda T, x: x(3, 1, 4).squeeze(1).unsqueeze(0) ** 3,
    "expand": lambda T, x: x(3, 1).expand(3, 4) ** 2 * x(4),
    "flatten": lambda T, x: x(2, 3, 2).flatten(1) ** 2,
    "cat_stack": lambda T, x: T.cat([x(2, 4), x(1, 4) ** 2], 0) * T.stack([x(4), x(4)], 1).sum(1),
    "split_chunk": lambda T, x: (lambda a: a.split([1, 3], 1)[1] ** 2 + a.chunk(2, 1)[0].sum(1, keepdim=True) ** 3)(
        x(3, 4)),
    # indexing (repeated indices accumulate; masks; basic slices)
    "index_basic": lambda T, x: (lambda a: a[1:, ::2] ** 2 + a[0, 1] * a[2:, :2])(x(3, 4)),
    "index_repeat": lambda T, x: (lambda a: a[T.tensor([0, 0, 2])] ** 3)(x(3, 4)),
    "index_mask": lambda T, x: (lambda a: a[a.detach() > 0] ** 2)(x(3, 4)),
    "index_2d_arrays": lambda T, x: (lambda a: a[T.tensor([0, 2, 2]), T.tensor([1, 1, 3])] ** 3)(x(3, 4)),
    # matmul: 2-D, batched with broadcast, vectors, non-contiguous
    "matmul_2d": lambda T, x: (x(3, 4) @ x(4, 2)) ** 2,
    "matmul_batched": lambda T, x: (x(2, 3, 4) @ x(4, 2)).tanh(),
    "matmul_vectors": lambda T, x: (lambda v, m: ((v @ m) ** 2).sum() + ((m @ x(2)) ** 2).sum() + (v @ v) * v)(
        x(3), x(3, 2)),
    "matmul_noncontig": lambda T, x: (x.noncontiguous(3, 4) @ x.noncontiguous(4, 2)).sigmoid(),
    # nn.functional: layers and losses
    "linear": lambda T, x: _F(T).linear(x(2, 3, 4), x(5, 4), x(5)).tanh(),
    "linear_noncontig": lambda T, x: _F(T).linear(x(2, 3, 4).transpose(0, 1), x(5, 4)) ** 2,
    "embedding": lambda T, x: _F(T).embedding(T.tensor([[0, 2], [2, 3]]), x(4, 3)) ** 2,
    "embedding_padding": lambda T, x: _F(T).embedding(T.tensor([0, 1, 1]), x(3, 2), padding_idx=1).exp(),
    "mse": lambda T, x: _F(T).mse_loss(x(3, 4) ** 2, x(3, 4)),
    "mse_sum_none": lambda T, x: _F(T).mse_loss(x(3, 4), x(3, 4).tanh(), reduction="sum") *
    _F(T).mse_loss(x(4), x(4) ** 2, reduction="none"),
    "l1": lambda T, x: _F(T).l1_loss(x(3, 4) ** 2, x(3, 4)),
    "bce_logits": lambda T, x: _F(T).binary_cross_entropy_with_logits(x(3, 4) * 2, x(3, 4).sigmoid()),
    "bce_logits_weights": lambda T, x: _F(T).binary_cross_entropy_with_logits(
        x(3, 4), x(3, 4).sigmoid(), weight=x.const(4), pos_weight=x.const(4, low=0.5), reduction="sum"),
    "cross_entropy": lambda T, x: _F(T).cross_entropy(x(4, 5), T.tensor([0, 3, 1, 4])),
    "cross_entropy_weighted_smooth": lambda T, x: _F(T).cross_entropy(
        x(3, 4, 2), T.tensor([[0, 1], [3, -100], [2, 2]]), weight=x.const(4, low=0.5), label_smoothing=0.15),
    "cross_entropy_none_ignore": lambda T, x: _F(T).cross_entropy(
        x(4, 3), T.tensor([0, 2, 1, 1]), ignore_index=1, reduction="none") ** 2,
    "cross_entropy_sum_unbatched": lambda T, x: _F(T).cross_entropy(x(5), T.tensor(3), reduction="sum"),
    "cross_entropy_probs": lambda T, x: _F(T).cross_entropy(x(3, 4), x(3, 4).softmax(1)),
    "leaky_relu_elu": lambda T, x: _F(T).leaky_relu(x(3, 4), 0.1) * x(4) + _F(T).elu(x(3, 4), 0.7) ** 2,
    "gelu": lambda T, x: _F(T).gelu(x(3, 4)) + _F(T).gelu(x(3, 4), approximate="tanh") ** 2,
    "layer_norm": lambda T, x: _F(T).layer_norm(x(3, 4), (4,), x(4), x(4)) ** 2,
    "batch_norm": lambda T, x: _F(T).batch_norm(x(5, 3), None, None, x(3), x(3), training=True) ** 2,
    "batch_norm_eval": lambda T, x: _F(T).batch_norm(x(5, 3), x.const(3), x.const(3, low=0.5), x(3), x(3)) ** 2,
    "nll": lambda T, x: _F(T).nll_loss(x(4, 3, 2).log_softmax(1), T.tensor([[0, 2], [1, 1], [2, 0], [1, 0]])),
    "binary_cross_entropy": lambda T, x: _F(T).binary_cross_entropy(x(3, 4).sigmoid(), x(3, 4).sigmoid()),
    "smooth_l1_huber": lambda T, x: _F(T).smooth_l1_loss(x(3, 4) * 2, x(3, 4)) +
    _F(T).huber_loss(x(3, 4) * 2, x(3, 4), delta=0.5, reduction="sum"),
    "kl_div": lambda T, x: _F(T).kl_div(x(3, 4).log_softmax(1), x(3, 4).softmax(1), reduction="batchmean") +
    _F(T).kl_div(x(3, 4), x(3, 4) * 0.1, reduction="sum", log_target=True),
    # in-place ops and index assignment inside the graph
    "setitem": lambda T, x: (lambda y, v: (y.__setitem__((slice(None), 1), v * v), y ** 2)[1])(x(3, 4) * 1.0, x(3)),
    "inplace_chain": lambda T, x: (lambda y: y.mul_(x(4)).add_(x(3, 1) ** 2).tanh_())(x(3, 4) * 1.0),
}

# Programs whose second derivatives are checked against finite differences too (gradgradcheck).
# Left out: index_mask and where, whose selection follows the perturbed values (a finite difference
# steps across it), and clone_cast, whose float32 round trip is too coarse for differences of 1e-6.
GRADGRADCHECK = sorted(set(PROGRAMS) - {"index_mask", "where", "clone_cast"})


def seed_of(name: str) -> int:
    """A stable seed per program (Python's hash() of a str changes between runs)."""
    return int.from_bytes(name.encode(), "little") % (2**31)


def second_order(T: Any, name: str) -> dict[str, np.ndarray]:
    """Output, first derivatives along ``v`` and second derivatives along ``u`` (H u), as arrays."""
    x = Leaves(T, seed_of(name))
    out = PROGRAMS[name](T, x)
    rng = np.random.default_rng(seed_of(name) + 1)
    v = T.tensor(rng.standard_normal(tuple(out.shape)), dtype=out.dtype)
    wrt = x.wrt
    firsts = T.autograd.grad(out, wrt, v, create_graph=True, allow_unused=True)
    us = [T.tensor(rng.standard_normal(tuple(t.shape)), dtype=T.float64) for t in wrt]
    total = sum((g * u).sum() for g, u in zip(firsts, us) if g is not None and g.requires_grad)
    if isinstance(total, int):  # no first derivative depends on the inputs: all second derivatives are 0
        seconds = [None] * len(wrt)
    else:
        seconds = T.autograd.grad(total, wrt, allow_unused=True)
    result = {"out": out.detach().numpy()}
    for i, (t, g1, g2) in enumerate(zip(wrt, firsts, seconds)):
        result[f"first{i}"] = np.zeros(tuple(t.shape)) if g1 is None else g1.detach().numpy()
        result[f"second{i}"] = np.zeros(tuple(t.shape)) if g2 is None else g2.detach().numpy()
    return result


def as_function(T: Any, name: str) -> tuple[Callable[..., Any], list]:
    """The program as ``f(*inputs)`` and its inputs: what ``gradgradcheck`` needs."""
    inputs = Leaves(T, seed_of(name))
    PROGRAMS[name](T, inputs)
    return (lambda *given: PROGRAMS[name](T, Leaves(T, seed_of(name), given))), inputs.made


# ------------------------------------------------------------------------------------------------
# The LSTM: Hessian-vector product of a loss with respect to weight_hh_l0
# ------------------------------------------------------------------------------------------------

LSTM_SIZES = {"input_size": 3, "hidden_size": 4, "steps": 5, "batch": 2}


def lstm_hvp(T: Any, mode: str = "LSTM", **layer_options: Any) -> dict[str, np.ndarray]:
    """``H v`` of a sequence loss with respect to ``weight_hh_l0`` of a 1-layer RNN/LSTM/GRU (float64)."""
    s = LSTM_SIZES
    rng = np.random.default_rng(7)
    layer = getattr(T.nn, mode)(s["input_size"], s["hidden_size"], **layer_options).double()
    with T.no_grad():
        for p in layer.parameters():
            p.copy_(T.tensor(rng.uniform(-0.6, 0.6, tuple(p.shape)), dtype=T.float64))
    x = T.tensor(rng.standard_normal((s["steps"], s["batch"], s["input_size"])), dtype=T.float64)
    target = T.tensor(rng.standard_normal((s["steps"], s["batch"], s["hidden_size"])), dtype=T.float64)
    v = T.tensor(rng.standard_normal(tuple(layer.weight_hh_l0.shape)), dtype=T.float64)
    out = layer(x)[0]
    loss = ((out - target) ** 2).mean()
    (g,) = T.autograd.grad(loss, layer.weight_hh_l0, create_graph=True)
    (hv,) = T.autograd.grad((g * v).sum(), layer.weight_hh_l0)
    return {"loss": loss.detach().numpy(), "grad": g.detach().numpy(), "hvp": hv.numpy()}


def packed_lstm_hvp(T: Any, **layer_options: Any) -> dict[str, np.ndarray]:
    """Gradients and ``H v`` through pad_sequence -> pack_padded_sequence -> LSTM -> pad_packed_sequence."""
    rng = np.random.default_rng(3)
    lstm = T.nn.LSTM(3, 4, batch_first=True, **layer_options).double()
    with T.no_grad():
        for p in lstm.parameters():
            p.copy_(T.tensor(rng.uniform(-0.5, 0.5, tuple(p.shape)), dtype=T.float64))
    lengths = (4, 2, 3)
    seqs = [T.tensor(rng.standard_normal((n, 3)), dtype=T.float64, requires_grad=True) for n in lengths]
    rnn_utils = T.nn.utils.rnn
    padded = rnn_utils.pad_sequence(seqs, batch_first=True)
    packed = rnn_utils.pack_padded_sequence(padded, T.tensor(lengths), batch_first=True, enforce_sorted=False)
    out, _ = rnn_utils.pad_packed_sequence(lstm(packed)[0], batch_first=True)
    wrt = [lstm.weight_hh_l0, seqs[0], seqs[1]]
    grads = T.autograd.grad((out ** 2).sum(), wrt, create_graph=True)
    vs = [T.tensor(rng.standard_normal(tuple(w.shape)), dtype=T.float64) for w in wrt]
    hvps = T.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vs)), wrt)
    result = {f"grad{i}": g.detach().numpy() for i, g in enumerate(grads)}
    result.update({f"hvp{i}": h.numpy() for i, h in enumerate(hvps)})
    return result


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


def make(fixtures_dir: Path) -> list[Path]:
    import torch

    arrays: dict[str, np.ndarray] = {}
    for name in sorted(PROGRAMS):
        for key, value in second_order(torch, name).items():
            arrays[f"{name}__{key}"] = value
    for mode in ("LSTM", "GRU", "RNN"):
        for key, value in lstm_hvp(torch, mode).items():
            arrays[f"recurrent_{mode}__{key}"] = value
    for key, value in packed_lstm_hvp(torch).items():
        arrays[f"packed_lstm__{key}"] = value
    path = fixtures_dir / "higher_order.npz"
    np.savez_compressed(path, **arrays)
    return [path]
