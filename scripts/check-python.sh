#!/usr/bin/env bash
# Is PYTHON (first argument, default python3) a Python >= 3.11 that can make a virtual
# environment? Prints what to do when not (exit 1). Called by the Makefile and packaging/build.sh.
set -uo pipefail
PY=${1:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "CNSight needs Python >= 3.11, and '$PY' is not installed." >&2
  echo "  Debian 12 / Ubuntu 24.04: sudo apt-get install python3 python3-venv" >&2
  echo "  or name another interpreter: make PYTHON=/path/to/python3.11 ..." >&2
  exit 1
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "CNSight needs Python >= 3.11; $PY is $("$PY" -V 2>&1)." >&2
  echo "  Ubuntu 22.04 ships 3.10: sudo apt-get install python3.11 python3.11-venv, then" >&2
  echo "  make PYTHON=python3.11 run (or test); any other Python >= 3.11 works the same way." >&2
  exit 1
fi
# Debian/Ubuntu split ensurepip (what `python3 -m venv` needs) into the python3-venv package.
if ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  v=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  echo "$PY ($v) cannot create virtual environments: its ensurepip module is missing." >&2
  echo "  Debian/Ubuntu: sudo apt-get install python$v-venv (scripts/install-system-deps.sh does it)" >&2
  exit 1
fi
