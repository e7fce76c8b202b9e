"""PyTorch parity fixtures for mg.utils.data (data.npz): what torch.utils.data makes of fixed inputs.

- ``collate``: ``default_collate`` of every batch in ``COLLATE_CASES`` (numbers, NumPy scalars and
  arrays, tensors of several dtypes, strings, tuples, lists, dicts, namedtuples, nesting);
- ``loader``: the batches of a sequential ``DataLoader`` for every configuration in ``LOADER_CASES``;
- ``split``: the part lengths ``random_split`` gives for every case in ``SPLIT_CASES``.

Every output is flattened by ``describe`` into ``[path, kind, dtype, shape, values]`` rows, which
are the same whichever library made them; the fixture stores them as one JSON string. The live test
(tests/test_utils_data.py) runs the same cases on the installed torch.

    .venv/bin/python tests/make_fixtures.py data
"""

from __future__ import annotations

import json
from collections import namedtuple
from pathlib import Path
from typing import Any

import numpy as np

Point = namedtuple("Point", ["x", "y"])


def collate_cases(lib: Any) -> dict[str, list]:
    """Batches (lists of samples) built with ``lib`` (torch or minigrad): name -> batch."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    return {
        "ints": [1, 2, 3],
        "floats": [0.5, 1.5],
        "bools": [True, False],
        "np_float32_scalars": [np.float32(1.5), np.float32(2.5)],
        "np_int16_arrays": [np.arange(3, dtype=np.int16), np.arange(3, 6, dtype=np.int16)],
        "np_float64_arrays": [a, b],
        "float32_tensors": [lib.tensor(a.astype(np.float32)), lib.tensor(b.astype(np.float32))],
        "int64_scalar_tensors": [lib.tensor(3), lib.tensor(4)],
        "strings": ["cat", "dog"],
        "tuples": [(lib.tensor([1.0, 2.0]), 0), (lib.tensor([3.0, 4.0]), 1)],
        "lists": [[1, 2.0, "a"], [3, 4.0, "b"]],
        "dicts": [{"x": np.ones(2), "label": 3, "name": "a"}, {"x": np.zeros(2), "label": 4, "name": "b"}],
        "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
        "nested": [{"seq": [(1, [0.5])], "meta": {"id": 7}}, {"seq": [(2, [1.5])], "meta": {"id": 8}}],
    }


# name -> DataLoader keyword arguments (dataset: a TensorDataset of 7 rows, see loader_dataset)
LOADER_CASES: dict[str, dict[str, Any]] = {
    "bs1": {},
    "bs3": {"batch_size": 3},
    "bs3_drop_last": {"batch_size": 3, "drop_last": True},
    "bs7": {"batch_size": 7},
    "bs10_drop_last": {"batch_size": 10, "drop_last": True},
    "no_batching": {"batch_size": None},
}

# name -> (dataset length, lengths)
SPLIT_CASES: dict[str, tuple[int, list]] = {
    "counts": (10, [3, 7]),
    "fractions_exact": (10, [0.5, 0.3, 0.2]),
    "fractions_remainder": (11, [0.3, 0.3, 0.4]),
    "fractions_round_robin": (7, [0.25, 0.25, 0.25, 0.25]),
    "one_zero": (5, [1, 0]),
}


def loader_dataset(lib: Any) -> Any:
    """A TensorDataset of 7 rows: float features (7, 2) and int labels (7,)."""
    x = np.arange(14, dtype=np.float32).reshape(7, 2)
    return lib.utils.data.TensorDataset(lib.tensor(x), lib.tensor(np.arange(7) % 3))


def describe(value: Any, path: str = "") -> list[list]:
    """A library-independent description: one ``[path, kind, dtype, shape, values]`` row per leaf."""
    kind = type(value).__name__
    if hasattr(value, "numpy") and hasattr(value, "shape") and not isinstance(value, np.ndarray):
        array = value.detach().numpy() if hasattr(value, "detach") else value.numpy()
        return [[path, "tensor", str(array.dtype), list(array.shape), array.tolist()]]
    if isinstance(value, dict):
        rows = [[path, "dict", "", [len(value)], list(value)]]
        for k, v in value.items():
            rows += describe(v, f"{path}[{k!r}]")
        return rows
    if isinstance(value, (list, tuple)):
        kind = "namedtuple" if hasattr(value, "_fields") else kind
        rows = [[path, kind, "", [len(value)], []]]
        for i, v in enumerate(value):
            rows += describe(v, f"{path}[{i}]")
        return rows
    return [[path, kind, "", [], [value]]]


def run(lib: Any) -> dict[str, list]:
    """Every case of this file run with ``lib``: section/name -> description rows."""
    data = lib.utils.data
    out: dict[str, list] = {}
    for name, batch in collate_cases(lib).items():
        out[f"collate/{name}"] = describe(data.default_collate(batch))
    for name, kwargs in LOADER_CASES.items():
        loader = data.DataLoader(loader_dataset(lib), **kwargs)
        out[f"loader/{name}"] = [[len(loader)]] + describe(list(loader))
    for name, (n, lengths) in SPLIT_CASES.items():
        parts = data.random_split(range(n), lengths, generator=lib.Generator().manual_seed(0))
        out[f"split/{name}"] = [len(p) for p in parts]
    return out


def make(fixtures_dir: Path) -> list[Path]:
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # random_split's "a split is empty" warning, expected here
        results = run(torch)
    path = fixtures_dir / "data.npz"
    np.savez_compressed(path, results=np.array(json.dumps(results)))
    return [path]
