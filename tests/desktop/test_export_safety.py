"""The app's CSV export (issue 15): formula cells neutralised (OWASP), and exports that name
the patient say so."""

from __future__ import annotations

import csv
from pathlib import Path

from core.records import Cohort, ImageRef, Patient
from core.taxonomy import DEFAULT_CLASS_NAMES
from desktop.export import write_predictions_csv
from desktop.viewmodels.cohort import CohortViewModel
from desktop.viewmodels.groups import patient_key
from tests.support.gui import fake_prediction

PAYLOAD = "=cmd|' /C calc'!A0"


def _vm(tmp_path: Path) -> CohortViewModel:
    refs = tuple(ImageRef(path=tmp_path / f"@img{i}.png", patient_id=PAYLOAD) for i in range(2))
    vm = CohortViewModel()
    vm.set_cohort(Cohort(source=str(tmp_path), patients=(Patient(PAYLOAD, refs),), errors=()))
    vm.set_model_classes(DEFAULT_CLASS_NAMES, "mean_softmax")
    probs = [0.6, 0.1, 0.1, 0.1, 0.1]
    vm.set_predictions(patient_key(vm.patients[0]), [fake_prediction(r, probs) for r in refs])
    return vm


def test_csv_export_neutralises_formula_cells(tmp_path):
    images, patients = write_predictions_csv(tmp_path / "p.csv", _vm(tmp_path))
    for path in (images, patients):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))[1:]
        assert rows and all(not r[0].startswith(("=", "+", "-", "@")) for r in rows), rows
        assert all(r[0] == "'" + PAYLOAD for r in rows)


def test_exports_say_whether_they_carry_patient_data():
    from desktop.export import export_notice

    assert "PHI" in export_notice(False)
    assert "De-identified" in export_notice(True) and "PHI" not in export_notice(True)


def test_the_window_says_whether_a_saved_export_carries_patient_data(main_window, tmp_path):
    """Saving in identified mode tells the user the files carry PHI; de-identified, says so."""
    win = main_window
    paths = [tmp_path / "p.csv", tmp_path / "p_patients.csv"]
    win.vm.set_deidentified(False)
    win._on_saved(paths)
    assert "PHI" in win.status.text.text() and "p.csv" in win.status.text.text()
    win.vm.set_deidentified(True)
    win._on_saved(paths)
    assert "De-identified" in win.status.text.text()
