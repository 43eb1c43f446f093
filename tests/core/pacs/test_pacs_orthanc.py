"""The PACS round trip against a real Orthanc: echo, find, retrieve (C-MOVE, C-GET, WADO-RS),
send (C-STORE, STOW-RS) and read back through Orthanc's REST API."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

from core.pacs import transfer
from core.pacs.query import StudyQuery

#: The phantom studies (tests/support/orthanc.py): patient id -> (name, date, instances).
PATIENTS = {
    "PH3-0001": ("PELHOLM^Tara", "20230907", 8),
    "PH3-0002": ("SALROVA^Orla", "20230904", 7),
}


def _originals(phantom_studies: Path, patient_id: str) -> dict[str, pydicom.Dataset]:
    return {
        str(ds.SOPInstanceUID): ds
        for ds in (pydicom.dcmread(p) for p in sorted((phantom_studies / patient_id).glob("*.dcm")))
    }


def test_echo_checks_dimse_and_dicomweb(orthanc):
    check = transfer.test_connection(orthanc.node())
    assert check.lines[0].startswith(f"C-ECHO to ORTHANC@127.0.0.1:{orthanc.dicom_port}: OK")
    if orthanc.has_dicomweb:
        assert check.lines[1] == f"DICOMweb at {orthanc.dicomweb_url}: OK"


@pytest.mark.parametrize("via", ["cfind", "qido"])
@pytest.mark.parametrize(
    "query, expected",
    [
        (StudyQuery(), {"PH3-0001", "PH3-0002"}),
        (StudyQuery(patient_name="PEL*"), {"PH3-0001"}),
        (StudyQuery(patient_id="PH3-0002"), {"PH3-0002"}),
        (StudyQuery(date_from="20230905"), {"PH3-0001"}),
        (StudyQuery(date_to="20230905"), {"PH3-0002"}),
        (StudyQuery(modality="US"), {"PH3-0001", "PH3-0002"}),
        (StudyQuery(modality="CT"), set()),
        (StudyQuery(accession="NO-SUCH"), set()),
    ],
)
def test_find(orthanc, via, query, expected):
    if via == "qido" and not orthanc.has_dicomweb:
        pytest.skip("Orthanc's DICOMweb plugin is not installed")
    found = transfer.search(orthanc.node(), query, via)
    assert {s.patient_id for s in found} == expected
    for study in found:
        name, date, n = PATIENTS[study.patient_id]
        assert (study.patient_name, study.study_date, study.n_instances) == (name, date, n)
        assert study.modalities == "US" and study.study_uid.startswith("2.25.")


@pytest.mark.parametrize("method", ["move", "get", "wadors"])
def test_retrieve_into_the_cache(orthanc, cache, phantom_studies, method):
    if method == "wadors" and not orthanc.has_dicomweb:
        pytest.skip("Orthanc's DICOMweb plugin is not installed")
    node = orthanc.node()
    (study,) = transfer.search(node, StudyQuery(patient_id="PH3-0001"))
    seen: list[tuple[int, int | None]] = []
    cached = transfer.retrieve(
        node, study.study_uid, cache, method, lambda d, t: seen.append((d, t))
    )
    originals = _originals(phantom_studies, "PH3-0001")
    assert cached.n_instances == len(originals) == 8
    assert seen[-1] == (8, 8)  # the bar reaches its end
    files = sorted(cached.instances.iterdir())
    assert [f.suffix for f in files] == [".dcm"] * 8
    for f in files:
        got = pydicom.dcmread(f)
        want = originals[str(got.SOPInstanceUID)]
        assert got.StudyInstanceUID == study.study_uid and got.PatientID == "PH3-0001"
        assert got.pixel_array.tobytes() == want.pixel_array.tobytes()
    assert cache.get(study.study_uid) == cached
    # A second retrieve is served from the cache (no transfer, same folder).
    assert transfer.retrieve(node, study.study_uid, cache, method).folder == cached.folder


def _results_copy(phantom_studies: Path, out: Path, patient_id: str) -> tuple[Path, str]:
    """Files standing in for our results: the patient's stills as a new series of its study."""
    series = generate_uid()
    out.mkdir(parents=True)
    for i, path in enumerate(sorted((phantom_studies / patient_id).glob("*.dcm"))[:3]):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID, ds.SeriesNumber = series, 900
        ds.SeriesDescription = "CNSight results (test)"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(out / f"result{i}.dcm", enforce_file_format=True)
    (out / "README.txt").write_text("not DICOM: skipped inside a folder")
    return out, series


@pytest.mark.parametrize("method", ["store", "stow"])
def test_send_and_read_back(orthanc, tmp_path, phantom_studies, method):
    if method == "stow" and not orthanc.has_dicomweb:
        pytest.skip("Orthanc's DICOMweb plugin is not installed")
    folder, series = _results_copy(phantom_studies, tmp_path / "results", "PH3-0002")
    sent = {
        str(pydicom.dcmread(p).SOPInstanceUID): pydicom.dcmread(p) for p in folder.glob("*.dcm")
    }
    report = transfer.send(orthanc.node(), [folder], method)
    assert report.series_uids == [series] and len(report.sent) == 3
    stored = [pydicom.dcmread(io.BytesIO(b)) for b in orthanc.series_instances(series)]
    assert {str(ds.SOPInstanceUID) for ds in stored} == set(sent)
    for ds in stored:
        want = sent[str(ds.SOPInstanceUID)]
        assert ds.SeriesDescription == "CNSight results (test)"
        assert ds.StudyInstanceUID == want.StudyInstanceUID  # filed under the source study
        assert ds.pixel_array.tobytes() == want.pixel_array.tobytes()
    orthanc.rest("DELETE", f"/series/{orthanc.lookup(series, 'Series')}")  # how a site removes it
    assert orthanc.series_instances(series) == []
