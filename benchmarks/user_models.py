"""Models a new user writes first, at the shapes such scripts have: more held-out workloads.

Where ``benchmarks/script_models.py`` copies named tutorials, these are the common patterns around
them, written as a user would from PyTorch's documentation: a series of one feature (``nn.LSTM(1,
64)``, whose input projection is an outer product) or of a few, a GRU of one feature, a classifier
on packed sequences, a character model of two LSTM layers with clipping, a carried and detached
state (truncated BPTT), an ``LSTMCell`` loop, a wide ``LSTMCell`` of batch one, an LSTM with a
projection (``proj_size``), a ReLU ``nn.RNN``, a bidirectional tagger, a GRU seq2seq with teacher
forcing, and an MLP (no recurrence at all). None of their shapes was tuned for.
``benchmarks/models.py`` and ``paired.py`` time them like their other models:

    .venv/bin/python benchmarks/paired.py one_feature_series packed_gru_classifier --cpu avx2

Each case builds the model in ``L`` (``minigrad`` or ``torch``) and returns one train step;
``step.optimizer`` is its optimizer (for tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _step(optimizer: Any, loss: Callable[[], Any], after_backward: Callable[[], None] | None = None,
          scheduler: Any = None) -> Callable[[], None]:
    """``zero_grad``, ``loss().backward()``, ``after_backward()`` (clipping), ``optimizer.step()``,
    ``scheduler.step()``."""
    def step() -> None:
        optimizer.zero_grad()
        loss().backward()
        if after_backward is not None:
            after_backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()

    step.optimizer = optimizer  # type: ignore[attr-defined]
    return step


def _data(L: Any, seed: int = 0) -> tuple[np.random.Generator, Callable[..., Any], Callable[..., Any]]:
    """``(rng, floats(*shape), ints(high, *shape))``: inputs drawn once, as a data loader's batch."""
    rng = np.random.default_rng(seed)

    def floats(*shape: int) -> Any:
        return L.tensor(rng.standard_normal(shape).astype(np.float32))

    def ints(high: int, *shape: int) -> Any:
        return L.tensor(rng.integers(0, high, shape))

    return rng, floats, ints


def one_feature_series_case(L: Any) -> Callable[[], None]:
    """``nn.LSTM(1, 64, batch_first=True)`` over 50 steps of a series, batch 32, the last step through
    ``Linear(64, 1)``, MSE, Adam: the time-series tutorial pattern."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    lstm, head = nn.LSTM(1, 64, batch_first=True), nn.Linear(64, 1)
    _, floats, _ = _data(L)
    x, y = floats(32, 50, 1), floats(32, 1)
    optimizer = L.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    return _step(optimizer, lambda: F.mse_loss(head(lstm(x)[0][:, -1, :]), y))


def multivariate_series_case(L: Any) -> Callable[[], None]:
    """Five features: ``nn.LSTM(5, 32, 2, batch_first=True)``, batch 16, 30 steps, Adam with weight
    decay and a ``StepLR`` schedule."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    lstm, head = nn.LSTM(5, 32, 2, batch_first=True), nn.Linear(32, 1)
    _, floats, _ = _data(L)
    x, y = floats(16, 30, 5), floats(16, 1)
    optimizer = L.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3, weight_decay=1e-5)
    scheduler = L.optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.9)
    return _step(optimizer, lambda: F.mse_loss(head(lstm(x)[0][:, -1]), y), scheduler=scheduler)


def gru_one_feature_case(L: Any) -> Callable[[], None]:
    """``nn.GRU(1, 32, batch_first=True)``, batch 64, 24 steps, the final state through a ``Linear``,
    L1 loss, RMSprop."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    gru, head = nn.GRU(1, 32, batch_first=True), nn.Linear(32, 1)
    _, floats, _ = _data(L)
    x, y = floats(64, 24, 1), floats(64, 1)
    optimizer = L.optim.RMSprop(list(gru.parameters()) + list(head.parameters()), lr=1e-3)
    return _step(optimizer, lambda: F.l1_loss(head(gru(x)[1][-1]), y))


def packed_gru_classifier_case(L: Any) -> Callable[[], None]:
    """A text classifier: ``Embedding(5000, 100)``, ``pack_padded_sequence`` of 32 sentences of 5-59
    words, a bidirectional ``GRU(100, 128)``, both final states into ``Linear(256, 5)``, Adam."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    embedding, head = nn.Embedding(5000, 100), nn.Linear(256, 5)
    gru = nn.GRU(100, 128, batch_first=True, bidirectional=True)
    rng, _, ints = _data(L)
    lengths = sorted(rng.integers(5, 60, 32).tolist(), reverse=True)
    tokens = np.zeros((32, 60), np.int64)
    for i, n in enumerate(lengths):
        tokens[i, :n] = rng.integers(1, 5000, n)
    x, y, sizes = L.tensor(tokens), ints(5, 32), L.tensor(lengths)
    params = [p for m in (embedding, gru, head) for p in m.parameters()]

    def loss() -> Any:
        _, h = gru(nn.utils.rnn.pack_padded_sequence(embedding(x), sizes, batch_first=True))
        return F.cross_entropy(head(L.cat((h[-2], h[-1]), dim=1)), y)

    return _step(L.optim.Adam(params, lr=1e-3), loss)


