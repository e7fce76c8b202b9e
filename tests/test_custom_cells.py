"""mg.nn.Recurrent with cells of one's own: a user-written LayerNorm-LSTM, the shipped cells, the built-ins."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ShapeError
from minigrad.nn.utils.rnn import detach_state, pack_padded_sequence, pad_packed_sequence


class UserLayerNormLSTM(mg.nn.Module):
    """A LayerNorm-LSTM cell as a user writes it from scratch (no library cell code involved)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.ih = mg.nn.Linear(input_size, 4 * hidden_size, bias=False)
        self.hh = mg.nn.Linear(hidden_size, 4 * hidden_size)
        self.gain = mg.nn.Parameter(np.ones(4 * hidden_size))
        self.shift = mg.nn.Parameter(np.zeros(4 * hidden_size))

    def initial_state(self, batch_size: int):
        return mg.zeros(batch_size, self.hidden_size, dtype=self.hh.weight.dtype), \
            mg.zeros(batch_size, self.hidden_size, dtype=self.hh.weight.dtype)

    def forward(self, x_t, state):
        h, c = state
        a = self.ih(x_t) + self.hh(h)
        a = (a - a.mean(-1, keepdim=True)) / (a.var(-1, unbiased=False, keepdim=True) + 1e-5).sqrt()
        i, f, g, o = (a * self.gain + self.shift).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return o.sigmoid() * c.tanh(), c


def make_user_cell(n: int, dtype=mg.float64) -> UserLayerNormLSTM:
    cell = UserLayerNormLSTM(n, 5)
    return cell.to(dtype) if dtype is not None else cell


def hand_loop(cell, x, state=None, reverse=False):
    """The loop a user writes by hand: the reference for what Recurrent must compute."""
    state = cell.initial_state(x.shape[1]) if state is None else state
    outs = [None] * x.shape[0]
    for t in (range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])):
        state = cell(x[t], state)
        outs[t] = state[0]
    return mg.stack(outs, 0), state


def test_matches_a_hand_written_loop():
    mg.manual_seed(0)
    cell = make_user_cell(3)
    layer = mg.nn.Recurrent(cell)
    x = mg.randn(6, 2, 3, dtype=mg.float64)
    out, (h_n, c_n) = layer(x)
    ref, (h, c) = hand_loop(cell, x)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h_n[0].detach().numpy(), h.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c_n[0].detach().numpy(), c.detach().numpy(), atol=1e-12)
    assert h_n.shape == c_n.shape == (1, 2, 5)


def test_gradcheck_float64():
    mg.manual_seed(1)
    layer = mg.nn.Recurrent(make_user_cell(2), bidirectional=True)
    x = mg.randn(3, 2, 2, dtype=mg.float64, requires_grad=True)
    params = list(layer.parameters())

    def f(x, *ps):
        out, (h, c) = layer(x)
        return out.sum() + (h * c).sum()

    assert mg.autograd.gradcheck(f, [x, *params])


