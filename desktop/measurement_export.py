"""Measurements in the exports: ``<name>_measurements.csv`` beside the predictions CSV, and the
rows the PDF report prints (``report_data.ReportMeasurement``)."""

from __future__ import annotations

import csv
from pathlib import Path

from core.measurements.biometry import format_weeks

from .report_data import ReportMeasurement
from .viewmodels.cohort import CohortViewModel
from .viewmodels.measurements import MeasurementsViewModel, Row

CSV_HEADER = [
    "patient_id", "image", "frame", "measurement", "name", "value", "unit", "area", "axes",
    "ga_weeks", "ga", "ga_chart", "ga_note", "centile", "centile_at_weeks", "scale", "points",
]  # fmt: skip


def _image_label(vm: CohortViewModel, ref) -> str:
    return vm.image_label(ref) if vm.deidentified else str(ref.path)


def _csv_row(vm: CohortViewModel, patient_label: str, ref, row: Row) -> list:
    m, r = row.measurement, row.result
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in m.points)
    if r is None:  # the image is not loaded: the points only
        return [patient_label, _image_label(vm, ref), "" if ref.frame is None else ref.frame,
                m.kind, row.name, "", "", "", "", "", "", "", "", "", "", "", points]  # fmt: skip
    return [
        patient_label,
        _image_label(vm, ref),
        "" if ref.frame is None else ref.frame,
        m.kind,
        row.name,
        f"{r.value:.2f}",
        r.unit,
        "" if r.area is None else f"{r.area:.1f}",
        "" if r.axes is None else f"{r.axes[0]:.2f}x{r.axes[1]:.2f}",
        "" if r.ga is None else f"{r.ga.weeks:.2f}",
        "" if r.ga is None else format_weeks(r.ga.weeks),
        "" if r.ga is None else r.ga.chart,
        "" if r.ga is None else r.ga.note,
        "" if r.centile is None else f"{r.centile:.1f}",
        "" if r.centile_ga is None else f"{r.centile_ga:.2f}",
        r.scale.source if r.scale.calibrated else f"px: {r.scale.reason}",
        points,
    ]


def write_measurements_csv(path: Path, vm: CohortViewModel, mvm: MeasurementsViewModel) -> Path:
    """Every measurement of the study, one row each (case labels in de-identified mode)."""
    path = Path(path)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_HEADER)
        for i, patient in enumerate(vm.patients):
            label = vm.patient_label(i)
            refs = {r.key: r for r in patient.images}
            for row in mvm.rows(patient.images):
                w.writerow(_csv_row(vm, label, refs[row.image_key], row))
    return path


def measurements_csv_path(predictions_path: Path) -> Path:
    p = Path(predictions_path)
    return p.with_name(f"{p.stem}_measurements{p.suffix or '.csv'}")


def report_measurements(
    vm: CohortViewModel, mvm: MeasurementsViewModel
) -> tuple[ReportMeasurement, ...]:
    """The current patient's measurements, as the report prints them."""
    patient = vm.current_patient
    if patient is None:
        return ()
    refs = {r.key: r for r in patient.images}
    out = []
    for row in mvm.rows(patient.images):
        r = row.result
        value = r.value_text() if r is not None else "image not loaded"
        details = "; ".join(r.details()) if r is not None else ""
        out.append(
            ReportMeasurement(
                vm.image_label(refs[row.image_key]), row.measurement.kind, row.name, value, details
            )  # fmt: skip
        )
    return tuple(out)
