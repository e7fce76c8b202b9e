"""The error catalogue of docs/errors.md: every bad input gets a message that says what to fix.

Each ``Case`` is one row of the catalogue: a user mistake (``fn``), the exception type it must
raise, and a regular expression (``match``) that must be found in the message. The expressions
check the *meaningful* parts: which op or layer, the offending shape, value, argument or key, and
what was expected. No NumPy traceback may leak out: the exception must be raised from minigrad's
own code, never from inside NumPy (``test_error_comes_from_minigrad``).

The rows are grouped as in docs/errors.md; ``python tests/test_errors.py`` prints every message,
which is how the doc's tables were filled in.
"""

from __future__ import annotations

import math
import os
import re
import struct
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function

nn = mg.nn
F = mg.nn.functional
optim = mg.optim
sched = mg.optim.lr_scheduler


def m(*parts: str) -> str:
    """A regex that finds ``parts`` in this order (each matched literally, anything in between)."""
    return "(?s)" + ".*".join(re.escape(p) for p in parts)


@dataclass
class Case:
    area: str
    what: str
    fn: Callable[[], object]
    exc: type[BaseException]
    match: str

    @property
    def id(self) -> str:
        return f"{self.area}: {self.what}"


def _params() -> list:
    return list(nn.Linear(2, 2).parameters())