def test_trains_loss_falls():
    mg.manual_seed(2)
    layer = mg.nn.Recurrent(lambda n: make_user_cell(n, mg.float32), num_layers=2, input_size=2, dropout=0.1)
    head = mg.nn.Linear(5, 1)
    opt = mg.optim.Adam(list(layer.parameters()) + list(head.parameters()), lr=0.02)
    x = mg.randn(8, 16, 2)
    target = x.sum(0)[:, :1]  # learn the running sum of the first feature... and the second
    losses = []
    for _ in range(60):
        out, _ = layer(x)
        loss = ((head(out[-1]) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]


def test_packed_sequences_match_each_sequence_alone():
    mg.manual_seed(3)
    layer = mg.nn.Recurrent(make_user_cell(3), bidirectional=True)
    x = mg.randn(5, 3, 3, dtype=mg.float64)
    lengths = [3, 5, 2]
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out_p, (h_n, c_n) = layer(packed)
    out, got_lengths = pad_packed_sequence(out_p)
    assert got_lengths.tolist() == lengths
    for b, n in enumerate(lengths):
        alone, (h_b, _) = layer(x[:n, b:b + 1])
        np.testing.assert_allclose(out[:n, b].detach().numpy(), alone[:, 0].detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(out[n:, b].detach().numpy(), 0.0)
        np.testing.assert_allclose(h_n[:, b].detach().numpy(), h_b[:, 0].detach().numpy(), atol=1e-12)


def test_bidirectional_reverse_is_a_fresh_copy_run_backwards():
    mg.manual_seed(4)
    cell = make_user_cell(3)
    layer = mg.nn.Recurrent(cell, bidirectional=True)
    forward_cell, reverse_cell = layer.cells
    assert forward_cell is cell and reverse_cell is not cell
    assert not np.allclose(reverse_cell.hh.weight.detach().numpy(), cell.hh.weight.detach().numpy())  # fresh parameters
    x = mg.randn(4, 2, 3, dtype=mg.float64)
    out, (h_n, _) = layer(x)
    fwd, (h_f, _) = hand_loop(cell, x)
    bwd, (h_b, _) = hand_loop(reverse_cell, x, reverse=True)
    both = np.concatenate([fwd.detach().numpy(), bwd.detach().numpy()], -1)
    np.testing.assert_allclose(out.detach().numpy(), both, atol=1e-12)
    np.testing.assert_allclose(h_n.detach().numpy(), np.stack([h_f.detach().numpy(), h_b.detach().numpy()]),
                               atol=1e-12)


def test_draws_one_cluster_per_step():
    mg.manual_seed(5)
    layer = mg.nn.Recurrent(lambda n: make_user_cell(n), num_layers=2, input_size=3)
    with mg.viz.record():
        out, _ = layer(mg.randn(4, 2, 3, dtype=mg.float64))
        loss = out.sum()
        loss.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # h_t and c_t are declared by Recurrent: nothing is guessed
        dot = mg.viz.to_dot(loss, params=layer, view="ops")
        cells = mg.viz.to_dot(loss, params=layer, view="cells")
    assert len(re.findall(r'subgraph cluster_\w+ \{\n\t+graph \[[^\]]*label="t = \d+"', dot)) == 4 * 2
    assert dot.count("= h_") == 8 and dot.count("= c_") == 8 and "gradient colouring" in dot
    assert len(re.findall(r'<B>h_\d+, c_\d+</B>[^\n]*shape="box"', cells)) == 4 * 2 and "gradient colouring" in cells


def test_scopes_name_layer_direction_and_step():
    layer = mg.nn.Recurrent(lambda n: mg.nn.GRUCell(n, 4, impl="reference"), num_layers=2, bidirectional=True,
                            input_size=3)
    out, _ = layer(mg.randn(3, 2, 3))
    scopes = set()
    stack = [out.grad_fn]
    seen = set()
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        scopes.add(fn.scope)
        stack.extend(e[0] for e in fn.next_functions if type(e) is tuple)
    for name in ("recurrent/l0/t1/gru_cell", "recurrent/l0_reverse/t3/gru_cell", "recurrent/l1/t2/gru_cell"):
        assert name in scopes


@pytest.mark.parametrize("impl", ["reference", "fused"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_builtin_cells_in_recurrent_equal_the_builtin_layers(kind, impl):
    """Recurrent(make_cell) with built-in cells == RNN/LSTM/GRU with the same weights."""
    mg.manual_seed(6)
    layers = {"rnn": mg.nn.RNN, "lstm": mg.nn.LSTM, "gru": mg.nn.GRU}
    cells = {"rnn": mg.nn.RNNCell, "lstm": mg.nn.LSTMCell, "gru": mg.nn.GRUCell}
    ref = layers[kind](3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=mg.float64, impl="reference")
    ours = mg.nn.Recurrent(lambda n: cells[kind](n, 4, dtype=mg.float64, impl=impl), num_layers=2,
                           bidirectional=True, batch_first=True, input_size=3)
    for k, cell in enumerate(ours.cells):
        for name, p in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), ref.all_weights[k]):
            getattr(cell, name)._array = p._array.copy()
    x = mg.randn(2, 5, 3, dtype=mg.float64)
    out_ref, state_ref = ref(x)
    out, state = ours(x)
    np.testing.assert_allclose(out.detach().numpy(), out_ref.detach().numpy(), atol=1e-12)
    for a, b in zip(state if kind == "lstm" else (state,), state_ref if kind == "lstm" else (state_ref,)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)


def test_hx_unbatched_and_truncated_bptt():
    mg.manual_seed(7)
    layer = mg.nn.Recurrent(make_user_cell(3))
    h0 = (mg.randn(1, 5, dtype=mg.float64), mg.randn(1, 5, dtype=mg.float64))
    out, (h, c) = layer(mg.randn(4, 3, dtype=mg.float64), h0)  # unbatched (T, I)
    assert out.shape == (4, 5) and h.shape == c.shape == (1, 5)
    state = None
    for window in mg.randn(3, 4, 2, 3, dtype=mg.float64):
        out, state = layer(window, state)
        out.sum().backward()  # would fail on the second window without the detach
        state = detach_state(state)
    assert not state[0].requires_grad


def test_shipped_cells_gradcheck_and_run_in_recurrent():
    mg.manual_seed(8)
    for make in (lambda n: mg.nn.LayerNormLSTMCell(n, 3, dtype=mg.float64),
                 lambda n: mg.nn.PeepholeLSTMCell(n, 3, dtype=mg.float64)):
        layer = mg.nn.Recurrent(make, num_layers=2, input_size=2, bidirectional=True)
        x = mg.randn(3, 2, 2, dtype=mg.float64, requires_grad=True)
        assert mg.autograd.gradcheck(lambda x, *ps, layer=layer: layer(x)[0], [x, *layer.parameters()])


def test_peephole_cell_is_its_equations():
    mg.manual_seed(9)
    cell = mg.nn.PeepholeLSTMCell(2, 3, dtype=mg.float64)
    x, h, c = (np.random.default_rng(0).standard_normal(s) for s in ((4, 2), (4, 3), (4, 3)))
    W, U, b, P = (p.detach().numpy() for p in (cell.weight_ih, cell.weight_hh, cell.bias, cell.peephole))
    a = x @ W.T + h @ U.T + b
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    i = sig(a[:, :3] + P[0] * c)
    f = sig(a[:, 3:6] + P[1] * c)
    c_new = f * c + i * np.tanh(a[:, 6:9])
    h_new = sig(a[:, 9:] + P[2] * c_new) * np.tanh(c_new)
    got_h, got_c = cell(mg.tensor(x), (mg.tensor(h), mg.tensor(c)))
    np.testing.assert_allclose(got_h.detach().numpy(), h_new, atol=1e-12)
    np.testing.assert_allclose(got_c.detach().numpy(), c_new, atol=1e-12)


def test_layer_norm_lstm_cell_normalises_its_gate_sums():
    cell = mg.nn.LayerNormLSTMCell(2, 3, dtype=mg.float64)
    for p in (cell.weight_ih, cell.weight_hh):
        p._array = p._array * 1000.0  # huge weights: the normalised gates do not saturate differently
    h, c = cell(mg.ones(1, 2, dtype=mg.float64), cell.initial_state(1))
    small = mg.nn.LayerNormLSTMCell(2, 3, dtype=mg.float64)
    small.load_state_dict(cell.state_dict())
    for p in (small.weight_ih, small.weight_hh):
        p._array = p._array / 1000.0
    h2, c2 = small(mg.ones(1, 2, dtype=mg.float64), small.initial_state(1))
    # equal up to the eps of the normalisation (1e-5 against a variance of order 0.1)
    np.testing.assert_allclose(h.detach().numpy(), h2.detach().numpy(), atol=1e-4)
    assert not np.allclose(cell.weight_hh.detach().numpy(), small.weight_hh.detach().numpy())


def test_locked_dropout_one_mask_for_all_steps():
    mg.manual_seed(10)
    drop = mg.nn.LockedDropout(0.5)
    y = drop(mg.ones(6, 3, 8)).detach().numpy()
    assert np.all(y == y[0]) and set(np.unique(y)) <= {0.0, 2.0} and (y == 0).any()
    drop.eval()
    assert np.all(drop(mg.ones(6, 3, 8)).detach().numpy() == 1.0)


def test_variational_dropout_cell_keeps_its_masks_for_the_sequence():
    mg.manual_seed(11)
    seen = []

    class Probe(mg.nn.Module):
        def initial_state(self, batch_size):
            return mg.ones(batch_size, 6)

        def forward(self, x_t, h):
            seen.append((x_t.detach().numpy().copy(), h.detach().numpy().copy()))
            return mg.ones(*h.shape)

    layer = mg.nn.Recurrent(mg.nn.VariationalDropoutCell(Probe(), input_p=0.5, hidden_p=0.5))
    layer(mg.ones(5, 2, 6))
    xs, hs = [s[0] for s in seen], [s[1] for s in seen]
    assert all(np.array_equal(xs[0], v) for v in xs) and all(np.array_equal(hs[0], v) for v in hs)
    assert (xs[0] == 0).any() and (hs[0] == 0).any()
    seen.clear()
    layer(mg.ones(5, 2, 6))  # a new sequence: new masks
    assert not (np.array_equal(seen[0][0], xs[0]) and np.array_equal(seen[0][1], hs[0]))
    layer.eval()
    seen.clear()
    layer(mg.ones(2, 2, 6))
    assert all((x == 1).all() and (h == 1).all() for x, h in seen)


def test_clear_errors():
    with pytest.raises(ValueError, match="num_layers=2 needs a factory"):
        mg.nn.Recurrent(mg.nn.GRUCell(3, 4), num_layers=2)

    class NoInit(mg.nn.Module):
        def forward(self, x, h):
            return h

    with pytest.raises(TypeError, match="initial_state"):
        mg.nn.Recurrent(NoInit())
    with pytest.raises(TypeError, match="factory"):
        mg.nn.Recurrent(42)
    layer = mg.nn.Recurrent(mg.nn.LSTMCell(3, 4))
    with pytest.raises(ShapeError, match="last dimension"):
        layer(mg.randn(5, 2, 7))
    with pytest.raises(ShapeError, match=r"hx\[0\] must start with \(1, 2\)"):
        layer(mg.randn(5, 2, 3), (mg.zeros(2, 2, 4), mg.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="tuple of 2 Tensors"):
        layer(mg.randn(5, 2, 3), mg.zeros(1, 2, 4))

    class BadStep(mg.nn.Module):
        def initial_state(self, batch_size):
            return mg.zeros(batch_size, 2)

        def forward(self, x, h):
            return {"h": h}

    with pytest.raises(TypeError, match="BadStep.forward must return a Tensor h or a tuple"):
        mg.nn.Recurrent(BadStep())(mg.randn(2, 1, 3))


def test_factory_without_input_size_builds_on_first_forward():
    layer = mg.nn.Recurrent(lambda n: mg.nn.RNNCell(n, 4), num_layers=2)
    assert list(layer.parameters()) == []
    out, h_n = layer(mg.randn(3, 2, 5))
    assert out.shape == (3, 2, 4) and h_n.shape == (2, 2, 4)
    assert layer.cells[0].input_size == 5 and layer.cells[1].input_size == 4


def test_reverse_copy_of_a_cell_without_reset_parameters_warns():
    class Plain(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = mg.nn.Parameter(np.ones((2, 2)))

        def initial_state(self, batch_size):
            return mg.zeros(batch_size, 2)

        def forward(self, x, h):
            return (x + h) @ self.w

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mg.nn.Recurrent(Plain(), bidirectional=True)
    assert any("reset_parameters" in str(w.message) for w in caught)


def test_a_new_builtin_cell_is_one_description(monkeypatch):
    """Issue 18: a new built-in cell touches one description; the layer, plan and drawing read it."""
    import dataclasses

    from minigrad.nn import cells
    from minigrad.nn.fused_rnn import plan

    elman = cells.describe("rnn_tanh")
    toy = dataclasses.replace(elman, mode="toy")  # a new cell: here, the Elman equations under a new name
    monkeypatch.setitem(cells.BUILTIN_CELLS, "toy", toy)
    mg.manual_seed(12)
    fused = mg.nn.RNNBase("TOY", 3, 4, num_layers=2, bidirectional=True, dtype=mg.float64)
    reference = mg.nn.RNNBase("TOY", 3, 4, num_layers=2, bidirectional=True, dtype=mg.float64, impl="reference")
    reference.load_state_dict(fused.state_dict())
    x = mg.randn(5, 2, 3, dtype=mg.float64)
    with mg.viz.record():
        out_f, h_f = fused(x)
        out_f.sum().backward()
    out_r, h_r = reference(x)
    np.testing.assert_allclose(out_f.detach().numpy(), out_r.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h_f.detach().numpy(), h_r.detach().numpy(), atol=1e-12)
    assert plan("toy", np.float64, 2, 4) is plan("rnn_tanh", np.float64, 2, 4)
    from minigrad.viz.graph import walk
    from minigrad.viz.model import at_step

    assert sum(fn.name == "toy_layer" for fn in walk([out_f])[0]) == 4  # 2 layers x 2 directions
    dot = mg.viz.to_dot(out_f, params=fused, view="ops")
    formula = toy.drawing.nodes["h"][1]  # written for each step: x_t -> x_3, h_{t-1} -> h_2 (h_4 going backwards)
    steps = [at_step(formula, t, reverse) for t in range(1, 6) for reverse in (False, True)]
    assert sum(dot.count(f">{s}<") for s in steps) == 5 * 4 and "gradient colouring" in dot
