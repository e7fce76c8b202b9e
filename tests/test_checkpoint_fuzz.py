"""Fuzzing mg.load: a damaged or forged checkpoint may load or raise ValueError - nothing else.

1,000 mutated files (bit flips, truncations, header edits, length-field changes, random bytes,
forged multi-gigabyte shapes, mangled structure metadata) are loaded in this process, each under a
time limit. Then the nastiest ones are loaded in a fresh interpreter whose address space is capped,
so a crash (segfault) or an attempt to allocate gigabytes from a forged header would show up as a
non-zero exit code.
"""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

import minigrad as mg
from minigrad.serialization import WeightsOnlyError, load, save

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
N_MUTANTS = 1000
TIME_LIMIT = 10.0  # seconds per load: a hang, not slowness (the 20,000-tensor header takes ~0.4 s)

DTYPE_CODES = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U64", "U32", "U16", "U8", "BOOL",
               "C64", "F8_E4M3", "F8_E5M2", "F4", "f32", "", "F3\u00e92", "X" * 1000]
WEIRD_VALUES = [None, True, False, -1, 0, 1, 3, 2**31, 2**32 + 7, 2**63, 2**64, 2**64 + 1, 10**40, -(2**63), 1.5,
                float("nan"), "7", "", [], {}, [1, 2], [[1]], {"a": 1}, [None], [-1, 4], [0, 2**64], [2**62, 2**62]]


# --------------------------------------------------------------------------------------------
# seed checkpoints
# --------------------------------------------------------------------------------------------


def seed_checkpoints(tmp: Path) -> list[bytes]:
    """Small, valid files: a model state dict, an optimizer state, a whole module with references, sets,
    an OrderedDict and a dtype, and a foreign (PyTorch-like) file."""
    rng = np.random.default_rng(0)
    model = {"lstm.weight_ih_l0": rng.standard_normal((8, 3)).astype(np.float32),
             "lstm.bias_ih_l0": rng.standard_normal(8).astype(np.float32),
             "fc.weight": rng.standard_normal((2, 2)), "steps": np.array(5, np.int64),
             "mask": np.array([True, False, True]), "empty": np.zeros((0, 4), np.float32)}
    optimizer = {"state": {0: {"step": 3, "exp_avg": rng.standard_normal((2, 3)), "scalar": np.float32(0.5)}},
                 "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0], "foreach": None,
                                   "name": "µ", "nan": float("nan")}]}
    module = mg.nn.Sequential(mg.nn.Embedding(4, 3), mg.nn.GRU(3, 2), mg.nn.Linear(2, 2, bias=False))
    module[1].eval()
    shared = mg.tensor([1.0, 2.0], requires_grad=True)
    whole = {"model": module, "tied": [shared, shared], "ids": {1, 2}, "order": OrderedDict(b=1, a=np.ones(2)),
             "dtype": mg.float64}
    blobs = []
    for obj in (model, optimizer, whole):
        save(obj, tmp / "seed.safetensors")
        blobs.append((tmp / "seed.safetensors").read_bytes())
    foreign = {"w": rng.standard_normal((3, 2)).astype(np.float16), "b": np.arange(4, dtype=np.uint8)}
    blobs.append(safetensors.numpy.save(foreign, metadata={"format": "pt"}))
    return blobs


def split(raw: bytes) -> tuple[int, bytes, bytes]:
    (n,) = struct.unpack("<Q", raw[:8])
    return n, raw[8 : 8 + n], raw[8 + n :]


def assemble(header: dict | list | bytes | str, data: bytes) -> bytes:
    h = header if isinstance(header, bytes) else json.dumps(header).encode("utf-8", "surrogatepass")
    return struct.pack("<Q", len(h)) + h + data


# --------------------------------------------------------------------------------------------
# mutators: (rng, valid file bytes) -> damaged file bytes
# --------------------------------------------------------------------------------------------