# ------------------------------------------------------------------------------- helpers for cases
def _backward_twice() -> None:
    x = mg.ones(2, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _backward_non_scalar() -> None:
    x = mg.ones(2, requires_grad=True)
    (x * 2).backward()


def _backward_detached() -> None:
    x = mg.ones(2, requires_grad=True)
    (x * 2).sum().detach().backward()


def _backward_no_grad() -> None:
    x = mg.ones(2, requires_grad=True)
    with mg.no_grad():
        y = (x * 2).sum()
    y.backward()


def _backward_gradient_shape() -> None:
    x = mg.ones(2, requires_grad=True)
    (x * 2).backward(mg.ones(3))


def _grad_unused() -> None:
    x, z = mg.ones(2, requires_grad=True), mg.ones(2, requires_grad=True)
    mg.autograd.grad((x * 2).sum(), [x, z])


def _grad_input_no_grad() -> None:
    x = mg.ones(2, requires_grad=True)
    mg.autograd.grad((x * 2).sum(), [mg.ones(2)])


def _requires_grad_non_leaf() -> None:
    x = mg.ones(2, requires_grad=True)
    (x * 2).requires_grad_(False)


def _setitem_requires_grad() -> None:
    x = mg.ones(2, requires_grad=True)
    x[0] = 5.0


def _setitem_shape() -> None:
    x = mg.ones(2, 3)
    x[0] = mg.ones(4)


def _setitem_read_only() -> None:
    x = mg.ones(3).expand(2, 3)
    x[0] = 5.0


def _lstm(x: mg.Tensor, hx: object = None, **kw: object) -> object:
    return nn.LSTM(3, 4, **kw)(x, hx)


def _adam_state_into_sgd() -> None:
    model = nn.Linear(2, 2)
    adam = optim.Adam(model.parameters())
    model(mg.ones(1, 2)).sum().backward()
    adam.step()
    optim.SGD(model.parameters(), lr=0.1, momentum=0.9).load_state_dict(adam.state_dict())


def _adam_state_wrong_shape() -> None:
    model = nn.Linear(2, 2)
    adam = optim.Adam(model.parameters())
    model(mg.ones(1, 2)).sum().backward()
    adam.step()
    sd = adam.state_dict()
    sd["state"][0]["exp_avg"] = mg.zeros(5)
    optim.Adam(model.parameters()).load_state_dict(sd)


def _grad_of_wrong_shape() -> None:
    p = nn.Parameter(mg.ones(2))
    p.grad = mg.ones(3)
    optim.SGD([p], lr=0.1).step()


def _lambda_lr_returns_str() -> None:
    sched.LambdaLR(optim.SGD(_params(), lr=0.1), lr_lambda=lambda epoch: "fast")


def _clip_value_negative() -> None:
    p = nn.Parameter(mg.ones(3))
    p.grad = mg.tensor([0.5, -2.0, 3.0])
    nn.utils.clip_grad_value_([p], -1.0)


# ------------------------------------------------------------------------------- the catalogue
CASES: list[Case] = [
    # ---- creating tensors
    Case("create", "a string as data", lambda: mg.tensor("abc"), TypeError,
         m("tensor: data of dtype <U3 (str) is not numeric", "expected numbers")),
    Case("create", "None inside the data", lambda: mg.tensor([1.0, None]), TypeError,
         m("tensor:", "dtype object (list) is not numeric")),
    Case("create", "ragged nested lists", lambda: mg.tensor([[1, 2], [3]]), TypeError,
         m("tensor: cannot make a tensor from list", "inhomogeneous shape")),
    Case("create", "complex array", lambda: mg.tensor(np.ones(2, np.complex64)), TypeError,
         m("data of dtype complex64", "is not numeric")),
    Case("create", "unknown dtype name", lambda: mg.tensor([1.0], dtype="float99"), TypeError,
         m("unknown dtype 'float99'", "mg.float32")),
    Case("create", "integer tensor requiring grad", lambda: mg.tensor([1, 2], requires_grad=True), RuntimeError,
         m("only floating point tensors can require gradients", "dtype int64", ".float()")),
    Case("create", "bool tensor requiring grad", lambda: mg.zeros(2, dtype=mg.bool_, requires_grad=True),
         RuntimeError, m("only floating point tensors can require gradients", "dtype bool")),
    Case("create", "negative size", lambda: mg.zeros(-1, 2), ValueError,
         m("zeros: size must be non-negative ints, got (-1, 2)")),
    Case("create", "float size", lambda: mg.randn(2.5), TypeError, m("randn: size must be a tuple of ints", "2.5")),
    Case("create", "randint with empty range", lambda: mg.randint(5, 2, (3,)), ValueError,
         m("randint: low (5) must be smaller than high (2)")),
    Case("create", "arange with step 0", lambda: mg.arange(0, 5, 0), ValueError, m("arange: step must be nonzero")),
    Case("create", "linspace with negative steps", lambda: mg.linspace(0, 1, -1), ValueError,
         m("linspace: steps must be a non-negative int, got -1")),
    Case("create", "eye of negative size", lambda: mg.eye(-1), ValueError, m("eye: size must be non-negative", "-1")),
    Case("create", "integer default dtype", lambda: mg.set_default_dtype(mg.int64), TypeError,
         m("set_default_dtype: only float32 and float64 are supported, got int64")),
    Case("create", "manual_seed with a float", lambda: mg.manual_seed(1.5), TypeError,
         m("manual_seed: seed must be an int, got float")),

    # ---- shapes of elementwise ops
    Case("shape", "add: shapes don't broadcast", lambda: mg.ones(2, 3) + mg.ones(4), mg.ShapeError,
         m("add: shapes (2, 3) and (4,) cannot be broadcast together", "sizes 3 and 4 differ in the last dimension")),
    Case("shape", "sub: shapes don't broadcast", lambda: mg.ones(2, 3) - mg.ones(3, 2), mg.ShapeError,
         m("sub: shapes (2, 3) and (3, 2) cannot be broadcast")),
    Case("shape", "mul: shapes don't broadcast", lambda: mg.ones(2, 3) * mg.ones(2), mg.ShapeError,
         m("mul: shapes (2, 3) and (2,) cannot be broadcast", "sizes 3 and 2")),
    Case("shape", "div: shapes don't broadcast", lambda: mg.ones(2, 3) / mg.ones(3, 2), mg.ShapeError,
         m("div: shapes (2, 3) and (3, 2)")),
    Case("shape", "pow: shapes don't broadcast", lambda: mg.ones(2, 3) ** mg.ones(3, 2), mg.ShapeError,
         m("pow: shapes (2, 3) and (3, 2)")),
    Case("shape", "maximum: shapes don't broadcast", lambda: mg.maximum(mg.ones(2, 3), mg.ones(3, 2)),
         mg.ShapeError, m("maximum: shapes (2, 3) and (3, 2)")),
    Case("shape", "comparison: shapes don't broadcast", lambda: mg.ones(2, 3) < mg.ones(3, 2), mg.ShapeError,
         m("less: shapes (2, 3) and (3, 2) cannot be broadcast")),
    Case("shape", "where: shapes don't broadcast", lambda: mg.where(mg.ones(2, 3) > 0, mg.ones(3, 2), 0.0),
         mg.ShapeError, m("where: condition (2, 3), x (3, 2) and y () cannot be broadcast")),
    Case("shape", "matmul: inner sizes differ", lambda: mg.ones(2, 3) @ mg.ones(4, 5), mg.ShapeError,
         m("matmul: shapes (2, 3) and (4, 5) cannot be multiplied", "(3) must equal", "(4)")),
    Case("shape", "matmul: vector sizes differ", lambda: mg.ones(3) @ mg.ones(4), mg.ShapeError,
         m("matmul: shapes (3,) and (4,)", "(3) must equal the size of the second (4)")),
    Case("shape", "matmul: 0-d operand", lambda: mg.ones(2, 3) @ mg.tensor(2.0), mg.ShapeError,
         m("matmul: both arguments need at least 1 dimension, got shapes (2, 3) and ()")),
    Case("shape", "matmul: batch dims don't broadcast", lambda: mg.ones(2, 3, 4) @ mg.ones(3, 4, 5), mg.ShapeError,
         m("matmul: batch dimensions of (2, 3, 4) and (3, 4, 5) cannot be broadcast")),
    Case("shape", "reshape: wrong number of elements", lambda: mg.ones(2, 3).reshape(4, 2), mg.ShapeError,
         m("reshape: shape (4, 2) is invalid for a tensor of shape (2, 3) (6 elements)")),
    Case("shape", "reshape: two -1", lambda: mg.ones(2, 3).reshape(-1, -1), mg.ShapeError,
         m("reshape: invalid shape (-1, -1): at most one -1")),
    Case("shape", "reshape: float size", lambda: mg.ones(2, 3).reshape(2.0, 3), TypeError,
         m("reshape: sizes and dims must be ints, got 2.0 (float)")),
    Case("shape", "view: wrong number of elements", lambda: mg.ones(2, 3).view(5), mg.ShapeError,
         m("view: shape (5,) is invalid for a tensor of shape (2, 3)")),
    Case("shape", "permute: wrong number of dims", lambda: mg.ones(2, 3).permute(0), mg.ShapeError,
         m("permute: got 1 dims (0,) for a tensor of shape (2, 3)")),
    Case("shape", "permute: repeated dim", lambda: mg.ones(2, 3).permute(0, 0), ValueError,
         m("permute: dims (0, 0) must be a permutation of 0..1")),
    Case("shape", "expand: size clash", lambda: mg.ones(2, 3).expand(4, 3, 2), mg.ShapeError,
         m("expand: the size of dimension 0 (2) must match 3 or be 1", "shape (2, 3), sizes (4, 3, 2)")),
    Case("shape", "expand: fewer sizes than dims", lambda: mg.ones(2, 3).expand(3), mg.ShapeError,
         m("expand: the number of sizes (1) must be at least the tensor's dims (2)")),
    Case("shape", "cat: sizes differ", lambda: mg.cat([mg.ones(2, 3), mg.ones(2, 4)]), mg.ShapeError,
         m("cat: tensor 1 has shape (2, 4) but tensor 0 has shape (2, 3)", "except in dimension 0")),
    Case("shape", "cat: dims differ", lambda: mg.cat([mg.ones(2, 3), mg.ones(3)], 1), mg.ShapeError,
         m("cat: tensor 1 has shape (3,) but tensor 0 has shape (2, 3)", "except in dimension 1")),
    Case("shape", "cat: the third of three", lambda: mg.cat([mg.ones(1, 2, requires_grad=True), mg.ones(4, 2),
                                                             mg.ones(1, 5)]), mg.ShapeError,
         m("cat: tensor 2 has shape (1, 5) but tensor 0 has shape (1, 2)")),
    Case("shape", "cat: empty list", lambda: mg.cat([]), TypeError, m("cat: expected a non-empty list")),
    Case("shape", "cat: a number in the list", lambda: mg.cat([mg.ones(2), 3]), TypeError,
         m("cat: expected a list of Tensors, found a int")),
    Case("shape", "stack: shapes differ", lambda: mg.stack([mg.ones(2, 3), mg.ones(3, 2)]), mg.ShapeError,
         m("stack: expects each tensor to be equal size", "tensor 0 has shape (2, 3)", "tensor 1 has shape (3, 2)")),
    Case("shape", "split: sections don't add up", lambda: mg.ones(5).split([2, 2]), mg.ShapeError,
         m("split: sections [2, 2] must be non-negative and sum to 5")),
    Case("shape", "split: size 0",
         lambda: mg.ones(5).split(0), ValueError, m("split: split_size must be positive, got 0")),
    Case("shape", "chunk: 0 chunks",
         lambda: mg.ones(5).chunk(0), ValueError, m("chunk: chunks must be positive, got 0")),
    Case("shape", "chunk: float chunks", lambda: mg.ones(4).chunk(1.5), TypeError,
         m("chunk: chunks must be an int, got 1.5")),
    Case("shape", "t: more than 2 dims", lambda: mg.ones(2, 3, 4).t(), mg.ShapeError,
         m("t: expects a tensor with <= 2 dimensions, got shape (2, 3, 4)", "transpose()")),
    Case("shape", "flatten: start after end", lambda: mg.ones(2, 3, 4).flatten(2, 1), ValueError,
         m("flatten: start_dim (2) must not come after end_dim (1)")),
    Case("shape", "setitem: value doesn't fit", _setitem_shape, mg.ShapeError,
         m("setitem: value of shape (4,) cannot be assigned to the selected part of shape (3,)")),
    Case("shape", "setitem into an expanded (read-only) tensor", _setitem_read_only, RuntimeError,
         m("setitem: this tensor's memory (shape (2, 3)) is read-only", ".clone()")),
    Case("shape", "copy_: source doesn't fit", lambda: mg.ones(2, 3).copy_(mg.ones(4)), mg.ShapeError,
         m("copy_: source of shape (4,) cannot be copied into a tensor of shape (2, 3)")),

    # ---- dims and indices
    Case("index", "sum: dim out of range", lambda: mg.ones(2, 3).sum(2), IndexError,
         m("sum: dim 2 is out of range for a tensor with 2 dimensions", "[-2, 1]")),
    Case("index", "mean: dim out of range", lambda: mg.ones(2, 3).mean(-3), IndexError,
         m("mean: dim -3 is out of range", "[-2, 1]")),
    Case("index", "max: dim out of range", lambda: mg.ones(2, 3).max(5), IndexError, m("max: dim 5 is out of range")),
    Case("index", "softmax: dim out of range", lambda: mg.ones(2, 3).softmax(2), IndexError,
         m("softmax: dim 2 is out of range")),
    Case("index", "transpose: dim out of range", lambda: mg.ones(2, 3).transpose(0, 2), IndexError,
         m("transpose: dim 2 is out of range for a tensor with 2 dimensions")),
    Case("index", "unsqueeze: dim out of range", lambda: mg.ones(2, 3).unsqueeze(4), IndexError,
         m("unsqueeze: dim 4 is out of range for a tensor with 3 dimensions", "[-3, 2]")),
    Case("index", "cat: dim out of range", lambda: mg.cat([mg.ones(2, 3)], dim=2), IndexError,
         m("cat: dim 2 is out of range")),
    Case("index", "dim given as a string", lambda: mg.ones(2, 3).sum("a"), TypeError,
         m("sum: dim must be an int or a tuple of ints, got 'a'")),
    Case("index", "dim given as a float", lambda: mg.ones(2, 3).transpose(0.0, 1), TypeError,
         m("transpose: dim must be an int or a tuple of ints, got 0.0")),
    Case("index", "repeated dim",
         lambda: mg.ones(2, 3).sum((0, 0)), ValueError, m("sum: dim (0, 0) repeats a dimension")),
    Case("index", "softmax without dim", lambda: mg.softmax(mg.ones(2, 3), None), TypeError,
         m("softmax: dim is required")),
    Case("index", "index out of range", lambda: mg.ones(2, 3)[5], IndexError,
         m("getitem on a tensor of shape (2, 3)", "index 5 is out of bounds for axis 0 with size 2")),
    Case("index", "index tensor out of range", lambda: mg.ones(2, 3)[mg.tensor([0, 5])], IndexError,
         m("getitem on a tensor of shape (2, 3)", "index 5 is out of bounds")),
    Case("index", "too many indices", lambda: mg.ones(2, 3)[0, 0, 0], IndexError,
         m("getitem on a tensor of shape (2, 3)", "too many indices")),
    Case("index", "float index", lambda: mg.ones(2, 3)[1.0], IndexError,
         m("getitem: index 1.0 is a float; use an int", "shape (2, 3)")),
    Case("index", "float tensor as index", lambda: mg.ones(2, 3)[mg.tensor([0.0])], IndexError,
         m("getitem: tensors used as indices must be integer or bool, got dtype float32")),
    Case("index", "mask of the wrong length", lambda: mg.ones(2, 3)[mg.tensor([True, False, True])], IndexError,
         m("getitem on a tensor of shape (2, 3)", "size of axis is 2", "boolean axis is 3")),
    Case("index", "setitem out of range", lambda: mg.ones(2, 3).__setitem__(5, 1.0), IndexError,
         m("setitem on a tensor of shape (2, 3)", "index 5 is out of bounds")),

    # ---- dtypes and operand types
    Case("dtype", "mean of an integer tensor", lambda: mg.tensor([1, 2]).mean(), TypeError,
         m("mean: expected a floating point tensor, got dtype int64", ".float()")),
    Case("dtype", "where with a float condition", lambda: mg.where(mg.ones(2), mg.ones(2), 0.0), TypeError,
         m("where: condition must be a bool tensor, got dtype float32")),
    Case("dtype", "tensor + string", lambda: mg.ones(2) + "a", TypeError,
         m("add: unsupported operand of type str; expected a Tensor or a number")),
    Case("dtype", "tensor * None",
         lambda: mg.ones(2) * None, TypeError, m("mul: unsupported operand of type NoneType")),
    Case("dtype", "clamp with a string bound", lambda: mg.ones(2).clamp("a"), TypeError,
         m("clamp: min must be a number, a tensor or None, got str")),
    Case("dtype", "fill_ with a string",
         lambda: mg.ones(2).fill_("a"), TypeError, m("fill_: expected a number, got str")),
    Case("dtype", "gradcheck in float32",
         lambda: mg.autograd.gradcheck(lambda t: t * 2, [mg.ones(2, requires_grad=True)]),
         ValueError, m("gradcheck: inputs must be float64", "got float32")),

    # ---- invalid values
    Case("value", "clamp without bounds", lambda: mg.ones(2).clamp(), ValueError,
         m("clamp: at least one of min and max must be given")),
    Case("value", "softplus with beta 0", lambda: mg.ones(2).softplus(beta=0), ValueError,
         m("softplus: beta must be a nonzero number", "got 0")),
    Case("value", "item of several elements", lambda: mg.ones(3).item(), ValueError,
         m("item: only one-element tensors can be converted, this one has shape (3,)")),
    Case("value", "truth value of several elements", lambda: bool(mg.ones(3)), RuntimeError,
         m("bool: the truth value of a tensor with 3 elements is ambiguous")),
    Case("value", "empty scope name", lambda: mg.scope("").__enter__(), ValueError,
         m("scope: name must be a non-empty string, got ''")),

    # ---- empty (zero-size) inputs that have no answer
    Case("empty", "max of an empty tensor", lambda: mg.ones(0).max(), ValueError,
         m("max: cannot reduce an empty tensor of shape (0,)")),
    Case("empty", "max along an empty dim", lambda: mg.ones(2, 0).max(1), ValueError,
         m("max: cannot reduce an empty tensor of shape (2, 0) along dim 1")),
    Case("empty", "min of an empty tensor", lambda: mg.ones(0, 3).min(), ValueError,
         m("min: cannot reduce an empty tensor of shape (0, 3)")),
    Case("empty", "argmax of an empty tensor", lambda: mg.ones(0).argmax(), ValueError,
         m("argmax: cannot reduce an empty tensor of shape (0,)")),
    Case("empty", "item of an empty tensor", lambda: mg.ones(0).item(), ValueError,
         m("item: only one-element tensors", "shape (0,)")),

    # ---- autograd misuse
    Case("autograd", "backward twice without retain_graph", _backward_twice, RuntimeError,
         m("backward through the graph a second time", "retain_graph=True")),
    Case("autograd", "backward of a non-scalar without gradient", _backward_non_scalar, RuntimeError,
         m("grad can be implicitly created only for scalar outputs", "shape (2,)", "gradient=", ".sum()")),
    Case("autograd", "backward through a detached result", _backward_detached, RuntimeError,
         m("backward: this tensor does not require grad and has no grad_fn", "detached")),
    Case("autograd", "backward of a result made under no_grad", _backward_no_grad, RuntimeError,
         m("backward: this tensor does not require grad", "no_grad()")),
    Case("autograd", "backward with a gradient of the wrong shape", _backward_gradient_shape, RuntimeError,
         m("backward: gradient has shape (3,) but the output has shape (2,)")),
    Case("autograd", "grad of an unused input", _grad_unused, RuntimeError,
         m("grad: input 1 (shape (2,)) was not used to compute the outputs", "allow_unused=True")),
    Case("autograd", "grad w.r.t. a tensor that doesn't require grad", _grad_input_no_grad, RuntimeError,
         m("grad: input 0 (shape (2,)) does not require grad")),
    Case("autograd", "hook on a tensor without grad", lambda: mg.ones(2).register_hook(lambda g: g), RuntimeError,
         m("register_hook: cannot register a hook on a tensor that doesn't require grad")),
    Case("autograd", "requires_grad_(False) on a non-leaf", _requires_grad_non_leaf, RuntimeError,
         m("only change requires_grad of leaf tensors", ".detach()")),
    Case("autograd", "numpy() of a tensor that requires grad", lambda: mg.ones(2, requires_grad=True).numpy(),
         RuntimeError, m("numpy: can't call numpy() on a tensor that requires grad", ".detach().numpy()")),
    Case("autograd", "in-place assignment to a tensor that requires grad", _setitem_requires_grad, RuntimeError,
         m("setitem: a leaf Variable that requires grad is being used in an in-place operation", "mg.no_grad()")),

    # ---- layers: construction
    Case("layer", "Linear: negative out_features", lambda: nn.Linear(3, -1), ValueError,
         m("Linear", "out_features", "-1")),
    Case("layer", "Linear: float in_features", lambda: nn.Linear(3.5, 2), TypeError,
         m("Linear", "in_features", "int", "float")),
    Case("layer", "Linear: integer dtype", lambda: nn.Linear(3, 2, dtype=mg.int64), TypeError,
         m("Linear: parameters must have a floating dtype, got int64")),
    Case("layer", "Embedding: negative num_embeddings", lambda: nn.Embedding(-1, 2), ValueError,
         m("Embedding", "num_embeddings", "-1")),
    Case("layer", "Embedding: padding_idx out of range", lambda: nn.Embedding(5, 2, padding_idx=7), ValueError,
         m("Embedding: padding_idx=7 must be within num_embeddings=5")),
    Case("layer", "Dropout: p > 1", lambda: nn.Dropout(1.5), ValueError,
         m("Dropout: dropout probability has to be between 0 and 1, but got 1.5")),
    Case("layer", "Dropout: p < 0", lambda: nn.Dropout(-0.1), ValueError, m("between 0 and 1, but got -0.1")),
    Case("layer", "F.dropout: p > 1", lambda: F.dropout(mg.ones(2), 2.0), ValueError,
         m("dropout: dropout probability has to be between 0 and 1, but got 2.0")),
    Case("layer", "LSTM: negative hidden_size", lambda: nn.LSTM(3, -4), ValueError,
         m("LSTM: hidden_size must be greater than zero, got -4")),
    Case("layer", "LSTM: hidden_size 0",
         lambda: nn.LSTM(3, 0), ValueError, m("LSTM: hidden_size must be greater than zero, got 0")),
    Case("layer", "LSTM: float hidden_size", lambda: nn.LSTM(3, 4.0), TypeError,
         m("LSTM: hidden_size should be of type int, got: float")),
    Case("layer", "GRU: num_layers 0", lambda: nn.GRU(3, 4, num_layers=0), ValueError,
         m("GRU: num_layers must be greater than zero, got 0")),
    Case("layer", "LSTM: dropout outside [0, 1]", lambda: nn.LSTM(3, 4, dropout=1.5), ValueError,
         m("LSTM: dropout should be a number in range [0, 1]", "got 1.5")),
    Case("layer", "LSTM: negative dropout", lambda: nn.LSTM(3, 4, dropout=-1), ValueError,
         m("LSTM: dropout should be a number in range [0, 1]", "got -1")),
    Case("layer", "LSTM: unknown impl", lambda: nn.LSTM(3, 4, impl="fast"), ValueError,
         m("LSTM: impl must be 'fused' or 'reference', got 'fast'")),
    Case("layer", "GRU: batch_first not a bool", lambda: nn.GRU(3, 2, batch_first="yes"), TypeError,
         m("GRU: batch_first should be of type bool, got: str")),
    Case("layer", "RNN: unknown nonlinearity", lambda: nn.RNN(3, 4, nonlinearity="sigmoid"), ValueError,
         m("RNN: Unknown nonlinearity 'sigmoid'", "'tanh' or 'relu'")),
    Case("layer", "RNNCell: unknown nonlinearity", lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), ValueError,
         m("RNNCell: Unknown nonlinearity 'gelu'", "'tanh' or 'relu'")),
    Case("layer", "LSTMCell: hidden_size 0", lambda: nn.LSTMCell(3, 0), ValueError,
         m("LSTMCell: hidden_size must be greater than zero, got 0")),

    # ---- layers: inputs
    Case("layer input", "Linear: wrong input feature size", lambda: nn.Linear(3, 4)(mg.randn(2, 5)), mg.ShapeError,
         m("Linear: input of shape (2, 5) has last dimension 5, expected in_features=3")),
    Case("layer input", "Linear: 0-d input", lambda: nn.Linear(3, 4)(mg.tensor(1.0)), mg.ShapeError,
         m("Linear: input of shape ()", "expected in_features=3")),
    Case("layer input", "Linear: integer input", lambda: nn.Linear(3, 4)(mg.tensor([[1, 2, 3]])), TypeError,
         m("linear: input must be a floating tensor", "got int64", ".float()")),
    Case("layer input", "Linear: a Python list as input", lambda: nn.Linear(3, 4)([[1.0, 2.0, 3.0]]), TypeError,
         m("Linear", "input must be a Tensor", "list")),
    Case("layer input", "Sequential: layer sizes don't chain",
         lambda: nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2))(mg.randn(2, 3)), mg.ShapeError,
         m("Linear: input of shape (2, 4) has last dimension 4, expected in_features=5")),
    Case("layer input", "Embedding: index out of range", lambda: nn.Embedding(5, 2)(mg.tensor([0, 5])), IndexError,
         m("Embedding: index 5 is out of range for num_embeddings=5", "0..4")),
    Case("layer input", "Embedding: negative index", lambda: nn.Embedding(5, 2)(mg.tensor([-1])), IndexError,
         m("Embedding: index -1 is out of range")),
    Case("layer input", "Embedding: float indices", lambda: nn.Embedding(5, 2)(mg.tensor([0.0, 1.0])), TypeError,
         m("Embedding: indices must be an integer tensor", "got float32", ".long()")),
    Case("layer input", "LSTM: wrong input feature size", lambda: _lstm(mg.randn(5, 2, 7)), mg.ShapeError,
         m("LSTM: expected input of size 3 in the last dimension, got shape (5, 2, 7)")),
    Case("layer input", "LSTM (reference): wrong input feature size",
         lambda: _lstm(mg.randn(5, 2, 7), impl="reference"),
         mg.ShapeError, m("LSTM: expected input of size 3 in the last dimension, got shape (5, 2, 7)")),
    Case("layer input", "LSTM: 4-D input", lambda: _lstm(mg.randn(5, 2, 3, 1)), mg.ShapeError,
         m("LSTM: expected input to be 3-D or 2-D, got 4-D input of shape (5, 2, 3, 1)")),
    Case("layer input", "LSTM: 1-D input", lambda: _lstm(mg.randn(3)), mg.ShapeError,
         m("LSTM: expected input to be 3-D or 2-D, got 1-D input of shape (3,)")),
    Case("layer input", "LSTM: hx is one tensor", lambda: _lstm(mg.randn(5, 2, 3), mg.zeros(1, 2, 4)), TypeError,
         m("LSTM: hx must be a tuple (h_0, c_0) of two Tensors, got Tensor")),
    Case("layer input", "LSTM: h_0 batch size",
         lambda: _lstm(mg.randn(5, 2, 3), (mg.zeros(1, 3, 4), mg.zeros(1, 2, 4))),
         mg.ShapeError, m("LSTM: expected h_0 of shape (1, 2, 4), got (1, 3, 4)")),
    Case("layer input", "LSTM: c_0 hidden size",
         lambda: _lstm(mg.randn(5, 2, 3), (mg.zeros(1, 2, 4), mg.zeros(1, 2, 5))),
         mg.ShapeError, m("LSTM: expected c_0 of shape (1, 2, 4), got (1, 2, 5)")),
    Case("layer input", "LSTM: h_0 for the wrong number of layers",
         lambda: _lstm(mg.randn(5, 2, 3), (mg.zeros(2, 2, 4), mg.zeros(2, 2, 4))), mg.ShapeError,
         m("LSTM: expected h_0 of shape (1, 2, 4), got (2, 2, 4)")),
    Case("layer input", "LSTM: h_0 without the layer dim",
         lambda: _lstm(mg.randn(5, 2, 3), (mg.zeros(2, 4), mg.zeros(2, 4))), mg.ShapeError,
         m("LSTM: for batched 3-D input, h_0 should also be 3-D: expected shape (1, 2, 4), got (2, 4)")),
    Case("layer input", "LSTM (bidirectional): h_0 for one direction",
         lambda: _lstm(mg.randn(5, 2, 3), (mg.zeros(1, 2, 4), mg.zeros(1, 2, 4)), bidirectional=True),
         mg.ShapeError, m("LSTM: expected h_0 of shape (2, 2, 4), got (1, 2, 4)")),
    Case("layer input", "LSTM (batch_first): h_0 batch-first too",
         lambda: _lstm(mg.randn(2, 5, 3), (mg.zeros(1, 5, 4), mg.zeros(1, 5, 4)), batch_first=True),
         mg.ShapeError, m("LSTM: expected h_0 of shape (1, 2, 4), got (1, 5, 4)")),
    Case("layer input", "LSTM (reference): h_0 batch size",
         lambda: _lstm(mg.randn(5, 2, 3), (mg.zeros(1, 3, 4), mg.zeros(1, 2, 4)), impl="reference"),
         mg.ShapeError, m("LSTM: expected h_0 of shape (1, 2, 4), got (1, 3, 4)")),
    Case("layer input", "LSTM: float64 input into a float32 model", lambda: _lstm(mg.randn(5, 2, 3, dtype=mg.float64)),
         ValueError, m("LSTM: input dtype (float64) does not match weight dtype (float32)")),
    Case("layer input", "LSTM: integer input", lambda: _lstm(mg.tensor(np.ones((5, 2, 3), np.int64))), TypeError,
         m("LSTM: input must be a floating tensor, got int64", ".to(mg.float32)")),
    Case("layer input", "LSTM: h_0 of another dtype",
         lambda: _lstm(mg.randn(5, 2, 3), (mg.zeros(1, 2, 4, dtype=mg.float64), mg.zeros(1, 2, 4))), ValueError,
         m("LSTM: h_0 dtype (float64) does not match input dtype (float32)")),
    Case("layer input", "LSTM: input with 0 time steps", lambda: _lstm(mg.randn(0, 2, 3)), mg.ShapeError,
         m("LSTM", "0 time steps", "(0, 2, 3)")),
    Case("layer input", "LSTM (reference): input with 0 time steps", lambda: _lstm(mg.randn(0, 2, 3), impl="reference"),
         mg.ShapeError, m("LSTM", "0 time steps", "(0, 2, 3)")),
    Case("layer input", "LSTM: an ndarray as input", lambda: _lstm(np.ones((5, 2, 3), np.float32)), TypeError,
         m("LSTM: input must be a Tensor or a PackedSequence, got ndarray")),
    Case("layer input", "GRU: hx of the wrong hidden size", lambda: nn.GRU(3, 4)(mg.randn(5, 2, 3), mg.zeros(1, 2, 3)),
         mg.ShapeError, m("GRU: expected hx of shape (1, 2, 4), got (1, 2, 3)")),
    Case("layer input", "RNN: hx given as a tuple", lambda: nn.RNN(3, 4)(mg.randn(5, 2, 3), (mg.zeros(1, 2, 4),)),
         TypeError, m("RNN: hx must be a Tensor of shape (1, 2, 4), got tuple")),
    Case("layer input", "LSTMCell: wrong input feature size", lambda: nn.LSTMCell(3, 4)(mg.randn(2, 5)), mg.ShapeError,
         m("LSTMCell: expected input of size 3 in the last dimension, got shape (2, 5)")),
    Case("layer input", "LSTMCell: h_0 shape",
         lambda: nn.LSTMCell(3, 4)(mg.randn(2, 3), (mg.zeros(2, 5), mg.zeros(2, 4))), mg.ShapeError,
         m("LSTMCell: expected h_0 of shape (2, 4) for input of shape (2, 3), got (2, 5)")),
    Case("layer input", "LSTMCell: hx is one tensor", lambda: nn.LSTMCell(3, 4)(mg.randn(2, 3), mg.zeros(2, 4)),
         TypeError, m("LSTMCell: hx must be a tuple (h_0, c_0)")),
    Case("layer input", "GRUCell: 3-D input", lambda: nn.GRUCell(3, 4)(mg.randn(2, 2, 3)), mg.ShapeError,
         m("GRUCell: expected input to be 1-D (unbatched) or 2-D (batched), got 3-D input of shape (2, 2, 3)")),
    Case("layer input", "RNNCell: hx batch size", lambda: nn.RNNCell(3, 4)(mg.randn(2, 3), mg.zeros(3, 4)),
         mg.ShapeError, m("RNNCell: expected hx of shape (2, 4) for input of shape (2, 3), got (3, 4)")),

    # ---- losses
    Case("loss", "cross_entropy: float class targets", lambda: F.cross_entropy(mg.randn(2, 3), mg.tensor([0.0, 1.0])),
         TypeError, m("cross_entropy: target must hold integer class indices (int64) of shape (2,)", "got float32",
                      "target.long()")),
    Case("loss", "CrossEntropyLoss: float class targets",
         lambda: nn.CrossEntropyLoss()(mg.randn(2, 3), mg.tensor([0.0, 1.0])), TypeError,
         m("cross_entropy: target must hold integer class indices", "target.long()")),
    Case("loss", "cross_entropy: class index out of range", lambda: F.cross_entropy(mg.randn(2, 3), mg.tensor([0, 3])),
         IndexError, m("cross_entropy: target value 3 is out of range for 3 classes (valid: 0..2")),
    Case("loss", "cross_entropy: negative class index", lambda: F.cross_entropy(mg.randn(2, 3), mg.tensor([0, -2])),
         IndexError, m("cross_entropy: target value -2 is out of range", "ignore_index=-100")),
    Case("loss", "cross_entropy: target of the wrong length",
         lambda: F.cross_entropy(mg.randn(2, 3), mg.tensor([0, 1, 2])), mg.ShapeError,
         m("cross_entropy: target of shape (3,) does not fit input of shape (2, 3): expected target shape (2,)")),
    Case("loss", "cross_entropy: 0-d logits", lambda: F.cross_entropy(mg.tensor(1.0), mg.tensor(0)), mg.ShapeError,
         m("cross_entropy: input must have a class dimension", "got a 0-d tensor")),
    Case("loss", "cross_entropy: weight of the wrong size",
         lambda: F.cross_entropy(mg.randn(2, 3), mg.tensor([0, 1]), weight=mg.ones(4)), mg.ShapeError,
         m("cross_entropy: weight of shape (4,) does not match the number of classes: expected (3,)")),
    Case("loss", "cross_entropy: label_smoothing outside [0, 1]",
         lambda: F.cross_entropy(mg.randn(2, 3), mg.tensor([0, 1]), label_smoothing=1.5), ValueError,
         m("cross_entropy: label_smoothing must be between 0.0 and 1.0, got 1.5")),
    Case("loss", "cross_entropy: integer logits", lambda: F.cross_entropy(mg.tensor([[1, 2]]), mg.tensor([0])),
         TypeError, m("cross_entropy: input must be a floating tensor", "got int64")),
    Case("loss", "cross_entropy: bool targets", lambda: F.cross_entropy(mg.randn(2, 3), mg.tensor([True, False])),
         TypeError, m("cross_entropy: target must hold integer class indices (int64), got bool")),
    Case("loss", "mse_loss: shapes don't broadcast", lambda: F.mse_loss(mg.ones(2, 3), mg.ones(3, 2)), mg.ShapeError,
         m("mse_loss: input of shape (2, 3) and target of shape (3, 2) cannot be broadcast")),
    Case("loss", "l1_loss: shapes don't broadcast", lambda: F.l1_loss(mg.ones(2, 3), mg.ones(4)), mg.ShapeError,
         m("l1_loss: input of shape (2, 3) and target of shape (4,)")),
    Case("loss", "MSELoss: unknown reduction", lambda: nn.MSELoss(reduction="avg"), ValueError,
         m("MSELoss: 'avg' is not a valid value for reduction", "'mean', 'sum' or 'none'")),
    Case("loss", "binary_cross_entropy_with_logits: target shape",
         lambda: F.binary_cross_entropy_with_logits(mg.ones(2, 3), mg.ones(3)), mg.ShapeError,
         m("binary_cross_entropy_with_logits: target size (3,) must be the same as input size (2, 3)")),
    Case("loss", "binary_cross_entropy_with_logits: pos_weight shape",
         lambda: F.binary_cross_entropy_with_logits(mg.ones(2, 3), mg.ones(2, 3), pos_weight=mg.ones(4)), mg.ShapeError,
         m("pos_weight of shape (4,) cannot be broadcast to the input's shape (2, 3)")),
    Case("loss", "one_hot: float classes", lambda: F.one_hot(mg.tensor([0.0]), 3), TypeError,
         m("one_hot: only integer (class index) tensors are accepted, got float32")),
    Case("loss", "one_hot: class out of range", lambda: F.one_hot(mg.tensor([5]), 3), ValueError,
         m("one_hot: class values must be smaller than num_classes=3, got 5")),

    # ---- state dicts
    Case("state_dict", "missing key", lambda: nn.Linear(3, 4).load_state_dict({"weight": mg.zeros(4, 3)}), RuntimeError,
         m("Error(s) in loading state_dict for Linear", 'Missing key(s) in state_dict: "bias"')),
    Case("state_dict", "unexpected key",
         lambda: nn.Linear(3, 4).load_state_dict({"weight": mg.zeros(4, 3), "bias": mg.zeros(4), "foo": mg.zeros(1)}),
         RuntimeError, m('Unexpected key(s) in state_dict: "foo"')),
    Case("state_dict", "shape mismatch",
         lambda: nn.Linear(3, 4).load_state_dict({"weight": mg.zeros(4, 5), "bias": mg.zeros(4)}), RuntimeError,
         m("size mismatch for weight: copying a param with shape (4, 5) from checkpoint",
           "the shape in current model is (4, 3)")),
    Case("state_dict", "LSTM weights into a GRU", lambda: nn.GRU(3, 4).load_state_dict(nn.LSTM(3, 4).state_dict()),
         RuntimeError, m("Error(s) in loading state_dict for GRU", "size mismatch for weight_ih_l0",
                         "shape (16, 3) from checkpoint", "(12, 3)")),
    Case("state_dict", "not a dict", lambda: nn.Linear(3, 4).load_state_dict([1, 2]), TypeError,
         m("Expected state_dict to be dict-like, got list")),
    Case("state_dict", "a string as a value",
         lambda: nn.Linear(3, 4).load_state_dict({"weight": "abc", "bias": mg.zeros(4)}), RuntimeError,
         m('While copying the parameter named "weight"', "received str")),

    # ---- optimizers
    Case("optim", "SGD: negative lr",
         lambda: optim.SGD(_params(), lr=-0.1), ValueError, m("Invalid learning rate: -0.1")),
    Case("optim", "SGD: lr given as a string", lambda: optim.SGD(_params(), lr="a"), TypeError,
         m("Invalid learning rate: 'a'", "number")),
    Case("optim", "SGD: negative momentum", lambda: optim.SGD(_params(), lr=0.1, momentum=-0.5), ValueError,
         m("Invalid momentum value: -0.5")),
    Case("optim", "SGD: negative weight_decay", lambda: optim.SGD(_params(), lr=0.1, weight_decay=-1), ValueError,
         m("Invalid weight_decay value: -1")),
    Case("optim", "SGD: nesterov without momentum", lambda: optim.SGD(_params(), lr=0.1, nesterov=True), ValueError,
         m("Nesterov momentum requires a momentum and zero dampening", "momentum=0")),
    Case("optim", "empty parameter list", lambda: optim.SGD([], lr=0.1), ValueError,
         m("optimizer got an empty parameter list")),
    Case("optim", "a single Tensor instead of a list", lambda: optim.SGD(mg.ones(2, requires_grad=True), lr=0.1),
         TypeError, m("got a single Tensor of shape (2,); wrap it in a list")),
    Case("optim", "a non-leaf tensor", lambda: optim.SGD([mg.ones(2, requires_grad=True) * 2], lr=0.1), ValueError,
         m("can't optimize a non-leaf Tensor (parameter 0", "made by Mul")),
    Case("optim", "numbers as parameters", lambda: optim.SGD([1, 2], lr=0.1), TypeError,
         m("optimizer can only optimize Tensors, but parameter 0 of the group is int")),
    Case("optim", "a parameter twice", lambda: optim.SGD(_params() * 2, lr=0.1), ValueError,
         m("optimizer got parameter 2 twice in the same group (first at position 0, shape (2, 2))")),
    Case("optim", "Adam: beta1 = 1", lambda: optim.Adam(_params(), betas=(1.0, 0.999)), ValueError,
         m("Invalid beta parameter at index 0: 1.0")),
    Case("optim", "Adam: negative beta2", lambda: optim.Adam(_params(), betas=(0.9, -0.1)), ValueError,
         m("Invalid beta parameter at index 1: -0.1")),
    Case("optim", "Adam: betas not a pair", lambda: optim.Adam(_params(), betas=0.9), TypeError,
         m("Invalid betas", "pair (beta1, beta2)", "0.9")),
    Case("optim", "Adam: negative eps",
         lambda: optim.Adam(_params(), eps=-1e-8), ValueError, m("Invalid epsilon value: -1e-08")),
    Case("optim", "AdamW: negative weight_decay", lambda: optim.AdamW(_params(), weight_decay=-1), ValueError,
         m("Invalid weight_decay value: -1")),
    Case("optim", "a .grad of the wrong shape", _grad_of_wrong_shape, ValueError,
         m("SGD.step: the gradient of a parameter of shape (2,) has shape (3,)")),
    Case("optim", "load_state_dict: not an optimizer state",
         lambda: optim.SGD(_params(), lr=0.1).load_state_dict({"a": 1}),
         ValueError, m("load_state_dict: expected a dict with keys 'state' and 'param_groups'")),
    Case("optim", "load_state_dict: group sizes differ",
         lambda: optim.SGD(_params(), lr=0.1).load_state_dict(optim.SGD(_params() + _params(), lr=0.1).state_dict()),
         ValueError, m("group 0 has 4 parameters in the state dict and 2 in the optimizer")),
    Case("optim", "load_state_dict: Adam state into SGD", _adam_state_into_sgd, ValueError,
         m("load_state_dict", "group 0", "'momentum'", "SGD")),
    Case("optim", "load_state_dict: state of the wrong shape", _adam_state_wrong_shape, ValueError,
         m("load_state_dict: state 'exp_avg' of parameter 0 has shape (5,), but the parameter has shape (2, 2)")),

    # ---- schedulers
    Case("scheduler", "StepLR: step_size 0",
         lambda: sched.StepLR(optim.SGD(_params(), lr=0.1), step_size=0), ValueError,
         m("StepLR: step_size must be a positive int, got 0")),
    Case("scheduler", "not an optimizer",
         lambda: sched.StepLR("x", step_size=2), TypeError, m("str is not an Optimizer")),
    Case("scheduler", "CosineAnnealingLR: T_max 0",
         lambda: sched.CosineAnnealingLR(optim.SGD(_params(), lr=0.1), T_max=0),
         ValueError, m("CosineAnnealingLR: T_max must be positive, got 0")),
    Case("scheduler", "LambdaLR: not a function", lambda: sched.LambdaLR(optim.SGD(_params(), lr=0.1), lr_lambda=3),
         TypeError, m("lr_lambda should be a function, but got int")),
    Case("scheduler", "LambdaLR: one function per group, wrong count",
         lambda: sched.LambdaLR(optim.SGD(_params(), lr=0.1), lr_lambda=[lambda e: 1, lambda e: 1]), ValueError,
         m("Expected 1 lr_lambdas, but got 2")),
    Case("scheduler", "LambdaLR: the function returns a string", _lambda_lr_returns_str, TypeError,
         m("LambdaLR: lr_lambda returned 'fast' (str) for epoch 0", "number")),
    Case("scheduler", "load_state_dict: not a dict",
         lambda: sched.StepLR(optim.SGD(_params(), lr=0.1), 2).load_state_dict([1]), TypeError,
         m("StepLR.load_state_dict: expected a dict", "got list")),

    # ---- initialisation
    Case("init", "xavier_uniform_ on an integer tensor",
         lambda: nn.init.xavier_uniform_(mg.zeros(3, 3, dtype=mg.int64)),
         TypeError, m("xavier_uniform_", "int64")),
    Case("init", "xavier_uniform_ on a 1-D tensor", lambda: nn.init.xavier_uniform_(mg.ones(3)), ValueError,
         m("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")),
    Case("init", "kaiming_uniform_: unknown mode", lambda: nn.init.kaiming_uniform_(mg.ones(3, 3), mode="foo"),
         ValueError, m("Mode foo not supported", "fan_in, fan_out")),
    Case("init", "uniform_ with a > b", lambda: nn.init.uniform_(mg.ones(3), 2, 1), ValueError,
         m("uniform_: expects a <= b, got a=2, b=1")),
    Case("init", "constant_ with a string", lambda: nn.init.constant_(mg.ones(3), "a"), TypeError,
         m("constant_", "str")),

    # ---- gradient clipping
    Case("clip", "clip_grad_norm_: negative max_norm",
         lambda: nn.utils.clip_grad_norm_([nn.Parameter(mg.ones(2))], -1.0), ValueError,
         m("clip_grad_norm_: max_norm must be a non-negative number, got -1.0")),
    Case("clip", "clip_grad_norm_: unknown norm_type",
         lambda: nn.utils.clip_grad_norm_([nn.Parameter(mg.ones(2))], 1.0, norm_type="foo"), TypeError,
         m("clip_grad_norm_: norm_type must be a number or float('inf'), got 'foo'")),
    Case("clip", "clip_grad_norm_: max_norm given as a string",
         lambda: nn.utils.clip_grad_norm_([nn.Parameter(mg.ones(2))], "a"), TypeError, m("clip_grad_norm_",
              "max_norm", "'a'")),
    Case("clip", "clip_grad_value_: negative clip_value", _clip_value_negative, ValueError,
         m("clip_grad_value_", "clip_value", "-1.0")),

    # ---- packing variable-length sequences
    Case("packing", "pad_sequence: empty list", lambda: nn.utils.rnn.pad_sequence([]), ValueError,
         m("pad_sequence: received an empty list of sequences")),
    Case("packing", "pad_sequence: trailing shapes differ",
         lambda: nn.utils.rnn.pad_sequence([mg.ones(2, 3), mg.ones(3, 4)]), mg.ShapeError,
         m("pad_sequence: all sequences must have the same trailing shape", "(2, 3)", "(3, 4)")),
    Case("packing", "pack_padded_sequence: unsorted lengths",
         lambda: nn.utils.rnn.pack_padded_sequence(mg.ones(5, 2, 3), [2, 4]), RuntimeError,
         m("must be sorted in decreasing order", "[2, 4]", "enforce_sorted=False")),
    Case("packing", "pack_padded_sequence: a length longer than the input",
         lambda: nn.utils.rnn.pack_padded_sequence(mg.ones(5, 2, 3), [6, 4]), ValueError,
         m("pack_padded_sequence: a length (6) is larger than the number of time steps (5)")),
    Case("packing", "pack_padded_sequence: a zero length",
         lambda: nn.utils.rnn.pack_padded_sequence(mg.ones(5, 2, 3), [4, 0]), ValueError,
         m("Length of all samples has to be greater than 0", "[4, 0]")),
    Case("packing", "pack_padded_sequence: one length per sequence",
         lambda: nn.utils.rnn.pack_padded_sequence(mg.ones(5, 2, 3), [4, 3, 2]), mg.ShapeError,
         m("pack_padded_sequence: expected 2 lengths", "got 3")),
    Case("packing", "pack_padded_sequence: float lengths",
         lambda: nn.utils.rnn.pack_padded_sequence(mg.ones(5, 2, 3), mg.tensor([4.0, 3.0])), TypeError,
         m("pack_padded_sequence: lengths must be a 1-D sequence of integers, got float32")),

    Case("packing", "PackedSequence built by hand: batch_sizes don't match the data",
         lambda: nn.utils.rnn.PackedSequence(mg.ones(3, 2), mg.tensor([2, 2])), mg.ShapeError,
         m("PackedSequence: batch_sizes [2, 2] add up to 4 rows, but data has shape (3, 2)")),
    Case("packing", "PackedSequence built by hand: increasing batch_sizes",
         lambda: nn.utils.rnn.PackedSequence(mg.ones(3, 2), mg.tensor([1, 2])), ValueError,
         m("PackedSequence: batch_sizes must be a 1-D sequence of positive, non-increasing ints", "[1, 2]")),

    # ---- drawing
    Case("viz", "draw_graph of a number", lambda: mg.viz.draw_graph(3), TypeError,
         m("draw_graph: root must be a Tensor or a non-empty list of Tensors, got int")),
    Case("viz", "draw_graph: unknown view", lambda: mg.viz.to_dot(mg.ones(2, requires_grad=True) * 2, view="foo"),
         ValueError, m("draw_graph: view must be one of", "got 'foo'")),
    Case("viz", "draw_graph: max_nodes 0", lambda: mg.viz.to_dot(mg.ones(2, requires_grad=True) * 2, max_nodes=0),
         ValueError, m("draw_graph: max_nodes must be a positive int, got 0")),
]


