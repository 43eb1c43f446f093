"""What a per-patient report shows, copied from the view-model (``export.snapshot_patient``).

Plain frozen data, so the PDF can be painted off the GUI thread (``report_pdf``) while the
user goes on; its own module so that the exporter and the painter both depend on it and not on
each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.taxonomy import display_name


@dataclass(frozen=True)
class ReportImage:
    label: str
    pixels: np.ndarray  # already masked in de-identified mode
    overlay: np.ndarray  # pixels with the heatmap of the image's predicted class
    probs: np.ndarray


@dataclass(frozen=True)
class ReportData:
    patient_label: str
    class_names: tuple[str, ...]
    verdict_class: str
    verdict_probs: np.ndarray
    rule: str
    rule_text: str
    n_images: int
    drivers: tuple[tuple[str, float], ...]  # (image label, probability of the verdict)
    images: tuple[ReportImage, ...]
    model_name: str
    weights_sha256: str
    device: str
    deidentified: bool
    created: str


def verdict_line(data: ReportData) -> str:
    return f"{display_name(data.verdict_class)} — {data.verdict_probs.max():.1%}"
