"""What CNSight says about an image or a patient, in words: one wording for the app, its PDF
report, the CLI's PDF report and the DICOM Structured Report, honest about what the model can
assess. Pure functions, no Qt (the app's badge colours stay in ``desktop.verdict_text``).

- An image the model cannot assess (``core.domain``: not ultrasound, not B-mode, blank, too
  small, unlike the training images) is "outside what this model was validated for", never a
  class.
- A patient without an assessable view is "Not assessable".
- A probability is never printed as "100.0%" or "0.0%" (``core.probability_text``). The
  patient figure is a probability only when the bundle calibrated it on validation patients;
  otherwise it is labelled a score.
"""

from __future__ import annotations

from .aggregation import PatientPrediction
from .domain import REASONS, DomainCheck
from .probability_text import percent
from .taxonomy import display_name

NOT_ASSESSABLE_TEXT = "Not assessable"
OUTSIDE_DOMAIN = "outside what this model was validated for"


def short_name(class_name: str) -> str:
    return display_name(class_name).split(" (")[0]


def outside_badge(check: DomainCheck) -> str:
    """The grey badge of an image the model cannot assess, e.g. "outside what this model was
    validated for: not B-mode greyscale"."""
    return f"{OUTSIDE_DOMAIN}: {REASONS.get(check.reason, check.reason)}"


def outside_sentence(check: DomainCheck) -> str:
    """Badge and explanation, as one sentence for the results panel and the reports."""
    detail = check.message[:1].upper() + check.message[1:] if check.message else ""
    return f"{outside_badge(check)[:1].upper()}{outside_badge(check)[1:]}. {detail}".strip()


def patient_figure(verdict: PatientPrediction) -> str:
    """The verdict's figure: a calibrated probability, or a score labelled as one."""
    value = float(verdict.probs.max())
    if verdict.calibrated:
        return percent(value, 0)
    return "score > 0.99" if value > 0.99 else f"score {value:.2f}"  # never "1.00" either


def verdict_line(verdict: PatientPrediction) -> str:
    """The verdict in one line: "Encephalocele / meningocele — 97%", "… — score 0.97", or
    "Not assessable"."""
    if not verdict.assessable:
        return NOT_ASSESSABLE_TEXT
    return f"{display_name(verdict.pred)} — {patient_figure(verdict)}"


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
