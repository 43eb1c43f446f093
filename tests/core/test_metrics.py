"""core.metrics against small cases computed by hand."""

import json
import math

import numpy as np
import pytest

from core.metrics import (
    bootstrap_ci,
    calibration,
    classification_metrics,
    evaluate_level,
    ga_bin,
    json_ready,
    macro_auroc,
    subgroup_metrics,
)

NAMES = ["a", "b", "c"]
# 6 cases. Truth: a a b b c c. Predictions (argmax): a b b b c a.
Y = np.array([0, 0, 1, 1, 2, 2])
P = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.3, 0.6, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.2, 0.7],
        [0.5, 0.1, 0.4],
    ]
)


def test_accuracy_confusion_and_per_class_by_hand():
    m = classification_metrics(Y, P, NAMES)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    a, b, c = (m["per_class"][n] for n in NAMES)
    # class a: TP 1, FN 1, FP 1 (case 6), TN 3
    assert (a["sensitivity"], a["specificity"], a["ppv"], a["npv"]) == pytest.approx(
        (0.5, 0.75, 0.5, 0.75)
    )
    # class b: TP 2, FN 0, FP 1 (case 2), TN 3
    assert (b["sensitivity"], b["specificity"], b["ppv"], b["npv"]) == pytest.approx(
        (1.0, 0.75, 2 / 3, 1.0)
    )
    # class c: TP 1, FN 1, FP 0, TN 4
    assert (c["sensitivity"], c["specificity"], c["ppv"], c["npv"]) == pytest.approx(
        (0.5, 1.0, 1.0, 0.8)
    )
    assert a["support"] == 2


def test_auroc_by_hand():
    # class a scores: positives {0.7, 0.3}, negatives {0.1, 0.2, 0.1, 0.5}
    # pairs won: 0.7 beats all 4; 0.3 beats 0.1, 0.2, 0.1 (3) -> 7/8
    m = classification_metrics(Y, P, NAMES)
    assert m["per_class"]["a"]["auroc"] == pytest.approx(7 / 8)
    # class b: positives {0.8, 0.5}, negatives {0.2, 0.6, 0.2, 0.1}: 0.8 wins 4, 0.5 wins 3 -> 7/8
    assert m["per_class"]["b"]["auroc"] == pytest.approx(7 / 8)
    # class c: positives {0.7, 0.4}, negatives {0.1, 0.1, 0.1, 0.3}: all 8 won -> 1
    assert m["per_class"]["c"]["auroc"] == pytest.approx(1.0)
    assert m["auroc_macro"] == pytest.approx((7 / 8 + 7 / 8 + 1) / 3)


def test_absent_class_is_none_and_left_out_of_macro():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.4, 0.5, 0.1]])
    m = classification_metrics(y, p, NAMES)
    assert m["per_class"]["c"]["auroc"] is None
    assert m["per_class"]["c"]["sensitivity"] is None  # no true c: undefined, not 0
    assert m["per_class"]["c"]["ppv"] is None  # never predicted
    assert m["auroc_classes_absent"] == ["c"]
    auroc, absent = macro_auroc(y, p)
    assert absent == [2] and auroc == pytest.approx(1.0)


def test_calibration_ece_by_hand():
    y = np.array([0, 1, 0, 1])
    p = np.array([[0.95, 0.05], [0.95, 0.05], [0.35, 0.65], [0.35, 0.65]])
    cal = calibration(y, p, n_bins=10)
    # bin (0.9,1]: conf 0.95, acc 0.5 -> |0.45| * 2/4 ; bin (0.6,0.7]: conf 0.65, acc 0.5 -> 0.15 * 2/4
    assert cal["ece"] == pytest.approx(0.45 / 2 + 0.15 / 2)
    counts = {round(b["lower"], 1): b["count"] for b in cal["bins"]}
    assert counts[0.9] == 2 and counts[0.6] == 2 and sum(counts.values()) == 4
    assert cal["brier"] == pytest.approx(np.mean([0.005, 1.805, 0.845, 0.245]))


