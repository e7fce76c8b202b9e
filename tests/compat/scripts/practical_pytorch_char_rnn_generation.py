# Source: https://github.com/spro/practical-pytorch/tree/master/char-rnn-generation
#         (train.py, with model.py, helpers.py and generate.py inlined)
# License: MIT (Copyright (c) 2017 Sean Robertson)
# Edits (model, loss, optimizer and training loop are verbatim except for edit 3):
#   1. model.py, helpers.py and generate.py inlined in place of `from helpers/model/generate import *`;
#      generate.py's command-line `__main__` block dropped.
#   2. Data: instead of `read_file(args.filename)` (a text file through unidecode), the text is an in-file
#      string; the positional `filename` argument is gone and the checkpoint is written to a temp folder.
#   3. Ported to PyTorch >= 0.4 in the two places the original no longer runs: `loss.data[0]` ->
#      `loss.item()` (indexing a 0-d tensor is an error) and `criterion(output, target[c])` ->
#      `criterion(output, target[c].unsqueeze(0))` (CrossEntropyLoss needs the batch dimension on the target).
#   4. Sizes: n_epochs 2000->160, print_every 100->20, hidden_size 50->32, chunk_len 200->30; the sample
#      printed every print_every epochs is 20 characters instead of 100.
#   5. Seeds fixed (random.seed(1), torch.manual_seed(0)); with seed 1 no chunk starts at the very end of the text
#      (the original random_training_set then returns a chunk one character short and train() fails).

import torch
import torch.nn as nn
from torch.autograd import Variable
import argparse
import os
import tempfile

# --- helpers.py -----------------------------------------------------------------------------------
import string
import random
import time
import math

# Reading and un-unicode-encoding data

all_characters = string.printable
n_characters = len(all_characters)

TEXT = """The river runs past the old mill and under the stone bridge. In the morning the baker opens his shop,
and the smell of bread fills the narrow street. Children walk to school along the river, and the
teacher waits for them at the gate. When the bell rings, they go inside and sit at their desks.
In the afternoon the wind comes down from the hills, and the boats on the river turn their sails.
The fisherman mends his nets on the bank and sings an old song about the sea. When the sun goes
down, the lamps are lit one by one, and the town grows quiet. The baker closes his shop, the teacher
walks home along the river, and the fisherman pulls his boat onto the sand. Then the night comes,
and the river runs on past the old mill and under the stone bridge, as it has always done.
"""

def read_file(filename):
    file = TEXT
    return file, len(file)

# Turning a string into a tensor

def char_tensor(string):
    tensor = torch.zeros(len(string)).long()
    for c in range(len(string)):
        tensor[c] = all_characters.index(string[c])
    return Variable(tensor)

# Readable time elapsed

def time_since(since):
    s = time.time() - since
    m = math.floor(s / 60)
    s -= m * 60
    return '%dm %ds' % (m, s)

# --- model.py -------------------------------------------------------------------------------------
class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, n_layers=1):
        super(RNN, self).__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = output_size
        self.n_layers = n_layers

        self.encoder = nn.Embedding(input_size, hidden_size)
        self.gru = nn.GRU(hidden_size, hidden_size, n_layers)
        self.decoder = nn.Linear(hidden_size, output_size)

    def forward(self, input, hidden):
        input = self.encoder(input.view(1, -1))
        output, hidden = self.gru(input.view(1, 1, -1), hidden)
        output = self.decoder(output.view(1, -1))
        return output, hidden

    def init_hidden(self):
        return Variable(torch.zeros(self.n_layers, 1, self.hidden_size))

# --- generate.py ----------------------------------------------------------------------------------
def generate(decoder, prime_str='A', predict_len=100, temperature=0.8):
    hidden = decoder.init_hidden()
    prime_input = char_tensor(prime_str)
    predicted = prime_str

    # Use priming string to "build up" hidden state
    for p in range(len(prime_str) - 1):
        _, hidden = decoder(prime_input[p], hidden)
        
    inp = prime_input[-1]
    
    for p in range(predict_len):
        output, hidden = decoder(inp, hidden)
        
        # Sample from the network as a multinomial distribution
        output_dist = output.data.view(-1).div(temperature).exp()
        top_i = torch.multinomial(output_dist, 1)[0]
        
        # Add predicted character to string and use as next input
        predicted_char = all_characters[top_i]
        predicted += predicted_char
        inp = char_tensor(predicted_char)

    return predicted

# --- train.py -------------------------------------------------------------------------------------
random.seed(1)
torch.manual_seed(0)
_out_dir = tempfile.mkdtemp(prefix='charrnn_')

# Parse command line arguments
argparser = argparse.ArgumentParser()
argparser.add_argument('--n_epochs', type=int, default=160)
argparser.add_argument('--print_every', type=int, default=20)
argparser.add_argument('--hidden_size', type=int, default=32)
argparser.add_argument('--n_layers', type=int, default=2)
argparser.add_argument('--learning_rate', type=float, default=0.01)
argparser.add_argument('--chunk_len', type=int, default=30)
args = argparser.parse_args()
args.filename = os.path.join(_out_dir, 'text.txt')

file, file_len = read_file(args.filename)

def random_training_set(chunk_len):
    start_index = random.randint(0, file_len - chunk_len)
    end_index = start_index + chunk_len + 1
    chunk = file[start_index:end_index]
    inp = char_tensor(chunk[:-1])
    target = char_tensor(chunk[1:])
    return inp, target

decoder = RNN(n_characters, args.hidden_size, n_characters, args.n_layers)
decoder_optimizer = torch.optim.Adam(decoder.parameters(), lr=args.learning_rate)
criterion = nn.CrossEntropyLoss()

start = time.time()
all_losses = []
loss_avg = 0

def train(inp, target):
    hidden = decoder.init_hidden()
    decoder.zero_grad()
    loss = 0

    for c in range(args.chunk_len):
        output, hidden = decoder(inp[c], hidden)
        loss += criterion(output, target[c].unsqueeze(0))

    loss.backward()
    decoder_optimizer.step()

    return loss.item() / args.chunk_len

def save():
    save_filename = os.path.splitext(os.path.basename(args.filename))[0] + '.pt'
    save_filename = os.path.join(_out_dir, save_filename)
    torch.save(decoder, save_filename)
    print('Saved as %s' % save_filename)

try:
    print("Training for %d epochs..." % args.n_epochs)
    for epoch in range(1, args.n_epochs + 1):
        loss = train(*random_training_set(args.chunk_len))
        loss_avg += loss

        if epoch % args.print_every == 0:
            print('[%s (%d %d%%) %.4f]' % (time_since(start), epoch, epoch / args.n_epochs * 100, loss))
            print(generate(decoder, 'Wh', 20), '\n')

    print("Saving...")
    save()

except KeyboardInterrupt:
    print("Saving before quit...")
    save()
