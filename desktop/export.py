"""Exports: a per-patient PDF report (QPdfWriter + QPainter, no extra dependency) and the
predictions CSVs (same columns as ``cnsight-predict``'s images.csv / patients.csv).

``snapshot_patient`` copies what a report needs on the GUI thread; ``write_patient_report``
then runs off the GUI thread (painting on a QPdfWriter is allowed outside the GUI thread).
In de-identified mode the report names the case ("Case 3"), not the patient, leaves file
names out and masks the burned-in text of every picture: the geometric mask when the data is
copied, then, in the worker, the text lines OCR finds inside the region
(``mask_report_text``; without Tesseract the report is refused, never written half-masked).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np

from core import prediction_csv
from core.aggregation import PatientPrediction
from core.burned_text import TEXT_MASKER, OcrUnavailable, TextMasker, boxes_mask
from core.heatmap_overlay import render_overlay
from core.records import ImageRef

from .deid import PHI_NOTICE
from .model_worker import ModelInfo
from .rendering import deidentify_pixels
from .report_data import ReportData, ReportImage
from .report_pdf import paint_report
from .verdict_text import outside_sentence, plane_text, verdict_details, verdict_line
from .viewmodels.cohort import CohortViewModel
from .viewmodels.groups import patient_key

MAX_REPORT_IMAGES = 12


def _report_refs(vm: CohortViewModel, key: str, verdict: PatientPrediction) -> list[ImageRef]:
    """One image per file (for a cine, its frame most in favour of the verdict), the files
    most in favour of the verdict first, at most MAX_REPORT_IMAGES; the images the model
    cannot assess come last (shown with the reason, no heatmap). Reading order when there is
    no verdict class."""
    k = verdict.pred_index

    def score(r: ImageRef) -> float:
        pred = vm.prediction(r)
        return (float(pred.probs[k]) if k >= 0 else 0.0) + (1.0 if pred.assessable else 0.0)

    best = []
    for group in vm.groups(key):
        scored = [(score(r), r) for r in group.refs if vm.prediction(r) is not None]
        scored = [(p, r) for p, r in scored if vm.loaded_image(r) is not None]
        if scored:
            best.append(max(scored, key=lambda pr: pr[0]))
    best.sort(key=lambda pr: -pr[0])  # stable: reading order among equals
    return [r for _p, r in best[:MAX_REPORT_IMAGES]]


def snapshot_patient(
    vm: CohortViewModel, model_info: ModelInfo | None, opacity: float
) -> ReportData:
    """Everything the current patient's report needs (raises ValueError when not ready)."""
    patient = vm.current_patient
    key = patient_key(patient) if patient else None
    verdict = vm.verdict(key) if key else None
    if verdict is None or model_info is None:
        raise ValueError(
            "the current patient has no AI result yet; wait for the analysis to finish"
        )
    images = []
    for ref in _report_refs(vm, key, verdict):
        image, pred = vm.loaded_image(ref), vm.prediction(ref)
        pixels = deidentify_pixels(image.pixels, image.region) if vm.deidentified else image.pixels
        text_source = image.pixels if vm.deidentified else None  # OCR'd in the worker
        if pred.assessable:
            overlay = render_overlay(
                pixels, pred.cams[pred.pred_index], pred.input_box, opacity=opacity
            )
            item = ReportImage(
                vm.image_label(ref), pixels, overlay, pred.probs, "", plane_text(pred),
                text_source=text_source,
            )  # fmt: skip
        else:
            item = ReportImage(
                vm.image_label(ref), pixels, None, pred.probs, outside_sentence(pred.check),
                text_source=text_source,
            )  # fmt: skip
        images.append(item)
    labels = {r.key: vm.image_label(r) for r in patient.images}
    return ReportData(
        patient_label=vm.patient_label(vm.patient_index),
        class_names=vm.class_names,
        verdict_class=verdict.pred,
        verdict_probs=verdict.probs,
        rule=verdict.rule,
        rule_text=verdict.rule_text,
        n_images=verdict.n_images,
        verdict_text=verdict_line(verdict),
        verdict_details=verdict_details(verdict),
        drivers=tuple((labels.get(k, k), p) for k, p in verdict.drivers),
        images=tuple(images),
        model_name=model_info.card.name,
        weights_sha256=model_info.card.weights_sha256,
        device=model_info.device,
        backend=model_info.backend,
        deidentified=vm.deidentified,
        created=dt.datetime.now().isoformat(timespec="seconds"),
    )


