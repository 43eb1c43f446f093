"""DICOMDIR discovery, with a DICOMDIR written by pydicom.fileset.FileSet."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.fileset import FileSet

from core.discovery import discover
from core.errors import DiscoveryError
from tests.support.dicom_files import base_dataset

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def write_fileset(folder: Path, specs) -> Path:
    """specs: (patient_id, study_uid, instance, frames); returns the DICOMDIR path."""
    file_set = FileSet()
    for patient_id, study_uid, instance, frames in specs:
        ds = base_dataset(patient_id=patient_id, study_uid=study_uid, instance=instance,
                          multiframe=frames > 1)  # fmt: skip
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "1200", "1", ""
        ds.SeriesNumber = 1
        shape = (frames, 8, 8) if frames > 1 else (8, 8)
        ds.set_pixel_data(np.full(shape, instance * 10, np.uint8), "MONOCHROME2", 8)
        file_set.add(ds)
    file_set.write(folder)
    return folder / "DICOMDIR"


SPECS = [("A", "1.1", 2, 1), ("A", "1.1", 1, 1), ("A", "1.2", 1, 3), ("B", "2.1", 1, 1)]


@pytest.mark.parametrize("open_as", ["file", "folder"])
def test_dicomdir_lists_patients_and_studies(tmp_path, open_as):
    dicomdir = write_fileset(tmp_path / "media", SPECS)
    study = discover(dicomdir if open_as == "file" else dicomdir.parent)
    summary = [(p.patient_id, p.study_uid, len(p.images)) for p in study.patients]
    assert summary == [("A", "1.1", 2), ("A", "1.2", 3), ("B", "2.1", 1)]
    assert not study.errors
    # both files of study 1.1 are named IM000000: Instance Number orders them
    assert [r.path.parent.name for r in study.patients[0].images] == ["SE000001", "SE000000"]
    assert [r.frame for r in study.patients[1].images] == [0, 1, 2]


def test_dicomdir_missing_referenced_file(tmp_path):
    dicomdir = write_fileset(tmp_path, SPECS)
    victim = next(p for p in sorted(tmp_path.rglob("IM*")) if "PT000001" in str(p))
    victim.unlink()
    study = discover(dicomdir)
    assert [p.patient_id for p in study.patients] == ["A", "A"]
    assert len(study.errors) == 1
    assert study.errors[0].path == str(victim)
    assert study.errors[0].message == "listed in the DICOMDIR but the file is missing"


def test_unreadable_dicomdir(tmp_path):
    (tmp_path / "DICOMDIR").write_bytes(b"\x00" * 128 + b"DICM" + b"\x01" * 40)
    with pytest.raises(DiscoveryError, match="not a readable DICOMDIR"):
        discover(tmp_path)


def test_pydicom_sample_dicomdir():
    # (only names directly in test_files are safe with get_testdata_file: others go online)
    dicomdir = Path(get_testdata_file("CT_small.dcm")).parent / "dicomdirtests" / "DICOMDIR"
    study = discover(dicomdir)
    assert {p.patient_id for p in study.patients} == {"77654033", "98890234"}
    assert len(study.images) == 31
    assert all(os.path.isfile(r.path) for r in study.images)
