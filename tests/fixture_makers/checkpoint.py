"""PyTorch parity fixture for checkpoints (checkpoint.npz): files that PyTorch wrote, and its outputs.

- ``model_file``: the bytes of ``safetensors.torch.save(twin.state_dict())`` for the twin
  ``LSTM(4, 8, num_layers=2) + Linear(8, 3)`` (seeded), with ``input`` and PyTorch's ``output``;
- ``dtypes_file``: float16, bfloat16, int64 and bool tensors as PyTorch writes them, with their
  values as float32/int64/bool arrays (``half``, ``bfloat16``, ``ints``, ``mask``).

tests/test_serialization_objects.py loads the files with mg.load, so "a PyTorch checkpoint loads
here and computes PyTorch's numbers" is checked where torch is not installed.

    .venv/bin/python tests/make_fixtures.py checkpoint
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make(fixtures_dir: Path) -> list[Path]:
    import safetensors.torch
    import torch

    torch.manual_seed(1)
    lstm, fc = torch.nn.LSTM(4, 8, num_layers=2), torch.nn.Linear(8, 3)
    state = {**{f"lstm.{k}": v for k, v in lstm.state_dict().items()},
             **{f"fc.{k}": v for k, v in fc.state_dict().items()}}
    x = np.random.default_rng(11).standard_normal((5, 2, 4)).astype(np.float32)  # (seq, batch, features)
    with torch.no_grad():
        output = fc(lstm(torch.from_numpy(x))[0]).numpy()

    values = torch.linspace(-3, 3, 7)
    dtypes = {"half": values.half(), "bfloat16": values.bfloat16(), "ints": torch.arange(-2, 3),
              "mask": torch.tensor([True, False, True])}
    path = fixtures_dir / "checkpoint.npz"
    np.savez_compressed(
        path,
        model_file=np.frombuffer(safetensors.torch.save(state), dtype=np.uint8),
        input=x, output=output,
        dtypes_file=np.frombuffer(safetensors.torch.save(dtypes), dtype=np.uint8),
        half=dtypes["half"].float().numpy(), bfloat16=dtypes["bfloat16"].float().numpy(),
        ints=dtypes["ints"].numpy(), mask=dtypes["mask"].numpy(),
    )
    return [path]
