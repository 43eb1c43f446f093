"""What the app (and its PDF report) says about an image or a patient: one wording, honest about
what the model can assess. Pure functions, no Qt.

- An image the model cannot assess (``core.domain``: not ultrasound, not B-mode, blank, too
  small, unlike the training images) gets a grey "outside what this model was validated for"
  badge, never a class colour; its class output is shown only when the reader asks for it.
- A patient without an assessable view is "Not assessable".
- A probability is never printed as "100.0%" or "0.0%": the model's figures are estimates, so
  the extremes read "> 99.9%" and "< 0.1%". The patient figure is a probability only when the
  bundle calibrated it on validation patients; otherwise it is labelled a score.
"""

from __future__ import annotations

from core.aggregation import PatientPrediction
from core.domain import REASONS, DomainCheck
from core.probability_text import percent  # one definition, also for the CLI
from core.taxonomy import display_name

from . import theme

NOT_ASSESSABLE_TEXT = "Not assessable"
OUTSIDE_DOMAIN = "outside what this model was validated for"


def short_name(class_name: str) -> str:
    return display_name(class_name).split(" (")[0]


def outside_badge(check: DomainCheck) -> str:
    """The grey badge of an image the model cannot assess, e.g. "outside what this model was
    validated for: not B-mode greyscale"."""
    return f"{OUTSIDE_DOMAIN}: {REASONS.get(check.reason, check.reason)}"


def outside_sentence(check: DomainCheck) -> str:
    """Badge and explanation, as one sentence for the results panel and the report."""
    detail = check.message[:1].upper() + check.message[1:] if check.message else ""
    return f"{outside_badge(check)[:1].upper()}{outside_badge(check)[1:]}. {detail}".strip()


def patient_figure(verdict: PatientPrediction) -> str:
    """The verdict's figure: a calibrated probability, or a score labelled as one."""
    value = float(verdict.probs.max())
    if verdict.calibrated:
        return percent(value, 0)
    return "score > 0.99" if value > 0.99 else f"score {value:.2f}"  # never "1.00" either


def patient_badge(verdict: PatientPrediction) -> tuple[str, str]:
    """(text, colour) of a patient's verdict; grey "Not assessable" when no view counts."""
    if not verdict.assessable:
        return NOT_ASSESSABLE_TEXT, theme.PENDING_COLOUR
    return f"{short_name(verdict.pred)}  {patient_figure(verdict)}", theme.verdict_colour(
        verdict.pred
    )


def verdict_details(verdict: PatientPrediction) -> str:
    """Rule, what it rests on, flags and what the figure is - the lines under the verdict."""
    if not verdict.assessable:
        which = (
            "The image is not"
            if verdict.n_images == 1
            else f"None of the {verdict.n_images} images is"
        )
        return f"{which} one this model can assess ({OUTSIDE_DOMAIN}): no verdict."
    lines = [
        f"Rule: {verdict.rule.replace('_', ' ')} — {verdict.rule_text}; over "
        f"{verdict.counts_text} (a cine is one view)."
    ]
    lines += [f"⚠ {text[:1].upper()}{text[1:]}." for text in verdict.flag_texts]
    if not verdict.calibrated:
        lines.append("The patient figure is a score, not a calibrated probability.")
    return "\n".join(lines)


def plane_text(prediction) -> str:
    """The plane the model sees, e.g. "Plane: trans-thalamic (92%)"; "" without a plane head."""
    if getattr(prediction, "plane", None) is None:
        return ""
    return f"Plane: {prediction.plane} ({percent(prediction.plane_prob, 0)})"


def heatmap_weight(probs, k: int) -> float:
    """How strongly the map of class ``k`` is drawn: its probability relative to the top class,
    so the map of a class the model gives 0.2 % does not glow like a finding."""
    top = float(max(probs))
    return float(probs[k]) / top if top > 0 else 0.0
