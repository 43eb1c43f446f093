#!/usr/bin/env bash
# Smoke test of a built CNSight .deb (docs/packaging.md):
#
#   bash packaging/smoke_test.sh dist/cnsight_VERSION_amd64.deb [--keep]
#
# 1. installs it with dpkg into an empty root: `dpkg --root=ROOT` (a real dpkg install with its
#    own package database in ROOT/var/lib/dpkg; no chroot: the root holds no system, so Depends
#    are not checked - the host supplies the system libraries when the app runs);
# 2. checks the layout (/opt/cnsight, the three commands, desktop entry, icon);
# 3. runs the installed commands from ROOT on the host, as a user with an empty home:
#    `cnsight --demo --screenshot`, CNSIGHT_SMOKE_RUNS times (default 3; the first-window time
#    is read from the app's log: seconds from process start, as bench/gui_startup.py reports),
#    `cnsight-predict` on the installed demo study (every patient's verdict must match the
#    manifest's label) and `cnsight-study analyze` on the Van Dyke reference reads (F, ddf and
#    p must match the published values, ../shared/data/mrmc/EXPECTED.md; synthetic reads from
#    tests/support/reads.py when the reference data are absent);
# 4. checks the app wrote nothing into its install folder;
# 5. purges the package and checks that nothing is left in ROOT but dpkg's own database.
# Root is not needed (dpkg --root works for any user who owns ROOT).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DEB=$(realpath "${1:?usage: smoke_test.sh PACKAGE.deb [--keep]}")
KEEP=${2:-}
PKG=$(dpkg-deb -f "$DEB" Package)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cnsight-smoke.XXXXXX")
ROOT=$WORK/root
OUT=$WORK/out
unset XDG_CONFIG_HOME XDG_CACHE_HOME XDG_DATA_HOME XDG_STATE_HOME
export HOME=$WORK/home
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates" "$OUT" "$HOME"
touch "$ROOT/var/lib/dpkg/status"
[ "$KEEP" = --keep ] || trap 'rm -rf "$WORK"' EXIT
fail() { echo "SMOKE TEST FAILED: $*" >&2; exit 1; }
ok() { echo "  ok  $*"; }
DPKG=(dpkg --root="$ROOT" --force-depends --force-not-root --log=/dev/null)

echo "== install $(basename "$DEB") into $ROOT (dpkg --root, no chroot)"
t0=$(date +%s.%N)
"${DPKG[@]}" --install "$DEB" >"$WORK/dpkg-install.log" 2>&1 || { cat "$WORK/dpkg-install.log"; fail "dpkg --install"; }
ok "installed in $(echo "$(date +%s.%N) - $t0" | bc) s: $(du -sh "$ROOT/opt/cnsight" | cut -f1) under /opt/cnsight"
"${DPKG[@]}" --status "$PKG" | grep -q '^Status: install ok installed' || fail "dpkg does not list $PKG as installed"
for c in cnsight cnsight-predict cnsight-study; do
  [ -L "$ROOT/usr/bin/$c" ] && [ -x "$ROOT/usr/bin/$c" ] || fail "/usr/bin/$c missing or not executable"
done
ok "/usr/bin/cnsight, cnsight-predict, cnsight-study -> $(readlink "$ROOT/usr/bin/cnsight")"
DESKTOP=$ROOT/usr/share/applications/cnsight.desktop
[ -f "$DESKTOP" ] || fail "no desktop entry"
grep -q '^Exec=cnsight %F$' "$DESKTOP" && grep -q '^Icon=cnsight$' "$DESKTOP" || fail "desktop entry lacks Exec/Icon"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$DESKTOP" || fail "desktop-file-validate"
  ok "desktop entry valid (desktop-file-validate)"
else
  ok "desktop entry present (desktop-file-validate not installed: not validated)"
fi
[ -f "$ROOT/usr/share/icons/hicolor/scalable/apps/cnsight.svg" ] || fail "no scalable icon"
ok "icons: $(cd "$ROOT/usr/share/icons/hicolor" && echo */apps/cnsight.*)"
snapshot() { (cd "$ROOT/opt/cnsight" && find . -printf '%p %s %T@\n' | sort); }
snapshot >"$WORK/opt-before.txt"

RUNS=${CNSIGHT_SMOKE_RUNS:-3}
echo "== cnsight --demo --screenshot (offscreen), $RUNS launches"
export QT_QPA_PLATFORM=${QT_QPA_PLATFORM:-offscreen}
firsts=()
for run in $(seq 1 "$RUNS"); do
  t0=$(date +%s.%N)
  "$ROOT/usr/bin/cnsight" -v --demo --screenshot "$OUT/demo.png" >"$WORK/app.log" 2>&1 || { tail -30 "$WORK/app.log"; fail "cnsight --demo --screenshot"; }
  wall=$(echo "$(date +%s.%N) - $t0" | bc)
  [ "$(stat -c %s "$OUT/demo.png")" -gt 20000 ] || fail "screenshot missing or nearly empty"
  first=$(grep -o 'first window shown [0-9.]* s' "$WORK/app.log" | grep -o '[0-9][0-9.]*' || true)
  [ -n "$first" ] || fail "the app did not log its first window"
  if grep -v 'libgtk-3\|libgdk-3\|propagateSizeHints' "$WORK/app.log" | grep -E 'Traceback|ERROR|Error:' >/dev/null; then
    grep -E 'Traceback|ERROR|Error:' "$WORK/app.log" >&2
    fail "errors in the app's log"
  fi
  firsts+=("$first")
  printf '  ok  launch %d: first window %s s after process start; model loaded, 66 images predicted, screenshot saved: %.1f s\n' "$run" "$first" "$wall"
