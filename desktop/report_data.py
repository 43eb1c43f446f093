"""What a per-patient report shows, copied from the view-model (``export.snapshot_patient``).

Plain frozen data, so the PDF can be painted off the GUI thread (``report_pdf``) while the
user goes on; its own module so that the exporter and the painter both depend on it and not on
each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ReportImage:
    label: str
    pixels: np.ndarray  # de-identified mode: masked (geometry here, OCR in the worker)
    overlay: np.ndarray | None  # heatmap of the predicted class; None: not assessable
    probs: np.ndarray
    outside: str = ""  # why the model cannot assess this image ("" when it can)
    plane: str = ""  # e.g. "Plane: trans-thalamic (92%)"
    #: De-identified mode: the decoded pixels, for OCR in the export worker to find the text
    #: burned in inside the region (``export.mask_report_text``); never painted, dropped there.
    text_source: np.ndarray | None = None


@dataclass(frozen=True)
class ReportMeasurement:
    image_label: str
    kind: str  # "HC", "BPD", "distance", ...
    name: str  # "Head circumference"
    value: str  # "172.4 mm" (or "…px" outside a calibrated region)
    details: str  # GA, centile, area, why in pixels


@dataclass(frozen=True)
class ReportData:
    patient_label: str
    class_names: tuple[str, ...]
    verdict_class: str
    verdict_probs: np.ndarray
    rule: str
    rule_text: str
    n_images: int
    verdict_text: str  # "Encephalocele / meningocele — 97%", "… — score 0.97", "Not assessable"
    verdict_details: str  # rule over N views, flags, score or probability
    drivers: tuple[tuple[str, float], ...]  # (image label, probability of the verdict)
    images: tuple[ReportImage, ...]
    model_name: str
    weights_sha256: str
    device: str
    deidentified: bool
    created: str
    measurements: tuple[ReportMeasurement, ...] = ()
    exam: tuple[tuple[str, str], ...] = ()  # (fact, value): patient id, study date, GA, ...
    impression: str = ""  # the reader's free text
    reader: str = ""  # the reader's name, printed above the signature line
    opacity: float | None = None  # the heatmaps' opacity in the pictures (None: not said)
    backend: str = ""  # what ran the network (core.inference), printed beside the device


def verdict_line(data: ReportData) -> str:
    return data.verdict_text
