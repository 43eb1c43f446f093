#!/usr/bin/env bash
# Build the one-folder packaged app into dist/cnsight/ and smoke-test it offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
make setup
.venv/bin/python -m pip install --quiet -e '.[package]'
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller packaging/cnsight.spec
# Smoke test: the frozen app opens the demo study, predicts and saves a screenshot.
QT_QPA_PLATFORM=offscreen dist/cnsight/cnsight --demo --screenshot build/packaged-smoke.png
QT_QPA_PLATFORM=offscreen dist/cnsight/cnsight predict resources/demo_study --out build/packaged-predict --no-progress
.venv/bin/python tests/support/reads.py build/packaged-reads.csv
dist/cnsight/cnsight study analyze --reads build/packaged-reads.csv --out build/packaged-study
echo "built dist/cnsight ($(du -sh dist/cnsight | cut -f1)); smoke test passed"
