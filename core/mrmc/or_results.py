"""What the Obuchowski-Rockette analysis returns, as named fields (``analysis.json``'s
``obuchowski_rockette`` section via ``ORAnalysis.to_json``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from core.mrmc.results import Difference, FTest, TreatmentInterval


@dataclass(frozen=True)
class ORMeanSquares:
    """MS(T), MS(R), MS(T*R) of the (T, R) table of figures of merit, and their df."""

    ms_t: float
    ms_r: float
    ms_tr: float
    ms_r_within: tuple[float, ...]  # MS(R) within each treatment, in treatment order
    df_t: int
    df_r: int
    df_tr: int

    def to_json(self) -> dict:
        return {
            "ms_t": self.ms_t,
            "ms_r": self.ms_r,
            "ms_tr": self.ms_tr,
            "ms_r_within": list(self.ms_r_within),
            "df": {"t": self.df_t, "r": self.df_r, "tr": self.df_tr},
        }


@dataclass(frozen=True)
class ORVarianceComponents:
    """Reader and treatment-by-reader variances, and the OR error covariances with their
    correlations (r1..r3 = Cov1..Cov3 / Var; None when Var is 0)."""

    var_r: float
    var_tr: float
    var_error: float
    cov1: float  # same reader, other treatment
    cov2: float  # same treatment, other reader
    cov3: float  # other treatment and reader
    r1: float | None
    r2: float | None
    r3: float | None

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class RandomReadersTreatment(TreatmentInterval):
    """One treatment's mean under RRRC, with the terms of its own error: Cov2 and MS(R)."""

    cov2: float
    ms_r: float

    def to_json(self) -> dict:
        return super().to_json() | {"cov2": self.cov2, "ms_r": self.ms_r}


@dataclass(frozen=True)
class FixedReadersTreatment(TreatmentInterval):
    """One treatment's mean under FRRC, with its own Var (error)."""

    var_error: float

    def to_json(self) -> dict:
        return super().to_json() | {"var_error": self.var_error}


@dataclass(frozen=True)
class ORRandomReadersTest(FTest):
    """RRRC: the F test of the treatment effect and each treatment's mean with its CI."""

    treatments: dict[str, RandomReadersTreatment]

    def to_json(self) -> dict:
        return super().to_json() | {"treatments": _json_by_name(self.treatments)}


@dataclass(frozen=True)
class ORFixedCasesTest(FTest):
    """RRFC: the F test of the treatment effect and each treatment's mean with its CI."""

    treatments: dict[str, TreatmentInterval]

    def to_json(self) -> dict:
        return super().to_json() | {"treatments": _json_by_name(self.treatments)}


@dataclass(frozen=True)
class ORFixedReadersTest:
    """FRRC: the chi-square test of the treatment effect, each treatment's mean, and each
    reader's own treatment differences."""

    error_term: float
    chi2: float  # inf when the error term is not positive
    df: int
    p: float | None
    differences: tuple[Difference, ...]
    treatments: dict[str, FixedReadersTreatment]
    readers: dict[str, tuple[Difference, ...]]

    def to_json(self) -> dict:
        return {
            "error_term": self.error_term,
            "chi2": self.chi2,
            "df": self.df,
            "p": self.p,
            "differences": [d.to_json() for d in self.differences],
            "treatments": _json_by_name(self.treatments),
            "readers": {r: [d.to_json() for d in ds] for r, ds in self.readers.items()},
        }


@dataclass(frozen=True)
class ORAnalysis:
    """The whole Obuchowski-Rockette analysis with one covariance estimate."""

    covariance: str  # the method's key (core.mrmc.covariance.METHODS)
    covariance_method: str  # and its description
    mean_squares: ORMeanSquares
    variance_components: ORVarianceComponents
    rrrc: ORRandomReadersTest
    frrc: ORFixedReadersTest
    rrfc: ORFixedCasesTest

    def to_json(self) -> dict:
        return {
            "covariance": self.covariance,
            "covariance_method": self.covariance_method,
            "mean_squares": self.mean_squares.to_json(),
            "variance_components": self.variance_components.to_json(),
            "rrrc": self.rrrc.to_json(),
            "frrc": self.frrc.to_json(),
            "rrfc": self.rrfc.to_json(),
        }


def _json_by_name(treatments: Mapping[str, TreatmentInterval]) -> dict:
    return {name: t.to_json() for name, t in treatments.items()}
