"""cnsight-train end to end on a tiny dataset: bundle round trip, no test-data use, resume, bad input."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import training.data
import training.train
from core.bundle import load_bundle
from core.discovery import discover
from core.imaging import read_image
from core.predictor import Predictor
from tests.support.training_data import CLASSES, tiny_args, write_dataset
from training.train import main


@pytest.fixture
def trained(tiny_run):
    return tiny_run


def test_bundle_round_trip_through_predictor(trained):
    bundle = load_bundle(trained / "bundle")
    card = bundle.card
    assert card.class_names == CLASSES and card.architecture == "resnet18"
    assert card.weights_dtype == "float16" and card.preprocessing.crop == 32
    test_study = discover([trained / "splits" / "test.csv"])
    images = [read_image(r) for r in test_study.images]
    with Predictor(bundle, device="cpu", batch_size=4) as predictor:
        predictions = predictor.predict(images)
    assert len(predictions) == len(images) == 9
    assert all(abs(p.probs.sum() - 1) < 1e-5 and p.probs.shape == (3,) for p in predictions)


def test_model_card_records_data_split_args_and_validation(trained):
    card = json.loads((trained / "bundle" / "model_card.json").read_text())
    data = card["training_data"]
    assert data["train"]["images_per_class"] == {
        "normal": 6,
        "encephalocele": 6,
        "holoprosencephaly": 6,
    }
    assert data["all_used"]["sites"] == ["A", "B"]
    assert data["all_used"]["ga_weeks_range"][0] >= 16 and data["test_patients_held_out"] == 3
    split = card["training"]["split"]
    assert split["patients"] == {"train": 6, "val": 3, "test": 3} and len(split["sha256"]) == 64
    assert (
        card["training"]["args"]["arch"] == "resnet18" and "--data" in card["training"]["command"]
    )
    assert card["temperature"] > 0
    assert card["validation_metrics"]["patient"]["n"] == 3
    assert card["training"]["recipe"]["optimizer"].startswith("AdamW lr 0.0005 weight decay 0.05")
    assert set(card["software"]) >= {"torch", "torchvision", "cnsight"}


def test_run_folder_has_logs_checkpoint_and_split_files(trained):
    with open(trained / "log.csv") as f:
        log_rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in log_rows] == ["1", "2"]
    assert float(log_rows[0]["val_loss"]) > 0
    assert (trained / "checkpoint.pt").is_file() and (trained / "train.log").is_file()
    split = json.loads((trained / "split.json").read_text())
    test_ids = set(split["test"])
    with open(trained / "splits" / "test.csv") as f:
        assert {r["patient_id"] for r in csv.DictReader(f)} == test_ids


def test_test_split_is_never_loaded(tiny_manifest, tmp_path, monkeypatch):
    """Instrument the image reader: training + selection + calibration read no test image."""
    read = []

    def recording_read(ref):
        read.append(ref.patient_id)
        return read_image(ref)

    monkeypatch.setattr(training.data, "read_image", recording_read)
    out = tmp_path / "run"
    assert main(tiny_args(tiny_manifest, out, "--test-fraction", "0.25", "--epochs", "1")) == 0
    split = json.loads((out / "split.json").read_text())
    assert split["test"], "the split must hold test patients for this test to mean anything"
    assert not set(read) & set(split["test"])
    assert set(read) == set(split["train"]) | set(split["val"])


class Interrupted(Exception):
    pass


def test_resume_continues_identically(tiny_manifest, tmp_path, monkeypatch):
    args = ("--epochs", "2", "--seed", "5")
    straight = tmp_path / "straight"
    assert main(tiny_args(tiny_manifest, straight, *args)) == 0

    real_epoch = training.train.train_one_epoch
    calls = []

    def crash_on_second_epoch(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted("simulated crash after the first epoch's checkpoint")
        return real_epoch(*a, **k)

    broken = tmp_path / "broken"
    monkeypatch.setattr(training.train, "train_one_epoch", crash_on_second_epoch)
    with pytest.raises(Interrupted):
        main(tiny_args(tiny_manifest, broken, *args))
    monkeypatch.setattr(training.train, "train_one_epoch", real_epoch)
    assert main(tiny_args(tiny_manifest, broken, *args, "--resume", str(broken))) == 0

    a = torch.load(straight / "checkpoint.pt", weights_only=True)
    b = torch.load(broken / "checkpoint.pt", weights_only=True)
    assert a["state"]["epoch"] == b["state"]["epoch"] == 2
    for key, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][key]), key
    wa, wb = (
        load_file(straight / "bundle" / "model.safetensors"),
        load_file(broken / "bundle" / "model.safetensors"),
    )
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in (a["state"]["history"])]
    assert strip == [
        {k: v for k, v in row.items() if k != "seconds"} for row in b["state"]["history"]
    ]


def test_resume_refuses_another_split(tiny_manifest, trained, tmp_path):
    assert (
        main(tiny_args(tiny_manifest, tmp_path / "r", "--seed", "9", "--resume", str(trained))) == 2
    )


def test_init_weights_loads_backbone_and_replaces_head(tmp_path):
    from core.model import build_model
    from training.checkpoint import load_init_weights

    torch.manual_seed(1)
    imagenet_like = build_model("resnet18", 1000)
    torch.save({"model": imagenet_like.state_dict()}, tmp_path / "w.pth")
    model = build_model("resnet18", 3)
    assert load_init_weights(model, tmp_path / "w.pth") == ["fc.weight", "fc.bias"]
    assert torch.equal(model.conv1.weight, imagenet_like.conv1.weight)
    assert model.fc.weight.shape == (3, 512)
    torch.save(build_model("resnet34", 3).state_dict(), tmp_path / "other.pth")
    with pytest.raises(Exception, match="keys do not match"):
        load_init_weights(model, tmp_path / "other.pth")


# ---- bad input: a clear message and exit code 2, before any training -------------------------


def test_missing_data_path(tmp_path, caplog):
    assert main(tiny_args(tmp_path / "nowhere.csv", tmp_path / "run")) == 2
    assert "no such file or folder" in caplog.text


def test_manifest_without_labels(tmp_path, caplog):
    manifest = write_dataset(
        tmp_path / "d", patients_per_class=2, images_per_patient=1, with_labels=False
    )
    assert main(tiny_args(manifest, tmp_path / "run")) == 2
    assert "no image has a label" in caplog.text


def test_single_class_data(tmp_path, caplog):
    manifest = write_dataset(
        tmp_path / "d", patients_per_class=3, images_per_patient=1, classes=("normal",)
    )
    assert main(tiny_args(manifest, tmp_path / "run")) == 2
    assert "at least two classes" in caplog.text


def test_label_outside_class_list(tmp_path, caplog):
    manifest = write_dataset(
        tmp_path / "d",
        patients_per_class=2,
        images_per_patient=1,
        classes=("normal", "rachischisis"),
    )
    assert main(tiny_args(manifest, tmp_path / "run")) == 2
    assert "not in the class list: rachischisis" in caplog.text


def test_bad_init_weights_file(tiny_manifest, tmp_path, caplog):
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert (
        main(
            tiny_args(tiny_manifest, tmp_path / "run", "--init-weights", str(tmp_path / "junk.pth"))
        )
        == 2
    )
    assert "cannot read weights" in caplog.text


def test_console_script_exit_code(tmp_path):
    """The installed command itself returns 2 (console scripts pass main()'s value to sys.exit)."""
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.train",
            "--data",
            str(tmp_path / "missing"),
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "no such file or folder" in result.stderr


def test_class_weights_are_inverse_frequency():
    from core.records import ImageRef

    refs = [
        ImageRef(Path(f"{i}"), label=lab)
        for i, lab in enumerate(["normal"] * 6 + ["encephalocele"] * 2)
    ]
    w = training.data.class_weights(refs, CLASSES)
    np.testing.assert_allclose(w.numpy(), [8 / (3 * 6), 8 / (3 * 2), 0.0])


def test_unlabelled_folder_plus_labels_csv(tmp_path):
    """DICOM-style input: a folder without labels, labelled by a patient_id,label CSV."""
    manifest = write_dataset(tmp_path / "d", patients_per_class=3, images_per_patient=2)
    with open(manifest) as f:
        rows = list(csv.DictReader(f))
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["patient_id", "label", "ga_weeks", "site"])
        for pid in sorted({r["patient_id"] for r in rows}):
            label = next(r["label"] for r in rows if r["patient_id"] == pid)
            w.writerow([pid, label, 22, "X"])
    manifest.unlink()  # the folder alone carries no labels
    out = tmp_path / "run"
    assert main(tiny_args(tmp_path / "d", out, "--labels", str(labels), "--epochs", "1")) == 0
    card = json.loads((out / "bundle" / "model_card.json").read_text())
    assert card["training_data"]["all_used"]["patients"] == 9
    assert card["training_data"]["all_used"]["sites"] == ["X"]