def flip_bits(rng: random.Random, raw: bytes) -> bytes:
    b = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
    return bytes(b)


def flip_header_bits(rng: random.Random, raw: bytes) -> bytes:
    n, _, _ = split(raw)
    b = bytearray(raw)
    for _ in range(rng.randint(1, 3)):
        b[8 + rng.randrange(n)] ^= 1 << rng.randrange(8)
    return bytes(b)


def truncate(rng: random.Random, raw: bytes) -> bytes:
    return raw[: rng.randrange(len(raw))]


def append_junk(rng: random.Random, raw: bytes) -> bytes:
    return raw + rng.randbytes(rng.randint(1, 64))


def splice(rng: random.Random, raw: bytes) -> bytes:
    i = rng.randrange(len(raw))
    if rng.random() < 0.5:
        return raw[:i] + raw[i + rng.randint(1, 32) :]
    return raw[:i] + rng.randbytes(rng.randint(1, 32)) + raw[i:]


def change_length_field(rng: random.Random, raw: bytes) -> bytes:
    n, _, _ = split(raw)
    new = rng.choice([0, 1, 2, 7, n - 1, n + 1, n - 8, n + 8, len(raw) - 8, len(raw), 2**31, 2**32,
                      2**63, 2**64 - 1, 100_000_001, rng.getrandbits(64)])
    return struct.pack("<Q", max(new, 0)) + raw[8:]


def random_bytes(rng: random.Random, raw: bytes) -> bytes:
    return rng.randbytes(rng.randint(0, 2 * len(raw)))


def random_header(rng: random.Random, raw: bytes) -> bytes:
    body = rng.randbytes(rng.randint(0, 200))
    if rng.random() < 0.5:
        body = b"{" + body
    return struct.pack("<Q", len(body)) + body + rng.randbytes(rng.randint(0, 64))


def edit_header(rng: random.Random, raw: bytes) -> bytes:
    """Well-formed JSON with one wrong thing in it: the validation's real job."""
    _, h, data = split(raw)
    header = json.loads(h)
    names = [k for k in header if k != "__metadata__"]
    name = rng.choice(names)
    entry = header[name]
    what = rng.randrange(13)
    if what == 0:
        entry["dtype"] = rng.choice(DTYPE_CODES + WEIRD_VALUES)
    elif what == 1:
        entry["shape"] = rng.choice(WEIRD_VALUES + [[2**31, 2**31], [1] * 70, [0, 2**63], [2**40, 0, 2**40]])
    elif what == 2:
        entry["shape"] = [d + rng.choice([-1, 1, 2**20]) for d in entry["shape"]] or [rng.randint(0, 9)]
    elif what == 3:
        entry["data_offsets"] = rng.choice(WEIRD_VALUES)
    elif what == 4:
        b, e = entry["data_offsets"]
        entry["data_offsets"] = rng.choice([[e, b], [b + 1, e + 1], [b, e + 4], [b - 1, e], [b, 2**63], [0, 0]])
    elif what == 5:
        del entry[rng.choice(sorted(entry))]
    elif what == 6:
        del header[name]
    elif what == 7:
        header[name + "_copy"] = dict(entry)
    elif what == 8:  # a forged multi-gigabyte tensor
        header["huge"] = {"dtype": "F64", "shape": [2**30, 2**30], "data_offsets": [0, 2**63]}
    elif what == 9:
        header["__metadata__"] = rng.choice(WEIRD_VALUES + [{"minigrad.format": "minigrad-checkpoint"}])
    elif what == 10:
        header = rng.choice([[header], 3, "text", None, {}])
    elif what == 11:
        header[rng.choice(["__metadata__", name, "x" * 10_000])] = {"dtype": "F32", "shape": [1],
                                                                   "data_offsets": [0, 4]}
    else:
        entry["extra"] = rng.choice(WEIRD_VALUES)
    return assemble(header, data)


