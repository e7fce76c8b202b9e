"""The textbook equation beside the graph: one per op, one block per recurrent cell, forward and backward.

Time is written t = 1..T with h_0 the initial state, as in docs/rnn-lstm-gru.md and docs/bptt.md;
``cell_equation`` puts the step's own numbers in (``c_3 = f_3 * c_2 + i_3 * g_3``).
"""

from __future__ import annotations

# op name -> (forward, backward). y is the op's output, a and b its inputs, ⊙ elementwise.
OPS: dict[str, tuple[str, str]] = {
    "add": ("y = a + b", "dL/da += dL/dy;  dL/db += dL/dy   (summed over broadcast axes)"),
    "sub": ("y = a - b", "dL/da += dL/dy;  dL/db -= dL/dy"),
    "mul": ("y = a ⊙ b", "dL/da += dL/dy ⊙ b;  dL/db += dL/dy ⊙ a"),
    "div": ("y = a / b", "dL/da += dL/dy / b;  dL/db -= dL/dy ⊙ a / b²"),
    "neg": ("y = -a", "dL/da -= dL/dy"),
    "matmul": ("y = a @ b", "dL/da += dL/dy @ bᵀ;  dL/db += aᵀ @ dL/dy"),
    "tanh": ("y = tanh(a)", "dL/da += dL/dy ⊙ (1 - y²)"),
    "sigmoid": ("y = σ(a)", "dL/da += dL/dy ⊙ y ⊙ (1 - y)"),
    "relu": ("y = max(a, 0)", "dL/da += dL/dy ⊙ [a > 0]"),
    "exp": ("y = exp(a)", "dL/da += dL/dy ⊙ y"),
    "log": ("y = log(a)", "dL/da += dL/dy / a"),
    "pow": ("y = aⁿ", "dL/da += dL/dy ⊙ n aⁿ⁻¹"),
    "sum": ("y = Σ a", "dL/da += dL/dy   (copied to every summed element)"),
    "mean": ("y = mean(a)", "dL/da += dL/dy / n"),
    "transpose": ("y = aᵀ", "dL/da += (dL/dy)ᵀ"),
    "permute": ("y = a with its axes permuted", "dL/da += dL/dy with the axes put back"),
    "reshape": ("y = a reshaped", "dL/da += dL/dy reshaped back"),
    "view": ("y = a viewed in another shape", "dL/da += dL/dy reshaped back"),
    "split": ("y_1, ..., y_k = pieces of a", "dL/da = [dL/dy_1, ..., dL/dy_k] put side by side"),
    "chunk": ("y_1, ..., y_k = pieces of a", "dL/da = [dL/dy_1, ..., dL/dy_k] put side by side"),
    "stack": ("y = stack(a_1, ..., a_T)", "dL/da_t += dL/dy[t]"),
    "cat": ("y = cat(a_1, ..., a_k)", "dL/da_i += its slice of dL/dy"),
    "getitem": ("y = a[index]", "dL/da[index] += dL/dy"),
    "index": ("y = a[index]", "dL/da[index] += dL/dy"),
    "where": ("y = where(m, a, b)", "dL/da += dL/dy ⊙ m;  dL/db += dL/dy ⊙ (1 - m)"),
    "cross_entropy": ("L = -mean log softmax(z)[target]", "dL/dz = (softmax(z) - onehot(target)) / n"),
    "mse_loss": ("L = mean (a - b)²", "dL/da += 2 (a - b) / n"),
}

