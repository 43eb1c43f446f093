"""The AI alone against the readers without it: the model's own AUC (its 0-100 rating) and
class accuracy on the same cases, compared with the unaided readers' mean.

Method: the single-treatment Obuchowski-Rockette analysis with the AI as a fixed reader (Hillis
2007, Stat Med 26:596-619, section 5.3), as RJafroc's ``StSignificanceTestingCadVsRadiologists``
(now ``StCadVsRad``, method "1T-RRRC") implements it for standalone CAD vs radiologists
(Chakraborty 2017, ch. "Standalone CAD vs. radiologists"; Hupse et al. 2013; Kooi et al. 2016):

- psi_j = FOM(reader j) - FOM(AI), j = 1..J (the AI has no reader variability of its own);
- Var and Cov2 of the psi_j over cases by the jackknife (each left-out case removed from the
  reader's and the AI's FOM together): Var = mean of the J jackknife variances, Cov2 = mean of
  the J(J-1) covariances between two readers' psi, each (K-1)/K x the sum of centred products;
- MS(R) = sample variance of the psi_j; error = MS(R) + J max(Cov2, 0);
- t = mean(psi) / sqrt(error / J) on ddf = error^2 / (MS(R)^2 / (J-1)) (Hillis ddf); the CI
  of the mean difference readers - AI is mean(psi) +- t_{1-alpha/2, ddf} sqrt(error / J).

Kooi et al.'s dual-treatment form (the AI's ratings copied to every reader as a second
"treatment", then the usual OR analysis) gives the same t^2 = F, ddf and p; the tests check it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from core.mrmc.fom import Fom, fom_values, jackknife_values
from core.mrmc.reads import Reads


@dataclass(frozen=True)
class StandaloneComparison:
    """Readers minus the AI on one figure of merit (random readers, random cases)."""

    figure_of_merit: str
    ai: float
    readers: dict[str, float]
    mean_readers: float
    difference: float  # mean readers - AI
    ci: tuple[float, float]
    t: float | None
    df: float | None
    p: float | None
    var_error: float
    cov2: float
    ms_r: float

    def to_json(self) -> dict:
        return {
            "figure_of_merit": self.figure_of_merit,
            "ai": self.ai,
            "readers": self.readers,
            "mean_readers": self.mean_readers,
            "difference_readers_minus_ai": self.difference,
            "ci": list(self.ci),
            "t": self.t,
            "df": self.df,
            "p": self.p,
            "var_error": self.var_error,
            "cov2": self.cov2,
            "ms_r": self.ms_r,
            "method": "single-treatment OR, AI as fixed reader (Hillis 2007 s5.3; RJafroc StCadVsRad 1T-RRRC)",
        }


def readers_vs_ai(
    readers: Reads, ai: np.ndarray, fom: Fom, label: str, alpha: float = 0.05
) -> StandaloneComparison:
    """``readers``: one treatment's reads (T = 1); ``ai``: (C,) the AI's score per case, on the
    scale ``fom`` reads (a rating for the AUC, 1/0 correct for the mean)."""
    combined = Reads(
        readers.treatments[:1], ("AI", *readers.readers), readers.cases, readers.truth,
        np.concatenate([np.asarray(ai, dtype=float)[None, None, :], readers.ratings[:1]], axis=1),
    )  # fmt: skip
    theta = fom_values(combined, fom)[0]  # (J + 1,): the AI first
    jack = jackknife_values(combined, fom)[0]  # (J + 1, K)
    psi = theta[1:] - theta[0]
    diffs = jack[1:] - jack[0]
    n_j, k = diffs.shape
    centred = diffs - diffs.mean(axis=1, keepdims=True)
    cov = (k - 1) / k * centred @ centred.T
    var_error = float(np.diag(cov).mean())
    cov2 = float((cov.sum() - np.trace(cov)) / (n_j * (n_j - 1)))
    mean = float(psi.mean())
    ms_r = float(psi.var(ddof=1))
    error = ms_r + n_j * max(cov2, 0.0)
    if error > 0:
        ddf = error**2 / (ms_r**2 / (n_j - 1)) if ms_r > 0 else math.inf
        dist = stats.norm if math.isinf(ddf) else stats.t(ddf)
        se = math.sqrt(error / n_j)
        t = mean / se
        p = float(2 * dist.sf(abs(t)))
        q = float(dist.ppf(1 - alpha / 2))
        ci = (mean - q * se, mean + q * se)
        ddf = None if math.isinf(ddf) else ddf
    else:  # no variability at all: nothing to test
        ddf, t, p, ci = None, None, None, (mean, mean)
    return StandaloneComparison(
        label, float(theta[0]), dict(zip(readers.readers, map(float, theta[1:]), strict=True)),
        float(theta[1:].mean()), mean, ci, t, ddf, p, var_error, cov2, ms_r,
    )  # fmt: skip
