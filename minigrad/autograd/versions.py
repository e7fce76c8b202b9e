"""Version counters: how a node notices that a value it saved for backward was changed in place.

Every tensor's memory has a counter that each in-place op bumps (``x.add_(1)``, ``x[0] = 2``);
views share the counter of the memory they view. When a node saves an input or its output for
backward, it notes that tensor's counter and its version at that moment; backward compares them
(``check_saved_versions``) and raises instead of computing a gradient from changed numbers, as
PyTorch does (the rules: ``ops/inplace.py``).

Example::

    >>> import minigrad as mg
    >>> x = mg.tensor([1.0, 2.0], requires_grad=True)
    >>> y = x.exp()                      # exp saves its output y
    >>> y.add_(1)._version
    1
    >>> try:
    ...     y.sum().backward()
    ... except RuntimeError as error:
    ...     print(str(error)[:64])
    one of the variables needed for gradient computation has been mo
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from minigrad.autograd.shared_tuples import INPUT_ROLES, OUTPUT_ROLES

if TYPE_CHECKING:
    from minigrad.autograd.function import Function
    from minigrad.tensor import Tensor


def version_counter(t: Tensor) -> list[int]:
    """The one-item list counting in-place changes of ``t``'s memory (made on first need).

    Example: ``version_counter(mg.zeros(2))`` -> ``[0]``.
    """
    counter = t._version_counter
    if counter is None:
        counter = t._version_counter = [0]
    return counter


def share_version_counter(outputs: Sequence[Tensor], source: Tensor) -> None:
    """Outputs of a view op that really share ``source``'s memory share its version counter too.

    Example: after ``v = x[0]``, ``v._version_counter is x._version_counter``.
    """
    base = source._array if source._array.base is None else source._array.base
    for t in outputs:
        if t._array.base is not None and (t._array.base is base or t._array.base is source._array):
            t._version_counter = version_counter(source)
            t._base = source if source._base is None else source._base


def bookkeeping_of_saved(saved: tuple, inputs: Sequence[Tensor | None], arrays: Sequence[np.ndarray | None],
                         outputs: Sequence[Tensor]) -> tuple:
    """What a node must know about the values it saved: which are inputs or outputs, at which version.

    Four items ``counter, version, role, k`` for each saved value ``saved[k]`` that is an input's
    or an output's memory, all in one flat tuple (one object for the node to keep, not one per
    value): that tensor's version counter and its version now; the role is ``("input", i)`` or
    ``("output", j)`` when the value *is* that array (``arrays[i]`` is input ``i``'s), ``("a view
    of input", i)`` when it is a view of it. Under ``create_graph=True`` the inputs and outputs
    among the saved values become Tensors in the graph (``Function._saved_as_tensors``). Arrays
    are matched by identity: a live array is never another one.

    Example: ``(x * y).grad_fn._saved_versions`` is
    ``(x's counter, 0, ("input", 0), 0, y's counter, 0, ("input", 1), 1)``.
    """
    entries = []
    n, m = len(arrays), len(outputs)
    for k, a in enumerate(saved):
        if type(a) is not np.ndarray:
            continue
        i = 0
        while i < n and a is not arrays[i]:
            i += 1
        if i < n:
            t = inputs[i]
            counter = t._version_counter or version_counter(t)
            entries += counter, counter[0], INPUT_ROLES[i] if i < len(INPUT_ROLES) else ("input", i), k
            continue
        j = 0
        while j < m and a is not outputs[j]._array:
            j += 1
        if j < m:
            role = OUTPUT_ROLES[j] if j < len(OUTPUT_ROLES) else ("output", j)
            entries += version_counter(outputs[j]), 0, role, k
            continue
        if a.base is not None:  # a view of an input (rare: checked last)
            i = 0
            while i < n and a.base is not arrays[i]:
                i += 1
            if i < n:
                t = inputs[i]
                counter = t._version_counter or version_counter(t)
                entries += counter, counter[0], ("a view of input", i), k
    return tuple(entries)


def check_saved_versions(fn: Function) -> None:
    """Raise PyTorch's error if a value ``fn`` saved was changed in place since (``bookkeeping_of_saved``).

    Example: see the module docstring.
    """
    versions = fn._saved_versions
    for at in range(0, len(versions), 4):
        if versions[at][0] != versions[at + 1]:  # (the counter's value against the version saved)
            counter, version, (kind, index), k = versions[at:at + 4]
            from minigrad.autograd.function import _where  # (only to word the error: function.py imports this module)

            value = fn._saved[k]
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: a {value.dtype} tensor of shape {value.shape}, which is {kind} {index} of "
                f"{_where(fn)}, is at version {counter[0]}; expected version {version} instead. Hint: "
                f"{fn.name} saved it for backward; change it only after backward, or use the out-of-place "
                "form of the in-place op (y = y + 1 instead of y.add_(1)), or .clone() the tensor before "
                "changing it."
            )
