"""The CSV columns are the command-line contract (docs/cli.md), defined once for the CLI, the
eval and the app."""

import numpy as np

from core.aggregation import aggregate_patient
from core.domain import DomainCheck
from core.prediction_csv import image_header, image_row, patient_header, patient_row

NAMES = ("normal", "encephalocele")


def test_image_columns_and_rows():
    assert image_header(NAMES) == [
        "patient_id",
        "path",
        "frame",
        "pred",
        "p_normal",
        "p_encephalocele",
        "error",
        "assessable",
        "reason",
        "ood_score",
        "plane",
    ]
    assert image_header(NAMES, with_label=True)[-1] == "label"
    ok = DomainCheck(True, "", "")
    assert image_row(NAMES, "p1", "a.dcm", 3, [0.25, 0.75], check=ok, ood_score=0.5, plane="tt") == [
        "p1", "a.dcm", 3, "encephalocele", "0.250000", "0.750000", "", 1, "", "0.5000", "tt",
    ]  # fmt: skip
    assert image_row(NAMES, "p1", "b.png", None, None, "b.png: truncated") == [
        "p1", "b.png", "", "", "", "", "b.png: truncated", "", "", "", "",
    ]  # fmt: skip
    outside = DomainCheck(False, "out_of_distribution", "unlike the training images")
    row = image_row(NAMES, "p1", "c.png", None, [0.1, 0.9], check=outside, ood_score=3.2)
    # Not assessable: no class in pred, the raw output kept for research, the reason given.
    assert row[3] == "not_assessable" and row[4:6] == ["0.100000", "0.900000"]
    assert row[7:10] == [0, "out_of_distribution", "3.2000"]
    assert image_row(NAMES, "p1", "a.png", None, [1, 0], label="normal")[-1] == "normal"


def test_patient_columns_and_rows():
    assert patient_header(NAMES) == [
        "patient_id",
        "pred",
        "p_normal",
        "p_encephalocele",
        "n_images",
        "rule",
        "top_images",
        "n_views",
        "flags",
        "calibrated",
    ]
    verdict = aggregate_patient(
        "p1",
        np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]]),
        ["/x/a.png", "/x/b.png", "/x/c.png"],
        NAMES,
    )
    row = patient_row(NAMES, "p1", verdict, "mean_softmax")
    assert row[:2] == ["p1", "encephalocele"] and row[4:6] == [3, "mean_softmax"]
    assert row[6] == "b.png=0.800;c.png=0.700;a.png=0.100"
    assert row[7:] == [3, "views_disagree", 0]
    hidden = patient_row(NAMES, "Case 1", verdict, "mean_softmax", image_name=lambda k: "Image")
    assert "png" not in hidden[6]
    assert patient_row(NAMES, "p2", None, "mean_softmax") == [
        "p2", "", "", "", 0, "mean_softmax", "", 0, "", "",
    ]  # fmt: skip
    nothing = aggregate_patient("p3", np.array([[0.9, 0.1]]), ["a"], NAMES, assessable=[False])
    row = patient_row(NAMES, "p3", nothing, "mean_softmax")
    assert row[1:4] == ["not_assessable", "", ""] and row[7] == 0
