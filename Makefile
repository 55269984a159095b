# The two README commands: `make demo` and `make test`. Both create .venv with the pinned
# dependencies on first use, so a fresh machine needs nothing but Python 3.10+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The pinned set for the Python that builds .venv: requirements.lock needs 3.11+.
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
LOCK := $(if $(filter 3.10,$(PY_VERSION)),requirements-py310.lock,requirements.lock)

.PHONY: demo test test-latest lint benchmark-tests benchmark benchmark-drl perf clean

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(None if sys.version_info >= (3, 10) else "llmdas needs \
	Python 3.10 or newer; $(PYTHON) is " + sys.version.split()[0] + ": make PYTHON=python3.X ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)  ## run PCA, IForest, OCSVM, ECOD base vs enhanced on the embedded data
	$(BIN)/llmdas demo

test: $(STAMP)  ## lint, type check and the default test suite (fast; slow tests excluded)
	$(BIN)/ruff check src tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The newest releases that pyproject.toml allows, in place of the pinned ones, so that an upstream
# change that breaks llmdas shows up before the lock is refreshed (slow: it installs PyTorch).
LATEST := .venv-latest
test-latest:  ## the default test suite on the newest allowed releases (no lock)
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet ".[deep,llm,distributed,ray,parquet,matlab,dev]"
	$(LATEST)/bin/python -m pip list --format=freeze > $(LATEST)/versions.txt
	$(LATEST)/bin/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

benchmark-tests: $(STAMP)  ## the slow tests only
	$(BIN)/python -m pytest -q -m slow

DATA ?= ../shared/datasets
STORE ?= results.db
benchmark: $(STAMP)  ## the paper's protocol on every dataset in $(DATA); resumable store $(STORE)
	$(BIN)/llmdas benchmark --data $(DATA) --detectors PCA,IForest,OCSVM,ECOD \
	  --methods builtin,gaussian,uniform,smote --seeds 42,0,100,17,21 --split paper \
	  --store $(STORE) --jobs 2
	$(BIN)/llmdas summary $(STORE)

benchmark-drl: $(STAMP)  ## DRL base and enhanced on every dataset (slow on CPU)
	$(BIN)/llmdas benchmark --data $(DATA) --detectors DRL --methods builtin \
	  --seeds 42,0,100,17,21 --split paper --store $(STORE) --jobs 2
	$(BIN)/llmdas summary $(STORE)

perf: $(STAMP)  ## scaling table (10k-1M rows) and, if $(STORE) exists, the overhead table
	$(BIN)/llmdas perf scale
	if [ -f $(STORE) ]; then $(BIN)/llmdas perf overhead $(STORE); fi

clean:
	rm -rf $(VENV) $(LATEST) build src/*.egg-info .pytest_cache .ruff_cache .mypy_cache
