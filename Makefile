# melbench: two commands do all set-up.
#   make run   create .venv if missing, install melbench, run the main job on the bundled data
#   make test  install the test extras and run the default test suite (+ lint)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test test-slow lint venv install install-test bench clean ci-gate ci-baseline browser
.PHONY: eval eval-data

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# pesq builds from source and needs numpy importable at build time: install it first.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q "numpy>=1.24" cython wheel setuptools hatchling editables
	$(PIP) install -q -e ".[parallel,report]"
	touch $@

$(TEST_STAMP): $(STAMP) pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test]"
	# issue 14: the evaluation metrics' extras (ViSQOL, DNSMOS, WORLD/SPTK MCD); pysptk builds from its sdist
	$(PIP) install -q -e ".[eval-metrics]"
	# lws 1.2.8 (for plugins/melbench-lws-ref): no wheels for current Pythons; rebuild its sdist with Cython.
	# On failure the lws_ref tests skip.
	$(PY) -c "import lws" 2>/dev/null || ( rm -rf $(VENV)/lws-build \
	  && $(PIP) download -q --no-binary :all: --no-deps --no-build-isolation lws==1.2.8 -d $(VENV)/lws-build \
	  && tar -xzf $(VENV)/lws-build/lws-1.2.8.tar.gz -C $(VENV)/lws-build \
	  && LWS_USE_CYTHON=1 $(PIP) install -q --no-build-isolation $(VENV)/lws-build/lws-1.2.8 ) \
	  || echo "warning: could not build lws 1.2.8; the lws_ref plugin's tests will be skipped"
	for p in plugins/*/; do [ -f $$p/pyproject.toml ] && $(PIP) install -q --no-build-isolation -e $$p || exit 1; done
	touch $@

venv install: $(STAMP)
install-test: $(TEST_STAMP)

run: $(STAMP)
	$(VENV)/bin/melbench run -m +experiment=main

test: $(TEST_STAMP) browser
	$(VENV)/bin/ruff check melbench tests plugins
	$(MAKE) --no-print-directory docs
	$(PY) -m pytest -q -n 2 tests plugins
	$(MAKE) --no-print-directory ci-gate

# issue 9: the CI regression gate: a small fixed sweep compared with the committed baseline
# (exit 1 on a regression). After an intended change: `make ci-baseline`, commit the CSV.
CI_SWEEP := outputs/ci_regression
CI_BASELINE := results/baselines/ci_regression.csv
CI_COMPARE_OPTS := --time-reference pinv/fgla --time-tol 3
ci-gate: $(STAMP)
	rm -rf $(CI_SWEEP) && mkdir -p $(dir $(CI_SWEEP))
	$(VENV)/bin/melbench run -m +experiment=ci_regression hydra.sweep.dir=$(CI_SWEEP) > $(CI_SWEEP).log 2>&1 || { tail -40 $(CI_SWEEP).log; exit 1; }
	$(VENV)/bin/melbench compare $(CI_BASELINE) $(CI_SWEEP) $(CI_COMPARE_OPTS)

ci-baseline: $(STAMP)
	rm -rf $(CI_SWEEP) && mkdir -p $(dir $(CI_SWEEP))
	$(VENV)/bin/melbench run -m +experiment=ci_regression hydra.sweep.dir=$(CI_SWEEP)
	$(VENV)/bin/melbench compare --update $(CI_BASELINE) $(CI_SWEEP)

# issue 9: Debian's chromium for the HTML report's browser test (skipped when not installable)
browser:
	@[ -x /usr/bin/chromium ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	  || echo "chromium not installed (needs root and apt-get): the HTML browser test will be skipped"

# issue 17: the documentation site, built with warnings as errors (docs/_build/html/index.html).
# Preset table and plugin catalogue are generated from the code at build time; results/*.md
# and results/papers/*/README.md are included as committed.
.PHONY: docs
DOCS_STAMP := $(VENV)/.installed-docs
$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(PIP) install -q -e ".[docs]"
	touch $@
docs: $(DOCS_STAMP)
	$(VENV)/bin/sphinx-build -q -W --keep-going -b html -c docs . docs/_build/html

test-slow: $(TEST_STAMP)
	$(PY) -m pytest -q -m slow tests plugins

# issue 15: melbench's lws gives the same bits with fresh and with cached numba kernels
# (two subprocesses, about 45 s; also part of test-slow)
.PHONY: test-lws-repro
test-lws-repro: $(TEST_STAMP)
	$(PY) -m pytest -q -m slow tests/test_lws_reproducible.py