class UserNet(nn.Module):
    """A model class of the user's: loading it needs mg.serialization.add_safe_globals([UserNet])."""


def _saved_user_module(path: Path) -> Path:
    mg.save(UserNet(), path)
    return path


def _module_with_lambda() -> nn.Module:
    model = nn.Linear(2, 2)
    model.act = lambda x: x
    return model


def _checkpoint_cases(tmp: Path) -> list[Case]:
    """Bad checkpoint files (made in ``tmp``) and objects that can't be saved."""
    good = tmp / "good.safetensors"
    mg.save(nn.Linear(3, 2).state_dict(), good)
    raw = good.read_bytes()

    def write(name: str, data: bytes) -> Path:
        p = tmp / name
        p.write_bytes(data)
        return p

    return [
        Case("checkpoint", "file does not exist", lambda: mg.load(tmp / "nope.safetensors"), FileNotFoundError,
             m("checkpoint", "nope.safetensors' does not exist")),
        Case("checkpoint", "a directory", lambda: mg.load(tmp), IsADirectoryError, m("is a directory, not a file")),
        Case("checkpoint", "empty file", lambda: mg.load(write("empty.safetensors", b"")), ValueError,
             m("is not a safetensors file: it has 0 bytes, fewer than the 8-byte header length")),
        Case("checkpoint", "truncated inside the header", lambda: mg.load(write("cut1.safetensors", raw[:20])),
             ValueError, m("is truncated or not a safetensors file", "but only 12 bytes follow")),
        Case("checkpoint", "truncated inside the data", lambda: mg.load(write("cut2.safetensors", raw[:-4])),
             ValueError, m("is truncated: header says 32 bytes of data but the file has 28")),
        Case("checkpoint", "extra bytes at the end", lambda: mg.load(write("extra.safetensors", raw + b"xxxx")),
             ValueError, m("is corrupt: 4 unexpected bytes after the last tensor")),
        Case("checkpoint", "a pickle file", lambda: mg.load(write("model.pt", b"\x80\x04\x95" + b"\0" * 40)),
             ValueError, m("model.pt' is a PyTorch pickle checkpoint", "minigrad never unpickles")),
        Case("checkpoint", "a model class that is not allowed",
             lambda: mg.load(_saved_user_module(tmp / "user.pt")), mg.serialization.WeightsOnlyError,
             m("user.pt' holds an object of class", "UserNet, which is not allowed by default",
               "mg.serialization.add_safe_globals([UserNet])")),
        Case("checkpoint", "map_location on another device", lambda: mg.load(good, map_location="cuda:0"),
             RuntimeError, m("map_location='cuda:0' would move the tensors to cuda:0, but minigrad runs on the CPU")),
        Case("checkpoint", "header is not JSON",
             lambda: mg.load(write("j.safetensors", struct.pack("<Q", 5) + b"{abc}")),
             ValueError, m("is corrupt: the header is not valid JSON")),
        Case("checkpoint", "header is not a JSON object",
             lambda: mg.load(write("l.safetensors", struct.pack("<Q", 2) + b"[]")), ValueError,
             m("is not a safetensors file: the header is not a JSON object")),
        Case("checkpoint", "save a function", lambda: mg.save({"f": len}, tmp / "s1.safetensors"), TypeError,
             m("mg.save: cannot store obj['f'] of type builtin_function_or_method", "no pickle")),
        Case("checkpoint", "save a Module holding a lambda", lambda: mg.save(_module_with_lambda(), tmp / "s2.pt"),
             TypeError, m("mg.save: cannot store obj['act'] of type function")),
        Case("checkpoint", "save a complex array", lambda: mg.save({"x": np.ones(2, np.complex64)}, tmp / "s3.st"),
             TypeError, m("mg.save: obj['x'] has dtype complex64, which a checkpoint cannot hold")),
        Case("checkpoint", "save into a missing folder",
             lambda: mg.save({"x": mg.ones(1)}, tmp / "no" / "x.safetensors"), FileNotFoundError,
             m("mg.save: cannot write", "directory", "does not exist")),
    ]