def test_time_limit_stops_after_the_epoch_that_would_overrun(tiny_manifest, tmp_path):
    # A limit of ~0 minutes: the first epoch always runs (there is no pace to judge by yet),
    # then training stops, and the best epoch so far is still bundled.
    out = tmp_path / "run"
    assert main(tiny_args(tiny_manifest, out, "--epochs", "5", "--time-limit", "0.0001")) == 0
    card = json.loads((out / "bundle" / "model_card.json").read_text())
    assert card["training"]["epochs_run"] == 1
    assert card["training"]["stopped_early"] == "time limit of 0.0001 min"
    assert load_bundle(out / "bundle").card.architecture == "resnet18"


def test_aggregation_auto_chooses_the_rule_on_validation_and_records_it(tiny_manifest, tmp_path):
    out = tmp_path / "run"
    assert main(tiny_args(tiny_manifest, out, "--epochs", "1", "--aggregation", "auto")) == 0
    card = json.loads((out / "bundle" / "model_card.json").read_text())
    selection = card["validation_metrics"]["patient_rule_selection"]
    assert set(selection["candidates"]) == {"mean_softmax", "majority_vote", "geometric_mean"}
    assert (
        card["aggregation"] == selection["chosen"] == card["validation_metrics"]["patient"]["rule"]
    )
    best = max(c["patient_accuracy"] for c in selection["candidates"].values())
    assert selection["candidates"][card["aggregation"]]["patient_accuracy"] == best


