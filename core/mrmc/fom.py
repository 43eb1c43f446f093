"""Figures of merit (FOM) per treatment and reader, and their leave-one-case-out values.

- ``auc``: the empirical (trapezoidal) ROC area = the Wilcoxon-Mann-Whitney statistic, a tie
  between an abnormal and a normal case counted 1/2 (what OR-DBM MRMC, RJafroc and MRMCaov call
  the empirical/Wilcoxon AUC);
- ``sensitivity`` / ``specificity``: binary decisions, rating >= threshold = called abnormal.
  As MRMCaov does, sensitivity is jackknifed over the abnormal cases only and specificity over
  the normal cases only (the other cases do not enter the FOM);
- ``mean``: the mean over all cases of a per-case score, jackknifed over all cases - the
  "rating" is then e.g. 1/0 for a correct/wrong class call (accuracy) or a log reading time
  (``core.mrmc.classcall``, ``core.mrmc.reading_time``). Not offered by ``analyze --fom``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ReadsError
from core.mrmc.reads import Reads

FOMS = {
    "auc": "empirical ROC AUC (trapezoidal / Wilcoxon, ties count 1/2)",
    "sensitivity": "sensitivity: abnormal cases rated >= threshold",
    "specificity": "specificity: normal cases rated < threshold",
    "mean": "mean over cases of a per-case score",
}
#: What ``cnsight-study analyze --fom`` offers for the 0-100 rating.
RATING_FOMS = ("auc", "sensitivity", "specificity")


@dataclass(frozen=True)
class Fom:
    name: str = "auc"
    threshold: float | None = None  # binary FOMs: rating >= threshold counts as abnormal

    def __post_init__(self):
        if self.name not in FOMS:
            raise ReadsError(
                f"unknown figure of merit {self.name!r}; choose from {', '.join(FOMS)}"
            )
        if self.name in ("sensitivity", "specificity") and self.threshold is None:
            raise ReadsError(
                f"{self.name} needs a rating threshold (rating >= threshold = abnormal)"
            )

    @property
    def description(self) -> str:
        text = FOMS[self.name]
        return text if self.threshold is None else f"{text} {self.threshold:g}"

    def to_json(self) -> dict:
        return {"name": self.name, "threshold": self.threshold, "description": self.description}


def _psi(reads: Reads) -> np.ndarray:
    """(T, R, m, n) Wilcoxon kernel of every abnormal (m) against every normal (n) case."""
    pos = reads.ratings[:, :, reads.truth][..., :, None]
    neg = reads.ratings[:, :, ~reads.truth][..., None, :]
    return (pos > neg) + 0.5 * (pos == neg)


def fom_values(reads: Reads, fom: Fom) -> np.ndarray:
    """(T, R) figure of merit of every treatment and reader."""
    if fom.name == "auc":
        return _psi(reads).mean(axis=(2, 3))
    if fom.name == "mean":
        return reads.ratings.mean(axis=2)
    calls = reads.ratings >= fom.threshold
    if fom.name == "sensitivity":
        return calls[:, :, reads.truth].mean(axis=2)
    return (~calls[:, :, ~reads.truth]).mean(axis=2)


def jackknife_values(reads: Reads, fom: Fom) -> np.ndarray:
    """(T, R, K): the FOM with each of the K jackknifed cases left out in turn. K = all cases
    for the AUC (abnormal ones first, then normal ones, each in case order), the abnormal cases
    for sensitivity, the normal cases for specificity."""
    if fom.name == "auc":
        psi = _psi(reads)
        m, n = psi.shape[2], psi.shape[3]
        total = psi.sum(axis=(2, 3))[..., None]
        without_pos = (total - psi.sum(axis=3)) / ((m - 1) * n)
        without_neg = (total - psi.sum(axis=2)) / (m * (n - 1))
        return np.concatenate([without_pos, without_neg], axis=2)
    if fom.name == "mean":
        k = reads.ratings.shape[2]
        return (reads.ratings.sum(axis=2)[..., None] - reads.ratings) / (k - 1)
    calls = reads.ratings >= fom.threshold
    hits = calls[:, :, reads.truth] if fom.name == "sensitivity" else ~calls[:, :, ~reads.truth]
    k = hits.shape[2]
    return (hits.sum(axis=2)[..., None] - hits) / (k - 1)


def delong_components(reads: Reads) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components of the AUC: (T, R, m) over abnormal cases and (T, R, n)
    over normal cases (DeLong, DeLong & Clarke-Pearson 1988)."""
    psi = _psi(reads)
    return psi.mean(axis=3), psi.mean(axis=2)
