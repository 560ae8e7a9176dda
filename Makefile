# melbench: two commands do all set-up.
#   make run   create .venv if missing, install melbench, run the main job on the bundled data
#   make test  install the test extras and run the default test suite (+ lint)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-slow lint venv install install-test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# pesq builds from source and needs numpy importable at build time: install it first.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q "numpy>=1.24" cython wheel setuptools hatchling editables
	$(PIP) install -q -e ".[parallel,report]"
	touch $@

$(TEST_STAMP): $(STAMP) pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PIP) install -q -e ".[test]"
	for p in plugins/*/; do [ -f $$p/pyproject.toml ] && $(PIP) install -q --no-build-isolation -e $$p || exit 1; done
	touch $@

venv install: $(STAMP)
install-test: $(TEST_STAMP)

run: $(STAMP)
	$(VENV)/bin/melbench run -m +experiment=main

test: $(TEST_STAMP)
	$(VENV)/bin/ruff check melbench tests plugins
	$(PY) -m pytest -q -n 2 tests plugins

test-slow: $(TEST_STAMP)
	$(PY) -m pytest -q -m slow tests plugins

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check melbench tests plugins

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
