"""The models of well-known PyTorch tutorials and examples, at their own shapes: held-out workloads.

None of these shapes was tuned for; ``benchmarks/models.py`` times them like its other models
(each framework in its own processes, interleaved blocks). Each case builds the model in ``L``
(``minigrad`` or ``torch``) and returns one train step: ``zero_grad``, forward, loss, backward,
optimizer step. Where a script's data or length would only make the run longer, the case says
what it shortened.

    .venv/bin/python benchmarks/models.py --only sine_cells mnist_rows
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _train_step(optimizer: Any, loss: Callable[[], Any]) -> Callable[[], None]:
    """The step the cases return; ``step.optimizer`` is its optimizer (for tests)."""
    def step() -> None:
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()

    step.optimizer = optimizer  # type: ignore[attr-defined]
    return step


def _floats(L: Any, a: np.ndarray) -> Any:
    return L.tensor(np.asarray(a, np.float32))


def sine_cells_case(L: Any) -> Callable[[], None]:
    """pytorch/examples' time_sequence_prediction: two ``LSTMCell(51)`` stepped in Python over sine
    waves, a ``Linear(51, 1)`` per step, MSE; batch 97. 100 steps of the example's 999, and Adam
    (lr 0.01) instead of its LBFGS, whose line search would time several forward passes per step."""
    nn = L.nn

    class Sequence(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, 51)
            self.lstm2 = nn.LSTMCell(51, 51)
            self.linear = nn.Linear(51, 1)

        def forward(self, input: Any) -> Any:
            outputs = []
            h_t, c_t, h_t2, c_t2 = (L.zeros(input.size(0), 51) for _ in range(4))
            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                outputs.append(self.linear(h_t2))
            return L.cat(outputs, dim=1)

    L.manual_seed(0)
    model = Sequence()
    waves = np.sin(np.arange(101)[None, :] / 20.0 + np.random.default_rng(0).integers(-80, 80, (97, 1)) / 20.0)
    input, target = _floats(L, waves[:, :-1]), _floats(L, waves[:, 1:])
    optimizer = L.optim.Adam(model.parameters(), lr=0.01)
    return _train_step(optimizer, lambda: L.nn.functional.mse_loss(model(input), target))


def _last_output_model(L: Any, input_size: int, hidden_size: int, outputs: int) -> Any:
    """The model of many tutorials: a batch-first ``LSTM``, then a ``Linear`` on its last step's output."""
    nn = L.nn

    class LastOutput(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
            self.linear = nn.Linear(hidden_size, outputs)

        def forward(self, x: Any) -> Any:
            output, _ = self.lstm(x)
            return self.linear(output[:, -1, :])

    return LastOutput()


def timeseries_case(L: Any) -> Callable[[], None]:
    """The airline-passengers style forecaster of many tutorials: ``LSTM(1, 50)`` batch-first over a
    window of 12 values, ``Linear(50, 1)`` on the last output, MSE, Adam; batch 1."""
    L.manual_seed(0)
    model = _last_output_model(L, 1, 50, 1)
    x, y = _floats(L, np.random.default_rng(0).standard_normal((1, 12, 1))), _floats(L, [[0.5]])
    optimizer = L.optim.Adam(model.parameters(), lr=1e-3)
    return _train_step(optimizer, lambda: L.nn.functional.mse_loss(model(x), y))


def mnist_rows_case(L: Any) -> Callable[[], None]:
    """The row-by-row MNIST classifier of many RNN tutorials: ``LSTM(28, 128)`` batch-first over the
    28 rows of an image, ``Linear(128, 10)`` on the last output, cross-entropy, Adam; batch 64
    (random images: the step's work does not depend on the pixels)."""
    L.manual_seed(0)
    model = _last_output_model(L, 28, 128, 10)
    rng = np.random.default_rng(0)
    x, y = _floats(L, rng.random((64, 28, 28))), L.tensor(rng.integers(0, 10, 64))
    optimizer = L.optim.Adam(model.parameters(), lr=1e-3)
    return _train_step(optimizer, lambda: L.nn.functional.cross_entropy(model(x), y))


def sentiment_case(L: Any) -> Callable[[], None]:
    """A sentiment classifier as in the IMDB tutorials: ``Embedding(5000, 100)``, a bidirectional
    ``LSTM(100, 64)`` batch-first over 50 tokens, ``Linear(128, 2)`` on both directions' last
    states, cross-entropy, Adam; batch 32."""
    nn = L.nn

    class Sentiment(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(5000, 100)
            self.lstm = nn.LSTM(100, 64, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(128, 2)

        def forward(self, tokens: Any) -> Any:
            _, (h_n, _) = self.lstm(self.embedding(tokens))
            return self.fc(L.cat((h_n[-2], h_n[-1]), dim=1))

    L.manual_seed(0)
    model = Sentiment()
    rng = np.random.default_rng(0)
    tokens, labels = L.tensor(rng.integers(0, 5000, (32, 50))), L.tensor(rng.integers(0, 2, 32))
    optimizer = L.optim.Adam(model.parameters(), lr=1e-3)
    return _train_step(optimizer, lambda: L.nn.functional.cross_entropy(model(tokens), labels))


def names_rnn_case(L: Any) -> Callable[[], None]:
    """The name classifier of pytorch/tutorials with ``nn.RNN``: ``RNN(57, 128)`` over a name of 8
    one-hot letters (batch 1), ``Linear(128, 18)`` on the last state, log-softmax, NLL, SGD."""
    nn = L.nn

    class CharRNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.RNN(57, 128)
            self.h2o = nn.Linear(128, 18)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, line: Any) -> Any:
            _, hidden = self.rnn(line)
            return self.softmax(self.h2o(hidden[0]))

    L.manual_seed(0)
    model = CharRNN()
    line = _floats(L, np.eye(57)[np.random.default_rng(0).integers(0, 57, 8)][:, None, :])
    criterion, label = nn.NLLLoss(), L.tensor([3])
    optimizer = L.optim.SGD(model.parameters(), lr=0.005)
    return _train_step(optimizer, lambda: criterion(model(line), label))


def gru_doc_case(L: Any) -> Callable[[], None]:
    """The ``nn.GRU`` example of PyTorch's documentation, trained: ``GRU(10, 20, 2)`` on ``(5, 3, 10)``
    with a given ``h0``, the mean square of the output as the loss, SGD."""
    L.manual_seed(0)
    gru = L.nn.GRU(10, 20, 2)
    rng = np.random.default_rng(0)
    x, h0 = _floats(L, rng.standard_normal((5, 3, 10))), _floats(L, rng.standard_normal((2, 3, 20)))
    optimizer = L.optim.SGD(gru.parameters(), lr=0.1)
    return _train_step(optimizer, lambda: gru(x, h0)[0].pow(2).mean())


def seq2seq_encoder_case(L: Any) -> Callable[[], None]:
    """The seq2seq tutorial's ``EncoderRNN``: ``Embedding(3000, 256)`` and ``GRU(256, 256)``
    batch-first over a sentence of 10 tokens (batch 1); the summed output as the loss, SGD."""
    nn = L.nn
    L.manual_seed(0)
    embedding, gru = nn.Embedding(3000, 256), nn.GRU(256, 256, batch_first=True)
    tokens = L.tensor(np.random.default_rng(0).integers(0, 3000, (1, 10)))
    optimizer = L.optim.SGD(list(embedding.parameters()) + list(gru.parameters()), lr=0.01)
    return _train_step(optimizer, lambda: gru(embedding(tokens))[0].sum())


def seq2seq_attention_case(L: Any) -> Callable[[], None]:
    """The seq2seq translation tutorial's whole model: ``EncoderRNN`` (``Embedding(4345, 128)``,
    dropout 0.1, ``GRU(128, 128)`` batch-first) and ``AttnDecoderRNN`` with Bahdanau attention
    (``Wa``, ``Ua``, ``Va``, ``tanh``, softmax, ``bmm``; ``GRU(256, 128)`` fed one step at a time,
    ``Linear(128, 2803)``), teacher forcing over 10 steps, log-softmax, NLL; batch 32, two Adams
    (lr 0.001), as the tutorial trains it."""
    nn, F = L.nn, L.nn.functional
    hidden, in_words, out_words, batch, steps = 128, 4345, 2803, 32, 10

    class EncoderRNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(in_words, hidden)
            self.gru = nn.GRU(hidden, hidden, batch_first=True)
            self.dropout = nn.Dropout(0.1)

        def forward(self, input: Any) -> tuple[Any, Any]:
            return self.gru(self.dropout(self.embedding(input)))

    class BahdanauAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.Wa, self.Ua, self.Va = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 1)

        def forward(self, query: Any, keys: Any) -> tuple[Any, Any]:
            scores = self.Va(L.tanh(self.Wa(query) + self.Ua(keys))).squeeze(2).unsqueeze(1)
            weights = F.softmax(scores, dim=-1)
            return L.bmm(weights, keys), weights

    class AttnDecoderRNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(out_words, hidden)
            self.attention = BahdanauAttention()
            self.gru = nn.GRU(2 * hidden, hidden, batch_first=True)
            self.out = nn.Linear(hidden, out_words)
            self.dropout = nn.Dropout(0.1)

        def forward(self, encoder_outputs: Any, encoder_hidden: Any, target: Any) -> Any:
            decoder_input = L.empty(batch, 1, dtype=L.long).fill_(0)  # SOS
            decoder_hidden, decoder_outputs = encoder_hidden, []
            for i in range(steps):
                embedded = self.dropout(self.embedding(decoder_input))
                context, _ = self.attention(decoder_hidden.permute(1, 0, 2), encoder_outputs)
                output, decoder_hidden = self.gru(L.cat((embedded, context), dim=2), decoder_hidden)
                decoder_outputs.append(self.out(output))
                decoder_input = target[:, i].unsqueeze(1)  # teacher forcing
            return F.log_softmax(L.cat(decoder_outputs, dim=1), dim=-1)

    L.manual_seed(0)
    encoder, decoder = EncoderRNN(), AttnDecoderRNN()
    rng = np.random.default_rng(0)
    source = L.tensor(rng.integers(1, in_words, (batch, steps)))
    target = L.tensor(rng.integers(1, out_words, (batch, steps)))
    encoder_optimizer = L.optim.Adam(encoder.parameters(), lr=0.001)
    decoder_optimizer = L.optim.Adam(decoder.parameters(), lr=0.001)

    def step() -> None:
        encoder_optimizer.zero_grad()
        decoder_optimizer.zero_grad()
        encoder_outputs, encoder_hidden = encoder(source)
        decoder_outputs = decoder(encoder_outputs, encoder_hidden, target)
        F.nll_loss(decoder_outputs.view(-1, out_words), target.view(-1)).backward()
        encoder_optimizer.step()
        decoder_optimizer.step()

    step.optimizer = decoder_optimizer  # type: ignore[attr-defined]
    return step


SCRIPT_MODELS: dict[str, Callable[[Any], Callable[[], None]]] = {
    "sine_cells": sine_cells_case,
    "timeseries": timeseries_case,
    "mnist_rows": mnist_rows_case,
    "sentiment": sentiment_case,
    "names_rnn": names_rnn_case,
    "gru_doc": gru_doc_case,
    "seq2seq_encoder": seq2seq_encoder_case,
    "seq2seq_attention": seq2seq_attention_case,
}
