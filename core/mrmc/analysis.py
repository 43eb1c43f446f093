"""One call for the whole MRMC analysis of a set of reads (what ``cnsight-study analyze`` writes)."""

from __future__ import annotations

from dataclasses import dataclass

from core.mrmc.covariance import METHODS, or_covariance
from core.mrmc.dbm import DBMAnalysis, dbm
from core.mrmc.fom import Fom, fom_values, jackknife_values
from core.mrmc.obuchowski_rockette import obuchowski_rockette
from core.mrmc.or_results import ORAnalysis
from core.mrmc.reads import Reads, StudyDesign


@dataclass(frozen=True)
class TreatmentFoms:
    """One treatment's figure of merit for every reader, and their mean."""

    by_reader: dict[str, float]  # reader id -> figure of merit, in reader order
    mean: float


@dataclass(frozen=True)
class MrmcAnalysis:
    """Everything ``analysis.json`` holds about the reads (the CLI adds where they came from)."""

    design: StudyDesign
    figure_of_merit: Fom
    alpha: float
    fom: dict[str, TreatmentFoms]  # treatment id -> its figures of merit, in treatment order
    obuchowski_rockette: ORAnalysis
    dbm: DBMAnalysis

    def to_json(self) -> dict:
        return {
            "design": self.design.to_json(),
            "figure_of_merit": self.figure_of_merit.to_json(),
            "alpha": self.alpha,
            "fom": {t: dict(f.by_reader) for t, f in self.fom.items()},
            "treatment_means": {t: f.mean for t, f in self.fom.items()},
            "obuchowski_rockette": self.obuchowski_rockette.to_json(),
            "dbm": self.dbm.to_json(),
        }


def analyze(
    reads: Reads, fom: Fom | None = None, covariance: str = "jackknife", alpha: float = 0.05
) -> MrmcAnalysis:
    """Per-reader figures of merit, OR (RRRC, FRRC, RRFC) with the chosen covariance, and DBM."""
    fom = fom or Fom()
    theta = fom_values(reads, fom)
    cov = or_covariance(reads, fom, covariance)
    names_t, names_r = list(reads.treatments), list(reads.readers)
    return MrmcAnalysis(
        design=reads.design(),
        figure_of_merit=fom,
        alpha=alpha,
        fom={
            t: TreatmentFoms(
                by_reader={r: float(theta[i, j]) for j, r in enumerate(names_r)},
                mean=float(theta[i].mean()),
            )
            for i, t in enumerate(names_t)
        },
        obuchowski_rockette=obuchowski_rockette(
            theta, cov, covariance, METHODS[covariance], names_t, names_r, alpha
        ),
        dbm=dbm(theta, jackknife_values(reads, fom), names_t, alpha),
    )
