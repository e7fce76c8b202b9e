"""The device API: CPU-only scripts run unchanged; GPU requests fail clearly; `.to` has PyTorch's overloads."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def test_the_usual_device_line_picks_the_cpu():
    device = mg.device("cuda" if mg.cuda.is_available() else "cpu")
    assert device == mg.device("cpu") == "cpu" and str(device) == "cpu" and repr(device) == "device(type='cpu')"
    assert mg.cuda.device_count() == 0 and not mg.backends.mps.is_available() and not mg.accelerator.is_available()
    mg.cuda.manual_seed_all(0)  # seeding a GPU that does not exist is a no-op, as in PyTorch without CUDA
    x = mg.ones(2, 3).to(device)
    assert x.device == device and not x.is_cuda


@pytest.mark.parametrize("request_gpu", [
    lambda: mg.ones(2).cuda(), lambda: mg.ones(2).to("cuda"), lambda: mg.ones(2).to("cuda:0"),
    lambda: mg.ones(2).to(0), lambda: mg.device("mps"), lambda: mg.device("cuda", 0),
    lambda: mg.nn.Linear(2, 2).cuda(), lambda: mg.nn.Linear(2, 2).to("cuda"), lambda: mg.cuda.current_device(),
])
def test_gpu_requests_say_minigrad_runs_on_the_cpu(request_gpu):
    with pytest.raises(RuntimeError, match="minigrad runs on the CPU only"):
        request_gpu()


def test_to_overloads_match_torch(torch):
    for T in (mg, torch):
        x = T.ones(2, dtype=T.float32)
        assert x.to(None) is x and x.to("cpu") is x and x.to(x) is x and x.cpu() is x
        assert x.to(T.float64).dtype == T.float64
        assert x.to("cpu", T.float64).dtype == T.float64 and x.to(device="cpu", dtype=T.int64).dtype == T.int64
        assert x.to(T.zeros(1, dtype=T.float64)).dtype == T.float64
        assert x.to(T.float32, copy=True) is not x


def test_to_keeps_gradients_flowing_through_a_cast():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    (w.to(mg.float64) * 3).sum().backward()
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [3.0, 3.0]


def test_module_to_device_and_dtype():
    m = mg.nn.LSTM(3, 4)
    assert m.to("cpu") is m and m.to(mg.device("cpu"), mg.float64) is m
    assert all(p.dtype == np.float64 for p in m.parameters())


def test_legacy_types_and_type_strings(torch):
    for T in (mg, torch):
        assert T.LongTensor([1, 2]).dtype == T.int64 and tuple(T.FloatTensor(2, 3).shape) == (2, 3)
        assert T.Tensor(2, 3).dtype == T.float32 and T.Tensor([1, 2]).dtype == T.float32
        assert isinstance(T.zeros(1), T.FloatTensor) and not isinstance(T.zeros(1), T.LongTensor)
        assert T.zeros(1).type() == "torch.FloatTensor" and T.zeros(1).long().type() == "torch.LongTensor"
        assert T.zeros(1).type(T.LongTensor).dtype == T.int64
        assert T.zeros(1).type("torch.DoubleTensor").dtype == T.float64
        assert T.Tensor(np.zeros(2)).dtype == T.float32 and T.Tensor(np.arange(3)).dtype == T.float32
        assert T.ones(2, dtype=T.float64).new(3, 4).dtype == T.float64 and tuple(T.ones(1).new(3, 4).shape) == (3, 4)
        assert T.ones(1).new([1, 2]).tolist() == [1.0, 2.0] and isinstance(T.ones(1), T.Tensor)
        v = T.autograd.Variable(T.ones(2), requires_grad=True)
        assert v.requires_grad and T.is_tensor(v) and not T.is_tensor([1])


def test_grad_mode_switches():
    w = mg.ones(1, requires_grad=True)
    mg.set_grad_enabled(False)
    try:
        assert not (w * 2).requires_grad
    finally:
        mg.set_grad_enabled(True)
    with mg.set_grad_enabled(False):
        assert not mg.is_grad_enabled()
    with mg.inference_mode():
        assert not (w * 2).requires_grad

    @mg.inference_mode()
    def evaluate():
        return (w * 2).requires_grad

    assert evaluate() is False and mg.is_grad_enabled()


def test_missing_pytorch_names_say_so_without_a_misleading_suggestion():
    import traceback

    for get, name in [(lambda: mg.fft, "torch.fft"), (lambda: mg.ones(1).stft, "torch.Tensor.stft")]:
        with pytest.raises(AttributeError) as info:
            get()
        text = "".join(traceback.format_exception(info.value))
        assert f"minigrad does not implement {name}" in text and "docs/pytorch-compat.md" in text
        assert "Did you mean" not in text
    assert not hasattr(mg.ones(1), "no_such_method")


def test_default_device_and_jit_are_there_for_scripts(torch):
    for T in (mg, torch):
        T.set_default_device("cpu")
        assert str(T.get_default_device()) == "cpu"
    with pytest.raises(RuntimeError, match="minigrad runs on the CPU only"):
        mg.set_default_device("cuda")
    import minigrad.jit

    def f(x):
        return x * 3

    assert minigrad.jit.script(f) is f and minigrad.jit.trace(f, mg.ones(1)) is f and not minigrad.jit.is_scripting()
    with pytest.raises(NotImplementedError, match="minigrad does not implement torch.jit.save"):
        minigrad.jit.save(f, "f.pt")


def test_compile_runs_the_model_as_written(torch):
    """``model = torch.compile(model)`` and ``@torch.compile(...)``: the same model, the same numbers."""
    mg.manual_seed(0)
    model = mg.nn.GRU(3, 4)
    assert mg.compile(model) is model
    assert mg.compile(model, fullgraph=True, dynamic=False, backend="inductor", mode="reduce-overhead") is model

    @mg.compile(mode="max-autotune")
    def step(x):
        return model(x)[0].sum()

    x = mg.randn(5, 2, 3)
    assert step(x).item() == model(x)[0].sum().item()
    assert callable(torch.compile)  # PyTorch's name, at the top level there too


def test_masked_select_matches_torch_and_is_differentiable(torch):
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    mask = np.array([True, False, True])
    ours = mg.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    a, b = ours.masked_select(mg.tensor(mask)), theirs.masked_select(torch.tensor(mask))
    assert a.tolist() == b.tolist()
    (a * a).sum().backward()
    (b * b).sum().backward()
    assert ours.grad.tolist() == theirs.grad.tolist()
    assert mg.autograd.gradcheck(lambda t: t.masked_select(mg.tensor(mask)), [ours.detach().requires_grad_()])
