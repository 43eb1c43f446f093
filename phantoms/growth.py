"""Fetal size and ossification against gestational age (approximate biometry charts)."""

from __future__ import annotations

import numpy as np

GA_RANGE_WEEKS: tuple[float, float] = (12.0, 40.0)

# Biparietal diameter (outer-inner, mm) by GA, rounded from the usual charts
# (about 20 mm at 13 weeks, 90 mm at 40 weeks).
_BPD_CHART = (
    (12.0, 17.0),
    (13.0, 20.0),
    (16.0, 33.0),
    (20.0, 46.0),
    (24.0, 59.0),
    (28.0, 71.0),
    (32.0, 80.0),
    (36.0, 87.0),
    (40.0, 91.0),
)

#: Cephalic index BPD / OFD.
CEPHALIC_INDEX = 0.79


def bpd_mm(ga_weeks: float) -> float:
    """Biparietal diameter for a gestational age."""
    weeks, values = zip(*_BPD_CHART, strict=True)
    return float(np.interp(ga_weeks, weeks, values))


def ofd_mm(ga_weeks: float) -> float:
    """Occipito-frontal diameter."""
    return bpd_mm(ga_weeks) / CEPHALIC_INDEX


def skull_thickness_mm(ga_weeks: float) -> float:
    """Calvarium thickness as it shows on ultrasound (thin and faint early, thick late)."""
    return 0.7 + 0.065 * (ga_weeks - 12.0)


def ossification(ga_weeks: float) -> float:
    """0..1: how bright and shadowing bone is (membranous skull ossifies over 12-26 weeks)."""
    return float(np.clip(0.25 + 0.75 * (ga_weeks - 12.0) / 14.0, 0.25, 1.0))


def vertebra_pitch_mm(ga_weeks: float) -> float:
    """Distance between neighbouring lumbar ossification centres."""
    return 0.09 * bpd_mm(ga_weeks) + 0.4


def format_ga(ga_weeks: float) -> str:
    """'22w3d' as scanners print it."""
    days = int(round(ga_weeks * 7))
    return f"{days // 7}w{days % 7}d"
