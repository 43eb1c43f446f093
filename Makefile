# Two commands do all the set-up on a fresh machine (see README):
#   make run   - installs everything, then opens the app on the bundled demo model and study
#   make test  - installs everything, then runs the whole test suite (what CI runs)
# Packaging for IT (docs/packaging.md; slow, never part of `make test`):
#   make package        - CPU build: one-folder app, .tar.gz + .deb (+ sha256), smoke test
#   make package-cuda   - the same with the CUDA torch (large)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
# The development install takes the torch the suite runs on (packaging/constraints-cuda.txt).
DEV_CONSTRAINTS := packaging/constraints-cuda.txt

.PHONY: setup system-deps check-python run test lint bench package package-cuda clean

$(STAMP): pyproject.toml $(DEV_CONSTRAINTS)
	PYTHON=$(PYTHON) bash scripts/install-system-deps.sh
	bash scripts/check-python.sh $(PYTHON)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c $(DEV_CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

system-deps:
	PYTHON=$(PYTHON) bash scripts/install-system-deps.sh

check-python:
	bash scripts/check-python.sh $(PYTHON)

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
	QT_QPA_PLATFORM=offscreen $(PY) -m bench

# The builds make their own virtual environments (BUILD_DIR, default build/package); the
# artefacts land in DIST_DIR (default dist/). See packaging/build.sh for the knobs.
package: system-deps check-python
	PYTHON=$(PYTHON) bash packaging/build.sh cpu

package-cuda: system-deps check-python
	PYTHON=$(PYTHON) bash packaging/build.sh cuda

clean:
	rm -rf $(VENV) build dist .pytest_cache
