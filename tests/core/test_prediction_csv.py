"""The CSV columns are the DESIGN contract, defined once for the CLI, the eval and the app."""

import numpy as np

from core.aggregation import aggregate_patient
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
    ]
    assert image_header(NAMES, with_label=True)[-1] == "label"
    assert image_row(NAMES, "p1", "a.dcm", 3, [0.25, 0.75]) == [
        "p1",
        "a.dcm",
        3,
        "encephalocele",
        "0.250000",
        "0.750000",
        "",
    ]
    assert image_row(NAMES, "p1", "b.png", None, None, "b.png: truncated") == [
        "p1",
        "b.png",
        "",
        "",
        "",
        "",
        "b.png: truncated",
    ]
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
    hidden = patient_row(NAMES, "Case 1", verdict, "mean_softmax", image_name=lambda k: "Image")
    assert "png" not in hidden[6]
    assert patient_row(NAMES, "p2", None, "mean_softmax") == [
        "p2",
        "",
        "",
        "",
        0,
        "mean_softmax",
        "",
    ]
