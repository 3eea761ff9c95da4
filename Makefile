# Two commands do all set-up on a fresh machine with Python 3.11:
#   make demo   create .venv from requirements.txt, then tune the built-in default dataset
#   make test   create .venv from requirements.txt, then run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast bench clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) run_tuning.py $(ARGS)

test: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 --dist worksteal

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -n 2 --dist worksteal -m "not slow"

bench: $(VENV)/.installed
	$(PY) benchmarks/run_benchmarks.py

clean:
	rm -rf $(VENV) .pytest_cache
