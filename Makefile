# Two commands do everything on a fresh clone: `make reproduce` and `make test`.
# Both create .venv (pip, Python 3.10+) when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JOBS ?= 2
# torch threads of each run of `make reproduce`: the committed results were made with 1; other
# values give other numbers (within the README's tolerance), other JOBS the same numbers
THREADS ?= 1
# e.g. BATCH_FLAGS=--force: retrain runs already done (needed after a change to the code: a run
# made by other code is not reused)
BATCH_FLAGS ?=
# a replication: other training seeds (e.g. SEEDS=5,6,7,8,9) into another folder (RUNS=runs/replication)
SEEDS ?=
RUNS ?= runs

.PHONY: setup test test-fast lint reproduce reproduce-quick check-reproduction bench gpu-check lab clean-runs

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (krypto)" >/dev/null
	touch $(STAMP)

test: setup lint  ## the whole suite: lint, unit tests, every notebook through papermill on tiny data
	$(PY) -m pytest -q -n 2 --dist loadfile

test-fast: setup lint  ## lint and unit tests only
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not slow"

lint: setup  ## ruff: the linter and the formatter's check, over the whole tree
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

reproduce: setup  ## every table and figure of the README, on the embedded synthetic data set
	$(PY) -m krypto.pipeline.batch params/readme.yaml --jobs $(JOBS) --threads $(THREADS) --runs-dir $(RUNS) $(if $(SEEDS),--seeds $(SEEDS)) $(BATCH_FLAGS)
	$(PY) -m krypto.pipeline.report --runs-dir $(RUNS) $(if $(filter-out runs,$(RUNS)),--no-readme)

check-reproduction: setup  ## after `make reproduce`: its results against the committed ones (tolerance from the spread, every claim again)
	$(PY) -c "import sys; from krypto.pipeline.report.agreement import main; sys.exit(main())" $(RUNS)/report/results.json

reproduce-quick: setup  ## the same batch on tiny data, 1 epoch (minutes): a smoke test
	$(PY) -m krypto.pipeline.batch params/readme.yaml --quick --runs-dir runs/quick --jobs $(JOBS) --threads $(THREADS)

bench: setup  ## speed and memory, side by side, into runs/report/bench.json (and .md)
	$(PY) -m krypto.bench --out runs/report/bench.json

gpu-check: setup  ## on a GPU machine (minutes): every GPU code path once, then the benchmark there, into runs/report/
	$(PY) -m krypto.bench.gpu_check --device cuda --out runs/report/gpu_check.json
	$(PY) -m krypto.bench --device cuda --only training miner inference --out runs/report/bench-cuda.json

lab: setup
	$(VENV)/bin/jupyter lab notebooks/

clean-runs:  ## delete executed runs (not the committed report)
	find runs -mindepth 1 -maxdepth 1 ! -name report ! -name README.md -exec rm -rf {} +
