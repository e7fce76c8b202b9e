"""Rebuild ``python_docs.txt``, the char-LSTM's default corpus, from text every Python has.

The corpus is the Zen of Python (``import this``) followed by the docstrings of a fixed list of
standard-library modules, their classes and their functions, in a fixed order. The text ships with
the repository (so every run trains on the same bytes whatever the Python version); this script
only documents where it came from and lets you make a bigger or smaller one::

    python examples/data/make_corpus.py                 # writes examples/data/python_docs.txt
    python examples/data/make_corpus.py --max-chars 50000 --out small.txt

The docstrings are part of the Python standard library (PSF licence).
"""

from __future__ import annotations

import argparse
import codecs
import contextlib
import importlib
import inspect
import io
import warnings
from pathlib import Path

MODULES = [
    "textwrap", "string", "collections", "functools", "itertools", "json", "random", "statistics",
    "fractions", "heapq", "bisect", "dataclasses", "pathlib", "argparse", "contextlib", "enum", "abc",
    "copy", "pprint", "shutil", "tempfile", "csv", "difflib", "calendar", "datetime", "queue", "threading",
    "logging", "unittest.case", "doctest", "inspect", "ast", "typing", "zipfile", "tarfile", "gzip",
    "email.message", "http.client", "urllib.parse", "html.parser", "xml.dom.minidom", "sqlite3", "sched",
    "secrets", "base64", "hashlib", "hmac", "uuid", "locale", "gettext", "operator", "weakref", "types",
    "numbers", "decimal", "math", "cmath", "glob", "fnmatch", "filecmp", "configparser", "netrc", "plistlib",
    "shlex", "cmd", "code", "codeop", "timeit", "trace", "tracemalloc", "warnings", "traceback", "linecache",
    "tokenize", "keyword", "dis", "pickletools", "zipimport", "pkgutil", "runpy", "importlib", "sysconfig",
    "platform", "errno", "ctypes", "selectors", "socketserver", "asyncio.tasks", "asyncio.queues",
    "concurrent.futures", "subprocess", "signal", "mmap", "io", "os", "re",
]


def zen() -> str:
    """The Zen of Python, decoded from the ROT13 text inside the ``this`` module (printed on import)."""
    with contextlib.redirect_stdout(io.StringIO()):
        this = importlib.import_module("this")
    return codecs.decode(this.s, "rot13")


def clean(doc: str | None) -> str | None:
    if not doc:
        return None
    doc = inspect.cleandoc(doc)
    doc = "".join(c for c in doc if c == "\n" or 32 <= ord(c) < 127)  # plain ASCII keeps the vocabulary small
    return doc if len(doc) >= 40 else None


def docstrings(module_name: str) -> list[str]:
    try:
        module = importlib.import_module(module_name)
    except Exception:  # a module missing on this platform is simply left out
        return []
    out = [clean(module.__doc__)]
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            out.append(clean(obj.__doc__))
            if inspect.isclass(obj):
                for mname, member in sorted(vars(obj).items()):
                    if not mname.startswith("_") and inspect.isfunction(member):
                        out.append(clean(member.__doc__))
    return [d for d in out if d]


def build(max_chars: int) -> str:
    parts, seen, total = [zen()], set(), 0
    for name in MODULES:
        for doc in docstrings(name):
            if doc in seen:
                continue
            seen.add(doc)
            parts.append(doc)
            total += len(doc) + 2
            if total >= max_chars:
                return "\n\n".join(parts) + "\n"
    return "\n\n".join(parts) + "\n"


def main() -> None:
    warnings.simplefilter("ignore")  # deprecated aliases (typing.io) warn when touched
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-chars", type=int, default=300_000)
    ap.add_argument("--out", default=str(Path(__file__).with_name("python_docs.txt")))
    args = ap.parse_args()
    text = build(args.max_chars)
    Path(args.out).write_text(text, encoding="ascii")
    print(f"wrote {args.out}: {len(text):,} characters, {len(set(text))} distinct")


if __name__ == "__main__":
    main()
