#!/usr/bin/env bash
# Train the demo model on a CUDA machine, as one self-contained job (~7 min on one H100):
# phantoms -> cnsight-train (published input size 224, AMP, channels_last, DataLoader workers)
# -> bundle -> cnsight-eval on a SELECTION set of another seed (CUDA) -> a CPU-vs-CUDA predictor
# check. The test set (seed 4) is NOT evaluated here: the model to ship is chosen on the
# selection set first, then tested once (docs/benchmarks.md).
#
#   OUT=/path/to/results bash bench/gpu_demo_training.sh
#
# Knobs (environment): PATIENTS_PER_SEED (75), SEEDS ("101 ... 112"), EPOCHS (30),
# TIME_LIMIT (minutes, 5.5), WORKERS (14), SELECT_PATIENTS (100), DEVICE (auto), PY (python3).
# A tiny CPU dry run: PATIENTS_PER_SEED=3 SEEDS="101 102" EPOCHS=1 WORKERS=1 SELECT_PATIENTS=5 \
#   CROP=64 RESIZE=72 DEVICE=cpu PY=.venv/bin/python OUT=/tmp/gpu_dry bash bench/gpu_demo_training.sh
set -euo pipefail
: "${OUT:?set OUT to a results folder}"
PY=${PY:-python3}
PATIENTS_PER_SEED=${PATIENTS_PER_SEED:-75}
SEEDS=${SEEDS:-"101 102 103 104 105 106 107 108 109 110 111 112"}
EPOCHS=${EPOCHS:-30}
TIME_LIMIT=${TIME_LIMIT:-5.5}
WORKERS=${WORKERS:-14}
SELECT_PATIENTS=${SELECT_PATIENTS:-100}
DEVICE=${DEVICE:-auto}
RESIZE=${RESIZE:-256}
CROP=${CROP:-224}
WORK=${WORK:-/tmp/cnsight_gpu}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
rm -rf "$WORK"/*
# Small results are packed into $OUT/results.tgz on any exit (a results folder may hold only a
# few files), the weights go to $OUT in pieces.
RES="$WORK/results"
mkdir -p "$RES"
trap 'tar -czf "$OUT/results.tgz" -C "$RES" .' EXIT
exec > >(tee -a "$RES/script.log") 2>&1
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start )) s] $*"; }

stamp "environment"
"$PY" - <<'PYEOF' | tee "$RES/environment.txt"
import platform, torch, torchvision, numpy
print("python", platform.python_version(), "torch", torch.__version__, "torchvision", torchvision.__version__, "numpy", numpy.__version__)
print("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
PYEOF

stamp "phantoms: training seeds $SEEDS x $PATIENTS_PER_SEED patients (PNG + DICOM), in parallel"
pids=()
for s in $SEEDS; do
  "$PY" -m phantoms.cli "$WORK/train/s$s" --patients "$PATIENTS_PER_SEED" --seed "$s" --format both --quiet &
  pids+=($!)
done
"$PY" -m phantoms.cli "$WORK/select_png" --patients "$SELECT_PATIENTS" --seed 5 --format png --quiet &
pids+=($!)
"$PY" -m phantoms.cli "$WORK/select_dicom" --patients "$SELECT_PATIENTS" --seed 5 --format dicom --quiet &
pids+=($!)
for pid in "${pids[@]}"; do wait "$pid"; done  # (a bare wait would also wait for the tee above)
"$PY" bench/merge_manifests.py "$WORK/train"  # one manifest over all seeds

stamp "training"
"$PY" -m training.train --data "$WORK/train/manifest.csv" --out "$WORK/run" --arch resnet34 \
  --resize "$RESIZE" --crop "$CROP" --epochs "$EPOCHS" --batch-size 64 --lr 1e-3 --warmup-epochs 1 \
  --patience 10 --aug-scale 0.5 1.0 --aggregation auto --time-limit "$TIME_LIMIT" \
  --workers "$WORKERS" --device "$DEVICE" --seed 0 --half --no-progress \
  --name cnsight-demo-phantoms-resnet34-224 \
  --description "Demo model trained on synthetic phantoms only (cnsight-phantoms). Research use only - not for diagnosis. Not trained on patient data; not for any clinical use."
cp "$WORK/run/bundle/model_card.json" "$WORK/run/log.csv" "$WORK/run/train.log" "$RES/"
# The fp16 weights (~43 MB) travel back in pieces of < 16 MB: cat model.safetensors.part* > model.safetensors
split -b 15M -d "$WORK/run/bundle/model.safetensors" "$OUT/model.safetensors.part"

stamp "selection set (seed 5): cnsight-eval on $DEVICE"
for fmt in png dicom; do
  "$PY" -m training.evaluate --model "$WORK/run/bundle" --data "$WORK/select_$fmt/manifest.csv" \
    --out "$WORK/select_eval_$fmt" --device "$DEVICE" --batch-size 64 --bootstrap 200 --no-progress
  cp "$WORK/select_eval_$fmt/metrics.json" "$RES/select_metrics_$fmt.json"
  cp "$WORK/select_eval_$fmt/patients.csv" "$RES/select_patients_$fmt.csv"
done

stamp "predictor: $DEVICE vs CPU on the same images (probabilities and every class's CAM)"
"$PY" - "$WORK/run/bundle" "$WORK/select_png/manifest.csv" "$DEVICE" <<'PYEOF' | tee "$RES/device_check.txt"
import sys, csv
from pathlib import Path
import numpy as np
from core.bundle import load_bundle
from core.imaging import read_image
from core.predictor import Predictor
from core.records import ImageRef
bundle = load_bundle(sys.argv[1])
rows = list(csv.DictReader(open(sys.argv[2])))[:32]
images = [read_image(ImageRef(Path(sys.argv[2]).parent / r["path"])) for r in rows]
out = {}
for device in ("cpu", sys.argv[3]):
    with Predictor(bundle, device=device, batch_size=16) as p:
        preds = p.predict_batch(images)
        out[device] = (np.stack([q.probs for q in preds]), np.stack([q.cams for q in preds]), str(p.device))
(pc, cc, dc), (pg, cg, dg) = out["cpu"], out[sys.argv[3]]
print(f"{dc} vs {dg}: {len(images)} images; max |dp| {np.abs(pc - pg).max():.2e}; "
      f"max |dCAM| {np.abs(cc - cg).max():.2e}; same top class {np.mean(pc.argmax(1) == pg.argmax(1)):.3f}")
PYEOF
stamp "done"