def edit_metadata(rng: random.Random, raw: bytes) -> bytes:
    """Attack the minigrad structure JSON and the format/version fields."""
    _, h, data = split(raw)
    header = json.loads(h)
    meta = header.setdefault("__metadata__", {})
    s = meta.get("minigrad.structure", "[]")
    what = rng.randrange(8)
    if what == 0:  # damage the JSON text
        i = rng.randrange(len(s) + 1)
        s = s[:i] + rng.choice(["", "{", "]", '"', "\\", "\ud800", "NaN", ",,"]) + s[i + rng.randint(0, 3) :]
    elif what == 1:  # valid JSON, wrong shape: replace a random node
        s = json.dumps(mutate_json(rng, json.loads(s)))
    elif what == 2:
        s = "[" * rng.choice([100, 5_000, 200_000]) + "]" * rng.choice([0, 100, 5_000])
    elif what == 3:
        s = json.dumps(rng.choice(WEIRD_VALUES))
    elif what == 4:
        meta["minigrad.version"] = rng.choice(["0", "2", "-1", "1.0", "", "9" * 5000, "\u0661", " 1"])
    elif what == 5:
        meta.pop(rng.choice(["minigrad.format", "minigrad.version", "minigrad.structure"]), None)
    elif what == 6:
        meta["minigrad.format"] = rng.choice(["", "pt", "minigrad-checkpoint", "MINIGRAD-CHECKPOINT"])
    else:
        s = s.replace('"tensor"', '"scalar"', 1) if rng.random() < 0.5 else s.replace('"tensor"', '"pickle"', 1)
    meta["minigrad.structure"] = s
    return assemble(header, data)


def mutate_json(rng: random.Random, node):
    """Replace one randomly chosen node of a JSON value by something else."""
    replacement = rng.choice(WEIRD_VALUES + [{"tensor": "nope"}, {"tensor": 3}, {"scalar": "fc.weight"},
                                             {"float": "NaN"}, {"tuple": {}}, {"dict": [[1]]},
                                             {"dict": [[[1], 2]]}, {"dict": [[{"tensor": "x"}, 1]]}])
    if not isinstance(node, (list, dict)) or rng.random() < 0.2:
        return replacement
    if isinstance(node, list):
        if not node:
            return replacement
        i = rng.randrange(len(node))
        return node[:i] + [mutate_json(rng, node[i])] + node[i + 1 :]
    key = rng.choice(sorted(node))
    return {**node, key: mutate_json(rng, node[key])}


MUTATORS = [flip_bits, flip_header_bits, truncate, append_junk, splice, change_length_field, random_bytes,
            random_header, edit_header, edit_header, edit_metadata, edit_metadata]


def nastiest(seeds: list[bytes]) -> list[bytes]:
    """Forged lengths and shapes, deep nesting, every truncation point, many tiny tensors."""
    out = []
    for raw in seeds:
        n, h, data = split(raw)
        out += [raw[:k] for k in range(0, len(raw), 7)]  # every 7th truncation point
        out += [struct.pack("<Q", v) + raw[8:] for v in (2**64 - 1, 2**63, 2**32, 100_000_000, 100_000_001)]
    for dtype in ("F64", "BOOL", "BF16", "F16", "U8"):
        for shape in ([2**31, 2**31], [2**62], [0, 2**63], [2**40, 2**40, 0], [1] * 64, [2**20] * 3):
            for offsets in ([0, 2**63], [0, 2**64 - 1], [0, 8], [2**62, 2**63]):
                out.append(assemble({"t": {"dtype": dtype, "shape": shape, "data_offsets": offsets}}, b"\0" * 8))
    out.append(assemble(b'{"a":' + b"[" * 500_000 + b"]" * 500_000 + b"}", b""))
    out.append(assemble(b"{" + b'"a":{' * 100_000 + b"}" * 100_001, b""))
    out.append(assemble(b" " * 1_000_000 + b"{}", b""))
    out.append(assemble(b"\0" * 4096, b""))
    many = {f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(20_000)}
    out.append(assemble(many, b""))
    structure = "[" * 300_000 + "]" * 300_000
    out.append(safetensors.numpy.save({}, metadata={"minigrad.format": "minigrad-checkpoint",
                                                   "minigrad.version": "1", "minigrad.structure": structure}))
    return out


