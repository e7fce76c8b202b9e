"""How tensors print: PyTorch's ``torch.set_printoptions``.

``repr(tensor)`` formats its values with NumPy's ``array2string`` under these options. minigrad's
defaults: 4 digits after the point, arrays of more than 200 values summarised with 3 items at each
edge, lines of 75 characters, scientific notation when NumPy finds it clearer. PyTorch's three
``profile`` names set several options at once (``"default"``: these defaults).

Example::

    >>> import minigrad as mg
    >>> mg.set_printoptions(precision=2)
    >>> mg.tensor([1.23456])
    tensor([1.23])
    >>> mg.set_printoptions(profile="default")
    >>> mg.tensor([1.23456])
    tensor([1.2346])
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

DEFAULTS: dict[str, Any] = {"precision": 4, "threshold": 200, "edgeitems": 3, "linewidth": 75, "sci_mode": None}
PROFILES: dict[str, dict[str, Any]] = {
    "default": DEFAULTS,
    "short": {"precision": 2, "threshold": DEFAULTS["threshold"], "edgeitems": 2, "linewidth": DEFAULTS["linewidth"]},
    "full": {"precision": 4, "threshold": sys.maxsize, "edgeitems": 3, "linewidth": DEFAULTS["linewidth"]},
}
OPTIONS: dict[str, Any] = dict(DEFAULTS)


def set_printoptions(precision: int | None = None, threshold: int | None = None, edgeitems: int | None = None,
                     linewidth: int | None = None, profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print; the arguments given change, the others stay (``profile`` first).

    ``precision`` digits after the point; ``threshold`` values beyond which an array is summarised,
    ``edgeitems`` values shown at each edge then; ``linewidth`` characters per line; ``sci_mode``
    True or False forces scientific notation on or off (None: NumPy's choice); ``profile`` one of
    ``"default"``, ``"short"``, ``"full"``.

    Example::

        >>> import minigrad as mg
        >>> mg.set_printoptions(sci_mode=True)
        >>> mg.tensor([1500.0])
        tensor([1.5000e+03])
        >>> mg.set_printoptions(profile="default")
    """
    if profile is not None:
        if profile not in PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}; expected one of {tuple(PROFILES)}")
        OPTIONS.update(PROFILES[profile])
        OPTIONS["sci_mode"] = None
    for name, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                        ("linewidth", linewidth)):
        if value is None:
            continue
        least = 1 if name == "linewidth" else 0
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"set_printoptions: {name} must be a non-negative int"
                             f"{' (at least 1)' if name == 'linewidth' else ''}, got {value!r}")
        OPTIONS[name] = int(value)
    if sci_mode is not None:
        if not isinstance(sci_mode, bool):
            raise ValueError(f"set_printoptions: sci_mode must be True, False or None, got {sci_mode!r}")
        OPTIONS["sci_mode"] = sci_mode


def format_values(array: np.ndarray, prefix: str) -> str:
    """``array``'s values as ``repr`` shows them, under ``OPTIONS``.

    Example::

        >>> format_values(np.array([1 / 3, 2.0]), "tensor(")
        '[0.3333, 2.    ]'
    """
    precision, sci = OPTIONS["precision"], OPTIONS["sci_mode"]
    formatter = None
    if sci is True and array.dtype.kind == "f":
        formatter = {"float_kind": lambda v: f"{v:.{precision}e}"}
    return np.array2string(array, separator=", ", precision=precision, threshold=OPTIONS["threshold"],
                           edgeitems=OPTIONS["edgeitems"], max_line_width=OPTIONS["linewidth"], prefix=prefix,
                           suppress_small=sci is False, formatter=formatter)
