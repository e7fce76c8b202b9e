"""Devices: minigrad runs on the CPU, and says so clearly when a script asks for anything else.

PyTorch scripts choose a device at the top (``device = torch.device("cuda" if
torch.cuda.is_available() else "cpu")``) and move models and tensors with ``.to(device)``. That
code runs unchanged here: ``cuda.is_available()`` is False, so it picks the CPU, and every ``.to``
to the CPU is free. A request for a GPU (``.cuda()``, ``.to("cuda")``, ``device="mps"``) raises an
error that says what to do, instead of pretending.

Example::

    >>> import minigrad as mg
    >>> device = mg.device("cuda" if mg.cuda.is_available() else "cpu")
    >>> device, mg.zeros(2).to(device).device
    (device(type='cpu'), device(type='cpu'))
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


class device:  # noqa: N801 - PyTorch's name
    """A device: only ``device('cpu')`` (or ``'cpu:0'``) exists in minigrad.

    Example::

        >>> import minigrad as mg
        >>> mg.device("cpu") == "cpu", str(mg.device("cpu", 0))
        (True, 'cpu:0')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if isinstance(type, int) and not isinstance(type, bool):
            raise_not_cpu(f"cuda:{type}", "device")
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string like 'cpu', got {type!r} ({type.__class__.__name__})")
        name, _, number = type.partition(":")
        if number:
            if index is not None or not number.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = int(number)
        if name != "cpu":
            raise_not_cpu(type, "device")
        self.type, self.index = "cpu", index

    def __repr__(self) -> str:
        return f"device(type='cpu'{'' if self.index is None else f', index={self.index}'})"

    def __str__(self) -> str:
        return "cpu" if self.index is None else f"cpu:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        return isinstance(other, device) and other.type == self.type and other.index == self.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __enter__(self) -> device:  # `with torch.device("cpu"):` is a no-op on the only device
        return self

    def __exit__(self, *exc: object) -> None:
        return None


CPU = device("cpu")


def raise_not_cpu(what: Any, who: str) -> None:
    """The one error for every request of a device other than the CPU."""
    raise RuntimeError(
        f"{who}: minigrad runs on the CPU only, but {str(what)!r} was requested. Use device='cpu' (or pick it with "
        "`'cuda' if mg.cuda.is_available() else 'cpu'`, which gives 'cpu' here); to train on GPUs or many "
        "machines, run the same script with `import torch` (see docs/pytorch-compat.md)"
    )


def check_device(value: Any, who: str) -> None:
    """Accept ``device=`` arguments that mean the CPU (None, 'cpu', 'cpu:0', mg.device('cpu')); refuse others."""
    if value is None or isinstance(value, device):
        return
    device(value) if isinstance(value, (str, int)) else raise_not_cpu(value, who)


def is_device_like(value: Any) -> bool:
    """True for what ``Tensor.to`` treats as a device: a ``device``, a device string, or a GPU index."""
    if isinstance(value, device):
        return True
    if isinstance(value, str):
        return value.partition(":")[0] in {"cpu", "cuda", "mps", "xpu", "meta", "xla", "hpu", "npu", "vulkan"}
    return isinstance(value, int) and not isinstance(value, bool)


def set_default_device(value: Any) -> None:
    """PyTorch's ``torch.set_default_device``: only the CPU (or None) is accepted.

    Example::

        >>> import minigrad as mg
        >>> mg.set_default_device("cpu"); mg.get_default_device()
        device(type='cpu')
    """
    check_device(value, "set_default_device")


def get_default_device() -> device:
    """The device new tensors are made on: always the CPU."""
    return CPU


def _no_gpu(*_args: Any, **_kwargs: Any) -> None:
    raise_not_cpu("cuda", "torch.cuda")


def _nothing(*_args: Any, **_kwargs: Any) -> None:
    """Seeding or synchronising a GPU that does not exist: nothing to do (as PyTorch without CUDA)."""


# `mg.cuda`, `mg.backends.mps`, `mg.accelerator`: the questions scripts ask before choosing a device.
cuda = SimpleNamespace(
    is_available=lambda: False, device_count=lambda: 0, is_initialized=lambda: False,
    manual_seed=_nothing, manual_seed_all=_nothing, synchronize=_nothing, empty_cache=_nothing,
    current_device=_no_gpu, get_device_name=_no_gpu, set_device=_no_gpu, device=_no_gpu,
)
backends = SimpleNamespace(
    mps=SimpleNamespace(is_available=lambda: False, is_built=lambda: False),
    cuda=SimpleNamespace(is_built=lambda: False),
    cudnn=SimpleNamespace(is_available=lambda: False, enabled=False, deterministic=False, benchmark=False),
)
accelerator = SimpleNamespace(is_available=lambda: False, device_count=lambda: 0, current_accelerator=lambda: None)
