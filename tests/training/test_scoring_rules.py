"""Choosing the patient rule on validation predictions (training.scoring.choose_rule)."""

from pathlib import Path

import numpy as np
import pytest

from core.records import ImageRef
from training.scoring import choose_rule, epoch_rule

NAMES = ("normal", "encephalocele")


def _refs(rows):
    return [
        ImageRef(Path(f"{pid}/{i}.png"), patient_id=pid, label=label)
        for i, (pid, label) in enumerate(rows)
    ]


def test_geometric_mean_is_chosen_when_it_is_more_accurate_on_validation():
    # Patient e1 (encephalocele): two normal-looking views and one that shows the sac.
    # Arithmetic mean: normal (0.8 + 0.8 + 0.02) / 3 = 0.54 -> wrong (and so is the vote);
    # geometric: normal (0.8 * 0.8 * 0.02)^(1/3) = 0.234 < (0.2 * 0.2 * 0.98)^(1/3) = 0.340 -> right.
    refs = _refs([("e1", "encephalocele")] * 3 + [("n1", "normal")] * 2)
    probs = np.array([[0.8, 0.2], [0.8, 0.2], [0.02, 0.98], [0.9, 0.1], [0.7, 0.3]])
    rule, candidates = choose_rule(refs, probs, NAMES)
    assert rule == "geometric_mean"
    assert candidates["mean_softmax"]["patient_accuracy"] == 0.5
    assert candidates["geometric_mean"]["patient_accuracy"] == 1.0


def test_exact_tie_keeps_the_published_default_and_votes_break_no_tie():
    refs = _refs([("n1", "normal"), ("e1", "encephalocele")])
    probs = np.array([[0.9, 0.1], [0.1, 0.9]])  # one image each: every rule is right
    rule, candidates = choose_rule(refs, probs, NAMES)
    mean, geo = candidates["mean_softmax"], candidates["geometric_mean"]
    assert mean["patient_accuracy"] == geo["patient_accuracy"] == 1.0
    assert mean["patient_nll"] == pytest.approx(geo["patient_nll"], abs=1e-12)
    # Vote fractions of 1.0 have a near-zero "NLL"; that must not win the tie.
    assert candidates["majority_vote"]["patient_nll"] < candidates["mean_softmax"]["patient_nll"]
    assert rule == "mean_softmax"


def test_per_epoch_scores_use_the_default_until_auto_is_decided():
    assert epoch_rule("auto") == "mean_softmax"
    assert epoch_rule("majority_vote") == "majority_vote"
