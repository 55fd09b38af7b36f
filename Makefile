# Targets shared by people and CI. Every target sets itself up from scratch.
#
# Installs for demo, tests, lint and bench come from lock files (requirements/*.lock,
# made by pip-compile), so a fresh machine gets the releases the tests last passed
# with. `make lock` refreshes them; `make test-latest` runs the suite on today's
# newest releases instead, in its own venv, and names every package that drifted.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
LOCK   := requirements/test.lock
PEERS_LOCK := bench/requirements-peers.lock
LATEST := .venv-latest

.PHONY: demo test test-latest bench lint lock venv system-deps clean

$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c $(LOCK) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml $(LOCK)
	$(PIP) install -q -c $(LOCK) -e '.[test,lint]'
	touch $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/tether demo

system-deps:
	@sh scripts/system-deps.sh

# -X no_debug_ranges: CPython 3.11's traceback carets parse source with the ast module,
# whose recursion counter is per interpreter; a traceback formatted on a tether loop
# thread while pytest parses on the main one raised "AST constructor recursion depth
# mismatch" (SystemError) in a random test. Without debug ranges tracebacks need no ast.
PYTEST := -X no_debug_ranges -m pytest

test: $(VENV)/.installed-test system-deps
	$(PY) $(PYTEST)

# The same suite on the newest releases of every dependency (no lock): drift shows
# here, each drifted package named with its locked and its new version.
test-latest: system-deps
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install -q --upgrade pip
	$(LATEST)/bin/python -m pip install -q --upgrade --upgrade-strategy eager -e '.[test,lint]'
	$(LATEST)/bin/python scripts/drift.py $(LOCK)
	$(LATEST)/bin/python $(PYTEST) || { $(LATEST)/bin/python scripts/drift.py --failed $(LOCK); exit 1; }

bench: $(VENV)/.installed system-deps
	$(PY) bench/run.py --peers-lock $(PEERS_LOCK) $(BENCH_ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

# Re-resolve both lock files from pyproject.toml and bench/requirements-peers.txt.
# pip-compile runs from a venv of its own, so a broken project venv cannot stop a refresh.
LOCK_FLAGS := -q --strip-extras --no-emit-index-url --no-emit-find-links --upgrade
TOOLS  := .venv-tools
lock:
	[ -x $(TOOLS)/bin/pip-compile ] || { $(PYTHON) -m venv $(TOOLS) && \
		$(TOOLS)/bin/python -m pip install -q --upgrade pip 'pip-tools==7.7.0'; }
	$(TOOLS)/bin/pip-compile $(LOCK_FLAGS) --extra test --extra lint -o $(LOCK) pyproject.toml
	$(TOOLS)/bin/pip-compile $(LOCK_FLAGS) -o $(PEERS_LOCK) bench/requirements-peers.txt

clean:
	rm -rf $(VENV) $(LATEST) $(TOOLS) bench/.venv .pytest_cache build dist
