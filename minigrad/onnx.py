"""``torch.onnx``: importable, so scripts that import it at the top run; exporting is not offered.

Example::

    >>> import minigrad.onnx
    >>> minigrad.onnx.export(None, None, "model.onnx")      # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    NotImplementedError: minigrad does not implement torch.onnx.export; ...
"""

from __future__ import annotations

from typing import Any

from minigrad.errors import COMPAT_PAGE


def export(*args: Any, **kwargs: Any) -> None:
    """Refused: minigrad has no ONNX exporter. Run the script with ``import torch`` to export."""
    raise NotImplementedError(
        f"minigrad does not implement torch.onnx.export; to export a model, save its state_dict with mg.save, "
        f"load it into the same model under PyTorch (swap the import back) and export there. See {COMPAT_PAGE}")