def char_lstm_case(L: Any) -> Callable[[], None]:
    """A character model: ``Embedding(65, 128)``, ``nn.LSTM(128, 256, 2, batch_first=True)``,
    ``Linear(256, 65)`` on every step, cross-entropy, ``clip_grad_norm_(1.0)``, Adam; batch 32,
    100 characters (char-rnn scripts use 64 x 100 and more)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    embedding, lstm, head = nn.Embedding(65, 128), nn.LSTM(128, 256, 2, batch_first=True), nn.Linear(256, 65)
    _, _, ints = _data(L)
    x, y = ints(65, 32, 100), ints(65, 32, 100)
    params = [p for m in (embedding, lstm, head) for p in m.parameters()]
    loss = lambda: F.cross_entropy(head(lstm(embedding(x))[0]).reshape(-1, 65), y.reshape(-1))  # noqa: E731
    return _step(L.optim.Adam(params, lr=2e-3), loss, lambda: nn.utils.clip_grad_norm_(params, 1.0))


def carried_state_lm_case(L: Any) -> Callable[[], None]:
    """Truncated BPTT on one stream (batch 1): ``Embedding(100, 64)``, ``nn.LSTM(64, 128,
    batch_first=True)`` over 50 tokens, its state carried to the next step ``detach()``-ed,
    ``Linear(128, 100)``, clipping at 5, Adam."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    embedding, lstm, head = nn.Embedding(100, 64), nn.LSTM(64, 128, batch_first=True), nn.Linear(128, 100)
    _, _, ints = _data(L)
    x, y = ints(100, 1, 50), ints(100, 1, 50)
    params = [p for m in (embedding, lstm, head) for p in m.parameters()]
    state: list[Any] = [None]

    def loss() -> Any:
        carried = None if state[0] is None else tuple(s.detach() for s in state[0])
        out, state[0] = lstm(embedding(x), carried)
        return F.cross_entropy(head(out).view(-1, 100), y.view(-1))

    return _step(L.optim.Adam(params, lr=2e-3), loss, lambda: nn.utils.clip_grad_norm_(params, 5.0))


def lstm_cell_loop_case(L: Any) -> Callable[[], None]:
    """``nn.LSTMCell(16, 32)`` stepped in Python 20 times on a batch of 64, the last state into
    ``Linear(32, 3)``, cross-entropy, Adam."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    cell, head = nn.LSTMCell(16, 32), nn.Linear(32, 3)
    _, floats, ints = _data(L)
    xs, y = floats(20, 64, 16), ints(3, 64)

    def loss() -> Any:
        h, c = L.zeros(64, 32), L.zeros(64, 32)
        for t in range(20):
            h, c = cell(xs[t], (h, c))
        return F.cross_entropy(head(h), y)

    return _step(L.optim.Adam(list(cell.parameters()) + list(head.parameters())), loss)


def wide_cell_generator_case(L: Any) -> Callable[[], None]:
    """``nn.LSTMCell(64, 512)`` stepped in Python over 30 steps of one sequence (batch 1), a
    ``Linear(512, 64)`` on every step's state, the logits joined with ``cat``, cross-entropy, Adam:
    a character generator written with a cell. A wide weight used by few rows at every step."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    cell, head = nn.LSTMCell(64, 512), nn.Linear(512, 64)
    _, floats, ints = _data(L)
    xs, y = floats(30, 1, 64), ints(64, 30)

    def loss() -> Any:
        h, c = L.zeros(1, 512), L.zeros(1, 512)
        logits = []
        for t in range(30):
            h, c = cell(xs[t], (h, c))
            logits.append(head(h))
        return F.cross_entropy(L.cat(logits), y)

    return _step(L.optim.Adam(list(cell.parameters()) + list(head.parameters()), lr=1e-3), loss)


