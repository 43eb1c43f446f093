#!/usr/bin/env bash
# FBAU grouped 5-fold cross-validation with ResNet34 on a CUDA machine (~4 min on one H100).
# The FBAU images travel as a 128-px copy (the device machine cannot see ../shared):
#   python bench/fbau_small_copy.py ../shared/data/fbau .fbau128     # here, once
#   OUT=results DATA=.fbau128/manifest.csv bash bench/gpu_fbau_cv.sh  # there
set -euo pipefail
: "${OUT:?set OUT to a results folder}"
DATA=${DATA:-.fbau128/manifest.csv}
PY=${PY:-python3}
TIME_LIMIT=${TIME_LIMIT:-0.55}  # minutes of training per fold
WORK=${WORK:-/tmp/cnsight_fbau}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
rm -rf "${WORK:?}"/*
trap 'tar -czf "$OUT/results.tgz" -C "$WORK" --exclude="*.pt" --exclude="*.safetensors" --exclude=tensorboard .' EXIT
"$PY" -m training.crossval --data "$DATA" --out "$WORK/cv5" \
  --classes normal,encephalocele,other_anomaly --folds 5 --val-fraction 0.15 \
  --arch resnet34 --resize 128 --crop 112 --epochs 25 --batch-size 64 --lr 1e-3 \
  --patience 8 --aug-scale 0.5 1.0 --time-limit "$TIME_LIMIT" \
  --workers 6 --seed 0 --no-progress --no-tensorboard 2>&1 | tee "$WORK/crossval.log"
