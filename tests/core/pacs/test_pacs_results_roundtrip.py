"""The whole way through a real Orthanc, as a site would use it: store a phantom study,
retrieve it into the cache, predict it, build the SR / heatmap SC / Encapsulated PDF with
``write_study_outputs``, send them back, read them back from Orthanc and check their content."""

from __future__ import annotations

import io

import pydicom
import pytest

from core.dicom_out import write_study_outputs
from core.dicom_out.study_outputs import PDF_NAME, SR_NAME
from core.pacs import transfer
from core.pacs.query import StudyQuery
from tests.support.dicom_out import predict_folder, sr_children, sr_code_value, sr_groups


def test_retrieve_predict_send_and_read_back(orthanc, cache, tiny_bundle, tmp_path):
    """By DICOMweb (WADO-RS in, STOW-RS out); the app's end-to-end test goes by C-GET and
    C-STORE (tests/desktop/pacs/test_pacs_gui_end_to_end.py)."""
    if not orthanc.has_dicomweb:
        pytest.skip("Orthanc's DICOMweb plugin is not installed")
    node = orthanc.node()
    (study,) = transfer.search(node, StudyQuery(patient_id="PH3-0002"))
    cached = transfer.retrieve(node, study.study_uid, cache, "wadors")
    predicted = predict_folder(tiny_bundle, cached.instances)
    paths = write_study_outputs(
        tmp_path / "out", predicted.predictions, predicted.verdict, predicted.card
    )
    report = transfer.send(node, paths, "stow")
    assert len(report.sent) == len(paths) and len(report.series_uids) == 3  # SR, SC, PDF

    back = {}
    for series_uid in report.series_uids:
        for raw in orthanc.series_instances(series_uid):
            ds = pydicom.dcmread(io.BytesIO(raw))
            assert ds.StudyInstanceUID == study.study_uid  # filed under the source study
            assert ds.PatientID == "PH3-0002"
            back.setdefault(str(ds.Modality), []).append(ds)
    assert sorted(back) == ["DOC", "OT", "SR"]  # PDF, heatmap Secondary Captures, SR
    (sr,) = back["SR"]
    patient, *images = sr_groups(sr)
    assert sr_code_value(sr_children(patient, "Finding")[0]) == predicted.verdict.pred
    assert len(images) == len(predicted.predictions)  # one group per predicted image/frame
    assert {sr_children(g, "Source of Measurement")[0].ReferencedSOPSequence[0]
            .ReferencedSOPInstanceUID for g in images} == {
        str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID)
        for f in cached.instances.iterdir()
    }  # fmt: skip
    sent_sr = pydicom.dcmread(next(p for p in paths if p.name == SR_NAME))
    assert sr.SOPInstanceUID == sent_sr.SOPInstanceUID
    heatmaps = back["OT"]
    assert len(heatmaps) == len(predicted.verdict.drivers)
    (pdf,) = back["DOC"]
    sent_pdf = pydicom.dcmread(next(p for p in paths if p.name == PDF_NAME))
    assert pdf.EncapsulatedDocument == sent_pdf.EncapsulatedDocument
    for ds in (ds for series in back.values() for ds in series):
        assert ds.SeriesDescription.endswith("- research use only")
    for series_uid in report.series_uids:  # how a site removes them (docs/pacs.md)
        orthanc.rest("DELETE", f"/series/{orthanc.lookup(series_uid, 'Series')}")
