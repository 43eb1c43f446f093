"""What the app (and its PDF report) says about an image or a patient. The wording itself is
``core.verdict_wording`` (one definition for the app, the CLI's report and the DICOM SR); this
module adds what only the app needs: badge colours, heatmap weights. No Qt.
"""

from __future__ import annotations

from core.aggregation import PatientPrediction
from core.probability_text import percent  # one definition, also for the CLI
from core.verdict_wording import (
    NOT_ASSESSABLE_TEXT,
    OUTSIDE_DOMAIN,
    outside_badge,
    outside_sentence,
    patient_figure,
    plane_text,
    short_name,
    verdict_details,
    verdict_line,
)

from . import theme

__all__ = [
    "NOT_ASSESSABLE_TEXT",
    "OUTSIDE_DOMAIN",
    "heatmap_weight",
    "outside_badge",
    "outside_sentence",
    "patient_badge",
    "patient_figure",
    "percent",
    "plane_text",
    "short_name",
    "verdict_details",
    "verdict_line",
]


def patient_badge(verdict: PatientPrediction) -> tuple[str, str]:
    """(text, colour) of a patient's verdict; grey "Not assessable" when no view counts."""
    if not verdict.assessable:
        return NOT_ASSESSABLE_TEXT, theme.PENDING_COLOUR
    return f"{short_name(verdict.pred)}  {patient_figure(verdict)}", theme.verdict_colour(
        verdict.pred
    )


def heatmap_weight(probs, k: int) -> float:
    """How strongly the map of class ``k`` is drawn: its probability relative to the top class,
    so the map of a class the model gives 0.2 % does not glow like a finding."""
    top = float(max(probs))
    return float(probs[k]) / top if top > 0 else 0.0
