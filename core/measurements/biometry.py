"""Fetal head biometry: what each measurement is, and what a published chart says about it.

Measurements a sonographer takes on the axial head planes:

======  =========================  ========  =============================================
kind    name                       tool      plane
======  =========================  ========  =============================================
BPD     biparietal diameter        distance  trans-thalamic (outer to inner table)
OFD     occipito-frontal diameter  distance  trans-thalamic (outer to outer)
HC      head circumference         ellipse   trans-thalamic (ellipse on the outer skull)
TCD     trans-cerebellar diameter  distance  trans-cerebellar
CM      cisterna magna             distance  trans-cerebellar
======  =========================  ========  =============================================

Charts: the INTERGROWTH-21st Project's, international and prescriptive, with their published
equations (GA in exact weeks, lengths in mm):

- gestational age from HC: Papageorghiou AT, Kemp B, Stones W, et al. Ultrasound-based
  gestational-age estimation in late pregnancy. Ultrasound Obstet Gynecol 2016;48:719-726,
  doi:10.1002/uog.15894: GA (days) = exp(0.05970 (ln HC)^2 + 0.000000006409 HC^3 + 3.3258).
  Its worked example: HC 250 mm gives 189.8 days.
- gestational age from TCD: Napolitano R, Molloholli M, Donadono V, et al. International
  standards for fetal brain structures based on serial ultrasound measurements from the Fetal
  Growth Longitudinal Study of the INTERGROWTH-21st Project. Ultrasound Obstet Gynecol
  2020;56:359-370, doi:10.1002/uog.21990: GA (weeks) = 3.957113 + 8.154074 TCD_cm
  - 0.076187 TCD_cm^3.
- size for gestational age (median and SD; the centile of a measurement at a known GA):
  HC, BPD, OFD from Papageorghiou AT, Ohuma EO, Altman DG, et al. International standards for
  fetal growth based on serial ultrasound measurements: the Fetal Growth Longitudinal Study of
  the INTERGROWTH-21st Project. Lancet 2014;384:869-879, doi:10.1016/S0140-6736(14)61490-2;
  TCD and cisterna magna (log scale) from Napolitano et al. 2020 above.

The standards cover 14+0 to 40+0 weeks; outside that range no centile is given, and a GA
estimate outside it is returned with a note, never silently. A GA from one measurement is an
estimate with the chart's own spread (about +/- 1-2 weeks mid-pregnancy), not a dating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GA_MIN_WEEKS, GA_MAX_WEEKS = 14.0, 40.0

DISTANCE, ELLIPSE = "distance", "ellipse"


@dataclass(frozen=True)
class Kind:
    code: str
    name: str
    tool: str  # DISTANCE or ELLIPSE
    plane: str = ""
    how: str = ""


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind("distance", "Distance", DISTANCE),
        Kind("ellipse", "Ellipse", ELLIPSE),
        Kind("BPD", "Biparietal diameter", DISTANCE, "trans-thalamic", "outer to inner table"),
        Kind("OFD", "Occipito-frontal diameter", DISTANCE, "trans-thalamic", "outer to outer"),
        Kind("HC", "Head circumference", ELLIPSE, "trans-thalamic", "ellipse on the outer skull"),
        Kind("TCD", "Trans-cerebellar diameter", DISTANCE, "trans-cerebellar", "outer to outer"),
        Kind("CM", "Cisterna magna", DISTANCE, "trans-cerebellar", "cerebellar vermis to occiput"),
    )
}


def kinds_for_tool(tool: str) -> list[str]:
    return [code for code, k in KINDS.items() if k.tool == tool]


@dataclass(frozen=True)
class GaEstimate:
    weeks: float
    chart: str
    note: str = ""  # e.g. "outside the chart's range (14-40 weeks)"

    @property
    def text(self) -> str:
        return f"GA {format_weeks(self.weeks)} ({self.chart})" + (
            f" — {self.note}" if self.note else ""
        )


def format_weeks(weeks: float) -> str:
    """'22w3d'."""
    days = int(round(weeks * 7))
    return f"{days // 7}w{days % 7}d"


def _range_note(weeks: float) -> str:
    if weeks < GA_MIN_WEEKS or weeks > GA_MAX_WEEKS:
        return f"outside the chart's range ({GA_MIN_WEEKS:.0f}-{GA_MAX_WEEKS:.0f} weeks)"
    return ""


def ga_from_hc(hc_mm: float) -> GaEstimate:
    """INTERGROWTH-21st (Papageorghiou et al. 2016) GA from head circumference."""
    if hc_mm <= 0:
        raise ValueError("head circumference must be positive")
    days = math.exp(0.05970 * math.log(hc_mm) ** 2 + 0.000000006409 * hc_mm**3 + 3.3258)
    weeks = days / 7.0
    return GaEstimate(weeks, "INTERGROWTH-21st HC", _range_note(weeks))


def ga_from_tcd(tcd_mm: float) -> GaEstimate:
    """INTERGROWTH-21st (Napolitano et al. 2020) GA from trans-cerebellar diameter."""
    if tcd_mm <= 0:
        raise ValueError("trans-cerebellar diameter must be positive")
    cm = tcd_mm / 10.0
    weeks = 3.957113 + 8.154074 * cm - 0.076187 * cm**3
    return GaEstimate(weeks, "INTERGROWTH-21st TCD", _range_note(weeks))


GA_CHARTS = {"HC": ga_from_hc, "TCD": ga_from_tcd}


def size_for_ga(kind: str, ga_weeks: float) -> tuple[float, float] | None:
    """(median, SD) of ``kind`` at ``ga_weeks`` by the INTERGROWTH-21st standard; for CM both
    are of ln(mm). None for a kind without a standard or a GA outside 14-40 weeks."""
    g = float(ga_weeks)
    if not GA_MIN_WEEKS <= g <= GA_MAX_WEEKS:
        return None
    lg = math.log(g)
    if kind == "HC":
        mu = -28.2849 + 1.69267 * g**2 - 0.397485 * g**2 * lg
        sd = 1.98735 + 0.0136772 * g**3 - 0.00726264 * g**3 * lg + 0.000976253 * g**3 * lg**2
    elif kind == "BPD":
        mu = 5.60878 + 0.158369 * g**2 - 0.00256379 * g**3
        sd = math.exp(
            0.101242 + 0.00150557 * g**3 - 0.000771535 * g**3 * lg + 0.0000999638 * g**3 * lg**2
        )
    elif kind == "OFD":
        mu = -12.4097 + 0.626342 * g**2 - 0.148075 * g**2 * lg
        sd = math.exp(
            -0.880034 + 0.0631165 * g**2 - 0.0317136 * g**2 * lg + 0.00408302 * g**2 * lg**2
        )
    elif kind == "TCD":
        mu = -13.10907 + 20.8941 * (g / 10) ** 0.5 + 0.5035914 * (g / 10) ** 3
        sd = 0.4719837 + 0.0500382 * (g / 10) ** 3
    elif kind == "CM":
        mu = 2.098095 - 239.0659 * g**-2 - 0.0000001547 * g**3
        sd = 0.2297936 + 8.1872 * g**-2
    else:
        return None
    return mu, sd


def centile(kind: str, value_mm: float, ga_weeks: float) -> float | None:
    """The centile (0-100) of ``value_mm`` at ``ga_weeks`` (None without a standard)."""
    stats = size_for_ga(kind, ga_weeks)
    if stats is None or value_mm <= 0:
        return None
    mu, sd = stats
    y = math.log(value_mm) if kind == "CM" else value_mm
    z = (y - mu) / sd
    return 50.0 * (1.0 + math.erf(z / math.sqrt(2.0)))


def ga_estimate(kind: str, value_mm: float) -> GaEstimate | None:
    chart = GA_CHARTS.get(kind)
    return chart(value_mm) if chart is not None and value_mm > 0 else None