def _blacked(pixels: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    return np.where(hidden[..., None] if pixels.ndim == 3 else hidden, 0, pixels).astype(
        pixels.dtype
    )


def mask_report_text(data: ReportData, masker: TextMasker = TEXT_MASKER) -> ReportData:
    """``data`` with the text lines OCR finds (``core.burned_text``) blacked out of every
    de-identified picture and its heatmap (the heatmap is drawn over the picture, so the same
    pixels go). Slow for images OCR has not seen yet (the viewer's results are cached by pixel
    hash): call it off the GUI thread. Raises ``OcrUnavailable`` when Tesseract cannot run."""
    images = []
    for item in data.images:
        if item.text_source is not None:
            hidden = boxes_mask(item.pixels.shape, masker.boxes(item.text_source))
            overlay = None if item.overlay is None else _blacked(item.overlay, hidden)
            item = replace(
                item, pixels=_blacked(item.pixels, hidden), overlay=overlay, text_source=None
            )
        images.append(item)
    return replace(data, images=tuple(images))


def write_patient_report(path: Path, data: ReportData) -> Path:
    """Paint the PDF (off the GUI thread); a de-identified report is masked with OCR first,
    and without Tesseract not written at all (a de-identified file must not carry the text
    inside the region that only OCR can find)."""
    if data.deidentified:
        try:
            data = mask_report_text(data)
        except OcrUnavailable as exc:
            raise OcrUnavailable(
                f"the de-identified report was not written: {exc}. Turn de-identification off "
                "to write a report that carries the patient's data."
            ) from exc
    return paint_report(Path(path), data)


def export_notice(deidentified: bool) -> str:
    """What the app says about an export it has written: whether it carries patient data."""
    if deidentified:
        return "De-identified export: case and image labels, no patient ids or file paths."
    return PHI_NOTICE


def write_predictions_csv(path: Path, vm: CohortViewModel) -> tuple[Path, Path]:
    """``path``: one row per predicted image; ``<stem>_patients.csv``: one row per patient.

    Columns are ``cnsight-predict``'s (``core.prediction_csv``), every cell through its safe
    writer (a Patient ID ``=cmd|...`` is written ``'=cmd|...``). In de-identified mode the
    patient and image columns carry case and image labels, never ids or file names; otherwise
    the files carry PHI (``export_notice`` says so).
    """
    path = Path(path)
    patients_path = path.with_name(f"{path.stem}_patients{path.suffix or '.csv'}")
    names = vm.class_names
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = prediction_csv.writer(f)  # formula cells neutralised
        w.writerow(prediction_csv.image_header(names))
        for i, patient in enumerate(vm.patients):
            pid = vm.patient_label(i)
            for ref in patient.images:
                pred = vm.prediction(ref)
                if pred is None:
                    continue
                where = vm.image_label(ref) if vm.deidentified else str(ref.path)
                w.writerow(prediction_csv.prediction_row(names, pid, where, pred))
    with open(patients_path, "w", newline="", encoding="utf-8") as f:
        w = prediction_csv.writer(f)  # formula cells neutralised
        w.writerow(prediction_csv.patient_header(names))
        for i, patient in enumerate(vm.patients):
            verdict = vm.verdict(patient_key(patient))
            if verdict is not None:
                labels = {r.key: vm.image_label(r) for r in patient.images}
                row = prediction_csv.patient_row(
                    names,
                    vm.patient_label(i),
                    verdict,
                    verdict.rule,
                    image_name=lambda key, labels=labels: labels.get(key, "?"),
                )
                w.writerow(row)
    return path, patients_path
