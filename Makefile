# Two commands do all the set-up on a fresh machine (Python >= 3.11 required):
#   make run    simulate the bundled big-bang CRM upgrade, 1,000,000 trials, and write its HTML report
#   make test   run the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench bench-big bench-check bench-versus clean

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

# The guard (under a minute): engine/floor and kernel/floor ratios against benchmarks/baseline.json;
# fails when one is worse by more than BENCH_TOLERANCE (CI passes a looser one for a shared machine).
BENCH_TOLERANCE ?= 0.25
bench-check: $(STAMP)
	$(BIN)/python benchmarks/check.py --tolerance $(BENCH_TOLERANCE)

# Before and after in one run (about 11 minutes): make bench-versus BEFORE=<git revision>
bench-versus: $(STAMP)
	@test -n "$(BEFORE)" || { echo "make bench-versus: say which revision to compare with," \
		"e.g. BEFORE=1bef53b" >&2; exit 2; }
	$(BIN)/python benchmarks/versus.py $(BEFORE) --json benchmarks/versus-results.json

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
