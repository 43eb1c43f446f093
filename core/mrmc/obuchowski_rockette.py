"""Obuchowski-Rockette (OR) analysis of (treatment, reader) figures of merit, with Hillis'
denominator degrees of freedom (Hillis 2007, 2008; Obuchowski & Rockette 1995).

Three generalisations: random readers and random cases (RRRC: the result applies to readers and
cases like these), fixed readers (FRRC: to these readers) and fixed cases (RRFC: to these cases).
Formulas follow OR-DBM MRMC 2.51 and RJafroc (``StORAnalysis``), whose Van Dyke outputs the tests
reproduce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from itertools import combinations

import numpy as np

from core.mrmc.covariance import ORCovariance
from core.mrmc.or_results import (
    FixedReadersTreatment,
    ORAnalysis,
    ORFixedCasesTest,
    ORFixedReadersTest,
    ORMeanSquares,
    ORRandomReadersTest,
    ORVarianceComponents,
    RandomReadersTreatment,
)
from core.mrmc.results import Difference, FTest, TreatmentInterval
from core.mrmc.stats import (
    clip_fom_interval,
    f_result,
    f_test,
    pairwise,
    satterthwaite_df,
    t_interval,
)

INF = float("inf")


def _f_test_fields(test: FTest) -> dict:
    """The fields of ``test``, to build an FTest subclass that adds the treatments to it."""
    return {f.name: getattr(test, f.name) for f in fields(FTest)}


def mean_squares(theta: np.ndarray) -> ORMeanSquares:
    """MS(T), MS(R), MS(T*R) of a (T, R) table, and MS(R) within each treatment."""
    n_t, n_r = theta.shape
    grand = theta.mean()
    t_means, r_means = theta.mean(axis=1), theta.mean(axis=0)
    residual = theta - t_means[:, None] - r_means[None, :] + grand
    return ORMeanSquares(
        ms_t=n_r * float(((t_means - grand) ** 2).sum()) / (n_t - 1),
        ms_r=n_t * float(((r_means - grand) ** 2).sum()) / (n_r - 1),
        ms_tr=float((residual**2).sum()) / ((n_t - 1) * (n_r - 1)),
        ms_r_within=tuple(float(((row - row.mean()) ** 2).sum()) / (n_r - 1) for row in theta),
        df_t=n_t - 1,
        df_r=n_r - 1,
        df_tr=(n_t - 1) * (n_r - 1),
    )


def _keep(test):
    """A treatment interval left as computed (a figure of merit not bounded by [0, 1])."""
    return TreatmentInterval(test=test, ci_unclipped=test.ci)


def _rrrc(
    theta: np.ndarray,
    ms: ORMeanSquares,
    cov: ORCovariance,
    treatments: Sequence[str],
    alpha: float,
    clip=clip_fom_interval,
) -> ORRandomReadersTest:
    """Random readers and cases: F = MS(T) / (MS(T*R) + R max(Cov2 - Cov3, 0)), Hillis ddf."""
    n_r = theta.shape[1]
    error = ms.ms_tr + n_r * max(cov.cov2 - cov.cov3, 0.0)
    ddf = satterthwaite_df(error, ms.ms_tr, ms.df_tr)
    se = float(np.sqrt(2 * error / n_r))
    test = f_result(
        ms.ms_t, error, ms.df_t, ddf, pairwise(treatments, theta.mean(1), se, ddf, alpha)
    )
    singles: dict[str, RandomReadersTreatment] = {}
    for i, name in enumerate(treatments):
        ms_r_i, cov2_i = ms.ms_r_within[i], cov.cov2_within(i)
        error_i = ms_r_i + n_r * max(cov2_i, 0.0)
        df_i = satterthwaite_df(error_i, ms_r_i, n_r - 1)
        single = t_interval(float(theta[i].mean()), float(np.sqrt(error_i / n_r)), df_i, alpha)
        clipped = clip(single)
        singles[name] = RandomReadersTreatment(
            test=clipped.test, ci_unclipped=clipped.ci_unclipped, cov2=cov2_i, ms_r=ms_r_i
        )
    return ORRandomReadersTest(**_f_test_fields(test), treatments=singles)


def _frrc(
    theta: np.ndarray,
    ms: ORMeanSquares,
    cov: ORCovariance,
    treatments: Sequence[str],
    readers: Sequence[str],
    alpha: float,
    clip=clip_fom_interval,
) -> ORFixedReadersTest:
    """Fixed readers: chi-square = (T-1) MS(T) / (Var - Cov1 + (R-1) max(Cov2 - Cov3, 0))."""
    n_t, n_r = theta.shape
    error = cov.var - cov.cov1 + (n_r - 1) * max(cov.cov2 - cov.cov3, 0.0)
    chi2 = (n_t - 1) * ms.ms_t / error if error > 0 else INF
    se = float(np.sqrt(2 * max(error, 0.0) / n_r))
    singles: dict[str, FixedReadersTreatment] = {}
    for i, name in enumerate(treatments):
        var_i = cov.var_within(i) + (n_r - 1) * max(cov.cov2_within(i), 0.0)
        single = t_interval(
            float(theta[i].mean()), float(np.sqrt(max(var_i, 0.0) / n_r)), INF, alpha
        )
        clipped = clip(single)
        singles[name] = FixedReadersTreatment(
            test=clipped.test, ci_unclipped=clipped.ci_unclipped, var_error=cov.var_within(i)
        )
    per_reader = {
        reader: tuple(
            Difference(
                treatments=(treatments[i], treatments[j]),
                test=t_interval(
                    float(theta[i, r] - theta[j, r]), _reader_se(cov, i, j, r), INF, alpha
                ),
            )
            for i, j in combinations(range(n_t), 2)
        )
        for r, reader in enumerate(readers)
    }
    return ORFixedReadersTest(
        error_term=error,
        chi2=chi2,
        df=n_t - 1,
        p=f_test(chi2 / (n_t - 1), n_t - 1, INF),
        differences=pairwise(treatments, theta.mean(1), se, INF, alpha),
        treatments=singles,
        readers=per_reader,
    )


def _reader_se(cov: ORCovariance, i: int, j: int, r: int) -> float:
    """SE of one reader's difference between treatments i and j (its own covariance entries)."""
    var = cov.entry(i, r, i, r) + cov.entry(j, r, j, r) - 2 * cov.entry(i, r, j, r)
    return float(np.sqrt(max(var, 0.0)))


