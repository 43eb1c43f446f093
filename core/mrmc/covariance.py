"""Covariance over cases of the (treatment, reader) figures of merit, and the Obuchowski-Rockette
summaries of it: Var (error), Cov1 (same reader, other treatment), Cov2 (same treatment, other
reader), Cov3 (other treatment and reader)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import ReadsError
from core.mrmc.fom import Fom, delong_components, jackknife_values
from core.mrmc.reads import Reads

METHODS = {
    "jackknife": "jackknife over cases (OR-DBM MRMC and RJafroc's default)",
    "delong": "DeLong's structural components (empirical AUC only)",
}


@dataclass(frozen=True)
class ORCovariance:
    """The (T*R) x (T*R) covariance matrix, index t * R + r, and its OR averages."""

    matrix: np.ndarray
    n_treatments: int
    n_readers: int

    def entry(self, t1: int, r1: int, t2: int, r2: int) -> float:
        return float(self.matrix[t1 * self.n_readers + r1, t2 * self.n_readers + r2])

    def _mean(self, same_t: bool, same_r: bool, treatment: int | None = None) -> float:
        """Mean of the matrix entries whose two (treatment, reader) indices have the same (or a
        different) treatment and the same (or a different) reader; optionally within one
        treatment only."""
        t = np.repeat(np.arange(self.n_treatments), self.n_readers)  # treatment of each index
        r = np.tile(np.arange(self.n_readers), self.n_treatments)  # reader of each index
        mask = ((t[:, None] == t[None, :]) == same_t) & ((r[:, None] == r[None, :]) == same_r)
        if treatment is not None:
            mask &= (t[:, None] == treatment) & (t[None, :] == treatment)
        return float(self.matrix[mask].mean()) if mask.any() else float("nan")

    @property
    def var(self) -> float:
        return self._mean(True, True)

    @property
    def cov1(self) -> float:
        return self._mean(False, True)

    @property
    def cov2(self) -> float:
        return self._mean(True, False)

    @property
    def cov3(self) -> float:
        return self._mean(False, False)

    def var_within(self, t: int) -> float:
        """Var (error) of treatment ``t`` alone."""
        return self._mean(True, True, treatment=t)

    def cov2_within(self, t: int) -> float:
        """Cov2 of treatment ``t`` alone (two readers, same treatment)."""
        return self._mean(True, False, treatment=t)


def jackknife_covariance(reads: Reads, fom: Fom) -> ORCovariance:
    """Jackknife: (K-1)/K * sum over left-out cases of the centred products."""
    values = jackknife_values(reads, fom)  # (T, R, K)
    t, r, k = values.shape
    flat = values.reshape(t * r, k)
    centred = flat - flat.mean(axis=1, keepdims=True)
    matrix = (k - 1) / k * centred @ centred.T
    return ORCovariance(matrix, t, r)


def delong_covariance(reads: Reads, fom: Fom) -> ORCovariance:
    """DeLong: S10 / m + S01 / n, the sample covariances of the structural components."""
    if fom.name != "auc":
        raise ReadsError("DeLong covariance is defined for the empirical AUC only; use jackknife")
    v10, v01 = delong_components(reads)
    t, r, m = v10.shape
    n = v01.shape[2]
    s10 = np.cov(v10.reshape(t * r, m))
    s01 = np.cov(v01.reshape(t * r, n))
    return ORCovariance(s10 / m + s01 / n, t, r)


def or_covariance(reads: Reads, fom: Fom, method: str = "jackknife") -> ORCovariance:
    if method == "jackknife":
        return jackknife_covariance(reads, fom)
    if method == "delong":
        return delong_covariance(reads, fom)
    raise ReadsError(f"unknown covariance method {method!r}; choose from {', '.join(METHODS)}")
