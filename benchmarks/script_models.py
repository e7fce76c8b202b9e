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


def names_generation_case(L: Any) -> Callable[[], None]:
    """The "NLP From Scratch: Generating Names" tutorial: an RNN of three ``nn.Linear`` over the
    category, the letter and the hidden state, dropout 0.1, ``LogSoftmax``, ``NLLLoss`` summed over
    the letters with ``loss += l``, and its hand-written update ``p.data.add_(p.grad.data,
    alpha=-lr)``; one name ("Hinton", 6 letters) per step, as the tutorial trains."""
    nn = L.nn
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;'-"
    n_letters, n_categories, learning_rate = len(letters) + 1, 18, 0.0005

    class RNN(nn.Module):
        def __init__(self, input_size: int, hidden_size: int, output_size: int) -> None:
            super().__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
            self.o2o = nn.Linear(hidden_size + output_size, output_size)
            self.dropout = nn.Dropout(0.1)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, category: Any, input: Any, hidden: Any) -> tuple[Any, Any]:
            input_combined = L.cat((category, input, hidden), 1)
            hidden = self.i2h(input_combined)
            output = self.i2o(input_combined)
            output = self.o2o(L.cat((hidden, output), 1))
            return self.softmax(self.dropout(output)), hidden

    L.manual_seed(0)
    rnn, criterion, name = RNN(n_letters, 128, n_letters), nn.NLLLoss(), "Hinton"
    category_tensor = L.zeros(1, n_categories)
    category_tensor[0][3] = 1
    input_line_tensor = L.zeros(len(name), 1, n_letters)
    for li in range(len(name)):
        input_line_tensor[li][0][letters.find(name[li])] = 1
    target_line_tensor = L.LongTensor([letters.find(c) for c in name[1:]] + [n_letters - 1]).unsqueeze_(-1)

    def step() -> None:
        hidden = L.zeros(1, rnn.hidden_size)
        rnn.zero_grad()
        loss = L.Tensor([0])
        for i in range(input_line_tensor.size(0)):
            output, hidden = rnn(category_tensor, input_line_tensor[i], hidden)
            loss += criterion(output, target_line_tensor[i])
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)

    step.parameters = list(rnn.parameters())  # type: ignore[attr-defined]
    return step


def pos_tagger_case(L: Any) -> Callable[[], None]:
    """The "Sequence Models and LSTM Networks" tutorial's part-of-speech tagger: ``Embedding(9, 6)``,
    ``LSTM(6, 6)`` on one sentence (batch 1), ``Linear(6, 3)``, ``log_softmax``, ``NLLLoss``, SGD
    (lr 0.1); one step is one pass over its two training sentences."""
    nn, F = L.nn, L.nn.functional
    training_data = [("The dog ate the apple".split(), ["DET", "NN", "V", "DET", "NN"]),
                     ("Everybody read that book".split(), ["NN", "V", "DET", "NN"])]
    word_to_ix: dict[str, int] = {}
    for sent, _ in training_data:
        for word in sent:
            word_to_ix.setdefault(word, len(word_to_ix))
    tag_to_ix = {"DET": 0, "NN": 1, "V": 2}

    class LSTMTagger(nn.Module):
        def __init__(self, embedding_dim: int, hidden_dim: int, vocab_size: int, tagset_size: int) -> None:
            super().__init__()
            self.word_embeddings = nn.Embedding(vocab_size, embedding_dim)
            self.lstm = nn.LSTM(embedding_dim, hidden_dim)
            self.hidden2tag = nn.Linear(hidden_dim, tagset_size)

        def forward(self, sentence: Any) -> Any:
            embeds = self.word_embeddings(sentence)
            lstm_out, _ = self.lstm(embeds.view(len(sentence), 1, -1))
            tag_space = self.hidden2tag(lstm_out.view(len(sentence), -1))
            return F.log_softmax(tag_space, dim=1)

    L.manual_seed(1)
    model = LSTMTagger(6, 6, len(word_to_ix), len(tag_to_ix))
    loss_function, optimizer = nn.NLLLoss(), L.optim.SGD(model.parameters(), lr=0.1)

    def step() -> None:
        for sentence, tags in training_data:
            model.zero_grad()
            sentence_in = L.tensor([word_to_ix[w] for w in sentence], dtype=L.long)
            targets = L.tensor([tag_to_ix[t] for t in tags], dtype=L.long)
            loss_function(model(sentence_in), targets).backward()
            optimizer.step()

    step.optimizer = optimizer  # type: ignore[attr-defined]
    return step