def test_plane_head_domain_statistics_and_patient_calibration_from_validation_only(tmp_path):
    """A run on data with plane labels bundles a plane head; the out-of-distribution threshold
    is the ``--domain-keep`` quantile of the VALIDATION images' distances (the split's val.csv),
    so the bundle's own scores on those images put exactly that share (rounded up) at or below 1."""
    data = write_dataset(tmp_path / "data", patients_per_class=5, planes=("axial", "sagittal"))
    out = tmp_path / "run"
    assert main(tiny_args(data, out, "--test-fraction", "0.2", "--val-fraction", "0.3", "--domain-keep", "0.9")) == 0  # fmt: skip
    bundle = load_bundle(out / "bundle")
    card = bundle.card
    assert card.planes == ("axial", "sagittal") and bundle.model.plane_head.out_features == 2
    assert card.validation_metrics["plane"]["images"] > 0
    assert card.domain["threshold_on"] == "validation split" and card.domain["keep"] == 0.9
    assert card.domain["stages"] == ["layer2", "layer3", "layer4", "texture"]
    assert card.preprocessing.framing == "pad_to_square"
    val = discover([out / "splits" / "val.csv"])
    train = discover([out / "splits" / "train.csv"])
    assert card.domain["n_validation_images"] == len(val.images)
    assert card.domain["n_fit_images"] == len(train.images)
    with Predictor(bundle, device="cpu") as predictor:
        scores = np.array(
            [p.ood_score for p in predictor.predict([read_image(r) for r in val.images])]
        )
        assert {p.plane for p in predictor.predict([read_image(val.images[0])])} <= set(card.planes)
    assert np.isclose(np.quantile(scores, 0.9, method="higher"), 1.0, atol=1e-3)
    assert np.mean(scores <= 1.0 + 1e-3) >= 0.9
