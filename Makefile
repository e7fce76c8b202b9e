# The README's two commands: `make demo` and `make test`.
# Each creates .venv when missing, installs minigrad (editable) with what it needs,
# makes sure Graphviz's `dot` is there, then runs. The Numba kernels compile once and are cached:
# `make demo` compiles the float32 ones first (two processes), so that its fixed number of steps gives
# the same numbers every time; `make test` compiles them for both dtypes the tests use. Scripts run
# without a warmup start at once (see docs/performance.md, "Cold start").

PYTHON ?= python3
# Options for examples/demo.py, e.g. `make demo DEMO_ARGS="--seconds 30"` (see `python examples/demo.py --help`).
DEMO_ARGS ?=
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench fixtures clean dot chromium warmup

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

dot:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Graphviz (dot) with apt-get ..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null) \
		|| echo "warning: could not install graphviz; drawings will be DOT text only"; \
	else \
		echo "note: Graphviz 'dot' is not installed; install it (e.g. 'sudo apt-get install graphviz' or 'brew install graphviz') to render SVG/PNG. Going on without it."; \
	fi

# Debian's chromium for the explorer's browser tests (Playwright drives it; `playwright install` is never run).
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing chromium with apt-get (for the explorer's browser tests) ..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "warning: could not install chromium; the explorer's browser tests will skip"; \
	else \
		echo "note: chromium is not installed; the explorer's browser tests will skip (e.g. 'sudo apt-get install chromium')."; \
	fi

warmup: $(STAMP)
	$(PY) -m minigrad warmup --all --dtypes float32 float64

demo: $(STAMP) dot
	$(PY) -m minigrad warmup
	$(PY) examples/demo.py $(DEMO_ARGS)

test: $(STAMP) dot chromium warmup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

bench: $(STAMP) warmup
	$(PY) benchmarks/run.py

fixtures: $(STAMP)
	$(PY) tests/make_fixtures.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
