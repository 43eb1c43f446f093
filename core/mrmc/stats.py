"""Small scipy-based pieces shared by the OR and DBM analyses: tests and intervals that also
behave at the edges (zero variance, infinite degrees of freedom)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from itertools import combinations

import numpy as np
from scipy import stats

from core.mrmc.results import Difference, FTest, TreatmentInterval, TTest


def f_test(f_value: float, df1: float, df2: float) -> float | None:
    """Upper-tail p of F(df1, df2); df2 = inf is the chi-square limit."""
    if not math.isfinite(f_value):
        return 0.0 if f_value > 0 else None
    if math.isinf(df2):
        return float(stats.chi2.sf(f_value * df1, df1))
    return float(stats.f.sf(f_value, df1, df2))


def t_interval(estimate: float, se: float, df: float, alpha: float) -> TTest:
    """Two-sided t test of estimate = 0 and its 1-alpha interval (normal when df = inf)."""
    dist = stats.norm if math.isinf(df) else stats.t(df)
    q = float(dist.ppf(1 - alpha / 2))
    if se > 0:
        statistic = estimate / se
        p = float(2 * dist.sf(abs(statistic)))
    else:
        statistic, p = (None, None) if estimate == 0 else (math.copysign(math.inf, estimate), 0.0)
    return TTest(
        estimate=estimate,
        se=se,
        df=df if math.isfinite(df) else None,
        statistic=statistic,
        p=p,
        ci=(estimate - q * se, estimate + q * se),
    )


def satterthwaite_df(numerator: float, ms: float, df_ms: float) -> float:
    """Hillis' denominator degrees of freedom: numerator^2 / (ms^2 / df_ms); inf when ms = 0."""
    return math.inf if ms <= 0 else numerator**2 / (ms**2 / df_ms)


def clip_fom_interval(test: TTest) -> TreatmentInterval:
    """A figure of merit lies in [0, 1]: its interval is clipped there, as MRMCaov does; the
    unclipped limits stay in ``ci_unclipped`` (Van Dyke sensitivity, treatment 2: 1.00713 -> 1)."""
    low, high = test.ci
    clipped = replace(test, ci=(max(low, 0.0), min(high, 1.0)))
    return TreatmentInterval(test=clipped, ci_unclipped=(low, high))


def f_result(
    ms_t: float, error: float, df1: int, ddf: float, differences: tuple[Difference, ...]
) -> FTest:
    """One F test of the treatment effect: MS(T) over its error term, on (df1, ddf)."""
    f_value = ms_t / error if error > 0 else float("inf")
    return FTest(
        error_term=error,
        f=f_value,
        df1=df1,
        ddf=ddf,
        p=f_test(f_value, df1, ddf),
        differences=differences,
    )


def pairwise(
    treatments: Sequence[str], means: np.ndarray, se: float, df: float, alpha: float
) -> tuple[Difference, ...]:
    """Every pair of treatments: the difference of their means, with one common SE and df."""
    return tuple(
        Difference(
            treatments=(treatments[i], treatments[j]),
            test=t_interval(float(means[i] - means[j]), se, df, alpha),
        )
        for i, j in combinations(range(len(treatments)), 2)
    )