def _origin(exc: BaseException) -> str:
    """The file the exception was raised in."""
    return traceback.extract_tb(exc.__traceback__)[-1].filename


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_error(case: Case) -> None:
    with pytest.raises(case.exc, match=case.match):
        case.fn()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_error_comes_from_minigrad(case: Case) -> None:
    """The error is raised by minigrad's own checks, not leaked from NumPy or Python internals."""
    with pytest.raises(case.exc) as info:
        case.fn()
    origin = _origin(info.value)
    package = str(Path(mg.__file__).parent)
    assert origin.startswith(package), f"{case.id}: raised in {origin}, not by minigrad: {info.value}"


def test_checkpoint_errors(tmp_path: Path) -> None:
    for case in _checkpoint_cases(tmp_path):
        with pytest.raises(case.exc, match=case.match):
            case.fn()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp")), "a failed save left a temp file"


# ------------------------------------------------------------------------------- results, not errors
def _quiet(fn: Callable[[], mg.Tensor]) -> mg.Tensor:
    """Run ``fn`` with every warning an error and NumPy's floating-point warnings raised."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            return fn()


def test_empty_inputs_have_pytorch_results() -> None:
    """Zero-size inputs with a defined answer: no error, no warning, PyTorch's value."""
    assert _quiet(lambda: mg.ones(0, 3).sum(0)).tolist() == [0.0, 0.0, 0.0]
    assert math.isnan(_quiet(lambda: mg.ones(0).mean()).item())
    assert np.isnan(_quiet(lambda: mg.ones(2, 0).mean(1))._array).all()
    assert _quiet(lambda: mg.ones(3, 0).softmax(-1)).shape == (3, 0)
    assert _quiet(lambda: mg.ones(3, 0).log_softmax(-1)).shape == (3, 0)
    assert _quiet(lambda: mg.ones(3, 0).logsumexp(-1)).tolist() == [-math.inf] * 3
    assert _quiet(lambda: mg.ones(2, 0) @ mg.ones(0, 3)).tolist() == [[0.0] * 3] * 2
    assert _quiet(lambda: mg.ones(0, 2).argmax(1)).shape == (0,)
    assert _quiet(lambda: nn.Linear(3, 4)(mg.randn(0, 3))).shape == (0, 4)
    assert _quiet(lambda: nn.Embedding(5, 2)(mg.tensor(np.zeros(0, np.int64)))).shape == (0, 2)
    out, (h, c) = _quiet(lambda: nn.LSTM(3, 4)(mg.randn(5, 0, 3)))
    assert out.shape == (5, 0, 4) and h.shape == (1, 0, 4)
    # The mean over no rows is nan (PyTorch's answer): visible, not silently 0.
    assert math.isnan(_quiet(lambda: F.cross_entropy(mg.randn(0, 3), mg.tensor(np.zeros(0, np.int64)))).item())
    # Gradients flow through empty tensors too.
    x = mg.ones(3, 0, requires_grad=True)
    x.logsumexp(-1).sum().backward()
    assert x.grad.shape == (3, 0)


