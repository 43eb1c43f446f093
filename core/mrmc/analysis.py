"""One call for the whole MRMC analysis of a set of reads (what ``cnsight-study analyze`` writes)."""

from __future__ import annotations

from core.mrmc.covariance import METHODS, or_covariance
from core.mrmc.dbm import dbm
from core.mrmc.fom import Fom, fom_values, jackknife_values
from core.mrmc.obuchowski_rockette import obuchowski_rockette
from core.mrmc.reads import Reads


def analyze(
    reads: Reads, fom: Fom | None = None, covariance: str = "jackknife", alpha: float = 0.05
) -> dict:
    """Per-reader figures of merit, OR (RRRC, FRRC, RRFC) with the chosen covariance, and DBM."""
    fom = fom or Fom()
    theta = fom_values(reads, fom)
    cov = or_covariance(reads, fom, covariance)
    names_t, names_r = list(reads.treatments), list(reads.readers)
    return {
        "design": reads.summary(),
        "figure_of_merit": {
            "name": fom.name,
            "threshold": fom.threshold,
            "description": fom.description,
        },
        "alpha": alpha,
        "fom": {
            t: {r: float(theta[i, j]) for j, r in enumerate(names_r)} for i, t in enumerate(names_t)
        },
        "treatment_means": {t: float(theta[i].mean()) for i, t in enumerate(names_t)},
        "obuchowski_rockette": {"covariance": covariance, "covariance_method": METHODS[covariance]}
        | obuchowski_rockette(theta, cov, names_t, names_r, alpha),
        "dbm": dbm(theta, jackknife_values(reads, fom), names_t, alpha),
    }
