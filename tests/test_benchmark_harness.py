"""The benchmark harness's rules that its numbers depend on (``benchmarks/run.py``, ``sweep.py``)."""

from __future__ import annotations

import gc
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _from_benchmarks(module) -> bool:
    return Path(getattr(module, "__file__", None) or "/").parent == BENCHMARKS


def _load(script: str):
    """``benchmarks/<script>.py``, loaded from its file under a name of its own. The scripts import
    each other by plain names (``run``, ``cpu_profile``); other modules of those names that the
    suite imported are set aside meanwhile. ``sys.path`` and ``sys.modules`` are put back afterwards."""
    path, modules = list(sys.path), set(sys.modules)
    shadowed = {name: sys.modules.pop(name) for name in ("run", "cpu_profile")
                if name in sys.modules and not _from_benchmarks(sys.modules[name])}
    spec = importlib.util.spec_from_file_location(f"_minigrad_benchmarks_{script}", BENCHMARKS / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look their module up there)
    try:
        spec.loader.exec_module(module)  # the scripts put their folder on sys.path for each other
        yield module
    finally:
        sys.path[:] = path
        for name in set(sys.modules) - modules:
            if _from_benchmarks(sys.modules[name]):
                del sys.modules[name]
        sys.modules.update(shadowed)


@pytest.fixture(scope="module")
def run_module():
    yield from _load("run")


@pytest.fixture(scope="module")
def sweep_module():
    yield from _load("sweep")


@pytest.fixture(scope="module")
def models_module():
    yield from _load("models")


@pytest.mark.parametrize("impl", ["fused", "reference", "torch"])
@pytest.mark.parametrize("cpu", ["native", "avx2"])
def test_timing_processes_compile_before_they_time(run_module, impl, cpu):
    """A kernel missing from the cache compiles during the warm-up steps (``wait``), never in the
    background while steps are timed: those steps would time the NumPy references."""
    env = run_module.worker_env(impl, cpu)
    assert env["MINIGRAD_COMPILE"] == "wait"
    assert env["MINIGRAD_MALLOC_TUNING"] == "0"  # users' allocator: minigrad's malloc tuning is opt-in


def test_sweep_runs_odd_blocks_in_reverse_order(sweep_module, monkeypatch):
    """A framework's time for a cell can depend on the cells before it in its process: each cell is
    timed after one set of neighbours in even blocks and after the other in odd ones."""
    import argparse

    calls = []

    def fake_run_chunk(framework, cells, args):
        calls.append((framework, [c.hidden for c in cells]))
        return [[0.001 * c.hidden] for c in cells]  # a time that identifies the cell

    monkeypatch.setattr(sweep_module, "run_chunk", fake_run_chunk)
    cells = [sweep_module.Cell("lstm", h, 8, "1", False) for h in (32, 50, 100, 128)]
    rows = sweep_module.sweep(cells, argparse.Namespace(chunk=3, blocks=2))
    assert [order for fw, order in calls if fw == "minigrad"] == [[32, 50, 100], [100, 50, 32], [128], [128]]
    assert [order for fw, order in calls if fw == "torch"] == [[32, 50, 100], [100, 50, 32], [128], [128]]
    assert [round(r["minigrad_ms"], 6) for r in rows] == [32, 50, 100, 128]  # each time went to its cell
    assert all(r["runs"] == {"minigrad": 2, "torch": 2} for r in rows)


@pytest.mark.parametrize("forced, expected", [("per_step", "per_step"), ("sequence", "sequence"),
                                               ("parallel_rows", "parallel_rows"), ("parallel_units", "per_step")])
def test_sweep_strategy_forces_what_the_cell_has_kernels_for(sweep_module, monkeypatch, forced, expected):
    """``--strategy`` runs the fused layers that way where the cell has the kernels (the GRU has no
    units kernels: it keeps the plan's choice, per step for a one-step call)."""
    import minigrad as mg
    from minigrad.nn import fused_rnn

    monkeypatch.setattr(fused_rnn, "plan", fused_rnn.plan)  # put back after the test
    sweep_module.force_strategy(forced)
    out, _ = mg.nn.GRU(4, 8)(mg.randn(1, 3, 4, requires_grad=True))
    assert out.grad_fn.strategy.value == expected