_LSTM = (
    "i_{t} = σ(W_ii x_{t} + W_hi h_{p} + b_i)\n"
    "f_{t} = σ(W_if x_{t} + W_hf h_{p} + b_f)\n"
    "g_{t} = tanh(W_ig x_{t} + W_hg h_{p} + b_g)\n"
    "o_{t} = σ(W_io x_{t} + W_ho h_{p} + b_o)\n"
    "c_{t} = f_{t} ⊙ c_{p} + i_{t} ⊙ g_{t}\n"
    "h_{t} = o_{t} ⊙ tanh(c_{t})",
    "dL/dc_{t} += dL/dh_{t} ⊙ o_{t} ⊙ (1 - tanh²(c_{t}))\n"
    "dL/dc_{p} += dL/dc_{t} ⊙ f_{t}\n"
    "dL/da_{t} = [dL/dc_{t} ⊙ g_{t} ⊙ i_{t}(1-i_{t}),  dL/dc_{t} ⊙ c_{p} ⊙ f_{t}(1-f_{t}),\n"
    "            dL/dc_{t} ⊙ i_{t} ⊙ (1-g_{t}²),  dL/dh_{t} ⊙ tanh(c_{t}) ⊙ o_{t}(1-o_{t})]\n"
    "dL/dh_{p} += W_hhᵀ dL/da_{t}\n"
    "dL/dW_hh += dL/da_{t} h_{p}ᵀ;   dL/dW_ih += dL/da_{t} x_{t}ᵀ;   dL/db += dL/da_{t}",
)
_GRU = (
    "r_{t} = σ(W_ir x_{t} + b_ir + W_hr h_{p} + b_hr)\n"
    "z_{t} = σ(W_iz x_{t} + b_iz + W_hz h_{p} + b_hz)\n"
    "n_{t} = tanh(W_in x_{t} + b_in + r_{t} ⊙ (W_hn h_{p} + b_hn))\n"
    "h_{t} = (1 - z_{t}) ⊙ n_{t} + z_{t} ⊙ h_{p}",
    "dL/dn_{t} = dL/dh_{t} ⊙ (1 - z_{t});   dL/dz_{t} = dL/dh_{t} ⊙ (h_{p} - n_{t})\n"
    "dL/dh_{p} += dL/dh_{t} ⊙ z_{t} + W_hhᵀ dL/da_{t}   (a_{t}: the gates' pre-activations)\n"
    "dL/dW_hh += dL/da_{t} h_{p}ᵀ;   dL/dW_ih += dL/da_{t} x_{t}ᵀ",
)
_RNN = (
    "a_{t} = W_ih x_{t} + b_ih + W_hh h_{p} + b_hh\n"
    "h_{t} = tanh(a_{t})",
    "dL/da_{t} = dL/dh_{t} ⊙ (1 - h_{t}²)\n"
    "dL/dh_{p} += W_hhᵀ dL/da_{t}\n"
    "dL/dW_hh += dL/da_{t} h_{p}ᵀ;   dL/dW_ih += dL/da_{t} x_{t}ᵀ;   dL/db += dL/da_{t}",
)
_ANY = (
    "h_{t} = cell(x_{t}, h_{p})",
    "dL/dh_{p} += (∂h_{t}/∂h_{p})ᵀ dL/dh_{t};   dL/dW += (∂h_{t}/∂W)ᵀ dL/dh_{t}",
)
CELLS = {"lstm": _LSTM, "gru": _GRU, "rnn_tanh": _RNN, "rnn_relu": (_RNN[0].replace("tanh(", "relu("),
                                                                      _RNN[1].replace("(1 - h_{t}²)", "[h_{t} > 0]"))}


def op_equation(name: str, phase: str) -> str:
    """The rule of one op (``phase`` 'forward' or 'backward').

    Example::

        >>> op_equation("mul", "backward")
        'dL/da += dL/dy ⊙ b;  dL/db += dL/dy ⊙ a'
    """
    default = (f"y = {name}(a, ...)", f"dL/da += J_{name}ᵀ dL/dy   (its vector-Jacobian product)")
    forward, backward = OPS.get(name, default)
    return forward if phase == "forward" else backward


def cell_equation(mode: str | None, step: int, phase: str) -> str:
    """Step ``step`` (counted from 1) of a cell; ``mode`` 'lstm', 'gru', 'rnn_tanh', 'rnn_relu' or None (unknown).

    Example::

        >>> cell_equation("lstm", 3, "backward").splitlines()[1]
        'dL/dc_2 += dL/dc_3 ⊙ f_3'
    """
    forward, backward = CELLS.get(mode or "", _ANY)
    text = forward if phase == "forward" else backward
    return text.replace("{t}", str(step)).replace("{p}", str(step - 1))


def mode_of_scope(path: tuple[str, ...], scope: str) -> str | None:
    """The cell kind of a library layer or cell from its scope ('lstm/l0' -> 'lstm'), None for user code.

    Example::

        >>> mode_of_scope(("gru", "l1"), "gru/l1/t1"), mode_of_scope(("t3",), "t3/lstm_cell"), mode_of_scope((), "t1")
        ('gru', 'lstm', None)
    """
    names = {"lstm": "lstm", "gru": "gru", "rnn": "rnn_tanh"}
    if len(path) >= 2 and path[-2] in names:
        return names[path[-2]]
    for part in scope.split("/"):
        if part.endswith("_cell") and part[:-5] in names:
            return names[part[:-5]]
    return None
