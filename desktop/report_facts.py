"""What the report says about the exam, and the pictures it prints, from the view-models
(GUI thread): exam facts from the DICOM header, heatmaps drawn as the viewer draws them."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from core.measurements.biometry import format_weeks

from .rendering import blend_heatmap
from .report_data import ReportData
from .viewmodels.cohort import CohortViewModel
from .viewmodels.measurements import MeasurementsViewModel

WITHHELD = "withheld (de-identified)"


def _dicom_date(value: str) -> str:
    try:
        return dt.datetime.strptime(value.strip()[:8], "%Y%m%d").date().isoformat()
    except ValueError:
        return value


def exam_facts(
    vm: CohortViewModel, mvm: MeasurementsViewModel | None
) -> tuple[tuple[str, str], ...]:
    """Patient id (when the label is not it) and name, study date, gestational age,
    institution (where the files say), and the GA the head measurements imply.
    De-identified: no name or id, date and institution withheld."""
    patient = vm.current_patient
    if patient is None:
        return ()
    headers = [img.header for r in patient.images if (img := vm.loaded_image(r)) is not None]

    def first(keyword: str) -> str:
        return next((h[keyword] for h in headers if h.get(keyword)), "")

    facts: list[tuple[str, str]] = []  # the report's header names the patient (or case)
    if not vm.deidentified:
        if vm.patient_label(vm.patient_index) != patient.patient_id:
            facts.append(("Patient ID", patient.patient_id))
        if name := first("PatientName"):
            facts.append(("Patient name", name.replace("^", " ").strip()))
    date, institution = first("StudyDate"), first("InstitutionName")
    if date:
        facts.append(("Study date", WITHHELD if vm.deidentified else _dicom_date(date)))
    if institution:
        facts.append(("Institution", WITHHELD if vm.deidentified else institution))
    if patient.ga_weeks is not None:
        facts.append(("Gestational age (study records)", format_weeks(patient.ga_weeks)))
    if mvm is not None:
        for row in mvm.rows(patient.images):
            r = row.result
            if r is not None and r.ga is not None:
                facts.append((f"GA by {row.measurement.kind}", r.ga.text.removeprefix("GA ")))
    return tuple(facts)


def with_viewer_heatmaps(data: ReportData, vm: CohortViewModel, opacity: float) -> ReportData:
    """The report's heatmap pictures drawn as the viewer draws them (transparent low end), at
    ``opacity``, whatever the screen's slider says."""
    patient = vm.current_patient
    refs = {vm.image_label(r): r for r in patient.images} if patient else {}
    images = []
    for item in data.images:
        ref = refs.get(item.label)
        pred = vm.prediction(ref) if ref is not None else None
        if item.overlay is not None and pred is not None:
            overlay = blend_heatmap(
                item.pixels, pred.cams[pred.pred_index], pred.input_box, opacity
            )
            item = replace(item, overlay=overlay)
        images.append(item)
    return replace(data, images=tuple(images), opacity=opacity)
