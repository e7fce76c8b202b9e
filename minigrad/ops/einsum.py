"""``einsum``: products and sums written as index equations, e.g. ``'bij,bjk->bik'`` (batched matmul).

The backward is an einsum too. The output ``O[out] = sum over the rest of prod_k X_k[s_k]`` is linear
in each operand, so the gradient of operand ``X_k`` is the einsum of the output gradient with all the
*other* operands, written to ``X_k``'s subscripts: for ``'ij,jk->ik'``, dL/dA = einsum('ik,jk->ij', G, B).
Two details: a letter only ``X_k`` has (summed away) gets the same gradient at every position
(broadcast), and a letter repeated in ``X_k`` (a diagonal, ``'ii->i'``) puts the gradient on the diagonal.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.errors import ShapeError
from minigrad.tensor import Tensor


def _parse(equation: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """The subscripts of each operand and of the output, with '...' spelt out as letters."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} operand(s), but {len(shapes)} "
                         "tensor(s) were given")
    for t in terms + [out]:
        bad = set(t.replace("...", "")) - set(string.ascii_letters)
        if bad:
            raise ValueError(f"einsum: subscripts must be letters (a-z, A-Z) or '...', got {sorted(bad)} "
                             f"in {equation!r}")
    unused = [c for c in string.ascii_letters if c not in eq]
    n_ellipsis = 0
    for k, (t, shape) in enumerate(zip(terms, shapes)):
        named = len(t.replace("...", ""))
        if "..." in t:
            n_ellipsis = max(n_ellipsis, len(shape) - named)
        if ("..." in t and len(shape) < named) or ("..." not in t and len(shape) != named):
            raise ShapeError(f"einsum: operand {k} has shape {shape} ({len(shape)} dims), but its "
                             f"subscripts {t!r} name {named} dims")
    ell = "".join(unused[:n_ellipsis])
    subs = []
    for t, shape in zip(terms, shapes):
        k = len(shape) - len(t.replace("...", ""))
        subs.append(t.replace("...", ell[n_ellipsis - k:] if k else ""))
    if arrow:
        out = out.replace("...", ell)
    else:  # implicit output: '...' first, then the letters used once, in alphabetical order
        counts = "".join(subs)
        out = ell + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in ell))
    if len(set(out)) != len(out):
        raise ValueError(f"einsum: the output subscripts of {equation!r} repeat a letter")
    missing = set(out) - set("".join(subs))
    if missing:
        raise ValueError(f"einsum: output subscript(s) {sorted(missing)} of {equation!r} appear in no operand")
    return subs, out


def _sizes(subs: list[str], shapes: list[tuple[int, ...]]) -> dict[str, int]:
    """The size of every letter; a size-1 dim broadcasts against a bigger one, as in PyTorch."""
    sizes: dict[str, int] = {}
    for k, (s, shape) in enumerate(zip(subs, shapes)):
        own: dict[str, int] = {}
        for c, n in zip(s, shape):
            if own.setdefault(c, n) != n:
                raise ShapeError(f"einsum: subscript {c} is repeated for operand {k} but the sizes don't match, "
                                 f"{own[c]} != {n}")
            if sizes.get(c, 1) != 1 and n != 1 and sizes[c] != n:
                raise ShapeError(f"einsum: subscript {c} has size {n} for operand {k}, which does not match the "
                                 f"size {sizes[c]} it has elsewhere (sizes must match or be 1)")
            sizes[c] = max(sizes.get(c, 1), n) if n != 0 and sizes.get(c, 1) != 0 else 0
    return sizes


class Einsum(Function):
    def forward(self, *xs):
        full = [np.broadcast_to(x, tuple(self.sizes[c] for c in s)) for x, s in zip(xs, self.subs)]
        self.save_for_backward(*full)
        return np.einsum(self.spec, *full, optimize=len(xs) > 2)

    def backward(self, grad):
        full = self.saved_tensors
        return tuple(self._grad_of(k, grad, full) if need else None for k, need in enumerate(self.needs_input_grad))

    def _grad_of(self, k: int, grad: np.ndarray, full: tuple[np.ndarray, ...]) -> np.ndarray:
        mine = self.subs[k]
        unique = "".join(dict.fromkeys(mine))
        others = [s for j, s in enumerate(self.subs) if j != k]
        available = set(self.out).union(*others)
        present = "".join(c for c in unique if c in available)
        spec = ",".join([self.out, *others]) + "->" + present
        g = np.einsum(spec, grad, *(x for j, x in enumerate(full) if j != k), optimize=len(full) > 2)
        # Letters only this operand had were summed away: the gradient is the same along them.
        for axis, c in enumerate(unique):
            if c not in available:
                g = np.expand_dims(g, axis)
        g = np.broadcast_to(g, tuple(self.sizes[c] for c in unique))
        if unique == mine:
            return g
        # A repeated letter (a diagonal): the gradient lives on the diagonal, zero elsewhere.
        out = np.zeros(tuple(self.sizes[c] for c in mine), dtype=g.dtype)
        grids = np.indices(g.shape, sparse=True)
        out[tuple(grids[unique.index(c)] for c in mine)] = g
        return out


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sums of products given by an index equation, differentiable in every operand.

    Operands may be given one by one or as a single list. All must have the same dtype.

    Example::

        >>> import minigrad as mg
        >>> a, b = mg.ones(2, 3), mg.ones(3, 4)
        >>> mg.einsum('ij,jk->ik', a, b).shape, mg.einsum('ii', mg.eye(3))
        ((2, 4), tensor(3.))
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: at least one operand is needed")
    for i, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(x).__name__}, expected a Tensor")
    dtypes = {x.dtype for x in operands}
    if len(dtypes) > 1:
        raise RuntimeError(f"einsum: all operands must have the same dtype, got {sorted(map(str, dtypes))}")
    shapes = [x.shape for x in operands]
    subs, out = _parse(equation, shapes)
    sizes = _sizes(subs, shapes)
    spec = ",".join(subs) + "->" + out
    return Einsum.apply(*operands, subs=subs, out=out, sizes=sizes, spec=spec)
