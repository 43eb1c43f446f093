"""Patient-level prediction from the images' predictions.

Rules: ``mean_softmax`` (default, the published study's): mean of the images' probability
vectors, then argmax. ``majority_vote``: each image votes for its top class; ties are broken
by the mean probability. The result names the rule and the images that drove it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RULES = {
    "mean_softmax": "mean of the images' class probabilities, then the most probable class",
    "majority_vote": "each image votes for its most probable class; ties broken by mean probability",
}


@dataclass(frozen=True)
class PatientPrediction:
    patient_id: str
    class_names: tuple[str, ...]
    probs: np.ndarray  # (K,) mean probabilities (mean_softmax) or vote fractions (majority_vote)
    rule: str
    n_images: int
    drivers: tuple[tuple[str, float], ...]  # (image key, its probability of the verdict), best first

    @property
    def pred_index(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def pred(self) -> str:
        return self.class_names[self.pred_index]

    @property
    def rule_text(self) -> str:
        return RULES[self.rule]


def aggregate_patient(
    patient_id: str,
    image_probs: np.ndarray,
    image_keys: Sequence[str],
    class_names: Sequence[str],
    rule: str = "mean_softmax",
    n_drivers: int = 3,
) -> PatientPrediction:
    """Combine N x K image probabilities into one patient verdict."""
    if rule not in RULES:
        raise ValueError(f"unknown aggregation rule {rule!r}; choose from {', '.join(RULES)}")
    probs = np.asarray(image_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] != len(class_names):
        raise ValueError(f"need N x {len(class_names)} probabilities with N >= 1, got {probs.shape}")
    if len(image_keys) != probs.shape[0]:
        raise ValueError("one image key per row of probabilities is required")
    mean = probs.mean(axis=0)
    if rule == "mean_softmax":
        patient = mean
    else:
        votes = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]).astype(np.float64)
        # Tie-break by mean probability: add a tiny amount that never outweighs one vote.
        patient = (votes + mean * 1e-6) / (votes.sum() + 1e-6)
    k = int(np.argmax(patient))
    order = np.argsort(-probs[:, k], kind="stable")
    if rule == "majority_vote":
        order = [i for i in order if probs[i].argmax() == k] or list(order)
    drivers = tuple((image_keys[i], float(probs[i, k])) for i in list(order)[:n_drivers])
    return PatientPrediction(
        patient_id=patient_id, class_names=tuple(class_names), probs=patient, rule=rule,
        n_images=probs.shape[0], drivers=drivers,
    )
