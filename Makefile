# The two commands of the README:
#   make run   - create .venv, install healthmon, run the whole system locally (SQLite + database queue)
#   make test  - create .venv, install healthmon and the test tools, run ruff and every test (two pytest-xdist
#                workers, whole files each: the fault tests spend minutes waiting out outages and timeouts,
#                one after another on one worker, and the other worker runs the rest meanwhile; the
#                grouping is in tests/conftest.py)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt setup.cfg
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(BIN)/healthmon up

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

test: $(VENV)/.installed-dev
	scripts/ensure-test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/engine_cpu.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache healthmon.db healthmon.db-wal healthmon.db-shm
