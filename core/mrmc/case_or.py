"""Obuchowski-Rockette analysis of any per-case score (a correct class call 1/0, a log reading
time): the figure of merit is the score's mean over cases, its covariance the jackknife over
cases (``Fom("mean")``), so the intervals account for readers and cases exactly as the ROC
analysis does (the same code, core.mrmc.obuchowski_rockette)."""

from __future__ import annotations

import numpy as np

from core.mrmc.covariance import METHODS, jackknife_covariance
from core.mrmc.fom import Fom, fom_values
from core.mrmc.obuchowski_rockette import obuchowski_rockette
from core.mrmc.or_results import ORAnalysis
from core.mrmc.reads import Reads

MEAN = Fom("mean")


def score_reads(reads: Reads, scores: np.ndarray, cases: np.ndarray | None = None) -> Reads:
    """``reads`` with ``scores`` (T, R, C) as ratings, optionally on a subset of cases."""
    keep = np.ones(len(reads.cases), dtype=bool) if cases is None else cases
    return Reads(
        reads.treatments,
        reads.readers,
        tuple(c for c, k in zip(reads.cases, keep, strict=True) if k),
        reads.truth[keep],
        np.asarray(scores, dtype=np.float64)[:, :, keep],
    )


def or_of_scores(reads: Reads, alpha: float, bounded: bool = True, fom: Fom = MEAN) -> ORAnalysis:
    """OR (RRRC, FRRC, RRFC) of ``fom`` over ``reads``' ratings (jackknife covariance)."""
    theta = fom_values(reads, fom)
    cov = jackknife_covariance(reads, fom)
    return obuchowski_rockette(
        theta, cov, "jackknife", METHODS["jackknife"], list(reads.treatments),
        list(reads.readers), alpha, bounded=bounded,
    )  # fmt: skip
