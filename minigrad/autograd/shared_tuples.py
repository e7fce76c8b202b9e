"""The tuples graph nodes keep, shared between nodes wherever their contents repeat.

Rule: a node's ``input_meta`` entries (each input's ``(shape, dtype)``), its whole ``input_meta``
and ``needs_input_grad``, and the roles of its saved values (``("input", 0)``) are taken from here,
not made anew. Why: a model stepped in Python keeps thousands of nodes alive
until backward, and every tuple they keep is an allocation that Python's cycle collector counts.
It runs a collection every few hundred of them, and now and then a full one over every object of
the process (Numba's objects included), which PyTorch, whose graph is C++, never pays. What this
saves, and what it costs a small op, is measured in ``docs/performance.md``.

The shared ``(shape, dtype)`` are looked up by shape alone (cheaper than hashing a dtype) and taken
when their dtype is the very same object; a shape met with another dtype gets a new entry. Each
table forgets all it holds when it outgrows ``SHARED_MAX``: varying shapes cannot grow it.

Example::

    >>> shared_meta((2, 3), np.dtype(np.float32)) is shared_meta((2, 3), np.dtype(np.float32))
    True
"""

from __future__ import annotations

import numpy as np

ONE_NEEDS = ((False,), (True,))  # needs_input_grad of a one-input node, by whether its input needs grad
ONE_METAS: dict[tuple, tuple] = {}  # shape -> the input_meta ((shape, dtype),) of a one-input node
METAS: dict[tuple, tuple] = {}  # shape -> (shape, dtype): one entry of a longer input_meta
TWO_NEEDS = (((False, False), (False, True)), ((True, False), (True, True)))  # a two-input node's, [a needs][b needs]
TWO_METAS: dict[tuple, tuple] = {}  # (shape of a, shape of b) -> the input_meta of a two-input node
INPUT_ROLES = tuple(("input", i) for i in range(8))  # the roles of saved values (Function._saved_versions)
OUTPUT_ROLES = tuple(("output", j) for j in range(8))
NEEDS: dict[tuple, tuple] = {}  # needs_input_grad of a node of several inputs, by value
INPUT_METAS: dict[tuple, tuple] = {}  # input_meta of a node of several inputs (a tuple of METAS entries), by value
SHARED_MAX = 4096


def share(table: dict[tuple, tuple], shape: tuple, value: tuple) -> tuple:
    """Remember ``value`` as ``table``'s shared tuple for ``shape``; returns it.

    Example::

        >>> share({}, (2,), ((2,), np.dtype(np.float64)))
        ((2,), dtype('float64'))
    """
    if len(table) >= SHARED_MAX:
        table.clear()
    table[shape] = value
    return value


def shared_meta(shape: tuple, dtype: np.dtype) -> tuple:
    """The shared ``(shape, dtype)``, made by the first node to meet them (or after another dtype).

    Example::

        >>> shared_meta((4,), np.dtype(np.int64))
        ((4,), dtype('int64'))
    """
    meta = METAS.get(shape)
    if meta is not None and meta[1] is dtype:
        return meta
    return share(METAS, shape, (shape, dtype))


def shared_value(table: dict[tuple, tuple], value: tuple) -> tuple:
    """The tuple of ``table`` equal to ``value``: ``value`` itself the first time it is met.

    Example::

        >>> table = {}
        >>> shared_value(table, (True, False)) is shared_value(table, (True, False))
        True
    """
    kept = table.get(value)
    if kept is not None:
        return kept
    if len(table) >= SHARED_MAX:
        table.clear()
    table[value] = value
    return value


def two_metas(shapes: tuple, dtype_a: np.dtype, dtype_b: np.dtype) -> tuple:
    """The shared ``input_meta`` of a two-input node, made by the first node to meet its shapes and dtypes.

    Example::

        >>> two_metas(((2,), (3,)), np.dtype(np.float32), np.dtype(np.float32))[1]
        ((3,), dtype('float32'))
    """
    return share(TWO_METAS, shapes, (shared_meta(shapes[0], dtype_a), shared_meta(shapes[1], dtype_b)))
