"""``default_collate``: a list of samples -> one batch, with PyTorch's rules.

The rules, by the type of the first sample (every sample in a batch has the same structure):

- Tensor: ``mg.stack`` along a new first dimension;
- ndarray: each becomes a Tensor (same dtype), then stacked; NumPy scalars keep their dtype;
- Python float -> float64 tensor, int -> int64, bool -> bool (PyTorch's dtypes);
- str and bytes: kept as a list of them;
- dict (any Mapping): one batch per key, ``{key: collate([s[key] for s in samples])}``;
- namedtuple: the same namedtuple of collated fields;
- tuple or list: collated position by position into a *list* (PyTorch's choice for tuples too).

Example::

    >>> import minigrad as mg
    >>> from minigrad.utils.data import default_collate
    >>> batch = default_collate([(mg.ones(2), 0), (mg.zeros(2), 1)])
    >>> batch[0].shape, batch[1].tolist(), batch[1].dtype
    ((2, 2), [0, 1], dtype('int64'))
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableSequence, Sequence
from typing import Any

import numpy as np

from minigrad.ops.shape import stack
from minigrad.tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_UNSUPPORTED = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                "found {}")


def default_collate(batch: list[Any]) -> Any:
    """Stack a list of samples into a batch (see the module docstring for the rules).

    Example::

        >>> import numpy as np
        >>> from minigrad.utils.data import default_collate
        >>> out = default_collate([{"x": np.ones(3), "label": "cat"}, {"x": np.zeros(3), "label": "dog"}])
        >>> out["x"].shape, out["label"]
        ((2, 3), ['cat', 'dog'])
    """
    if not isinstance(batch, Sequence) or isinstance(batch, (str, bytes)) or len(batch) == 0:
        raise TypeError(f"default_collate: expected a non-empty list of samples, got {_describe(batch)}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(_UNSUPPORTED.format(elem.dtype))
        return _stack_tensors([Tensor(np.asarray(b)) for b in batch])
    if isinstance(elem, np.generic) and elem.dtype.kind in "biuf":
        return Tensor(np.asarray(batch, dtype=elem.dtype))
    if isinstance(elem, bool):  # before int: True is an int in Python
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        return _same_mapping_type(elem, collated)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError(f"default_collate: each element in list of batch should be of equal size, got "
                               f"lengths {[len(sample) for sample in batch]}")
        # (zip hands each column over as a tuple: a column of strings stays that tuple, as in PyTorch)
        columns = [default_collate(column) for column in zip(*batch)]
        if isinstance(elem, MutableSequence):  # a list (or list subclass) stays that type
            clone = copy.copy(elem)
            clone[:] = columns
            return clone
        return columns
    raise TypeError(_UNSUPPORTED.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Turn ndarrays (and NumPy scalars) into Tensors inside any structure, without batching.

    What a ``DataLoader`` with ``batch_size=None`` applies to each sample.

    Example::

        >>> import numpy as np
        >>> from minigrad.utils.data import default_convert
        >>> out = default_convert({"x": np.ones(2), "n": 3})
        >>> type(out["x"]).__name__, out["x"].dtype, out["n"]
        ('Tensor', dtype('float64'), 3)
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return Tensor(data) if data.dtype.kind in "biuf" else data
    if isinstance(data, np.generic) and data.dtype.kind in "biuf":
        return Tensor(np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, Mapping):
        return _same_mapping_type(data, {key: default_convert(value) for key, value in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence):
        converted = [default_convert(d) for d in data]
        if isinstance(data, MutableSequence):
            clone = copy.copy(data)
            clone[:] = converted
            return clone
        return converted
    return data


def _stack_tensors(batch: list[Any]) -> Tensor:
    """Stack along a new first dimension, with a collate-specific message for the two usual mistakes."""
    for i, t in enumerate(batch):
        if not isinstance(t, Tensor):
            raise TypeError(f"default_collate: sample 0 is a Tensor but sample {i} is a {type(t).__name__}; "
                            "every sample in a batch needs the same structure")
        if t.shape != batch[0].shape:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got "
                               f"{list(batch[0].shape)} at entry 0 and {list(t.shape)} at entry {i} (pad "
                               "variable-length samples in a collate_fn, e.g. with mg.nn.utils.rnn.pad_sequence)")
    if any(t.requires_grad for t in batch):
        return stack(batch, 0)  # the differentiable op, so gradients flow back to the samples
    # Data samples need no graph: NumPy stacks them directly (and promotes mixed dtypes, as PyTorch's stack).
    return Tensor(np.stack([t._array for t in batch]))


def _same_mapping_type(template: Mapping, items: dict) -> Mapping:
    """A collated dict of the sample's own mapping type when that type can be built from a dict."""
    if type(template) is dict:
        return items
    try:
        return type(template)(items)
    except TypeError:  # a Mapping whose constructor wants something else: a plain dict, as PyTorch
        return items


def _describe(value: Any) -> str:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return f"an empty {type(value).__name__}"
    return f"a {type(value).__name__}"
