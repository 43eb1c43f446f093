# Two commands do all the set-up on a fresh machine (see README):
#   make run   - installs everything, then opens the app on the bundled demo model and study
#   make test  - installs everything, then runs the whole test suite (what CI runs)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup system-deps run test lint bench package clean

$(STAMP): pyproject.toml
	bash scripts/install-system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	bash scripts/install-system-deps.sh

run: setup
	$(VENV)/bin/cnsight --demo

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) bench/heatmap_cost.py

package: setup
	bash packaging/build.sh

clean:
	rm -rf $(VENV) build dist .pytest_cache
