"""The shipped demo model and demo study: what `make run` and `cnsight-predict` use by default."""

import csv

from core.bundle import load_bundle
from core.cli.predict import main as predict_main
from core.resources import demo_model_dir, demo_study_dir
from core.taxonomy import DEFAULT_CLASS_NAMES


def test_demo_bundle_loads_strictly_with_the_default_taxonomy():
    bundle = load_bundle(demo_model_dir())  # checks the sha256 of the shipped weights
    assert bundle.card.class_names == DEFAULT_CLASS_NAMES
    assert bundle.card.weights_dtype == "float16" and bundle.card.architecture == "resnet34"
    assert bundle.card.training_data and bundle.card.validation_metrics
    # The published input size over the whole field of view, the patient rule chosen on
    # validation, the plane head and the out-of-distribution statistics (docs/benchmarks.md).
    card = bundle.card
    assert card.preprocessing.crop == 224 and card.preprocessing.framing == "pad_to_square"
    assert card.aggregation == "geometric_mean" and len(card.planes) == 4
    assert bundle.feature_domain is not None and card.domain["threshold_on"] == "validation split"


def test_default_model_predicts_the_demo_study(tmp_path):
    """No --model: the demo model. All 5 demo patients are right (resources/README.md); a
    regression fails here."""
    out = tmp_path / "pred"
    assert (
        predict_main([str(demo_study_dir() / "manifest.csv"), "--out", str(out), "--no-progress"])
        == 0
    )
    with open(demo_study_dir() / "manifest.csv", newline="") as f:
        truth = {r["patient_id"]: r["label"] for r in csv.DictReader(f)}
    with open(out / "patients.csv", newline="") as f:
        verdicts = {r["patient_id"]: r["pred"] for r in csv.DictReader(f)}
    with open(out / "images.csv", newline="") as f:
        images = list(csv.DictReader(f))
    # Phantoms are the demo model's own domain: nearly all of them are assessable (the threshold
    # keeps 95 % of validation images, so a few near it may be flagged).
    assert sum(r["assessable"] == "1" for r in images) >= 0.9 * len(images)
    assert set(verdicts) == set(truth) and len(truth) == 5
    correct = sum(verdicts[p] == truth[p] for p in truth)
    assert correct == 5, f"demo study verdicts {verdicts} vs truth {truth}"
