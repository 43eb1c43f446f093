"""Cross-validation driver: every patient is predicted once, by a model that never saw it."""

import json

from tests.support.training_data import tiny_args
from training.crossval import main


def test_three_fold_out_of_fold_predictions(tiny_manifest, tmp_path):
    out = tmp_path / "cv"
    args = tiny_args(tiny_manifest, out, "--epochs", "1", "--folds", "3", "--bootstrap", "20")
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["patient"]["n"] == 12 and metrics["image"]["n"] == 36
    assert len(metrics["folds"]) == 3 and sum(f["test_patients"] for f in metrics["folds"]) == 12
    tested = []
    for i in range(3):
        split = json.loads((out / f"fold{i}" / "split.json").read_text())
        assert not set(split["test"]) & (set(split["train"]) | set(split["val"]))
        tested += split["test"]
    assert sorted(tested) == sorted(set(tested)) and len(tested) == 12  # each patient tested once
    assert metrics["patient"]["ci95"]["n_boot"] == 20
    assert (out / "report.html").is_file()
    # Each fold logs to its own train.log (the file handler does not outlive its run).
    assert "fold1" not in (out / "fold0" / "train.log").read_text()
    assert "fold1/bundle" in (out / "fold1" / "train.log").read_text()


def test_auto_rule_is_refused_with_a_clear_message(tiny_manifest, tmp_path, caplog):
    args = tiny_args(tiny_manifest, tmp_path / "cv", "--folds", "3", "--aggregation", "auto")
    assert main(args) == 2
    assert "pass a fixed --aggregation" in caplog.text
    assert not (tmp_path / "cv" / "fold0").exists()  # refused before any training


def test_dataloader_workers_start_cleanly_in_every_fold(tiny_manifest, tmp_path):
    """With DataLoader workers, the second fold starts workers after the first fold's domain
    statistics (BLAS threads in this process): the workers come from a fork server, so no
    child inherits a held lock (forking this process hung here). Each fold's test images are
    checked by its own bundle's domain statistics."""
    out = tmp_path / "cv"
    args = tiny_args(tiny_manifest, out, "--epochs", "1", "--folds", "2", "--bootstrap", "10")
    args[args.index("--workers") + 1] = "1"
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["folds"]) == 2
    assert all(0.0 <= f["test_images_assessable"] <= 1.0 for f in metrics["folds"])