def test_var_of_one_element_warns() -> None:
    with pytest.warns(UserWarning, match=m("var: degrees of freedom <= 0 (1 element(s) reduced, correction=1)")):
        v = mg.ones(1).var()
    assert math.isnan(v.item())


# ------------------------------------------------------------------------------- detect_anomaly
class _NanBackward(Function):
    """Identity forward; its backward makes a NaN (a deliberately broken op)."""

    name = "bad_op"

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        g = grad.copy()
        g.reshape(-1)[0] = np.nan
        return g


def test_detect_anomaly_names_the_step_of_a_reference_lstm() -> None:
    """Forward: the first op that makes a non-finite value, with its per-step scope."""
    mg.manual_seed(0)
    lstm = nn.LSTM(3, 4, impl="reference")
    x = mg.randn(6, 2, 3)
    x._array[3, 1, 0] = np.inf
    with pytest.raises(RuntimeError, match=r"^index at lstm/l0/t4 produced inf in forward"):  # x[3]: t = 4
        with mg.autograd.detect_anomaly():
            lstm(x)
    # Finite inputs whose product overflows float32 at x[2] (t = 3): the matmul of that step is named.
    lstm = nn.LSTM(3, 4, impl="reference")
    with mg.no_grad():
        lstm.weight_ih_l0._array[:] = 1.0
    x = mg.randn(4, 2, 3)
    x._array[2] = 3e38
    with pytest.raises(RuntimeError, match=r"^matmul at lstm/l0/t3 produced inf in forward"):
        with mg.autograd.detect_anomaly(), np.errstate(over="ignore"):  # (NumPy would also warn)
            lstm(x)