# --------------------------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------------------------


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so no `except Exception` in the loader can swallow it."""


def load_with_time_limit(path: Path):
    if not hasattr(signal, "setitimer"):
        return load(path)

    def on_alarm(signum, frame):
        raise Hang(f"load of {path.name} took longer than {TIME_LIMIT} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        return load(path)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_mutated_checkpoints_load_or_raise_value_error(tmp_path):
    seeds = seed_checkpoints(tmp_path)
    rng = random.Random(20240601)
    outcomes: Counter = Counter()
    failures = []
    slowest = 0.0
    start = time.monotonic()
    path = tmp_path / "mutant.safetensors"
    cases = [(MUTATORS[i % len(MUTATORS)].__name__, MUTATORS[i % len(MUTATORS)](rng, rng.choice(seeds)))
             for i in range(N_MUTANTS)]
    cases += [("nastiest", raw) for raw in nastiest(seeds)]
    for name, raw in cases:
        path.write_bytes(raw)
        t0 = time.perf_counter()
        try:
            load_with_time_limit(path)
            outcomes[name, "loaded"] += 1
        except (ValueError, WeightsOnlyError) as e:  # WeightsOnlyError: a class path mutated into a refused one
            outcomes[name, "ValueError"] += 1
            if f"'{path}'" not in str(e):
                failures.append((name, f"ValueError does not name the file: {e}", raw[:200]))
        except FileNotFoundError:
            outcomes[name, "FileNotFoundError"] += 1
        except (Exception, Hang) as e:
            failures.append((name, f"{type(e).__name__}: {e}", raw[:200]))
        slowest = max(slowest, time.perf_counter() - t0)
    elapsed = time.monotonic() - start
    loaded = sum(v for (_, o), v in outcomes.items() if o == "loaded")
    rejected = sum(v for (_, o), v in outcomes.items() if o == "ValueError")
    print(f"\nfuzz: {len(cases)} files in {elapsed:.1f} s (slowest load {slowest * 1000:.0f} ms): "
          f"{loaded} loaded, {rejected} ValueError")
    for (name, outcome), count in sorted(outcomes.items()):
        print(f"  {name:22s} {outcome:12s} {count}")
    assert not failures, "\n".join(f"{n}: {msg}\n    first bytes: {raw!r}" for n, msg, raw in failures[:10])
    # the fuzzer must not be degenerate: both outcomes have to happen a lot
    assert rejected > 400 and loaded > 20


CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import minigrad.serialization as s

    if sys.platform.startswith("linux"):
        # Cap the address space at what we use now + 1 GiB: a load that tried to allocate gigabytes
        # from a forged header would die with MemoryError (a failure) instead of swapping.
        import resource
        vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))
    n = 0
    for path in sorted(Path(sys.argv[1]).iterdir()):
        try:
            s.load(path)
        except (ValueError, FileNotFoundError, s.WeightsOnlyError):
            pass
        n += 1
    print(n, "files, no crash")
    """
)


def test_nastiest_mutations_never_crash_the_interpreter(tmp_path):
    seeds = seed_checkpoints(tmp_path)
    folder = tmp_path / "nasty"
    folder.mkdir()
    rng = random.Random(7)
    blobs = nastiest(seeds) + [m(rng, rng.choice(seeds)) for m in MUTATORS for _ in range(20)]
    for i, raw in enumerate(blobs):
        (folder / f"{i:05d}.safetensors").write_bytes(raw)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, f"exit code {result.returncode}\n{result.stdout}\n{result.stderr[-3000:]}"
    assert result.stdout.strip() == f"{len(blobs)} files, no crash"
