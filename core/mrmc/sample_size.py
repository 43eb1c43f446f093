"""Study size from a pilot: the readers and cases a pivotal study needs for a given effect and
power, from the pilot's Obuchowski-Rockette variance components (random readers and cases).

Hillis, Obuchowski & Berbaum 2011 (Acad Radiol 18:129-142), the update of Hillis & Berbaum
2004 and Obuchowski 2000 that RJafroc's ``SsPowerGivenJKOrVarComp`` implements: for J readers
and K cases, with the pilot's K* cases and its Var(T*R), Var(error), Cov1..Cov3 (the error
covariances scale with K*/K):

    den   = max(Var(T*R), 0) + K*/K (Var - Cov1 + (J-1) max(Cov2 - Cov3, 0))
    ddf   = den^2 / [(max(Var(T*R), 0) + K*/K (Var - Cov1 - max(Cov2 - Cov3, 0)))^2 / (J-1)]
    ncp   = J d^2 / (2 den)
    power = P(F(1, ddf, ncp) > F_{1-alpha}(1, ddf))

The cases needed for J readers are the smallest K with power >= the target (RJafroc's
``SsSampleSizeKGivenJ`` searches the same way). A negative Var(T*R) (estimation noise in a
small pilot) is clipped to 0, as the formula says; the report warns about it.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats

MAX_CASES = 100_000


@dataclass(frozen=True)
class PilotComponents:
    """The OR variance components of a pilot study and its number of cases."""

    cases: int
    var_tr: float
    var_error: float
    cov1: float
    cov2: float
    cov3: float

    @classmethod
    def from_analysis_json(cls, d: dict) -> PilotComponents:
        comps = d["obuchowski_rockette"]["variance_components"]
        return cls(
            int(d["design"]["cases"]), float(comps["var_tr"]), float(comps["var_error"]),
            float(comps["cov1"]), float(comps["cov2"]), float(comps["cov3"]),
        )  # fmt: skip


@dataclass(frozen=True)
class Power:
    readers: int
    cases: int
    power: float
    ncp: float
    ddf: float
    f_critical: float

    def to_json(self) -> dict:
        return dict(self.__dict__)


def power(
    pilot: PilotComponents, readers: int, cases: int, effect: float, alpha: float = 0.05
) -> Power:
    j, k = readers, cases
    scale = pilot.cases / k
    var_tr = max(pilot.var_tr, 0.0)
    between = max(pilot.cov2 - pilot.cov3, 0.0)
    den = var_tr + scale * (pilot.var_error - pilot.cov1 + (j - 1) * between)
    ddf = den**2 / ((var_tr + scale * (pilot.var_error - pilot.cov1 - between)) ** 2 / (j - 1))
    ncp = effect**2 * j / 2 / den
    f_crit = float(stats.f.ppf(1 - alpha, 1, ddf))
    return Power(j, k, float(stats.ncf.sf(f_crit, 1, ddf, ncp)), ncp, ddf, f_crit)


def cases_needed(
    pilot: PilotComponents, readers: int, effect: float, target: float = 0.8, alpha: float = 0.05
) -> Power | None:
    """The smallest number of cases with power >= ``target`` for ``readers`` readers (None when
    even MAX_CASES are not enough: with random readers, Var(T*R) caps the power that more cases
    can buy - then more readers are needed)."""
    if power(pilot, readers, MAX_CASES, effect, alpha).power < target:
        return None
    low, high = 2, MAX_CASES  # power grows with K: bisect for the first K that reaches target
    while low < high:
        mid = (low + high) // 2
        if power(pilot, readers, mid, effect, alpha).power >= target:
            high = mid
        else:
            low = mid + 1
    return power(pilot, readers, low, effect, alpha)
