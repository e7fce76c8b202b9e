"""Run one random program on minigrad and on PyTorch, and say how they differ.

Rules (the fuzzing contract):

* values agree: same number of outputs, same shapes, same dtypes, same values (NaN equals NaN;
  float32 to float32 precision);
* gradients agree: for programs with float64 inputs that require grad, the gradient of
  ``sum_j <out_j, w_j>`` for random weights ``w_j`` (the same for both);
* errors agree in kind: both raise or neither does, and minigrad's error is raised by minigrad
  itself (the last frame of its traceback is in the minigrad package), never from inside NumPy
  or Numba;
* NumPy's RuntimeWarnings while minigrad runs are counted apart ("ok but NumPy warned").
"""

from __future__ import annotations

import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from programs import Program

import minigrad as mg

MINIGRAD_DIR = str(Path(mg.__file__).resolve().parent)

OK, BOTH_RAISE = "ok", "both raise"
# Agrees with PyTorch, but NumPy printed a RuntimeWarning ("invalid value encountered in multiply")
# where PyTorch prints nothing: counted and shown, not a failure.
WARNS = "ok but NumPy warned"
WRONG, ONE_RAISES, NUMPY_ERROR = "wrong result", "only one raises", "error from inside NumPy/Numba"
FAILURES = (WRONG, ONE_RAISES, NUMPY_ERROR)


@dataclass
class Outcome:
    kind: str
    detail: str = ""


@dataclass
class Run:
    outputs: list[Any] | None = None
    grads: list[np.ndarray | None] | None = None
    requires_grad: list[bool] | None = None
    error: BaseException | None = None
    stage: str = ""
    warnings: list[str] = field(default_factory=list)  # NumPy's RuntimeWarnings (PyTorch prints none)