def test_every_model_of_the_tutorials_trains_in_both_frameworks(models_module):
    """The held-out models (``benchmarks/script_models.py``, ``benchmarks/user_models.py``) run as
    written in minigrad and in PyTorch: each step's parameters change and stay finite."""
    import numpy as np

    frameworks = [pytest.importorskip("minigrad")]
    try:
        import torch

        frameworks.append(torch)
    except ImportError:
        pass
    for name in [*models_module.SCRIPT_MODELS, *models_module.USER_MODELS]:
        assert name in models_module.MODELS
        for L in frameworks:
            L.manual_seed(0)
            step = models_module.MODELS[name](L)
            params = getattr(step, "parameters", None) or [  # (scripts that update by hand say which)
                p for group in step.optimizer.param_groups for p in group["params"]]
            before = [p.detach().numpy().copy() for p in params]
            step()
            after = [p.detach().numpy() for p in params]
            assert all(np.isfinite(a).all() for a in after), (name, L.__name__)
            assert any(not np.array_equal(a, b) for a, b in zip(after, before)), (name, L.__name__)


def test_the_scripts_load_beside_another_module_named_run(monkeypatch):
    """The full suite may have imported some other ``run`` before these tests."""
    import types

    other = types.ModuleType("run")
    monkeypatch.setitem(sys.modules, "run", other)
    for module in _load("sweep"):
        assert module.worker_env is not None
    assert sys.modules["run"] is other


def test_the_products_benchmark_times_every_route(capsys):
    """``benchmarks/products.py`` prints one row per shape and layout, every route timed."""
    for module in _load("products"):
        module.main(["--shapes", "1x30x70", "6x20x40", "--number", "2"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 1x30x70") or
            line.startswith("| 6x20x40")]
    assert len(rows) == 6  # three layouts each: W.T, rows, a.T
    assert all(float(cell) > 0 for row in rows for cell in row.strip("|").split("|")[2:])


def test_the_products_scans_report_ratios_by_size(monkeypatch, capsys):
    """``--scan bands`` and ``--scan swap`` time their BLAS route against the one it replaces, by size."""
    for module in _load("products"):
        monkeypatch.setattr(module, "BAND_SCAN", ((32,), (28,), (512,)))
        monkeypatch.setattr(module, "SWAP_SCAN", ((16,), (64,), (128,)))
        for kind, layouts in (("bands", 3), ("swap", 1)):
            found = module.scan(kind)
            assert len(found) == layouts and all(ratio > 0 for _, _, ratio in found)
            module.main(["--scan", kind, "--number", "2"])
            table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "Ki" in line]
            assert len(table) == layouts and all(line.count("|") == 8 for line in table)


