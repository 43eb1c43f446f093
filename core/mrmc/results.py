"""The test results the OR and DBM analyses share, as named fields.

Each ``to_json`` writes the keys ``analysis.json`` has always had, in the same order; values stay
as computed (numpy scalars, non-finite floats) and ``core.metrics.json_ready`` makes the file
strict JSON, so the file does not change with the representation.
"""

from __future__ import annotations

from dataclasses import dataclass

#: A two-sided confidence interval (low, high).
Interval = tuple[float, float]


@dataclass(frozen=True)
class TTest:
    """An estimate, its standard error, the two-sided t test of estimate = 0 and its interval."""

    estimate: float
    se: float
    df: float | None  # None: infinite (normal distribution), as the published tools print it
    statistic: float | None  # estimate / se; None when both are 0
    p: float | None
    ci: Interval

    def to_json(self) -> dict:
        return {
            "estimate": self.estimate,
            "se": self.se,
            "df": self.df,
            "statistic": self.statistic,
            "p": self.p,
            "ci": list(self.ci),
        }


@dataclass(frozen=True)
class Difference:
    """Mean figure of merit of ``treatments[0]`` minus that of ``treatments[1]``, tested."""

    treatments: tuple[str, str]
    test: TTest

    def to_json(self) -> dict:
        return {"treatments": list(self.treatments)} | self.test.to_json()


@dataclass(frozen=True)
class TreatmentInterval:
    """One treatment's mean figure of merit with its interval clipped to [0, 1] (a figure of
    merit cannot leave it; MRMCaov clips the same way). ``test.ci`` is the clipped interval."""

    test: TTest
    ci_unclipped: Interval

    def to_json(self) -> dict:
        return self.test.to_json() | {"ci_unclipped": list(self.ci_unclipped)}


@dataclass(frozen=True)
class FTest:
    """The F test of the treatment effect: MS(T) over its error term on (df1, ddf) df, and
    every pairwise treatment difference with the same error term."""

    error_term: float
    f: float  # inf when the error term is 0
    df1: int
    ddf: float  # inf when the denominator mean square is 0
    p: float | None
    differences: tuple[Difference, ...]

    def to_json(self) -> dict:
        return {
            "error_term": self.error_term,
            "f": self.f,
            "df1": self.df1,
            "ddf": self.ddf,
            "p": self.p,
            "differences": [d.to_json() for d in self.differences],
        }
