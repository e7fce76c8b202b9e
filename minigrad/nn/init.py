"""Weight initialisation, in place, with PyTorch's formulas (``torch.nn.init``).

Every function fills the tensor's array in place (the array object is kept, so optimizers holding
the parameter stay valid), draws from ``minigrad.random.rng()`` (so ``mg.manual_seed`` makes
it repeatable), runs under ``no_grad`` and returns the tensor.

Why the scale matters: a layer ``y = W x`` with ``fan_in`` inputs multiplies the variance of
its input by ``fan_in * Var(W)``. Xavier/Glorot picks ``Var(W) = 2 / (fan_in + fan_out)`` to keep
variances steady forward *and* backward; Kaiming/He picks ``gain^2 / fan`` to compensate
for what the nonlinearity (``gain``) removes, e.g. ReLU halves the variance so ``gain = sqrt(2)``.

Example::

    >>> import minigrad as mg
    >>> w = mg.nn.init.xavier_uniform_(mg.zeros(256, 128))
    >>> bool(abs(w.numpy()).max() <= (6 / (128 + 256)) ** 0.5)
    True
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from minigrad.autograd import no_grad
from minigrad.random import rng
from minigrad.tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
]


def _fill(tensor: Tensor, values: np.ndarray | float) -> Tensor:
    """Write ``values`` into the tensor's own array (cast to its dtype)."""
    with no_grad():
        tensor._array[...] = values
    return tensor


def _check_floating(tensor: Tensor, who: str) -> None:
    """Random values cast into an integer tensor would silently become mostly zeros."""
    if tensor.dtype.kind != "f":
        raise TypeError(f"{who}: expected a floating point tensor, got dtype {tensor.dtype}")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    (slope defaults to 0.01); selu: 3/4.

    Example::

        >>> round(calculate_gain("tanh"), 4), round(calculate_gain("relu"), 4)
        (1.6667, 1.4142)
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``fan_in = size(1) * receptive field``, ``fan_out = size(0) * receptive field``.

    For a Linear weight (out, in): fan_in = in, fan_out = out.
    """
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive_field = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with ``U(a, b)``.

    Example::

        >>> import minigrad as mg
        >>> w = mg.nn.init.uniform_(mg.zeros(1000), -0.1, 0.1)
        >>> bool(w.numpy().min() >= -0.1 and w.numpy().max() < 0.1)
        True
    """
    _check_floating(tensor, "uniform_")
    if a > b:
        raise ValueError(f"uniform_: expects a <= b, got a={a}, b={b}")
    return _fill(tensor, rng().uniform(a, b, size=tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with ``N(mean, std^2)``.

    Example::

        >>> import minigrad as mg
        >>> w = mg.nn.init.normal_(mg.zeros(10000), 0.0, 0.5)
        >>> bool(abs(w.numpy().std() - 0.5) < 0.02)
        True
    """
    _check_floating(tensor, "normal_")
    if std < 0:
        raise ValueError(f"normal_: expects std >= 0.0, got std={std}")
    return _fill(tensor, rng().normal(mean, std, size=tensor.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0) -> Tensor:
    """Fill with ``N(mean, std^2)`` restricted to ``[a, b]`` (rejection sampling).

    Example::

        >>> import minigrad as mg
        >>> w = mg.nn.init.trunc_normal_(mg.zeros(1000))
        >>> bool(w.numpy().min() >= -2 and w.numpy().max() <= 2)
        True
    """
    _check_floating(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: expects a < b, got a={a}, b={b}")
    out = np.empty(tensor.shape)
    flat = out.reshape(-1)
    todo = np.arange(flat.size)
    while todo.size:  # redraw the values that fell outside [a, b]
        draw = rng().normal(mean, std, size=todo.size)
        ok = (draw >= a) & (draw <= b)
        flat[todo[ok]] = draw[ok]
        todo = todo[~ok]
    return _fill(tensor, out)


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``. Example: ``constant_(mg.zeros(2), 3.0).tolist() == [3.0, 3.0]``."""
    if isinstance(val, Tensor):
        val = val.item()
    if not isinstance(val, (int, float, np.number, np.bool_)):
        raise TypeError(f"constant_: val must be a number, got {type(val).__name__}")
    return _fill(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones. Example: ``ones_(mg.zeros(2)).tolist() == [1.0, 1.0]``."""
    return _fill(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros. Example: ``zeros_(mg.ones(2)).tolist() == [0.0, 0.0]``."""
    return _fill(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix. Example: ``eye_(mg.zeros(2, 2)).tolist()``."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only tensors with 2 dimensions are supported, got shape {tensor.shape}")
    return _fill(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: ``U(-a, a)`` with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Example::

        >>> import minigrad as mg
        >>> w = mg.nn.init.xavier_uniform_(mg.zeros(30, 20))
        >>> bool(abs(w.numpy()).max() <= (6 / 50) ** 0.5)
        True
    """
    _check_floating(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std  # a uniform U(-a, a) has standard deviation a / sqrt(3)
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: ``N(0, std^2)`` with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Example::

        >>> import minigrad as mg
        >>> w = mg.nn.init.xavier_normal_(mg.zeros(200, 200))
        >>> bool(abs(w.numpy().std() - (2 / 400) ** 0.5) < 0.002)
        True
    """
    _check_floating(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator: object = None) -> Tensor:
    """He uniform: ``U(-bound, bound)`` with ``bound = gain * sqrt(3 / fan)``, ``gain`` from
    ``calculate_gain(nonlinearity, a)``. ``Linear`` uses ``a=sqrt(5)``: bound = 1/sqrt(fan_in).

    Example::

        >>> import minigrad as mg, math
        >>> w = mg.nn.init.kaiming_uniform_(mg.zeros(8, 16), a=math.sqrt(5))
        >>> bool(abs(w.numpy()).max() <= 1 / math.sqrt(16))
        True
    """
    _check_floating(tensor, "kaiming_uniform_")
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)  # = gain * sqrt(3 / fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator: object = None) -> Tensor:
    """He normal: ``N(0, std^2)`` with ``std = gain / sqrt(fan)``.

    Example::

        >>> import minigrad as mg
        >>> w = mg.nn.init.kaiming_normal_(mg.zeros(200, 100), nonlinearity="relu")
        >>> bool(abs(w.numpy().std() - (2 / 100) ** 0.5) < 0.005)
        True
    """
    _check_floating(tensor, "kaiming_normal_")
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=2)
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std)


def orthogonal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain``: rows or columns orthonormal (Saxe et al. 2013).

    The tensor is viewed as (size(0), rest). A Gaussian matrix is QR-factorised, and Q's
    columns are sign-corrected with diag(R) so that Q is uniformly distributed. Recurrent
    weights often start like this: repeated multiplication by an orthogonal matrix neither
    explodes nor vanishes.

    Example::

        >>> import minigrad as mg, numpy as np
        >>> q = mg.nn.init.orthogonal_(mg.zeros(4, 4)).numpy()
        >>> bool(np.allclose(q.T @ q, np.eye(4), atol=1e-5))
        True
    """
    _check_floating(tensor, "orthogonal_")
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor._array.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor._array.size // rows
    flat = rng().normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make Q unique (uniform over orthogonal matrices)
    if rows < cols:
        q = q.T
    return _fill(tensor, (gain * q).reshape(tensor.shape))
