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

Only assessable views count (``core.domain``: an image outside what the model was validated
for says nothing about the patient); a patient without any gets ``not_assessable`` instead of a
class. The pooled figure is a probability only when the bundle carries a patient temperature
fitted on validation patients (``calibrated``); otherwise it is a score and is labelled so.
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

NOT_ASSESSABLE = "not_assessable"

#: Flags a verdict can carry, and what they tell the reader.
FLAGS = {
    "single_view": "the verdict rests on a single view",
    "views_disagree": "views disagree: some favour another class",
    "images_excluded": "images outside what the model was validated for were left out",
}

# Floor for probabilities before the log: one image saying exactly 0 must not veto a class
# for good (fp16 weights and softmax underflow can produce exact zeros).
_LOG_FLOOR = 1e-6


@dataclass(frozen=True)
class PatientPrediction:
    patient_id: str
    class_names: tuple[str, ...]
    probs: np.ndarray  # (K,) pooled over the assessable views; all NaN when there are none
    rule: str
    n_images: int  # rows (frames) given, assessable or not
    drivers: tuple[
        tuple[str, float], ...
    ]  # (image key, its probability of the verdict), best first
    n_views: int = 0  # assessable views the verdict rests on (a cine is one view)
    n_excluded: int = 0  # rows left out as not assessable
    flags: tuple[str, ...] = ()  # keys of FLAGS
    calibrated: bool = False  # probs are calibrated on validation patients (else: a score)

    @property
    def assessable(self) -> bool:
        return self.n_views > 0

    @property
    def pred_index(self) -> int:
        """Index of the verdict's class; -1 when the patient is not assessable."""
        return int(np.argmax(self.probs)) if self.assessable else -1

    @property
    def pred(self) -> str:
        return self.class_names[self.pred_index] if self.assessable else NOT_ASSESSABLE

    @property
    def rule_text(self) -> str:
        return RULES[self.rule]

    @property
    def counts_text(self) -> str:
        """How many views the verdict rests on, e.g. "3 views (12 frames; 2 not assessable)"."""
        views = f"{self.n_views} view{'s' if self.n_views != 1 else ''}"
        details = [f"{self.n_images} frame{'s' if self.n_images != 1 else ''}"]
        if self.n_excluded:
            details.append(f"{self.n_excluded} not assessable")
        return f"{views} ({'; '.join(details)})"

    @property
    def flag_texts(self) -> tuple[str, ...]:
        return tuple(FLAGS[f] for f in self.flags)


def aggregate_patient(
    patient_id: str,
    image_probs: np.ndarray,
    image_keys: Sequence[str],
    class_names: Sequence[str],
    rule: str = "mean_softmax",
    n_drivers: int = 3,
    views: Sequence[str] | None = None,
    assessable: Sequence[bool] | None = None,
    temperature: float | None = None,
) -> PatientPrediction:
    """Combine N x K image probabilities into one patient verdict.

    ``views`` names the acquisition each row comes from (the file: the frames of one cine share
    it). Rows of one view are averaged first, so a cine counts as one image, not as 8 copies of
    the same evidence - otherwise one normal-looking cine could outweigh several stills that show
    the defect. ``None``: every row is its own view. Drivers are still single rows (frames).
    ``assessable`` marks the rows that may count (None: all). ``temperature``: the bundle's
    patient temperature (pooled log-probabilities / T, then normalised); None leaves a score.
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
    keep = np.ones(len(probs), bool) if assessable is None else np.asarray(assessable, bool)
    if keep.shape != (len(probs),):
        raise ValueError("one assessable flag per row of probabilities is required")
    if not keep.any():
        return PatientPrediction(
            patient_id=patient_id, class_names=tuple(class_names),
            probs=np.full(probs.shape[1], np.nan), rule=rule, n_images=probs.shape[0],
            drivers=(), n_views=0, n_excluded=probs.shape[0],
        )  # fmt: skip
    all_rows = probs.shape[0]
    rows = np.flatnonzero(keep)
    probs, image_keys = probs[rows], [image_keys[i] for i in rows]
    views = None if views is None else [views[i] for i in rows]
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
    calibrated = temperature is not None and rule != "majority_vote"
    if calibrated:
        logp = np.log(np.clip(patient, _LOG_FLOOR, 1.0)) / float(temperature)
        patient = np.exp(logp - logp.max())
        patient /= patient.sum()
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
    flags = []
    if len(per_view) == 1:
        flags.append("single_view")
    if np.any(per_view.argmax(axis=1) != k):
        flags.append("views_disagree")
    if len(rows) < all_rows:
        flags.append("images_excluded")
    return PatientPrediction(
        patient_id=patient_id,
        class_names=tuple(class_names),
        probs=patient,
        rule=rule,
        n_images=all_rows,
        drivers=drivers,
        n_views=len(per_view),
        n_excluded=all_rows - len(rows),
        flags=tuple(flags),
        calibrated=calibrated,
    )


def _pool_views(probs: np.ndarray, views: Sequence[str] | None) -> np.ndarray:
    """One probability vector per view (mean over its rows), in order of first appearance."""
    if views is None:
        return probs
    rows: dict[str, list[int]] = {}
    for i, view in enumerate(views):
        rows.setdefault(view, []).append(i)
    return np.stack([probs[r].mean(axis=0) for r in rows.values()])