def _d2l_batch(L: Any, vocab_size: int, batch_size: int, num_steps: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    return (L.tensor(rng.integers(0, vocab_size, (batch_size, num_steps))),
            L.tensor(rng.integers(0, vocab_size, (batch_size, num_steps))))


def _d2l_grad_clipping(params: list, theta: float, L: Any) -> None:
    norm = L.sqrt(sum(L.sum(p.grad ** 2) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm


def _d2l_train_step(L: Any, model: Callable, begin_state: Callable, params: list, vocab_size: int,
                    batch_size: int, num_steps: int, lr: float) -> Callable[[], None]:
    """One batch of d2l's ``train_epoch_ch8`` for a model written from scratch: ``one_hot`` inputs,
    cross-entropy, its gradient clipping by hand, and its SGD ``param -= lr * param.grad /
    batch_size`` under ``no_grad`` (d2l passes a batch size of 1 there: the loss is a mean)."""
    F = L.nn.functional
    loss = L.nn.CrossEntropyLoss()
    X, Y = _d2l_batch(L, vocab_size, batch_size, num_steps)

    def step() -> None:
        y_hat, _ = model(F.one_hot(X.T, vocab_size).type(L.float32), begin_state())
        loss(y_hat, Y.T.reshape(-1).long()).mean().backward()
        _d2l_grad_clipping(params, 1, L)
        with L.no_grad():
            for param in params:
                param -= lr * param.grad / 1
                param.grad.zero_()

    step.parameters = params  # type: ignore[attr-defined]
    return step


def d2l_scratch_case(L: Any) -> Callable[[], None]:
    """Dive into Deep Learning's RNN from scratch (section 9.5): parameters as plain tensors,
    ``one_hot`` inputs, ``tanh(X W_xh + H W_hh + b_h)`` stepped in Python with ``torch.mm``, a
    28-letter vocabulary, 512 hidden units, batch 32 by 35 steps, cross-entropy, gradient clipping
    by hand, and its SGD ``param -= lr * param.grad / batch_size`` under ``no_grad``."""
    vocab_size, num_hiddens, batch_size, num_steps, lr = 28, 512, 32, 35, 1.0
    L.manual_seed(0)
    params = [L.randn(size=(vocab_size, num_hiddens)) * 0.01, L.randn(size=(num_hiddens, num_hiddens)) * 0.01,
              L.zeros(num_hiddens), L.randn(size=(num_hiddens, vocab_size)) * 0.01, L.zeros(vocab_size)]
    for param in params:
        param.requires_grad_(True)

    def rnn(inputs: Any, state: tuple, params: list) -> tuple[Any, tuple]:
        W_xh, W_hh, b_h, W_hq, b_q = params
        H, = state
        outputs = []
        for X in inputs:
            H = L.tanh(L.mm(X, W_xh) + L.mm(H, W_hh) + b_h)
            outputs.append(L.mm(H, W_hq) + b_q)
        return L.cat(outputs, dim=0), (H,)

    return _d2l_train_step(L, lambda inputs, state: rnn(inputs, state, params),
                           lambda: (L.zeros((batch_size, num_hiddens)),), params, vocab_size, batch_size,
                           num_steps, lr)


def d2l_lstm_scratch_case(L: Any) -> Callable[[], None]:
    """Dive into Deep Learning's LSTM from scratch (section 10.1): twelve parameter tensors, the
    gates ``sigmoid(X W_x + H W_h + b)`` and ``tanh`` stepped in Python with ``@``, 256 hidden
    units, a 28-letter vocabulary, batch 32 by 35 steps, cross-entropy, gradient clipping and SGD
    by hand, as ``d2l_scratch``."""
    vocab_size, num_hiddens, batch_size, num_steps, lr = 28, 256, 32, 35, 1.0
    L.manual_seed(0)

    def three() -> tuple[Any, Any, Any]:
        return (L.randn(vocab_size, num_hiddens) * 0.01, L.randn(num_hiddens, num_hiddens) * 0.01,
                L.zeros(num_hiddens))

    W_xi, W_hi, b_i = three()  # input gate
    W_xf, W_hf, b_f = three()  # forget gate
    W_xo, W_ho, b_o = three()  # output gate
    W_xc, W_hc, b_c = three()  # input node
    W_hq, b_q = L.randn(num_hiddens, vocab_size) * 0.01, L.zeros(vocab_size)
    params = [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q]
    for param in params:
        param.requires_grad_(True)

    def lstm(inputs: Any, state: tuple) -> tuple[Any, tuple]:
        H, C = state
        outputs = []
        for X in inputs:
            I = L.sigmoid((X @ W_xi) + (H @ W_hi) + b_i)  # noqa: E741 - d2l's names
            F_ = L.sigmoid((X @ W_xf) + (H @ W_hf) + b_f)
            O = L.sigmoid((X @ W_xo) + (H @ W_ho) + b_o)
            C_tilde = L.tanh((X @ W_xc) + (H @ W_hc) + b_c)
            C = F_ * C + I * C_tilde
            H = O * L.tanh(C)
            outputs.append((H @ W_hq) + b_q)
        return L.cat(outputs, dim=0), (H, C)

    return _d2l_train_step(L, lstm, lambda: (L.zeros((batch_size, num_hiddens)), L.zeros((batch_size, num_hiddens))),
                           params, vocab_size, batch_size, num_steps, lr)


def d2l_concise_case(L: Any) -> Callable[[], None]:
    """Dive into Deep Learning's concise RNN (section 9.6): ``nn.RNN(28, 256)`` on ``one_hot``
    inputs, ``Linear(256, 28)``, cross-entropy, its gradient clipping by hand, SGD (lr 1); batch 32
    by 35 steps."""
    nn, F = L.nn, L.nn.functional
    vocab_size, num_hiddens, batch_size, num_steps = 28, 256, 32, 35

    class RNNModel(nn.Module):
        def __init__(self, rnn_layer: Any, vocab_size: int) -> None:
            super().__init__()
            self.rnn, self.vocab_size = rnn_layer, vocab_size
            self.num_hiddens = self.rnn.hidden_size
            self.linear = nn.Linear(self.num_hiddens, self.vocab_size)

        def forward(self, inputs: Any, state: Any) -> tuple[Any, Any]:
            X = F.one_hot(inputs.T.long(), self.vocab_size).to(L.float32)
            Y, state = self.rnn(X, state)
            return self.linear(Y.reshape((-1, Y.shape[-1]))), state

    L.manual_seed(0)
    net = RNNModel(nn.RNN(vocab_size, num_hiddens), vocab_size)
    loss, updater = nn.CrossEntropyLoss(), L.optim.SGD(net.parameters(), 1)
    X, Y = _d2l_batch(L, vocab_size, batch_size, num_steps)

    def step() -> None:
        state = L.zeros((net.rnn.num_layers, batch_size, num_hiddens))
        y_hat, state = net(X, state)
        updater.zero_grad()
        loss(y_hat, Y.T.reshape(-1).long()).mean().backward()
        _d2l_grad_clipping([p for p in net.parameters() if p.requires_grad], 1, L)
        updater.step()

    step.optimizer = updater  # type: ignore[attr-defined]
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
    "names_generation": names_generation_case,
    "pos_tagger": pos_tagger_case,
    "d2l_scratch": d2l_scratch_case,
    "d2l_lstm_scratch": d2l_lstm_scratch_case,
    "d2l_concise": d2l_concise_case,
}
