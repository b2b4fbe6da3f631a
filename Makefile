# Two commands do all the set-up on a fresh machine (Python >= 3.11 required):
#   make run    simulate the bundled big-bang CRM upgrade, 1,000,000 trials, and write its HTML report
#   make test   run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench bench-big clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "simengine needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench,dask]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/simengine run crm_upgrade_big_bang --trials 1000000 --report --force

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

bench-big: $(STAMP)
	$(BIN)/python benchmarks/run.py --sizes 1e5 --big 1e8

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