def _rrfc(
    theta: np.ndarray,
    ms: ORMeanSquares,
    treatments: Sequence[str],
    alpha: float,
    clip=clip_fom_interval,
) -> ORFixedCasesTest:
    """Fixed cases: F = MS(T) / MS(T*R) on (T-1, (T-1)(R-1)) df."""
    n_r = theta.shape[1]
    se = float(np.sqrt(2 * ms.ms_tr / n_r))
    test = f_result(
        ms.ms_t, ms.ms_tr, ms.df_t, ms.df_tr,
        pairwise(treatments, theta.mean(1), se, ms.df_tr, alpha),
    )  # fmt: skip
    singles = {
        name: clip(
            t_interval(
                float(theta[i].mean()), float(np.sqrt(ms.ms_r_within[i] / n_r)), n_r - 1, alpha
            )
        )
        for i, name in enumerate(treatments)
    }
    return ORFixedCasesTest(**_f_test_fields(test), treatments=singles)


def variance_components(
    ms: ORMeanSquares, cov: ORCovariance, n_treatments: int
) -> ORVarianceComponents:
    var, cov1, cov2, cov3 = cov.var, cov.cov1, cov.cov2, cov.cov3

    def correlation(c: float) -> float | None:
        return c / var if var > 0 else None

    return ORVarianceComponents(
        var_r=(ms.ms_r - ms.ms_tr) / n_treatments - cov1 + cov3,
        var_tr=ms.ms_tr - var + cov1 + max(cov2 - cov3, 0.0),
        var_error=var,
        cov1=cov1,
        cov2=cov2,
        cov3=cov3,
        r1=correlation(cov1),
        r2=correlation(cov2),
        r3=correlation(cov3),
    )


def obuchowski_rockette(
    theta: np.ndarray,
    cov: ORCovariance,
    covariance: str,
    covariance_method: str,
    treatments: Sequence[str],
    readers: Sequence[str],
    alpha: float = 0.05,
    bounded: bool = True,
) -> ORAnalysis:
    """The OR analysis of a (T, R) table of figures of merit with its covariance over cases
    (estimated by ``covariance``, described by ``covariance_method``). ``bounded``: the figure
    of merit lies in [0, 1] and each treatment's interval is clipped there (False: e.g. a mean
    log reading time)."""
    clip = clip_fom_interval if bounded else _keep
    ms = mean_squares(theta)
    return ORAnalysis(
        covariance=covariance,
        covariance_method=covariance_method,
        mean_squares=ms,
        variance_components=variance_components(ms, cov, theta.shape[0]),
        rrrc=_rrrc(theta, ms, cov, treatments, alpha, clip),
        frrc=_frrc(theta, ms, cov, treatments, readers, alpha, clip),
        rrfc=_rrfc(theta, ms, treatments, alpha, clip),
    )
