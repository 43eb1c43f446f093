"""Dorfman-Berbaum-Metz (DBM) analysis: a treatment x reader x case ANOVA of jackknife
pseudovalues, with Hillis' denominator degrees of freedom (Dorfman et al. 1992; Hillis 2008).

Pseudovalues are centred so that their mean over cases is each reader's figure of merit, as
OR-DBM MRMC and RJafroc do; then MS(T) = K * MS(T) of OR and, for RRRC, DBM and OR-with-
jackknife agree exactly. For fixed readers DBM uses F = MS(T)/MS(T*C) on (T-1, (T-1)(K-1)) df,
which differs from OR's chi-square (both are reported by the reference tools).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from core.mrmc.results import FTest
from core.mrmc.stats import f_result, pairwise, satterthwaite_df


@dataclass(frozen=True)
class DBMEffects:
    """One number per effect of the treatment x reader x case ANOVA (mean squares, or df)."""

    t: float
    r: float
    c: float
    tr: float
    tc: float
    rc: float
    trc: float

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class DBMVarianceComponents:
    var_r: float
    var_c: float
    var_tr: float
    var_tc: float
    var_rc: float
    var_trc_error: float

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class DBMAnalysis:
    mean_squares: DBMEffects
    df: DBMEffects  # integer degrees of freedom
    variance_components: DBMVarianceComponents
    rrrc: FTest
    frrc: FTest
    rrfc: FTest

    def to_json(self) -> dict:
        return {
            "mean_squares": self.mean_squares.to_json(),
            "df": self.df.to_json(),
            "variance_components": self.variance_components.to_json(),
            "rrrc": self.rrrc.to_json(),
            "frrc": self.frrc.to_json(),
            "rrfc": self.rrfc.to_json(),
        }


def pseudovalues(theta: np.ndarray, jackknife: np.ndarray) -> np.ndarray:
    """(T, R, K) pseudovalues K*theta - (K-1)*theta(-k), centred on theta."""
    k = jackknife.shape[2]
    y = k * theta[..., None] - (k - 1) * jackknife
    return y + (theta - y.mean(axis=2))[..., None]


def dbm_mean_squares(y: np.ndarray) -> tuple[DBMEffects, DBMEffects]:
    """Mean squares and degrees of freedom of every effect of the pseudovalue ANOVA."""
    n_t, n_r, n_c = y.shape
    g = y.mean()
    m_t, m_r, m_c = y.mean(axis=(1, 2)), y.mean(axis=(0, 2)), y.mean(axis=(0, 1))
    m_tr, m_tc, m_rc = y.mean(axis=2), y.mean(axis=1), y.mean(axis=0)
    df = DBMEffects(
        t=n_t - 1,
        r=n_r - 1,
        c=n_c - 1,
        tr=(n_t - 1) * (n_r - 1),
        tc=(n_t - 1) * (n_c - 1),
        rc=(n_r - 1) * (n_c - 1),
        trc=(n_t - 1) * (n_r - 1) * (n_c - 1),
    )
    residual = (
        y
        - m_tr[:, :, None]
        - m_tc[:, None, :]
        - m_rc[None, :, :]
        + m_t[:, None, None]
        + m_r[None, :, None]
        + m_c[None, None, :]
        - g
    )
    ss = DBMEffects(
        t=n_r * n_c * ((m_t - g) ** 2).sum(),
        r=n_t * n_c * ((m_r - g) ** 2).sum(),
        c=n_t * n_r * ((m_c - g) ** 2).sum(),
        tr=n_c * ((m_tr - m_t[:, None] - m_r[None, :] + g) ** 2).sum(),
        tc=n_r * ((m_tc - m_t[:, None] - m_c[None, :] + g) ** 2).sum(),
        rc=n_t * ((m_rc - m_r[:, None] - m_c[None, :] + g) ** 2).sum(),
        trc=(residual**2).sum(),
    )
    ms = DBMEffects(
        **{f.name: float(getattr(ss, f.name) / getattr(df, f.name)) for f in fields(ss)}
    )
    return ms, df


def dbm(
    theta: np.ndarray, jackknife: np.ndarray, treatments: Sequence[str], alpha: float = 0.05
) -> DBMAnalysis:
    y = pseudovalues(theta, jackknife)
    n_t, n_r, n_c = y.shape
    ms, df = dbm_mean_squares(y)
    means = theta.mean(axis=1)

    def test(error: float, ddf: float) -> FTest:
        se = float(np.sqrt(2 * max(error, 0.0) / (n_r * n_c)))
        return f_result(ms.t, error, df.t, ddf, pairwise(treatments, means, se, ddf, alpha))

    rrrc_error = ms.tr + max(ms.tc - ms.trc, 0.0)
    return DBMAnalysis(
        mean_squares=ms,
        df=df,
        variance_components=DBMVarianceComponents(
            var_r=(ms.r - ms.rc - ms.tr + ms.trc) / (n_t * n_c),
            var_c=(ms.c - ms.rc - ms.tc + ms.trc) / (n_t * n_r),
            var_tr=(ms.tr - ms.trc) / n_c,
            var_tc=(ms.tc - ms.trc) / n_r,
            var_rc=(ms.rc - ms.trc) / n_t,
            var_trc_error=ms.trc,
        ),
        rrrc=test(rrrc_error, satterthwaite_df(rrrc_error, ms.tr, df.tr)),
        frrc=test(ms.tc, df.tc),
        rrfc=test(ms.tr, df.tr),
    )
