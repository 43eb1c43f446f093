"""Patients from files without a Patient ID (issue 12: two such files in one folder became two
patients with the same name)."""

from __future__ import annotations

import numpy as np

from core.discovery import discover
from tests.support.dicom_files import base_dataset, write_dicom


def _dcm(path, **ds_kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_dicom(path, np.zeros((8, 8), np.uint8), ds=base_dataset(**ds_kwargs))


def test_files_without_patient_id_in_one_folder_are_one_patient(tmp_path):
    # De-identification tools often drop (0010,0020) and give each file a new study UID.
    _dcm(tmp_path / "case7" / "a.dcm", patient_id=None, study_uid="1.2.3.1")
    _dcm(tmp_path / "case7" / "b.dcm", patient_id=None, study_uid="1.2.3.2")
    study = discover(tmp_path)
    assert [(p.patient_id, len(p.images)) for p in study.patients] == [("case7", 2)]


def test_files_without_patient_id_in_two_folders_stay_two_patients(tmp_path):
    _dcm(tmp_path / "x" / "a.dcm", patient_id=None, study_uid="1.2.3.1")
    _dcm(tmp_path / "y" / "b.dcm", patient_id=None, study_uid="1.2.3.1")
    assert [p.patient_id for p in discover(tmp_path).patients] == ["x", "y"]


def test_a_real_patient_id_keeps_its_studies_apart_even_named_like_its_folder(tmp_path):
    _dcm(tmp_path / "A" / "1.dcm", patient_id="A", study_uid="1.1")
    _dcm(tmp_path / "A" / "2.dcm", patient_id="A", study_uid="1.2")
    study = discover(tmp_path)
    assert [(p.patient_id, p.study_uid) for p in study.patients] == [("A", "1.1"), ("A", "1.2")]