done
first=$(printf '%s\n' "${firsts[@]}" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
ok "first window: median $first s of $RUNS launches (${firsts[*]}); screenshot $(stat -c %s "$OUT/demo.png") bytes"
[ -n "${CNSIGHT_SMOKE_SCREENSHOT:-}" ] && cp "$OUT/demo.png" "$CNSIGHT_SMOKE_SCREENSHOT"

echo "== cnsight-predict on the installed demo study"
STUDY=$ROOT/opt/cnsight/_internal/resources/demo_study
"$ROOT/usr/bin/cnsight-predict" "$STUDY/manifest.csv" --out "$OUT/predict" --no-progress >"$WORK/predict.log" 2>&1 \
  || { tail -20 "$WORK/predict.log"; fail "cnsight-predict"; }
python3 - "$STUDY/manifest.csv" "$OUT/predict/patients.csv" <<'EOF' || fail "cnsight-predict verdicts"
import csv, sys
labels = {r["patient_id"]: r["label"] for r in csv.DictReader(open(sys.argv[1]))}
rows = list(csv.DictReader(open(sys.argv[2])))
got = {r["patient_id"]: r for r in rows}
assert set(got) == set(labels), f"patients {sorted(got)} != manifest {sorted(labels)}"
wrong = {p: (r["pred"], labels[p]) for p, r in got.items() if r["pred"] != labels[p]}
assert not wrong, f"wrong verdicts (predicted, label): {wrong}"
print(f"  ok  {len(got)} patients, every verdict = the manifest's label: {sorted(labels.values())}")
EOF

echo "== cnsight-study analyze on the reference reads"
READS=${CNSIGHT_REFERENCE_READS:-$REPO/../shared/data/mrmc/vandyke.csv}
if [ -f "$READS" ]; then
  "$ROOT/usr/bin/cnsight-study" analyze --reads "$READS" --out "$OUT/study" >"$WORK/study.log" 2>&1 \
    || { tail -20 "$WORK/study.log"; fail "cnsight-study analyze"; }
  python3 - "$OUT/study/analysis.json" <<'EOF' || fail "Van Dyke analysis differs from the published results"
import json, sys
a = json.load(open(sys.argv[1]))
rrrc = a["obuchowski_rockette"]["rrrc"]  # OR, jackknife covariance, Hillis ddf
f, ddf, p = rrrc["f"], rrrc["ddf"], rrrc["p"]
assert (round(f, 2), round(ddf, 2), round(p, 4)) == (4.46, 15.26, 0.0517), (f, ddf, p)
print(f"  ok  Van Dyke OR-RRRC: F = {f:.2f}, ddf = {ddf:.2f}, p = {p:.4f} (published: 4.46, 15.26, 0.0517)")
EOF
else
  echo "  (reference reads $READS absent: synthetic reads from tests/support/reads.py)"
  PY=python3; [ -x .venv/bin/python ] && PY=.venv/bin/python
  "$PY" tests/support/reads.py "$OUT/reads.csv"
  "$ROOT/usr/bin/cnsight-study" analyze --reads "$OUT/reads.csv" --out "$OUT/study" >"$WORK/study.log" 2>&1 \
    || { tail -20 "$WORK/study.log"; fail "cnsight-study analyze"; }
  [ -s "$OUT/study/analysis.json" ] && [ -s "$OUT/study/report.html" ] || fail "no analysis.json/report.html"
  ok "analysis.json + report.html written"
fi

echo "== the install folder is untouched, the user's files are where docs/packaging.md says"
snapshot >"$WORK/opt-after.txt"
diff -q "$WORK/opt-before.txt" "$WORK/opt-after.txt" >/dev/null || { diff "$WORK/opt-before.txt" "$WORK/opt-after.txt" | head; fail "the app changed /opt/cnsight"; }
ok "/opt/cnsight unchanged by the runs"
ok "written under \$HOME: $(cd "$HOME" && find . -mindepth 1 -maxdepth 3 | sort | tr '\n' ' ')"

echo "== purge"
"${DPKG[@]}" --purge "$PKG" >"$WORK/dpkg-purge.log" 2>&1 || { cat "$WORK/dpkg-purge.log"; fail "dpkg --purge"; }
left=$(cd "$ROOT" && find . -mindepth 1 ! -path './var' ! -path './var/lib' ! -path './var/lib/dpkg' ! -path './var/lib/dpkg/*')
[ -z "$left" ] || { echo "$left" | head -20; fail "files left after purge"; }
"${DPKG[@]}" --status "$PKG" >/dev/null 2>&1 && "${DPKG[@]}" --status "$PKG" | grep -q '^Status: install ok installed' && fail "still installed"
ok "purged: nothing left in the root but dpkg's database"
echo "SMOKE TEST PASSED: $(basename "$DEB") (first window $first s)"
