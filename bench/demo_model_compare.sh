#!/usr/bin/env bash
# Test a new demo model once, side by side with the previous one, on data neither has seen:
# fresh phantoms of a new seed (PNG and DICOM) as the in-domain set; as out-of-domain sets the
# real FBAU images (../shared/data/fbau, when present) and bench/ood_inputs.py's files (the
# non-fetal ultrasound and non-ultrasound DICOM inside pydicom, test patterns, photograph-like
# images). Every number comes from cnsight-eval, so it is what the app would do.
#
#   NEW=/tmp/demo_v3/work/run/bundle OLD=/tmp/old_demo_model OUT=/tmp/compare bash bench/demo_model_compare.sh
#
# Knobs: SEED (6: never used for training, selection or an earlier test), PATIENTS (50 per
# format), FBAU (../shared/data/fbau), PY (.venv/bin/python).
set -euo pipefail
: "${NEW:?set NEW to the new bundle}" "${OLD:?set OLD to the previous bundle}" "${OUT:?set OUT}"
PY=${PY:-.venv/bin/python}
SEED=${SEED:-6}
PATIENTS=${PATIENTS:-50}
FBAU=${FBAU:-../shared/data/fbau}
WORK=${WORK:-$OUT/work}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/compare.log") 2>&1
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*"; }

for fmt in png dicom; do
  [ -f "$WORK/test_$fmt/manifest.csv" ] || \
    "$PY" -m phantoms.cli "$WORK/test_$fmt" --patients "$PATIENTS" --seed "$SEED" --format "$fmt" --quiet
done
[ -f "$WORK/ood/manifest.csv" ] || "$PY" bench/ood_inputs.py "$WORK/ood"
OOD=("$WORK/ood/manifest.csv")
[ -e "$FBAU" ] && OOD+=("$FBAU")  # a folder or a manifest

for model in new old; do
  bundle=$NEW; [ "$model" = old ] && bundle=$OLD
  for fmt in png dicom; do
    extra=()
    [ "$fmt" = png ] && extra=(--ood "${OOD[@]}")  # the detector against the PNG set
    stamp "$model model, seed-$SEED phantoms ($fmt)${extra:+ + out-of-domain sets}"
    "$PY" -m training.evaluate --model "$bundle" --data "$WORK/test_$fmt/manifest.csv" \
      --out "$OUT/${model}_$fmt" --device cpu --batch-size 32 --bootstrap 200 --no-progress \
      "${extra[@]}"
  done
done

stamp "summary"
"$PY" - "$OUT" <<'PYEOF' | tee "$OUT/summary.md"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
def pct(x): return "-" if x is None else f"{100 * x:.1f}%"
def num(x): return "-" if x is None else f"{x:.3f}"
print("| model | set | images | patient acc (assessable) | patients not assessable | acc counting them wrong | image acc | in-domain kept |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for model in ("old", "new"):
    for fmt in ("png", "dicom"):
        m = json.loads((out / f"{model}_{fmt}" / "metrics.json").read_text())
        p, d = m["patient"], m["domain"]["in_domain"]
        print(f"| {model} | {fmt} | {m['data']['images']} | {num(p['accuracy'])} ({p['n']}) | "
              f"{len(p['not_assessable'])} | {num(p['accuracy_counting_not_assessable_as_wrong'])} | "
              f"{num(m['image']['accuracy'])} | {pct(d['assessable'])} |")
print()
print("| model | out-of-domain set | images | flagged | by reason | AUROC Mahalanobis | AUROC max-softmax |")
print("|---|---|---:|---:|---|---:|---:|")
for model in ("old", "new"):
    m = json.loads((out / f"{model}_png" / "metrics.json").read_text())
    sets = m["domain"].get("out_of_domain", {})
    rows = list(sets.items()) + [("all", m["domain"].get("detector_all_out_of_domain"))]
    for name, s in rows:
        if s is None:
            continue
        det = s.get("detector", s)
        images = s.get("images", "")
        reasons = ", ".join(f"{k} {v}" for k, v in s.get("by_reason", {}).items())
        label = Path(name).parent.name if name.endswith(".csv") else Path(name).name or name
        print(f"| {model} | {label} | {images} | {pct(det['flagged_out_of_domain'])} | "
              f"{reasons} | {num(det.get('auroc_mahalanobis'))} | {num(det.get('auroc_max_softmax'))} |")
PYEOF
stamp "done"
