"""Random programs for differential fuzzing against PyTorch.

A *program* is a few random input arrays plus one expression, written once for both libraries:
``L`` is ``torch`` or ``minigrad`` and ``x0, x1, ...`` are the inputs made with ``L.tensor``. The
expression is a string, so a failing program prints as a repro that runs as it is. Programs are built
from the ``GENERATORS`` table: each entry draws its inputs (shapes from 0 to 4 dims, sizes 0 to 4,
int64/float32/float64, broadcastable or deliberately not) and the op's arguments (dims, keepdim,
indices, masks), then sometimes a second op is chained onto the first.

Everything is drawn from ``np.random.default_rng([seed, index])``: the same (seed, index) always
gives the same program, on any machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FLOATS = ("float32", "float64")


@dataclass
class Program:
    """Inputs (arrays) and one expression over ``L`` and ``x0..xn``."""

    seed: int
    index: int
    family: str
    expr: str
    inputs: list[np.ndarray] = field(default_factory=list)
    grad: bool = False  # float64 inputs require grad; the gradient of a random weighting is compared
    ordered: bool = True  # False: compare values only as sorted multisets (ties in topk etc.)

    def repro(self) -> str:
        """A self-contained script that runs the program on both libraries."""
        lines = ["import numpy as np", "import torch", "import minigrad as mg", ""]
        for i, a in enumerate(self.inputs):
            lines.append(f"a{i} = np.array({a.tolist()!r}, dtype=np.{a.dtype}).reshape({a.shape})")
        lines.append("for L in (torch, mg):")
        for i, a in enumerate(self.inputs):
            rg = self.grad and a.dtype == np.float64
            lines.append(f"    x{i} = L.tensor(a{i}, requires_grad={rg})")
        lines.append(f"    out = {self.expr}")
        lines.append("    print(L.__name__, out)")
        if self.grad:  # the fuzzer weights the outputs randomly; all-ones weights show most problems too
            lines.append("    outs = out if isinstance(out, (tuple, list)) else [out]")
            lines.append("    outs = [o for o in outs if o.requires_grad]")
            lines.append("    sum(o.sum() for o in outs).backward() if outs else None")
            grads = ", ".join(f"x{i}.grad" for i, a in enumerate(self.inputs) if a.dtype == np.float64)
            lines.append(f"    print({grads})")
        return "\n".join(lines)


class Draw:
    """The random choices of one program, with helpers that keep the table short."""

    def __init__(self, seed: int, index: int) -> None:
        self.rng = np.random.default_rng([seed, index])
        self.inputs: list[np.ndarray] = []

    # -- plain choices
    def pick(self, options: Any) -> Any:
        return options[int(self.rng.integers(len(options)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def int(self, lo: int, hi: int) -> int:
        """An int in [lo, hi]."""
        return int(self.rng.integers(lo, hi + 1))

    # -- shapes
    def shape(self, min_dims: int = 0, max_dims: int = 4, min_size: int = 0) -> tuple[int, ...]:
        ndim = self.int(min_dims, max_dims)
        zero_ok = min_size == 0 and self.chance(0.1)
        return tuple(self.int(0 if zero_ok else max(min_size, 1), 4) for _ in range(ndim))

    def broadcast_partner(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A shape that broadcasts with ``shape`` (size-1 dims, fewer dims), now and then one that does not."""
        if self.chance(0.05):
            return self.shape()
        keep = self.int(0, len(shape))
        out = [1 if self.chance(0.3) else n for n in shape[len(shape) - keep:]]
        if self.chance(0.2) and len(out) < 4:
            out = [self.int(1, 3)] + out
        return tuple(out)

    def dim(self, ndim: int, allow_bad: bool = True) -> int:
        """A dim for a tensor with ``ndim`` dims (negative half the time; rarely out of range)."""
        span = max(ndim, 1)
        if allow_bad and self.chance(0.03):
            return span + self.int(0, 1)
        d = self.int(0, span - 1)
        return d - span if self.chance(0.5) else d

    # -- inputs
    def dtype(self, floats_only: bool = False) -> str:
        if floats_only:
            return self.pick(FLOATS)
        return self.pick(("float32", "float64", "float64", "int64"))

    def array(self, shape: tuple[int, ...], dtype: str, kind: str = "n") -> str:
        """Add an input; returns its name (``x3``)."""
        n = int(np.prod(shape))
        if dtype == "int64":
            a = self.rng.integers(-5, 6, size=shape)
            if kind == "distinct":
                a = (self.rng.permutation(n) - n // 2).reshape(shape)
            if kind == "pos":
                a = self.rng.integers(1, 6, size=shape)
        elif dtype == "bool":
            a = self.rng.random(shape) < 0.5
        elif kind == "pos":
            a = self.rng.uniform(0.5, 2.0, size=shape)
        elif kind == "distinct":  # no ties: sort/topk/max indices and gradients are well defined
            a = ((self.rng.permutation(n) - n / 2) * 0.25 + 0.1).reshape(shape)
        else:
            a = self.rng.standard_normal(shape).round(3)
            if kind == "away":  # away from the kinks of relu/abs/clamp/floor
                a = np.where(np.abs(a - np.round(a * 2) / 2) < 0.05, a + 0.1, a)
        self.inputs.append(np.asarray(a, dtype=dtype))
        return f"x{len(self.inputs) - 1}"

    def index_list(self, size: int, count: int, negative: bool = True, unique: bool = False) -> list[int]:
        if size == 0:
            return []
        if unique:
            picked = self.rng.permutation(size)[:count]
        else:
            picked = self.rng.integers(0, size, size=count)
        return [int(i) - size if negative and self.chance(0.3) else int(i) for i in picked]


# ----------------------------------------------------------------------------------- the op table
# Each generator draws inputs and returns (expression, options). Options: "ordered": False when
# only the multiset of values is meaningful.

Gen = Callable[[Draw], tuple[str, dict]]


def _scalar(d: Draw) -> str:
    return repr(d.pick((2, -1, 0, 3, 0.5, -1.5, 2.0, True)))


def gen_binary(d: Draw) -> tuple[str, dict]:
    s = d.shape()
    a = d.array(s, d.dtype())
    op = d.pick(("+", "-", "*", "/", "**", "max", "min", "cmp", "alpha", "rdiv", "where", "rem", "logical"))
    b = d.array(d.broadcast_partner(s), d.dtype(), kind="pos" if op in ("/", "rdiv", "rem") else "n")
    if op == "**":
        d.inputs[0] = np.abs(d.inputs[0]) + (0.5 if d.inputs[0].dtype.kind == "f" else 1)
        d.inputs[1] = np.clip(d.inputs[1], -2, 2)
        return f"{a} ** {b}", {}
    if op in ("max", "min"):
        return f"L.{'maximum' if op == 'max' else 'minimum'}({a}, {b})", {}
    if op == "cmp":
        return f"L.{d.pick(('eq', 'ne', 'lt', 'le', 'gt', 'ge'))}({a}, {b})", {}
    if op == "alpha":
        alpha = d.pick((2, -1, 0.5))
        return f"{a}.{d.pick(('add', 'sub'))}({b}, alpha={alpha!r})", {}
    if op == "rdiv":
        return f"L.div({a}, {b}, rounding_mode={d.pick(('trunc', 'floor'))!r})", {}
    if op == "where":
        c = d.array(d.broadcast_partner(s), "bool")
        return f"L.where({c}, {a}, {b})", {}
    if op == "rem":
        return (f"{a} % {b}" if d.chance(0.5) else f"L.fmod({a}, {b})"), {}
    if op == "logical":
        return f"L.{d.pick(('logical_and', 'logical_or', 'logical_xor'))}({a}, {b})", {}
    return f"{a} {op} {b}", {}


def gen_scalar(d: Draw) -> tuple[str, dict]:
    a = d.array(d.shape(), d.dtype())
    op = d.pick(("+", "-", "*", "/", "**"))
    s = _scalar(d)
    if op == "**":
        d.inputs[0] = np.abs(d.inputs[0]) + 1
        s = d.pick(("2", "0.5", "-1", "3"))
    if d.chance(0.5):
        return f"{a} {op} {s}", {}
    return (f"{s} {op} {a}" if op != "**" else f"{d.pick(('2.0', '3'))} ** ({a} * 0.5)"), {}


UNARY = {
    "neg": ("-{x}", "n"), "exp": ("{x}.exp()", "n"), "log": ("{x}.log()", "pos"), "sqrt": ("{x}.sqrt()", "pos"),
    "abs": ("{x}.abs()", "away"), "tanh": ("{x}.tanh()", "n"), "sigmoid": ("{x}.sigmoid()", "n"),
    "relu": ("{x}.relu()", "away"), "log1p": ("{x}.log1p()", "pos"), "expm1": ("{x}.expm1()", "n"),
    "sin": ("{x}.sin()", "n"), "cos": ("L.cos({x})", "n"), "floor": ("{x}.floor()", "away"),
    "round": ("{x}.round()", "away"), "sign": ("{x}.sign()", "away"), "reciprocal": ("{x}.reciprocal()", "pos"),
    "rsqrt": ("{x}.rsqrt()", "pos"), "square": ("{x}.square()", "n"), "isnan": ("L.isnan({x})", "n"),
    "isfinite": ("{x}.isfinite()", "n"), "isinf": ("L.isinf({x})", "n"),
    "clamp": ("{x}.clamp({lo}, {hi})", "away"), "clamp_min": ("{x}.clamp(min={lo})", "away"),
    "clamp_max": ("L.clamp({x}, max={hi})", "away"), "softmax": ("{x}.softmax({dim})", "n"),
    "log_softmax": ("L.log_softmax({x}, dim={dim})", "n"), "clone": ("{x}.clone()", "n"),
    "float": ("{x}.float()", "n"), "double": ("{x}.double()", "n"), "to_none": ("{x}.to(None)", "n"),
    "type_as": ("{x}.type_as(L.zeros(1, dtype=L.float64))", "n"),
    "ceil": ("{x}.ceil()", "away"), "trunc": ("L.trunc({x})", "away"), "tan": ("({x} * 0.5).tan()", "n"),
    "atan": ("L.atan({x})", "n"), "asin": ("(L.tanh({x}) * 0.9).asin()", "n"),
    "acos": ("L.acos({x}.tanh() * 0.9)", "n"),
    "sinh": ("{x}.sinh()", "n"), "cosh": ("L.cosh({x})", "n"), "log2": ("{x}.log2()", "pos"),
    "log10": ("L.log10({x})", "pos"), "neg_method": ("{x}.neg()", "n"), "logical_not": ("L.logical_not({x})", "n"),
    "amax": ("{x}.amax({dim})", "distinct"), "amin": ("L.amin({x}, {dim}, keepdim=True)", "distinct"),
}


def gen_unary(d: Draw) -> tuple[str, dict]:
    name = d.pick(list(UNARY))
    template, kind = UNARY[name]
    shape = d.shape()
    x = d.array(shape, d.dtype(), kind)
    lo, hi = d.pick(((-0.5, 0.5), (0, 1), (0.5, 1.5), (-1, 2), (1, 1)))
    return template.format(x=x, lo=lo, hi=hi, dim=d.dim(len(shape))), {}


def gen_reduce(d: Draw) -> tuple[str, dict]:
    shape = d.shape()
    name = d.pick(("sum", "mean", "var", "std", "max", "min", "argmax", "argmin", "prod", "logsumexp",
                   "cumsum", "cumprod", "norm", "all_sum", "all_max", "all_mean"))
    dtype = d.dtype(floats_only=name in ("mean", "var", "std", "logsumexp", "norm", "all_mean"))
    x = d.array(shape, dtype, "distinct" if name in ("max", "min", "argmax", "argmin", "all_max") else "n")
    dim = d.dim(len(shape))
    keep = d.chance(0.5)
    if name in ("sum", "mean"):
        dims = dim
        if len(shape) >= 2 and d.chance(0.4):
            dims = tuple(sorted({d.dim(len(shape), False) % len(shape) for _ in range(2)}))
        return f"{x}.{name}(dim={dims!r}, keepdim={keep})", {}
    if name in ("var", "std"):
        # correction=2 only over >= 3 elements: below that PyTorch's own gradients disagree between
        # dim=None and dim=0 (nan or -0.0), and neither is meaningful
        size = shape[dim] if shape and -len(shape) <= dim < len(shape) else 1
        corr = d.pick((0, 1, 2) if size >= 3 else (0, 1))
        return f"{x}.{name}(dim={dim}, keepdim={keep}, correction={corr})", {}
    if name in ("max", "min"):
        return f"{x}.{name}(dim={dim}, keepdim={keep})", {}
    if name in ("argmax", "argmin"):
        return f"{x}.{name}(dim={dim}, keepdim={keep})", {}
    if name == "prod":
        return f"{x}.prod(dim={dim}, keepdim={keep})" if d.chance(0.7) else f"{x}.prod()", {}
    if name == "logsumexp":
        return f"{x}.logsumexp(dim={dim}, keepdim={keep})", {}
    if name in ("cumsum", "cumprod"):
        return f"{x}.{name}({dim})", {}
    if name == "norm":
        return f"{x}.norm(dim={dim}, keepdim={keep})", {}
    return {"all_sum": f"{x}.sum()", "all_max": f"{x}.max()", "all_mean": f"{x}.mean()"}[name], {}


def gen_shape(d: Draw) -> tuple[str, dict]:
    shape = d.shape()
    x = d.array(shape, d.dtype())
    nd = len(shape)
    name = d.pick(("reshape", "view", "transpose", "permute", "squeeze", "unsqueeze", "expand", "flatten",
                   "flip", "roll", "repeat", "narrow", "unbind", "split", "chunk", "cat", "stack", "t",
                   "view_as", "new_zeros", "new_full", "new_tensor"))
    if name in ("reshape", "view"):
        return f"{x}.{name}(-1)" if d.chance(0.3) or nd == 0 else f"{x}.{name}({shape[0]}, -1)", {}
    if name == "transpose":
        return f"{x}.transpose({d.dim(nd)}, {d.dim(nd)})", {}
    if name == "permute":
        return f"{x}.permute({tuple(int(i) for i in d.rng.permutation(nd))!r})", {}
    if name == "squeeze":
        return f"{x}.squeeze({d.dim(nd)})" if d.chance(0.6) else f"{x}.squeeze()", {}
    if name == "unsqueeze":
        return f"{x}.unsqueeze({d.dim(nd + 1)})", {}
    if name == "expand":
        target = tuple(d.int(1, 3) if n == 1 else n for n in shape)
        return f"{x}.expand({(d.int(1, 2),) + target if d.chance(0.3) else target!r})", {}
    if name == "flatten":
        return f"{x}.flatten({d.dim(nd)})" if d.chance(0.5) else f"{x}.flatten()", {}
    if name == "flip":
        return f"{x}.flip({d.dim(nd)})", {}
    if name == "roll":
        return f"{x}.roll({d.int(-3, 3)}, {d.dim(nd)})" if d.chance(0.7) else f"{x}.roll({d.int(-3, 3)})", {}
    if name == "repeat":
        reps = tuple(d.int(0, 2) for _ in range(nd + d.int(0, 1)))
        return f"{x}.repeat({reps!r})", {}
    if name == "narrow":
        dim = d.dim(nd)
        size = shape[dim] if -nd <= dim < nd and nd else 0
        start = d.int(-size, size) if size else 0
        length = d.int(0, size - (start % size if size and start < 0 else start)) if size else 0
        return f"{x}.narrow({dim}, {start}, {length})", {}
    if name == "unbind":
        return f"{x}.unbind({d.dim(nd)})", {}
    if name == "split":
        return f"{x}.split({d.int(1, 3)}, dim={d.dim(nd)})", {}
    if name == "chunk":
        return f"L.chunk({x}, {d.int(1, 3)}, dim={d.dim(nd)})", {}
    if name in ("cat", "stack"):
        other_shape = list(shape)
        if name == "cat" and nd and d.chance(0.7):
            other_shape[d.int(0, nd - 1)] = d.int(0, 3)
        y = d.array(tuple(other_shape), d.dtype())
        return f"L.{name}([{x}, {y}], dim={d.dim(nd + (name == 'stack'))})", {}
    if name == "t":
        return f"{x}.t()", {}
    if name == "view_as":
        return f"{x}.view_as(L.zeros({int(np.prod(shape))}))", {}
    if name == "new_zeros":
        return f"{x}.new_zeros({d.shape(0, 2)!r})", {}
    if name == "new_full":
        return f"{x}.new_full({d.shape(0, 2)!r}, {_scalar(d)})", {}
    return f"{x}.new_tensor([1, 2])", {}


def gen_index(d: Draw) -> tuple[str, dict]:
    shape = d.shape(min_dims=1)
    x = d.array(shape, d.dtype())
    items = []
    dims_left = list(shape)
    used_ellipsis = False
    for n in list(dims_left)[: d.int(1, len(shape))]:
        choice = d.pick(("int", "slice", "step", "array", "array", "mask", "none", "ellipsis", "full"))
        if choice == "int" and n:
            items.append(str(d.int(-n, n - 1)))
        elif choice == "slice":
            a, b = d.int(-n - 1, n + 1), d.int(-n - 1, n + 1)
            items.append(f"{a}:{b}")
        elif choice == "step":
            items.append(f"::{d.int(1, 3)}")
        elif choice == "array":
            idx = d.index_list(n, d.int(0, 4))
            items.append(f"L.tensor({idx!r}, dtype=L.int64)")
        elif choice == "mask":
            items.append(f"L.tensor({(d.rng.random(n) < 0.5).tolist()!r})")
        elif choice == "none":
            items.append("None")
            items.append(":")
        elif choice == "ellipsis" and not used_ellipsis:
            used_ellipsis = True
            items.append("...")
            break
        else:
            items.append(":")
    if d.chance(0.02):
        items.append("0")  # sometimes one index too many (or out of range)
    return f"{x}[{', '.join(items)}]", {}


def gen_gather(d: Draw) -> tuple[str, dict]:
    shape = d.shape(min_dims=1)
    nd = len(shape)
    dim = d.dim(nd, allow_bad=False)
    ax = dim % nd
    name = d.pick(("gather", "index_select", "scatter", "scatter_add", "masked_fill", "topk", "sort",
                   "argsort", "unique", "index_put", "index_add", "index_fill", "repeat_interleave"))
    kind = "distinct" if name in ("topk", "sort", "argsort") else "n"
    dtype = d.dtype() if name != "unique" else d.pick(("int64", "float64"))
    x = d.array(shape, dtype, kind)
    n = shape[ax]
    if name == "gather":
        ishape = tuple(d.int(0, s) if k != ax else d.int(0, 4) for k, s in enumerate(shape))
        idx = d.rng.integers(0, max(n, 1), size=ishape) if n else np.zeros(ishape, np.int64)
        if n == 0 and idx.size:
            return f"{x}.sum()", {}
        return f"L.gather({x}, {dim}, L.tensor({idx.tolist()!r}, dtype=L.int64).reshape({ishape!r}))", {}
    if name == "index_select":
        return f"{x}.index_select({dim}, L.tensor({d.index_list(n, d.int(0, 4), negative=False)!r}, " \
               "dtype=L.int64))", {}
    if name in ("scatter", "scatter_add"):
        # index rows without repeats along dim, so that scatter's result is defined
        # (a non-empty index: PyTorch's backward refuses an empty one of another shape than src)
        ishape = tuple(d.int(min(1, s), s) if k != ax else d.int(min(1, n), n) for k, s in enumerate(shape))
        idx = np.zeros(ishape, np.int64)
        for pos in np.ndindex(*(s for k, s in enumerate(ishape) if k != ax)):
            perm = d.rng.permutation(n)[: ishape[ax]]
            sl = list(pos)
            sl.insert(ax, slice(None))
            idx[tuple(sl)] = perm
        # src of the index's shape: PyTorch's backward refuses a bigger src (its gradient has index's shape)
        src = d.array(ishape, dtype)
        it = f"L.tensor({idx.tolist()!r}, dtype=L.int64).reshape({ishape!r})"
        if name == "scatter" and d.chance(0.3):
            return f"{x}.scatter({dim}, {it}, {_scalar(d)})", {}
        return f"{x}.{name}({dim}, {it}, {src})", {}
    if name == "index_add":  # repeated slice numbers add up
        idx = d.index_list(n, d.int(0, 4), negative=False) if n else []
        src = d.array(shape[:ax] + (len(idx),) + shape[ax + 1:], dtype)
        return f"{x}.index_add({dim}, L.tensor({idx!r}, dtype=L.int64), {src}, alpha={d.pick((1, 2, -1))})", {}
    if name == "index_fill":
        idx = d.index_list(n, d.int(0, 3), negative=False) if n else []
        return f"{x}.index_fill({dim}, L.tensor({idx!r}, dtype=L.int64), {d.pick(('0.0', '-1.5', '2'))})", {}
    if name == "repeat_interleave":
        counts = [d.int(0, 3) for _ in range(n)] if d.chance(0.5) else d.int(0, 3)
        return f"{x}.repeat_interleave(L.tensor({counts!r}, dtype=L.int64), dim={dim})", {}
    if name == "masked_fill":
        m = d.array(d.broadcast_partner(shape), "bool")
        value = d.pick(("0.0", "-1.5", "2", "float('-inf')"))
        return f"{x}.masked_fill({m}, {value})", {}
    if name == "topk":
        k = d.int(0, n + (1 if d.chance(0.05) else 0))
        return f"{x}.topk({k}, dim={dim}, largest={d.chance(0.5)})", {}
    if name in ("sort", "argsort"):
        return f"{x}.{name}(dim={dim}, descending={d.chance(0.5)})", {}
    if name == "unique":
        d.inputs[-1] = np.round(d.inputs[-1])
        # not differentiable (PyTorch's backward raises): compared without gradients
        return f"L.unique({x}, return_inverse={d.chance(0.5)}, return_counts={d.chance(0.5)})", {"grad": False}
    idx = d.index_list(shape[0], d.int(0, 3), unique=True)
    v = d.array((len(idx),) + shape[1:] if d.chance(0.7) else (), dtype)
    return f"{x}.index_put((L.tensor({idx!r}, dtype=L.int64),), {v})", {}


def gen_matmul(d: Draw) -> tuple[str, dict]:
    dtype = d.dtype()
    m, k, n = d.int(0, 4), d.int(0, 4), d.int(0, 4)
    form = d.pick(("mm", "bmm", "matmul", "vec", "einsum"))
    if form == "mm":
        a, b = d.array((m, k), dtype), d.array((k if d.chance(0.95) else k + 1, n), dtype)
        return f"L.mm({a}, {b})", {}
    if form == "bmm":
        bsz = d.int(0, 3)
        a, b = d.array((bsz, m, k), dtype), d.array((bsz, k, n), dtype)
        return f"L.bmm({a}, {b})", {}
    if form == "vec":
        a = d.array((k,), dtype)
        b = d.array(d.pick(((k,), (k, n), (d.int(1, 2), k, n))), dtype)
        return (f"{a} @ {b}" if d.chance(0.5) else f"{b}.transpose(-1, -2) @ {a}" if d.inputs[-1].ndim > 1
                else f"{b} @ {a}"), {}
    if form == "einsum":
        eq, shapes = d.pick((("ij,jk->ik", ((m, k), (k, n))), ("bij,bjk->bik", ((2, m, k), (2, k, n))),
                             ("ii->i", ((k, k),)), ("ij->", ((m, k),)), ("i,j->ij", ((m,), (n,))),
                             ("...ij,jk", ((2, m, k), (k, n))), ("ij,ij->i", ((m, k), (1, k)))))
        names = [d.array(s, "float64" if dtype == "int64" else dtype) for s in shapes]
        return f"L.einsum({eq!r}, {', '.join(names)})", {}
    batch_a = d.shape(0, 2)
    batch_b = d.broadcast_partner(batch_a)
    a, b = d.array(batch_a + (m, k), dtype), d.array(batch_b + (k, n), dtype)
    return f"L.matmul({a}, {b})", {}


def gen_loss(d: Draw) -> tuple[str, dict]:
    name = d.pick(("mse", "l1", "ce", "bce", "nll", "smooth_l1", "huber", "kl_div", "bce_probs", "ce_3d"))
    red = d.pick(("mean", "sum", "none"))
    F = "L.nn.functional"
    dtype = d.dtype(floats_only=True)
    if name in ("mse", "l1", "bce"):
        s = d.shape()
        a = d.array(s, dtype)
        b = d.array(s, dtype)
        if name == "bce":
            d.inputs[-1] = (d.inputs[-1] > 0).astype(dtype)
            return f"{F}.binary_cross_entropy_with_logits({a}, {b}, reduction={red!r})", {}
        fn = "mse_loss" if name == "mse" else "l1_loss"
        return f"{F}.{fn}({a}, {b}, reduction={red!r})", {}
    if name in ("smooth_l1", "huber", "kl_div", "bce_probs"):
        s = d.shape()
        a, b = d.array(s, dtype), d.array(s, dtype, "pos")
        if name == "smooth_l1":
            return f"{F}.smooth_l1_loss({a}, {b}, reduction={red!r}, beta={d.pick((1.0, 0.5, 2.0))})", {}
        if name == "huber":
            return f"{F}.huber_loss({a}, {b}, reduction={red!r}, delta={d.pick((1.0, 0.5, 2.0))})", {}
        if name == "kl_div":
            red = d.pick(("batchmean", "sum", "none", "mean"))
            return f"{F}.kl_div({a}, {b}, reduction={red!r}, log_target={d.chance(0.3)})", {}
        d.inputs[-2] = 1 / (1 + np.exp(-d.inputs[-2]))  # probabilities in (0, 1)
        d.inputs[-1] = (d.inputs[-1] > 1.2).astype(dtype)
        return f"{F}.binary_cross_entropy({a}, {b}, reduction={red!r})", {}
    nb, nc = d.int(1, 4), d.int(1, 4)
    extra = (d.int(1, 3),) if name == "ce_3d" else ()
    logits = d.array((nb, nc) + extra, dtype)
    target = d.rng.integers(0, nc, size=(nb,) + extra)
    if d.chance(0.2):
        target.reshape(-1)[0] = -100  # ignored
    # a class weight never requires grad in PyTorch
    weight = f", weight={d.array((nc,), dtype, 'pos')}.detach()" if d.chance(0.3) else ""
    fn = "nll_loss" if name == "nll" else "cross_entropy"
    if name == "nll":
        logits = f"{logits}.log_softmax(1)"
    return f"{F}.{fn}({logits}, L.tensor({target.tolist()!r}){weight}, reduction={red!r})", {}


GENERATORS: dict[str, tuple[Gen, float]] = {
    "binary": (gen_binary, 3.0),
    "scalar": (gen_scalar, 1.0),
    "unary": (gen_unary, 3.0),
    "reduce": (gen_reduce, 3.0),
    "shape": (gen_shape, 3.0),
    "index": (gen_index, 3.0),
    "gather": (gen_gather, 3.0),
    "matmul": (gen_matmul, 2.0),
    "loss": (gen_loss, 1.0),
}

# A second op applied to a first op's (single, floating) result now and then.
CHAINS = ("({e}).sum()", "({e}).tanh()", "({e}) * ({e})", "({e}).exp().mean()", "({e})[..., :1]",
          "({e}).reshape(-1).flip(0)", "({e}).softmax(-1)", "({e}).max(dim=-1).values")


def make_program(seed: int, index: int, families: list[str] | None = None) -> Program:
    """The program number ``index`` of stream ``seed`` (drawn from ``families`` only, when given)."""
    d = Draw(seed, index)
    names = list(families) if families else [n for n in GENERATORS if GENERATORS[n][1] > 0]
    unknown = set(names) - set(GENERATORS)
    if unknown:
        raise ValueError(f"unknown program families {sorted(unknown)}; known: {sorted(GENERATORS)}")
    weights = np.array([GENERATORS[n][1] or 1.0 for n in names])
    family = names[int(d.rng.choice(len(names), p=weights / weights.sum()))]
    expr, opts = GENERATORS[family][0](d)
    if d.chance(0.15):
        expr = d.pick(CHAINS).format(e=expr)
    grad = d.chance(0.6) and opts.get("grad", True)
    return Program(seed, index, family, expr, d.inputs, grad=grad, ordered=opts.get("ordered", True))


# ----------------------------------------------------------------------------------- multi-step programs


def gen_chain(d: Draw) -> tuple[str, dict]:
    """2 to 5 steps on a running tensor whose shape is tracked, mixing in new (broadcast) inputs."""
    shape = d.shape(max_dims=3, min_size=1)
    dtype = d.dtype(floats_only=True)
    expr = d.array(shape, dtype)
    for _ in range(d.int(2, 5)):
        nd = len(shape)
        step = d.pick(("unary", "unary", "binary", "binary", "reduce", "transpose", "unsqueeze", "matmul",
                       "index", "softmax", "cat", "where"))
        if step == "unary":
            expr = d.pick(("({e}).tanh()", "({e}).sigmoid()", "({e}).exp()", "(({e}) * ({e}) + 1.0).log()",
                           "({e}).relu()", "({e}).abs()", "-({e})", "({e}).sin()", "({e}).clamp(-0.5, 0.5)",
                           "({e}).square()", "(({e}).abs() + 0.5).sqrt()", "({e}).expm1()")).format(e=expr)
        elif step == "binary":
            other = d.broadcast_partner(shape)
            if d.chance(0.1):
                other = d.shape(max_dims=3)  # now and then one that does not broadcast
            y = d.array(other, d.pick((dtype, dtype, "float64", "int64")))
            op = d.pick(("+", "-", "*", "/"))
            if op == "/":
                d.inputs[-1] = np.abs(d.inputs[-1]) + 1
            expr = f"({expr}) {op} {y}" if d.chance(0.7) else f"{y} {op} ({expr})"
            try:
                shape = np.broadcast_shapes(shape, other)
            except ValueError:
                break
        elif step == "reduce" and nd:
            dim, keep = d.int(0, nd - 1), d.chance(0.5)
            name = d.pick(("sum", "mean", "amax", "logsumexp", "std", "prod"))
            if name == "amax":
                expr = f"({expr}).max(dim={dim - nd}, keepdim={keep}).values"
            elif name == "std":
                expr = f"({expr}).std(dim={dim}, keepdim={keep}, correction=0)"
            else:
                expr = f"({expr}).{name}({dim}, keepdim={keep})" if name != "logsumexp" else \
                    f"({expr}).logsumexp({dim}, keepdim={keep})"
            shape = shape[:dim] + ((1,) if keep else ()) + shape[dim + 1:]
        elif step == "transpose" and nd >= 2:
            a, b = d.int(0, nd - 1), d.int(0, nd - 1)
            expr = f"({expr}).transpose({a}, {b})"
            s = list(shape)
            s[a], s[b] = s[b], s[a]
            shape = tuple(s)
        elif step == "unsqueeze" and nd < 4:
            dim = d.int(0, nd)
            expr = f"({expr}).unsqueeze({dim})"
            shape = shape[:dim] + (1,) + shape[dim:]
        elif step == "matmul" and nd:
            n = d.int(1, 3)
            w = d.array((shape[-1], n), dtype)
            expr = f"({expr}) @ {w}"
            shape = shape[:-1] + (n,)
        elif step == "index" and nd:
            size = shape[-1]
            idx = d.index_list(size, d.int(1, 3))
            expr = f"({expr})[..., {idx!r}]"
            shape = shape[:-1] + (len(idx),)
        elif step == "softmax" and nd:
            expr = f"({expr}).{d.pick(('softmax', 'log_softmax'))}({d.int(-nd, nd - 1)})"
        elif step == "cat" and nd:
            dim = d.int(0, nd - 1)
            extra = d.int(1, 2)
            y = d.array(shape[:dim] + (extra,) + shape[dim + 1:], dtype)
            expr = f"L.cat([{expr}, {y}], dim={dim})"
            shape = shape[:dim] + (shape[dim] + extra,) + shape[dim + 1:]
        elif step == "where":
            c = d.array(d.broadcast_partner(shape), "bool")
            expr = f"L.where({c}, {expr}, {d.pick(('0.0', '1', '5.0'))})"
            try:
                shape = np.broadcast_shapes(shape, d.inputs[-1].shape)
            except ValueError:
                break
    return expr, {}


GENERATORS["chain"] = (gen_chain, 6.0)


def gen_creation(d: Draw) -> tuple[str, dict]:
    """Deterministic factories: shapes, dtypes inferred from the values, and *_like / new_* forms."""
    shape = d.shape(max_dims=3)
    x = d.array(shape, d.dtype())
    dt = d.pick(("None", "L.float64", "L.int64", "L.float32", "L.bool"))
    value = d.pick(("7", "2.5", "True", "-1", "0.0"))
    return d.pick((
        f"L.zeros({shape!r}, dtype={dt})", f"L.ones(*{shape!r}, dtype={dt})", f"L.full({shape!r}, {value})",
        f"L.full({shape!r}, {value}, dtype={dt})", f"L.arange({d.int(-3, 3)}, {d.int(-3, 6)}, {d.pick((1, 2, 0.5))})",
        f"L.arange({d.int(0, 5)})", f"L.linspace({d.int(-2, 2)}, {d.int(-2, 2)}, {d.int(0, 4)})",
        f"L.eye({d.int(0, 3)}, {d.int(0, 3)})", f"L.tensor({d.inputs[-1].tolist()!r})",
        f"L.zeros_like({x}, dtype={dt})", f"L.ones_like({x})", f"L.full_like({x}, {value})",
        f"{x}.new_ones({shape!r})", f"{x}.new_full({shape!r}, {value})", f"L.as_tensor({x})",
        f"{x}.float()", f"{x}.long()", f"{x}.bool()", f"{x}.double()", f"{x}.to(L.float64)",
        f"{x}.to({x}.dtype)", f"L.numel({x})", f"{x}.dim()", f"{x}.size({d.dim(len(shape))})",
    )), {}


GENERATORS["creation"] = (gen_creation, 1.0)


def gen_inplace(d: Draw) -> tuple[str, dict]:
    """In-place ops on intermediate results, for the in-place rules (version counters, views, leaves).

    Not in the default mix (weight 0): ``run.py --families inplace`` runs it.
    """
    shape = d.shape(min_dims=1, max_dims=3, min_size=1)
    x = d.array(shape, d.dtype(floats_only=True))
    y = d.array(d.broadcast_partner(shape), d.dtype(floats_only=True))
    first = d.pick(("{x} * 1.0", "{x}.exp()", "{x}.sigmoid()", "{x}.tanh()", "{x}.relu()", "{x}.clone()",
                    "{x} * {y}", "{x}.sqrt()", "{x}.pow(2)"))
    change = d.pick(("add_({y})", "mul_(2.0)", "sub_(1.0)", "div_(2.0)", "clamp_(-0.5, 0.5)", "zero_()",
                     "fill_(1.5)", "mul_({y})", "neg_()", "copy_({y})", "add_({y}, alpha=0.5)"))
    target = d.pick(("t", "t", "t[0]", "t[..., :1]", "t.view(-1)", "t.transpose(0, -1)"))
    use = d.pick(("t", "t + t0", "t * t0", "t0.sum() + t.sum()"))
    expr = (f"(t0 := ({first.format(x=x, y=y)})) is None or (t := t0) is None or "
            f"({target}).{change.format(y=y)} is None or {use}")
    return f"({expr})", {}


GENERATORS["inplace"] = (gen_inplace, 0.0)