def test_detect_anomaly_forward_log_in_scope() -> None:
    x = mg.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^log at lstm/l0/t3 produced nan in forward"):
        with mg.autograd.detect_anomaly(), mg.scope("lstm"), mg.scope("l0"), mg.scope("t3"):
            x.log()


def test_detect_anomaly_backward() -> None:
    """A hand-made NaN in an op's backward is reported with the op's name and scope."""
    x = mg.randn(3, requires_grad=True)
    with mg.scope("lstm"), mg.scope("l0"), mg.scope("t2"):
        y = _NanBackward.apply(x * 2)
    loss = (y * y).sum()
    with pytest.raises(RuntimeError, match=r"^bad_op at lstm/l0/t2 produced nan in backward"):
        with mg.autograd.detect_anomaly():
            loss.backward()
    # Without detect_anomaly the NaN silently reaches x.grad (PyTorch's behaviour too).
    x2 = mg.randn(3, requires_grad=True)
    (_NanBackward.apply(x2 * 2) ** 2).sum().backward()
    assert np.isnan(x2.grad._array).any()


def test_detect_anomaly_backward_of_sqrt_at_zero() -> None:
    """sqrt(0) is fine going forward, but its derivative 1 / (2 sqrt(0)) is inf."""
    x = mg.zeros(2, requires_grad=True)
    y = x.sqrt().sum()
    with pytest.raises(RuntimeError, match=r"^sqrt produced inf in backward"):
        with mg.autograd.detect_anomaly():
            y.backward()


