#!/usr/bin/env bash
# Build one flavour of the packaged app and its installable artefacts (docs/packaging.md):
#
#   bash packaging/build.sh [cpu|cuda]          (make package / make package-cuda)
#
#   $BUILD_DIR/venv-FLAVOUR/       the build's own virtual environment (torch of that flavour)
#   $BUILD_DIR/FLAVOUR/cnsight/    the PyInstaller one-folder app
#   $DIST_DIR/cnsight-VERSION-linux-x86_64-FLAVOUR.tar.gz (+ .sha256)   the folder, archived
#   $DIST_DIR/cnsight[-cuda]_VERSION_amd64.deb (+ .sha256)              installs under /opt
#   $DIST_DIR/cnsight-VERSION-FLAVOUR-sizes.txt                        what takes the space
#
# then runs packaging/smoke_test.sh on the .deb (SMOKE=0 skips it; REUSE_APP=1 keeps an app
# already built in $BUILD_DIR/FLAVOUR and redoes only the artefacts; DEB_COMPRESSION=gzip (default:
# every dpkg reads it, and it takes minutes where xz took over an hour on 2 busy cores), xz or zstd). Defaults: BUILD_DIR=build/package,
# DIST_DIR=dist (both ignored by git); PYTHON=python3 (>= 3.11). Extra pip options (an index that
# has the CPU torch wheel, a wheel folder for an offline build) go in PIP_* variables, e.g.
# PIP_EXTRA_INDEX_URL or PIP_FIND_LINKS, which pip reads itself.
set -euo pipefail
cd "$(dirname "$0")/.."
FLAVOUR=${1:-cpu}
case "$FLAVOUR" in
  cpu | cuda) ;;
  *) echo "build.sh: unknown flavour '$FLAVOUR' (use cpu or cuda)" >&2; exit 2 ;;
esac
PYTHON=${PYTHON:-python3}
BUILD_DIR=$(realpath -m "${BUILD_DIR:-build/package}")
DIST_DIR=$(realpath -m "${DIST_DIR:-dist}")
SMOKE=${SMOKE:-1}
bash scripts/check-python.sh "$PYTHON"
VERSION=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
[ "$ARCH" = amd64 ] || { echo "build.sh: only x86_64 (amd64) builds are set up, not $ARCH" >&2; exit 2; }
VENV=$BUILD_DIR/venv-$FLAVOUR
OUT=$BUILD_DIR/$FLAVOUR
CONSTRAINTS=packaging/constraints-$FLAVOUR.txt
mkdir -p "$BUILD_DIR" "$DIST_DIR"
step() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }
started=$(date +%s)

APP=$OUT/cnsight
if [ "${REUSE_APP:-0}" = 1 ] && [ -x "$APP/cnsight" ]; then
  step "1-2/5 reusing the app built in $APP (REUSE_APP=1)"
else
step "1/5 build environment $VENV ($CONSTRAINTS)"
# Reinstalled only when pyproject.toml or the constraints change (a stamp holds their hash).
want=$(cat pyproject.toml "$CONSTRAINTS" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$VENV/.cnsight-stamp" 2>/dev/null)" != "$want" ]; then
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  if ! "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" '.[package]'; then
    echo "build.sh: pip could not install the $FLAVOUR dependencies ($CONSTRAINTS)." >&2
    [ "$FLAVOUR" = cpu ] && echo "  The CPU torch wheel (torch==2.13.0+cpu) is not on PyPI: point pip at PyTorch's CPU" \
      "wheel index (PIP_EXTRA_INDEX_URL) or at a folder holding the wheel (PIP_FIND_LINKS); docs/packaging.md." >&2
    exit 1
  fi
  echo "$want" >"$VENV/.cnsight-stamp"
fi
"$VENV/bin/python" - "$FLAVOUR" <<'EOF'
import sys
import torch, importlib.metadata as md
flavour = sys.argv[1]
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), torchvision {md.version('torchvision')}, "
      f"PyInstaller {md.version('pyinstaller')}")
if flavour == "cpu" and torch.version.cuda is not None:
    sys.exit("build.sh: the cpu flavour got a CUDA torch: check packaging/constraints-cpu.txt")
if flavour == "cuda" and torch.version.cuda is None:
    sys.exit("build.sh: the cuda flavour got a CPU-only torch: check packaging/constraints-cuda.txt")
EOF

step "2/5 PyInstaller one-folder app -> $OUT/cnsight"
rm -rf "$OUT"
CNSIGHT_FLAVOUR=$FLAVOUR "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$OUT" --workpath "$BUILD_DIR/work-$FLAVOUR" packaging/cnsight.spec
echo "PyInstaller done in $(($(date +%s) - started)) s"
fi
"$PYTHON" packaging/size_report.py "$APP" --title "CNSight $VERSION, $FLAVOUR build" \
  | tee "$DIST_DIR/cnsight-$VERSION-$FLAVOUR-sizes.txt"

step "3/5 archive"
ARCHIVE=$DIST_DIR/cnsight-$VERSION-linux-x86_64-$FLAVOUR.tar.gz
# One top folder named like the archive; sorted, root-owned entries: the same tree gives the same list.
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$OUT" \
  --transform "s|^cnsight|cnsight-$VERSION-$FLAVOUR|" -czf "$ARCHIVE" cnsight
(cd "$DIST_DIR" && sha256sum "$(basename "$ARCHIVE")" >"$(basename "$ARCHIVE").sha256")

step "4/5 Debian package"
DEB=$("$PYTHON" packaging/make_deb.py --app "$APP" --flavour "$FLAVOUR" --version "$VERSION" \
  --icon-dir resources/icons --work "$BUILD_DIR/deb-$FLAVOUR" --out "$DIST_DIR" \
  --compression "${DEB_COMPRESSION:-gzip}")
(cd "$DIST_DIR" && sha256sum "$(basename "$DEB")" >"$(basename "$DEB").sha256")
rm -rf "$BUILD_DIR/deb-$FLAVOUR" "$BUILD_DIR/work-$FLAVOUR"

step "5/5 smoke test of the .deb"
if [ "$SMOKE" = 1 ]; then
  bash packaging/smoke_test.sh "$DEB"
else
  echo "skipped (SMOKE=0)"
fi

printf '\nbuilt in %d s:\n' $(($(date +%s) - started))
du -sh "$APP" | sed 's/^/  unpacked  /'
ls -l "$ARCHIVE" "$DEB" | awk '{printf "  %5.0f MB  %s\n", $5 / 1048576, $NF}'
cat "$ARCHIVE.sha256" "$DEB.sha256" | sed 's/^/  sha256  /'