def projected_lstm_case(L: Any) -> Callable[[], None]:
    """``nn.LSTM(64, 256, proj_size=64, batch_first=True)`` (an LSTMP, as speech models use), batch 16,
    40 steps, the last step into ``Linear(64, 10)``, cross-entropy, Adam."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    lstm, head = nn.LSTM(64, 256, proj_size=64, batch_first=True), nn.Linear(64, 10)
    _, floats, ints = _data(L)
    x, y = floats(16, 40, 64), ints(10, 16)
    optimizer = L.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    return _step(optimizer, lambda: F.cross_entropy(head(lstm(x)[0][:, -1]), y))


def relu_rnn_case(L: Any) -> Callable[[], None]:
    """``nn.RNN(10, 50, 2, nonlinearity="relu")``, time-major, batch 8, 20 steps, the last output
    into ``Linear(50, 4)``, cross-entropy, SGD."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    rnn, head = nn.RNN(10, 50, 2, nonlinearity="relu"), nn.Linear(50, 4)
    _, floats, ints = _data(L)
    x, y = floats(20, 8, 10), ints(4, 8)
    optimizer = L.optim.SGD(list(rnn.parameters()) + list(head.parameters()), lr=0.01)
    return _step(optimizer, lambda: F.cross_entropy(head(rnn(x)[0][-1]), y))


def bilstm_tagger_case(L: Any) -> Callable[[], None]:
    """A sequence tagger: ``Embedding(3000, 50)``, a bidirectional ``nn.LSTM(50, 100,
    batch_first=True)``, ``Linear(200, 17)`` on every word, cross-entropy, Adam; 16 sentences of 40."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    embedding, head = nn.Embedding(3000, 50), nn.Linear(200, 17)
    lstm = nn.LSTM(50, 100, bidirectional=True, batch_first=True)
    _, _, ints = _data(L)
    x, y = ints(3000, 16, 40), ints(17, 16, 40)
    params = [p for m in (embedding, lstm, head) for p in m.parameters()]
    return _step(L.optim.Adam(params), lambda: F.cross_entropy(head(lstm(embedding(x))[0]).view(-1, 17), y.view(-1)))


def gru_seq2seq_case(L: Any) -> Callable[[], None]:
    """An encoder-decoder of two ``nn.GRU(128, 128, batch_first=True)``: the decoder fed the target
    words one step at a time (teacher forcing), ``Linear(128, 1000)`` and cross-entropy per step,
    Adam; batch 32, 15 words."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    words, hidden, batch, length = 1000, 128, 32, 15
    source_embedding, encoder = nn.Embedding(words, hidden), nn.GRU(hidden, hidden, batch_first=True)
    target_embedding, decoder = nn.Embedding(words, hidden), nn.GRU(hidden, hidden, batch_first=True)
    head = nn.Linear(hidden, words)
    modules = (source_embedding, encoder, target_embedding, decoder, head)
    _, _, ints = _data(L)
    source, target = ints(words, batch, length), ints(words, batch, length)

    def loss() -> Any:
        _, h = encoder(source_embedding(source))
        total = 0
        for t in range(length - 1):
            out, h = decoder(F.relu(target_embedding(target[:, t:t + 1])), h)
            total = total + F.cross_entropy(head(out[:, 0]), target[:, t + 1])
        return total

    return _step(L.optim.Adam([p for m in modules for p in m.parameters()], lr=1e-3), loss)


def mlp_case(L: Any) -> Callable[[], None]:
    """No recurrence: MNIST's MLP, ``Linear(784, 256)``, ReLU, ``Linear(256, 128)``, ReLU,
    ``Linear(128, 10)``, cross-entropy, Adam; batch 64."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    _, floats, ints = _data(L)
    x, y = floats(64, 784), ints(10, 64)
    return _step(L.optim.Adam(model.parameters(), lr=1e-3), lambda: F.cross_entropy(model(x), y))


USER_MODELS: dict[str, Callable[[Any], Callable[[], None]]] = {
    "one_feature_series": one_feature_series_case,
    "multivariate_series": multivariate_series_case,
    "gru_one_feature": gru_one_feature_case,
    "packed_gru_classifier": packed_gru_classifier_case,
    "char_lstm": char_lstm_case,
    "carried_state_lm": carried_state_lm_case,
    "lstm_cell_loop": lstm_cell_loop_case,
    "wide_cell_generator": wide_cell_generator_case,
    "projected_lstm": projected_lstm_case,
    "relu_rnn": relu_rnn_case,
    "bilstm_tagger": bilstm_tagger_case,
    "gru_seq2seq": gru_seq2seq_case,
    "mlp": mlp_case,
}
