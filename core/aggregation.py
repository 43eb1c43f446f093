"""Patient-level prediction from the images' predictions.

Rules: ``mean_softmax`` (default, the published study's): mean of the images' probability
vectors, then argmax. ``majority_vote``: each image votes for its top class; ties are broken
by the mean probability. ``geometric_mean``: the normalised geometric mean of the images'
probability vectors (log-linear pooling). The result names the rule and the images that drove it.

Why ``geometric_mean``: an anomaly shows in some planes only (an encephalocele is not seen in a
trans-thalamic view), so a patient's study mixes images that prove the anomaly with images that
cannot tell. Treating the images as independent evidence, p(class | all images) is proportional
to the product of the images' posteriors divided by the prior to the power N-1; with the
class-balanced training of CNSight (uniform implicit prior) that is the product, i.e. the
geometric mean after normalising. One confident image that rules a class out (p(normal) = 0.001
where the sac is visible) then outweighs several uncertain ones (p(normal) = 0.4 where nothing is
visible), while the arithmetic mean lets the uncertain majority outvote it. The probabilities
must be calibrated (the bundle's temperature) for this to be sound; which rule a bundle uses can
be chosen on validation patients by ``cnsight-train --aggregation auto``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RULES = {
    "mean_softmax": "mean of the images' class probabilities, then the most probable class",
    "majority_vote": "each image votes for its most probable class; ties broken by mean probability",
    "geometric_mean": "normalised geometric mean of the images' class probabilities (each image "
    "is independent evidence), then the most probable class",
}

# Floor for probabilities before the log: one image saying exactly 0 must not veto a class
# for good (fp16 weights and softmax underflow can produce exact zeros).
_LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class PatientPrediction:
    patient_id: str
    class_names: tuple[str, ...]
    probs: np.ndarray  # (K,) pooled probabilities (mean_softmax, geometric_mean) or vote fractions
    rule: str
    n_images: int
    drivers: tuple[
        tuple[str, float], ...
    ]  # (image key, its probability of the verdict), best first

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
    views: Sequence[str] | None = None,
) -> PatientPrediction:
    """Combine N x K image probabilities into one patient verdict.

    ``views`` names the acquisition each row comes from (the file: the frames of one cine share
    it). Rows of one view are averaged first, so a cine counts as one image, not as 8 copies of
    the same evidence - otherwise one normal-looking cine could outweigh several stills that show
    the defect. ``None``: every row is its own view. Drivers are still single rows (frames).
    """
    if rule not in RULES:
        raise ValueError(f"unknown aggregation rule {rule!r}; choose from {', '.join(RULES)}")
    probs = np.asarray(image_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] != len(class_names):
        raise ValueError(
            f"need N x {len(class_names)} probabilities with N >= 1, got {probs.shape}"
        )
    if len(image_keys) != probs.shape[0]:
        raise ValueError("one image key per row of probabilities is required")
    if views is not None and len(views) != probs.shape[0]:
        raise ValueError("one view per row of probabilities is required")
    per_view = _pool_views(probs, views)
    mean = per_view.mean(axis=0)
    if rule == "mean_softmax":
        patient = mean
    elif rule == "geometric_mean":
        log_mean = np.log(np.clip(per_view, _LOG_FLOOR, 1.0)).mean(axis=0)
        pooled = np.exp(log_mean - log_mean.max())
        patient = pooled / pooled.sum()
    else:
        votes = np.bincount(per_view.argmax(axis=1), minlength=probs.shape[1]).astype(np.float64)
        # Tie-break by mean probability: add a tiny amount that never outweighs one vote.
        patient = (votes + mean * 1e-6) / (votes.sum() + 1e-6)
    k = int(np.argmax(patient))
    order = np.argsort(-probs[:, k], kind="stable")
    if rule == "majority_vote":
        order = [i for i in order if probs[i].argmax() == k] or list(order)
    # One driver per view (its best frame): three frames of one cine would name one image thrice.
    seen_views: set[str] = set()
    picked = []
    for i in order:
        view = views[i] if views is not None else image_keys[i]
        if view not in seen_views:
            seen_views.add(view)
            picked.append(i)
    drivers = tuple((image_keys[i], float(probs[i, k])) for i in picked[:n_drivers])
    return PatientPrediction(
        patient_id=patient_id,
        class_names=tuple(class_names),
        probs=patient,
        rule=rule,
        n_images=probs.shape[0],
        drivers=drivers,
    )


def _pool_views(probs: np.ndarray, views: Sequence[str] | None) -> np.ndarray:
    """One probability vector per view (mean over its rows), in order of first appearance."""
    if views is None:
        return probs
    rows: dict[str, list[int]] = {}
    for i, view in enumerate(views):
        rows.setdefault(view, []).append(i)
    return np.stack([probs[r].mean(axis=0) for r in rows.values()])
