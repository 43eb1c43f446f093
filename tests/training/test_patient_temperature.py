"""The patient temperature: fitted on validation patients, refused when not identifiable."""

from pathlib import Path

import numpy as np

from core.records import ImageRef
from training.bundling import MIN_PATIENTS_FOR_TEMPERATURE, fit_patient_temperature

NAMES = ("normal", "encephalocele")


def _patients(probs_of_truth: list[float], labels: list[str]) -> tuple[list[ImageRef], np.ndarray]:
    """One image per patient with p(truth) given; the other class gets the rest."""
    refs, rows = [], []
    for i, (p, label) in enumerate(zip(probs_of_truth, labels, strict=True)):
        refs.append(ImageRef(Path(f"p{i}.png"), patient_id=f"P{i}", label=label))
        k = NAMES.index(label)
        row = np.full(2, 1 - p)
        row[k] = p
        rows.append(row)
    return refs, np.array(rows)


def test_fitted_on_overlapping_patients_and_lowers_their_nll():
    rng = np.random.default_rng(0)
    n = 40
    labels = [NAMES[i % 2] for i in range(n)]
    # Overconfident and sometimes wrong: a temperature > 1 should soften it.
    p = np.where(rng.random(n) < 0.8, 0.97, 0.03)
    refs, probs = _patients(list(p), labels)
    t, report = fit_patient_temperature(refs, probs, NAMES, "mean_softmax")
    assert t is not None and t > 1.0 and report["fitted"]
    assert report["nll_after"] < report["nll_before"]


def test_separated_patients_give_no_temperature_and_the_figure_stays_a_score():
    labels = [NAMES[i % 2] for i in range(20)]
    refs, probs = _patients([0.9] * 20, labels)  # every patient right: the fit runs to T -> 0
    t, report = fit_patient_temperature(refs, probs, NAMES, "geometric_mean")
    assert t is None and not report["fitted"] and "bound" in report["why"]


def test_too_few_patients_or_a_vote_rule_give_no_temperature():
    refs, probs = _patients([0.7] * (MIN_PATIENTS_FOR_TEMPERATURE - 1), ["normal"] * 9)
    assert fit_patient_temperature(refs, probs, NAMES, "mean_softmax")[0] is None
    refs, probs = _patients([0.7, 0.2] * 10, ["normal", "encephalocele"] * 10)
    assert fit_patient_temperature(refs, probs, NAMES, "majority_vote")[0] is None