def test_perfect_calibration_has_zero_ece():
    y = np.array([0, 0, 0, 0])
    p = np.array([[1.0, 0.0]] * 4)
    assert calibration(y, p)["ece"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "ga,expected",
    [
        (13.0, "<20"),
        (19.9, "<20"),
        (20.0, "20-27"),
        (27.9, "20-27"),
        (28.0, ">=28"),
        (40.0, ">=28"),
        (None, "unknown"),
    ],
)
def test_ga_bins(ga, expected):
    assert ga_bin(ga) == expected


def test_subgroups_split_rows():
    groups = ["A", "A", "B", "B", "B", None]
    s = subgroup_metrics(Y, P, groups, NAMES)
    assert set(s) == {"A", "B", "unknown"}
    assert s["A"]["n"] == 2 and s["A"]["accuracy"] == pytest.approx(0.5)
    assert s["B"]["accuracy"] == pytest.approx(1.0)  # cases 3, 4, 5 all right


def test_bootstrap_resamples_patients_not_images():
    # Two patients of three images each; patient "x" always right, "y" always wrong.
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([[0.9, 0.1]] * 3 + [[0.9, 0.1]] * 3)
    ci = bootstrap_ci(y, p, ["x"] * 3 + ["y"] * 3, ["a", "b"], n_boot=300, seed=1)
    # Resampling whole patients, accuracy can only be 0, 0.5 or 1 in a replicate.
    lo, hi = ci["accuracy"]["low"], ci["accuracy"]["high"]
    assert lo == pytest.approx(0.0) and hi == pytest.approx(1.0)
    assert ci["resampled"] == "patients" and ci["n_boot"] == 300
    again = bootstrap_ci(y, p, ["x"] * 3 + ["y"] * 3, ["a", "b"], n_boot=300, seed=1)
    assert again == ci  # seeded


def test_bootstrap_ci_contains_point_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 90)
    p = rng.dirichlet(np.ones(3), 90)
    p[np.arange(90), y] += 1.0
    p /= p.sum(1, keepdims=True)
    m = evaluate_level(y, p, [str(i // 3) for i in range(90)], NAMES, n_boot=200, seed=0)
    ci = m["ci95"]
    assert ci["accuracy"]["low"] <= m["accuracy"] <= ci["accuracy"]["high"]
    assert ci["auroc_macro"]["low"] <= m["auroc_macro"] <= ci["auroc_macro"]["high"]
    assert ci["per_class"]["a"]["sensitivity"]["n_valid"] == 200


def test_json_ready_is_strict_json():
    obj = {"a": np.float32(0.5), "b": float("nan"), "c": np.arange(2), "d": (1, math.inf)}
    out = json_ready(obj)
    assert json.loads(json.dumps(out, allow_nan=False)) == {
        "a": 0.5,
        "b": None,
        "c": [0, 1],
        "d": [1, None],
    }


def test_exact_accuracy_ci_matches_clopper_pearson_by_hand():
    from core.metrics import exact_accuracy_ci

    # All right: the lower bound solves p^n = alpha/2 -> 1 - 0.025^(1/n); the upper is 1.
    all_right = exact_accuracy_ci(200, 200)
    assert all_right["low"] == pytest.approx(0.025 ** (1 / 200), abs=1e-9)
    assert all_right["high"] == 1.0 and all_right["method"] == "Clopper-Pearson"
    # None right: mirror image.
    assert exact_accuracy_ci(0, 10)["high"] == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-9)
    # 5 of 10: the textbook interval 0.1871-0.8129.
    half = exact_accuracy_ci(5, 10)
    assert (round(half["low"], 4), round(half["high"], 4)) == (0.1871, 0.8129)
    assert exact_accuracy_ci(0, 0) is None