def _flatten(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        return [y for x in out for y in _flatten(x)]
    return [out]


def _array(t: Any) -> np.ndarray:
    if isinstance(t, mg.Tensor):
        return t._array
    return t.detach().numpy()


def _dtype_name(t: Any) -> str:
    return str(t.dtype).replace("torch.", "")


def _weights(program: Program, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    rng = np.random.default_rng([program.seed, program.index, 7])
    return [rng.standard_normal(s) for s in shapes]


def run(L: Any, program: Program) -> Run:
    """Forward (and backward, for grad programs) of ``program`` with library ``L``."""
    result = Run()
    is_torch = L is not mg
    ns: dict[str, Any] = {"L": L}
    xs = []
    try:
        result.stage = "inputs"
        for i, a in enumerate(program.inputs):
            rg = program.grad and a.dtype == np.float64
            t = L.tensor(a, requires_grad=rg)
            ns[f"x{i}"] = t
            xs.append(t)
        result.stage = "forward"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            outs = _flatten(eval(program.expr, ns))  # noqa: S307 - our own generated expression
        result.warnings += [f"forward: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
        result.outputs = outs
        tensor_type = L.Tensor
        result.requires_grad = [bool(o.requires_grad) if isinstance(o, tensor_type) else False for o in outs]
        if not program.grad:
            return result
        result.stage = "backward"
        diff = [o for o, rg in zip(outs, result.requires_grad) if rg]
        if not diff:
            return result
        ws = _weights(program, [tuple(o.shape) for o in diff])
        total = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for o, w in zip(diff, ws):
                term = (o * L.tensor(w.astype(_dtype_name(o)))).sum()
                total = term if total is None else total + term
            total.backward()
        result.warnings += [f"backward: {w.message}" for w in caught if issubclass(w.category, RuntimeWarning)]
        result.grads = [None if not x.requires_grad or x.grad is None else
                        (x.grad.numpy() if is_torch else x.grad._array).copy() for x in xs]
    except Exception as e:  # noqa: BLE001 - every error is data here
        result.error = e
    return result


def _raised_inside_minigrad(e: BaseException) -> bool:
    """True if minigrad (or Python itself, evaluating the expression) raised ``e``, not NumPy or Numba."""
    frames = traceback.extract_tb(e.__traceback__)
    return bool(frames) and (frames[-1].filename.startswith(MINIGRAD_DIR) or frames[-1].filename == "<string>")


def _tolerance(program: Program, dtype: str) -> dict:
    loose = dtype == "float32" or any(a.dtype == np.float32 for a in program.inputs) or ".float()" in program.expr
    return {"rtol": 2e-4, "atol": 2e-5} if loose else {"rtol": 1e-7, "atol": 1e-10}


def compare(program: Program, t: Run, m: Run) -> Outcome:
    """The verdict for one program."""
    with np.errstate(all="ignore"):  # comparing infinities makes NumPy warn
        return _compare(program, t, m)


def _compare(program: Program, t: Run, m: Run) -> Outcome:
    if m.error is not None and not _raised_inside_minigrad(m.error):
        return Outcome(NUMPY_ERROR, f"{m.stage}: {type(m.error).__name__}: {m.error}\n"
                                    + "".join(traceback.format_exception(m.error)[-3:]))
    if t.error is not None and m.error is not None:
        return Outcome(BOTH_RAISE)
    if t.error is not None or m.error is not None:
        who, e, stage = ("PyTorch", t.error, t.stage) if t.error is not None else ("minigrad", m.error, m.stage)
        return Outcome(ONE_RAISES, f"only {who} raises, in {stage}: {type(e).__name__}: {str(e)[:300]}")
    if len(t.outputs) != len(m.outputs):
        return Outcome(WRONG, f"{len(m.outputs)} outputs, PyTorch has {len(t.outputs)}")
    for j, (to, mo) in enumerate(zip(t.outputs, m.outputs)):
        if not hasattr(to, "shape"):
            if to != mo:
                return Outcome(WRONG, f"output {j}: {mo!r}, PyTorch {to!r}")
            continue
        if not isinstance(mo, mg.Tensor):
            return Outcome(WRONG, f"output {j} is a {type(mo).__name__}, PyTorch gives a Tensor")
        if tuple(to.shape) != tuple(mo.shape):
            return Outcome(WRONG, f"output {j}: shape {tuple(mo.shape)}, PyTorch {tuple(to.shape)}")
        if _dtype_name(to) != _dtype_name(mo):
            return Outcome(WRONG, f"output {j}: dtype {_dtype_name(mo)}, PyTorch {_dtype_name(to)}")
        want, got = _array(to), _array(mo)
        try:
            if want.dtype.kind == "f":
                np.testing.assert_allclose(got, want, equal_nan=True, **_tolerance(program, str(want.dtype)))
            else:
                np.testing.assert_array_equal(got, want)
        except AssertionError as e:
            return Outcome(WRONG, f"output {j} values differ:{str(e)[:600]}")
    if program.grad:
        if t.requires_grad != m.requires_grad:
            return Outcome(WRONG, f"requires_grad of the outputs {m.requires_grad}, PyTorch {t.requires_grad}")
        for i, (tg, mg_) in enumerate(zip(t.grads or [], m.grads or [])):
            if tg is None and mg_ is None:
                continue
            shape = program.inputs[i].shape
            tg = np.zeros(shape) if tg is None else tg
            mg_ = np.zeros(shape) if mg_ is None else mg_
            try:
                np.testing.assert_allclose(mg_, tg, equal_nan=True, **_tolerance(program, "float64"))
            except AssertionError as e:
                return Outcome(WRONG, f"gradient of x{i} differs:{str(e)[:600]}")
        if (t.grads is None) != (m.grads is None):
            return Outcome(WRONG, f"only {'PyTorch' if m.grads is None else 'minigrad'} computed gradients")
    if m.warnings:
        return Outcome(WARNS, "; ".join(sorted(set(m.warnings))))
    return Outcome(OK)


def check(torch: Any, program: Program) -> Outcome:
    """Run ``program`` on both libraries and compare."""
    return compare(program, run(torch, program), run(mg, program))
