"""DDP through torchrun: two CPU processes on the gloo backend, tiny model, one epoch."""

import json
import os
import subprocess
import sys
from pathlib import Path

from core.bundle import load_bundle
from tests.support.training_data import tiny_args

ROOT = Path(__file__).resolve().parents[2]


def test_torchrun_two_gloo_processes(tiny_manifest, tmp_path):
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "training.train",
        *tiny_args(tiny_manifest, out, "--epochs", "1", "--device", "cpu"),
    ]
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rank 0 of 2 (gloo)" in result.stderr

    card = json.loads((out / "bundle" / "model_card.json").read_text())
    assert card["training"]["processes"] == 2
    # Validation logits were gathered from both shards: every validation image was scored once.
    assert card["validation_metrics"]["image"]["n"] == card["training_data"]["validation"]["images"]
    history = card["training"]["history"]
    assert len(history) == 1 and history[0]["epoch"] == 1
    # Both ranks' training shards were counted (train accuracy is over all training images).
    assert 0 <= history[0]["train_accuracy"] <= 1
    # Only rank 0 wrote: one log, one checkpoint, no per-rank files.
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "args.json",
            "best_weights.pt",
            "bundle",
            "checkpoint.pt",
            "log.csv",
            "split.json",
            "splits",
            "train.log",
        ]
    )
    load_bundle(out / "bundle")  # strict load: the DDP wrapper's "module." prefix did not leak in