# issue 18: sweeps on a real single-node SLURM cluster and a real local Ray cluster, started on
# 127.0.0.1 by the tests (as root; they apt-get install slurm-wlm munge if missing).
.PHONY: test-cluster
test-cluster: $(TEST_STAMP)
	$(PIP) install -q -e ".[slurm,ray]"
	$(PIP) install -q --no-deps "hydra-ray-launcher>=1.2.2"
	$(PY) -m pytest -q -m cluster tests/test_cluster.py

lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check melbench tests plugins

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache

# Pipeline benchmark (issue 16): every cell vs librosa mel_to_audio, clean and degraded mels.
# Writes results/bench_pipelines.{md,csv,png}; melbench.quality picks the presets from the CSV.
.PHONY: bench-pipelines
bench-pipelines: $(TEST_STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/melbench bench pipelines --fresh --jobs 2 --timing-repeat 3
	OMP_NUM_THREADS=1 $(VENV)/bin/melbench bench pipelines --fresh --jobs 2 --timing-repeat 3 \
	  --specs librosa torchaudio pwg_24k bigvgan_22k_80 \
	  --cells nnls+fgla:100 guarded:200+fgla:32 guarded:200:inner=joint_tc+fgla:32 \
	    guarded:200:inner=joint_tcr+fgla:0 guarded:200:inner=joint_lr+fgla:32 \
	    guarded:200:inner=joint_auto+fgla:0 guarded_wave+fgla:0 \
	  --degraded-cells nnls+fgla:100 guarded:200+fgla:32 guarded:200:inner=joint_tc+fgla:32 \
	    guarded:200:inner=joint_tcr+fgla:0 guarded:200:inner=joint_lr+fgla:32 \
	    guarded:200:inner=joint_auto+fgla:0 guarded_wave+fgla:0 \
	  --clips cmu_arctic_a0007 allison_vm-review vibe_ace_00-08s synthetic_harmonic \
	  --out results/bench_pipelines_presets

# issue 14: the evaluation suite. `make eval-data` installs its data (Debian packages as root,
# the ltfatpy test signals into $${XDG_DATA_HOME:-~/.local/share}/melbench/ltfatpy, the G.722
# decoder and the metric extras); `make eval` runs the three sweeps (the row cache in
# outputs/cache makes a rerun resume) and writes results/eval/ (report, rows, RUN.md).
EVAL_DEBS := asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722 asterisk-core-sounds-fr-g722 \
  asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722 sonic-pi-samples
EVAL_OUT := outputs/eval
EVAL_SWEEPS := $(EVAL_OUT)/clean $(EVAL_OUT)/degraded $(EVAL_OUT)/perceptual
eval-data: $(STAMP)
	@if dpkg-query -W -f '$${Status}\n' $(EVAL_DEBS) 2>/dev/null | grep -vq 'install ok installed' \
	    || ! dpkg-query -W $(EVAL_DEBS) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(EVAL_DEBS); \
	  else echo "make eval-data: the Debian packages need root; run:"; \
	    echo "  sudo apt-get install -y $(EVAL_DEBS)"; echo "then make eval-data again"; exit 1; fi; \
	else echo "Debian evaluation packages already installed"; fi
	$(PIP) install -q -e ".[eval-data,eval-metrics]"
	$(PY) -m melbench.datasets.ltfat_signals install

eval: $(STAMP)
	$(VENV)/bin/melbench run -m +experiment=eval hydra.sweep.dir=$(EVAL_OUT)/clean
	$(VENV)/bin/melbench run -m +experiment=eval_degraded hydra.sweep.dir=$(EVAL_OUT)/degraded
	$(VENV)/bin/melbench run -m +experiment=eval_perceptual hydra.sweep.dir=$(EVAL_OUT)/perceptual
	$(PY) -m melbench.bench.eval_suite results/eval $(EVAL_SWEEPS) --rows-csv $(EVAL_OUT)/rows_all.csv
	$(VENV)/bin/melbench report $(EVAL_OUT)/rows_all.csv -o results/eval/report --title "melbench evaluation suite"
	gzip -nf results/eval/report/results_by_source.csv

# issue 17: the paper reproductions (`melbench papers`), each run and reported into
# results/papers/<name>/ (1-20 min each on 2 cores); one of them with `make papers PAPER=<name>`.
# The reruns on the evaluation suite's material give their commands on their pages
# (results/papers/<name>/eval_suite/README.md).
PAPERS := librosa_thread prusa2017_pghi marafioti2021_redundancy beyond_papers peer2022_beyond_gl nenov2023_agla
.PHONY: papers
papers: $(STAMP)
	for p in $(or $(PAPER),$(PAPERS)); do $(VENV)/bin/melbench papers run $$p --melbench-report || exit 1; done
