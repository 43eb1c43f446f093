"""How well a bundle knows what it cannot assess: the ``domain`` section of ``metrics.json``.

In-domain images are the evaluation data (``--data``); out-of-domain images come from
``--ood INPUT...`` (each input reported on its own: e.g. real FBAU images for a
phantom-trained bundle, the non-fetal files of bench/ood_inputs.py). For each set: the share
kept (assessable) or flagged, by reason. For the detector: the ROC of the out-of-distribution
score (Mahalanobis, core.feature_domain) and, beside it, of the max-softmax-probability
baseline (Hendrycks & Gimpel 2017), with the share flagged / kept at the bundle's threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from core.discovery import discover
from core.records import ImageRef
from training.predictions import Predictions


def out_of_domain_inputs(inputs: Sequence[str | Path]) -> dict[str, list[ImageRef]]:
    """Each ``--ood`` input's images (labels are ignored: these are out of domain by design)."""
    return {str(p): list(discover([Path(p)]).images) for p in inputs}


def set_summary(predictions: Predictions) -> dict:
    """Images, share assessable, and the reasons of the others."""
    n = len(predictions.refs)
    reasons = Counter(c.reason for c in predictions.checks if not c.assessable)
    kept = float(np.mean(predictions.assessable)) if n else None
    return {
        "images": n,
        "unreadable": len(predictions.errors),
        "assessable": kept,
        "flagged": None if kept is None else 1.0 - kept,
        "by_reason": dict(sorted(reasons.items())),
    }


def _auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float | None:
    """AUROC of "out of domain" (positive) vs in-domain with higher = more out; None if undefined."""
    scores = np.concatenate([in_scores, out_scores])
    if not len(in_scores) or not len(out_scores) or not np.isfinite(scores).all():
        return None
    y = np.concatenate([np.zeros(len(in_scores)), np.ones(len(out_scores))])
    return float(roc_auc_score(y, scores))


def _roc_points(in_scores: np.ndarray, out_scores: np.ndarray, n: int = 60) -> dict:
    y = np.concatenate([np.zeros(len(in_scores)), np.ones(len(out_scores))])
    fpr, tpr, _ = roc_curve(y, np.concatenate([in_scores, out_scores]))
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(n, len(fpr))).astype(int))
    return {"fpr": fpr[keep].round(4).tolist(), "tpr": tpr[keep].round(4).tolist()}


def detector_metrics(inside: Predictions, outside: Predictions) -> dict:
    """The score's ROC (in-domain vs out-of-domain images) and the decision at the threshold."""
    result: dict = {
        "kept_in_domain": set_summary(inside)["assessable"],
        "flagged_out_of_domain": set_summary(outside)["flagged"],
    }
    msp_in, msp_out = 1.0 - inside.probs.max(1), 1.0 - outside.probs.max(1)
    result["auroc_max_softmax"] = _auroc(msp_in, msp_out)
    if inside.ood_scores is not None and outside.ood_scores is not None:
        result["auroc_mahalanobis"] = _auroc(inside.ood_scores, outside.ood_scores)
        if result["auroc_mahalanobis"] is not None:
            result["roc_mahalanobis"] = _roc_points(inside.ood_scores, outside.ood_scores)
        # The score alone at its threshold (without the model-free checks).
        result["score_kept_in_domain"] = float(np.mean(inside.ood_scores <= 1.0))
        result["score_flagged_out_of_domain"] = float(np.mean(outside.ood_scores > 1.0))
    return result


def _combined(sets: Sequence[Predictions]) -> Predictions:
    k = sets[0].probs.shape[1]
    no_scores = any(s.ood_scores is None for s in sets)
    return Predictions(
        refs=[r for s in sets for r in s.refs],
        probs=np.concatenate([s.probs for s in sets]) if sets else np.zeros((0, k)),
        errors=[e for s in sets for e in s.errors],
        checks=[c for s in sets for c in s.checks],
        ood_scores=None if no_scores else np.concatenate([s.ood_scores for s in sets]),
        planes=[p for s in sets for p in s.planes],
    )


def domain_metrics(
    inside: Predictions, outside: dict[str, Predictions], class_names: Sequence[str]
) -> dict:
    """The ``domain`` section: the in-domain set, each out-of-domain set, and the detector
    (per out-of-domain set and over all of them)."""
    section: dict = {"in_domain": set_summary(inside)}
    planes = Counter(p for p in inside.planes if p)
    if planes:
        section["in_domain"]["planes"] = dict(sorted(planes.items()))
    readable = {source: p for source, p in outside.items() if p.refs}
    if not readable:
        return section
    section["out_of_domain"] = {
        source: set_summary(p) | {"detector": detector_metrics(inside, p)}
        for source, p in readable.items()
    }
    section["detector_all_out_of_domain"] = detector_metrics(
        inside, _combined(list(readable.values()))
    )
    return section