def test_the_stack_scan_reports_stacked_against_one_by_one(monkeypatch, capsys):
    """``--scan stack`` times a weight's gradient over several steps both ways, by rows per step."""
    for module in _load("products"):
        monkeypatch.setattr(module, "STACK_SCAN", ((1, 96), ((64, 64),), (3,)))
        assert module.stack_ratio(2, 8, 8, 3, number=2) > 0
        module.main(["--scan", "stack"])
        table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 1 |") or
                 line.startswith("| 96 |")]
        assert [line.split("|")[2].strip() for line in table] == ["yes", "no"]


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"), reason="no compiler to time")
def test_the_compile_times_benchmark_compiles_from_an_empty_cache():
    """``benchmarks/compile_times.py`` compiles the kernels asked for in a fresh cache and splits LLVM's time."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / "compile_times.py"), "--only", "sigmoid_tanh", "--llvm"],
                          capture_output=True, text=True, timeout=300, check=True)
    lines = done.stdout.splitlines()
    row = next(line for line in lines if line.startswith("| `rnn_common.sigmoid_tanh`"))
    assert float(row.strip("|").split("|")[-1]) > 0  # it compiled: nothing came from a cache
    assert "1 kernels," in done.stdout
    opt = next(line for line in lines if line.startswith("| opt |"))
    assert float(opt.strip("|").split("|")[1]) > 0  # LLVM optimised the kernel's own library


def test_paired_timing_gives_a_ratio_per_round():
    """``benchmarks/paired.py``: two timing processes take turns; one ratio per round, their median reported."""
    pytest.importorskip("torch")
    for module in _load("paired"):
        row = module.paired("timeseries", rounds=2, burst=0.01)
        assert row["rounds"] == 2 and row["minigrad_ms"] > 0 and row["torch_ms"] > 0
        assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"]


def test_the_sized_ops_run_in_both_frameworks_and_give_the_same_values():
    """``benchmarks/overhead.py --sized``: every op of ``sized_ops`` runs forward and backward at
    every size in minigrad and, where installed, in PyTorch, and both compute the same thing (so
    that the table compares like with like)."""
    import numpy as np

    import minigrad

    torch = None
    try:
        import torch
    except ImportError:
        pass
    for module in _load("overhead"):
        for b, h in module.SIZES:
            ours = module.sized_ops(minigrad, b, h)
            theirs = module.sized_ops(torch, b, h) if torch is not None else {}
            for name, op in ours.items():
                out = op()
                out.sum().backward()
                # (dropout's masks and the Linear's initial weights come from each framework's own RNG)
                if name in theirs and name not in ("dropout", "matmul", "linear"):
                    expected = theirs[name]()
                    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), rtol=2e-4,
                                               atol=2e-5, err_msg=f"{name} {b}x{h}")
        assert set(module.sized_cases(minigrad)) == {f"{n} {b}x{h}" for b, h in module.SIZES for n in ours}


def test_toggle_ab_alternates_a_constant_and_puts_it_back(capsys):
    """``benchmarks/toggle_ab.py``: bursts with the checkout's value and the given one, in turns; the
    constant has its own value again afterwards."""
    from minigrad.kernels import products

    before = products.BANDS_MAX_PRODUCT
    for module in _load("toggle_ab"):
        seen, step = [], module.build("rnn H=8 B=1 L=1")

        def watched_step(step=step, seen=seen):
            seen.append(products.BANDS_MAX_PRODUCT)
            step()

        checkout, given = module.alternate(watched_step, products, "BANDS_MAX_PRODUCT", 0, rounds=4, burst=0.01)
        assert len(checkout) == len(given) == 4 and min(checkout + given) > 0
        assert set(seen) == {before, 0} and products.BANDS_MAX_PRODUCT == before
        module.main(["rnn H=8 B=1 L=1", "minigrad.kernels.products.BANDS_MAX_PRODUCT=0", "--rounds", "2",
                     "--burst", "0.01", "--warmup-steps", "1", "--here"])
        assert "ratio" in capsys.readouterr().out and products.BANDS_MAX_PRODUCT == before
        with pytest.raises(SystemExit, match="has no"):
            module.parse_setting("minigrad.kernels.products.NO_SUCH_CONSTANT=1")
        assert module.parse_setting("minigrad.kernels.activations.KERNEL_DTYPES=()")[2] == ()


def test_toggle_ab_builds_the_reference_layers_of_a_cell(monkeypatch):
    """``"... ref"``: the cell's layer with ``impl="reference"`` (the textbook step in autograd)."""
    import minigrad as mg

    built = []

    class Spy(mg.nn.GRU):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self.impl)

    monkeypatch.setattr(mg.nn, "GRU", Spy)
    for module in _load("toggle_ab"):
        module.build("gru H=8 B=2 L=1 bi ref")()
        module.build("gru H=8 B=2 L=1")()
    assert built and built[0::2] == ["reference"] * (len(built) // 2) and built[1::2] == ["fused"] * (len(built) // 2)


def test_the_gc_benchmark_counts_collections_by_generation(capsys):
    for module in _load("gc_cost"):
        ms, spent = module.watch(lambda: [[] for _ in range(2000)], steps=3)  # young garbage: collections
        assert ms > 0 and set(spent) == {0, 1, 2} and spent[0][0] > 0
        module.main(["names_rnn", "--steps", "2", "--freeze"])
        out = capsys.readouterr().out
        assert "frozen" in out and "generation 2" in out
        switched: list[bool] = []
        on, off, ratios = module.toggle(lambda s=switched: s.append(gc.isenabled()), rounds=4, burst=0.001)
        assert gc.isenabled() and on > 0 and off > 0 and len(ratios) == 4
        assert True in switched and False in switched  # bursts with the collector on, and with it off
        module.main(["names_rnn", "--toggle", "2", "--burst", "0.01"])
        assert "on / off" in capsys.readouterr().out


def test_paired_timing_against_another_checkout(tmp_path, monkeypatch):
    """``paired.py --baseline DIR``: the other side runs DIR's minigrad (here a stand-in that records
    being imported, then hands over to this checkout's), with ``--mean`` too."""
    (tmp_path / "minigrad").mkdir()
    (tmp_path / "minigrad" / "__init__.py").write_text(
        "import importlib, os, sys\n"
        "open(os.environ['BASELINE_MARK'], 'w').close()\n"
        "here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))\n"
        "sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != here]\n"
        "del sys.modules[__name__]\n"
        "sys.modules[__name__] = importlib.import_module(__name__)  # then the real one\n")
    mark = tmp_path / "imported"
    monkeypatch.setenv("BASELINE_MARK", str(mark))
    for module in _load("paired"):
        row = module.paired("timeseries", rounds=2, burst=0.01, baseline=str(tmp_path), mean=True)
    assert mark.exists()  # the baseline side imported the other checkout's minigrad
    assert row["rounds"] == 2 and row["minigrad_ms"] > 0 and row["torch_ms"] > 0


def test_toggle_ab_in_fresh_processes_sets_the_constant_before_the_model_is_built(monkeypatch, capsys):
    from minigrad.autograd import stacked_products

    monkeypatch.setattr(stacked_products, "ROWS_PER_TERM", stacked_products.ROWS_PER_TERM)  # put back after
    for module in _load("toggle_ab"):
        built_with: list[int] = []

        def build(model, real_build=module.build, built_with=built_with):
            built_with.append(stacked_products.ROWS_PER_TERM)
            return real_build(model)

        monkeypatch.setattr(module, "build", build)
        module.main(["rnn H=8 B=1 L=1", "minigrad.autograd.stacked_products.ROWS_PER_TERM=0", "--burst", "0.01",
                     "--warmup-steps", "1", "--here", "--arm", "given"])
        assert built_with == [0] and float(capsys.readouterr().out.split()[-1]) > 0
        module.main(["rnn H=8 B=1 L=1", "minigrad.autograd.stacked_products.ROWS_PER_TERM=0", "--processes",
                     "--rounds", "1", "--burst", "0.01", "--warmup-steps", "1"])
        assert "ratio" in capsys.readouterr().out


def test_step_ops_times_every_line_of_the_step_in_each_framework():
    """``benchmarks/step_ops.py``: each timed line of d2l_lstm_scratch's step gets a time, and so do the
    whole forward and backward, for minigrad and (when installed) PyTorch."""
    frameworks = ["minigrad"] + (["torch"] if importlib.util.find_spec("torch") else [])
    for module in _load("step_ops"):
        for framework in frameworks:
            report = module.main(framework, steps=2, warm=1)
            assert report.startswith(f"{framework}: ")
            times = dict(item.rsplit(" ", 1) for item in report.split(": ", 1)[1].split(", "))
            assert set(times) == {name for name in module.LINES if name} | {"forward (ms)", "backward (ms)"}
            assert all(float(value) > 0 for value in times.values()), report


def test_product_gap_times_each_way_after_each_pause(capsys):
    """``benchmarks/product_gap.py``: a median for every way and pause, in this process and through
    the worker processes its command line starts; an unknown way is refused by name."""
    for module in _load("product_gap"):
        for way in module.WAYS:
            medians = module.time_after_pauses(way, (0, 50), repeats=5)
            assert set(medians) == {0, 50} and all(us > 0 for us in medians.values()), (way, medians)
        with pytest.raises(ValueError, match="unknown way 'gpu'"):
            module.time_after_pauses("gpu")
        module.main(["--ways", "one", "--gaps", "0", "10", "--repeats", "5"])
        out = capsys.readouterr().out
        assert "one: 0 us -> " in out and "10 us -> " in out