def test_detect_anomaly_fused_layer() -> None:
    """The fused LSTM is one node per layer: NaN is reported at the layer's scope."""
    lstm = nn.LSTM(3, 4)
    with mg.no_grad():
        lstm.weight_ih_l0._array[0, 0] = np.nan
    with pytest.raises(RuntimeError, match=r"at lstm/l0 produced nan in forward"):
        with mg.autograd.detect_anomaly():
            lstm(mg.randn(4, 2, 3))


def test_detect_anomaly_is_off_outside_the_block() -> None:
    x = mg.tensor([-1.0], requires_grad=True)
    with mg.autograd.detect_anomaly():
        pass
    assert math.isnan(x.log().item())  # no error: anomaly mode was restored


def test_every_catalogue_entry_is_documented() -> None:
    """docs/errors.md lists every case of this file (by its description)."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "errors.md").read_text()
    missing = [c.id for c in CASES if c.what not in doc]
    assert not missing, f"add these cases to docs/errors.md: {missing}"


# ------------------------------------------------------------------------------- printing the catalogue
def _message(case: Case) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.fn()
    except BaseException as e:  # noqa: BLE001 - we print whatever comes out
        return f"{type(e).__name__}: {e}"
    return "(no error)"


if __name__ == "__main__":  # python tests/test_errors.py: print every message, for docs/errors.md
    import tempfile

    sys.path.insert(0, os.path.dirname(__file__))
    with tempfile.TemporaryDirectory() as d:
        for case in CASES + _checkpoint_cases(Path(d)):
            print(f"[{case.area}] {case.what}\n    {_message(case)}")
