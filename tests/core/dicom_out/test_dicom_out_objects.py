"""The SR, heatmap Secondary Captures and Encapsulated PDF of a predicted phantom study: valid
by dciodvfy, and readable back with pydicom, dsrdump, pypdf and tesseract."""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import replace

import numpy as np
import pydicom
import pytest

from core import RESEARCH_USE_ONLY
from core.aggregation import aggregate_patient
from core.dicom_out import write_study_outputs
from core.dicom_out.study_outputs import PDF_NAME, SR_NAME
from core.domain import DomainCheck
from core.taxonomy import display_name
from tests.support.dicom_out import DCIODVFY, DSRDUMP, dciodvfy_errors
from tests.support.dicom_out import sr_children as _children
from tests.support.dicom_out import sr_code_value as _code_value
from tests.support.dicom_out import sr_groups as _groups
from tests.support.dicom_out import sr_items as _items


def _source(predicted) -> dict[str, pydicom.Dataset]:
    """Source headers by SOP Instance UID."""
    headers = {}
    for pred in predicted.predictions:
        ds = pydicom.dcmread(pred.ref.path, stop_before_pixels=True)
        headers[str(ds.SOPInstanceUID)] = ds
    return headers


def _by_kind(outputs):
    sr = [p for p in outputs if p.name == SR_NAME]
    pdf = [p for p in outputs if p.name == PDF_NAME]
    sc = [p for p in outputs if p not in sr + pdf]
    return sr[0], sc, pdf[0]


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (dicom3tools) is not installed")
def test_every_object_validates_with_dciodvfy_without_errors(outputs):
    sr, sc, pdf = _by_kind(outputs)
    assert sc, "the verdict's driving views get heatmap images"
    for path in [sr, *sc, pdf]:
        errors, warnings = dciodvfy_errors(path)
        assert errors == [], f"{path.name}: {errors}"
        # The warnings that remain are documented (docs/dicom-outputs.md): the private coding
        # scheme and the unknown laterality of a derived picture.
        for w in warnings:
            assert "99CNSIGHT" in w or "<Laterality>" in w, w


def test_objects_are_in_the_source_study_in_new_series(predicted, outputs):
    sources = _source(predicted)
    first = next(iter(sources.values()))
    series = {str(ds.SeriesInstanceUID) for ds in sources.values()}
    made = [pydicom.dcmread(p) for p in outputs]
    assert {p.parent.name for p in outputs} == {str(first.StudyInstanceUID)}
    for ds in made:
        assert ds.StudyInstanceUID == first.StudyInstanceUID
        assert ds.PatientID == first.PatientID and ds.PatientName == first.PatientName
        assert ds.SeriesInstanceUID not in series
        assert str(ds.SOPInstanceUID) not in sources
    assert {ds.Modality for ds in made} == {"SR", "OT", "DOC"}


def test_sr_carries_the_findings_the_model_identity_and_the_image_references(predicted, outputs):
    sr_path, _sc, _pdf = _by_kind(outputs)
    sr = pydicom.dcmread(sr_path)
    verdict, card = predicted.verdict, predicted.card
    assert sr.SOPClassUID == pydicom.uid.ComprehensiveSRStorage
    assert (sr.CompletionFlag, sr.VerificationFlag) == ("COMPLETE", "UNVERIFIED")
    patient, *images = _groups(sr)
    assert len(images) == len(predicted.predictions)
    # Patient level: the class, its figure (a score: the tiny bundle is not calibrated), rule.
    assert _code_value(_children(patient, "Finding")[0]) == verdict.pred
    figures = {
        _code_value(num.ContentSequence[0]): float(num.MeasuredValueSequence[0].NumericValue)
        for num in _children(patient, "Score (attribute)")
    }
    assert figures == pytest.approx(dict(zip(card.class_names, verdict.probs, strict=True)))
    assert _code_value(_children(patient, "Patient-level aggregation rule")[0]) == verdict.rule
    texts = [i.TextValue for i in _items(sr) if i.ValueType == "TEXT"]
    assert any(verdict.rule_text in t for t in texts)
    assert any(t.startswith("Research use only") for t in texts)
    flags = {_code_value(i) for i in _children(patient, "Verdict flag")}
    assert flags == set(verdict.flags)
    # The model: name, version, weights sha256 (TID 4019 in every group).
    for group in [patient, *images]:
        assert _children(group, "Algorithm Name")[0].TextValue == card.name
        params = [i.TextValue for i in _children(group, "Algorithm Parameters")]
        assert f"weights_sha256={card.weights_sha256}" in params
    # Every image: its own SOP Instance UID (and frame), its class and probabilities.
    sources = _source(predicted)
    for group, pred in zip(images, predicted.predictions, strict=True):
        (ref,) = _children(group, "Source of Measurement")
        sop = ref.ReferencedSOPSequence[0]
        assert sop.ReferencedSOPInstanceUID in sources
        assert sop.ReferencedSOPClassUID == sources[sop.ReferencedSOPInstanceUID].SOPClassUID
        if pred.ref.frame is None:
            assert "ReferencedFrameNumber" not in sop
        else:
            assert sop.ReferencedFrameNumber == pred.ref.frame + 1
        assert _code_value(_children(group, "Finding")[0]) == card.class_names[pred.pred_index]
        probs = [
            float(n.MeasuredValueSequence[0].NumericValue) for n in _children(group, "Probability")
        ]
        assert probs == pytest.approx(list(pred.probs))
        assert _code_value(_children(group, "Visual explanation")[0]) == "130402"  # CAM
    frames = [p.ref.frame for p in predicted.predictions if p.ref.frame is not None]
    assert frames, "the phantom study has a cine: frames are referenced by number"
    # The patient group names the driving views.
    driver_refs = _children(patient, "Source of Measurement")
    assert len(driver_refs) == len(verdict.drivers)


@pytest.mark.skipif(DSRDUMP is None, reason="dsrdump (dcmtk) is not installed")
def test_dsrdump_reads_the_findings(predicted, outputs):
    sr_path, _sc, _pdf = _by_kind(outputs)
    run = subprocess.run(
        [DSRDUMP, "+Pl", "+Pu", str(sr_path)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    dump = run.stdout
    verdict, card = predicted.verdict, predicted.card
    assert "Comprehensive SR Document" in dump
    assert f'(,,"Finding")=({verdict.pred},99CNSIGHT,"{display_name(verdict.pred)}")' in dump
    scores = [float(v) for v in re.findall(r'NUM:\(,,"Score \(attribute\)"\)="([0-9.e+-]+)"', dump)]
    assert scores == pytest.approx(list(verdict.probs), abs=1e-9)
    assert f"weights_sha256={card.weights_sha256}" in dump
    for uid in _source(predicted):
        assert uid in dump
    assert "Research use only - not for diagnosis" in dump


def test_heatmap_images_show_the_driving_views_with_the_research_line(predicted, outputs):
    import pytesseract

    _sr, sc_paths, _pdf = _by_kind(outputs)
    verdict = predicted.verdict
    assert len(sc_paths) == len(verdict.drivers)
    sources = _source(predicted)
    by_key = {p.ref.key: p for p in predicted.predictions}
    for path, (key, _p) in zip(sc_paths, verdict.drivers, strict=True):
        ds = pydicom.dcmread(path)
        assert ds.SOPClassUID == pydicom.uid.SecondaryCaptureImageStorage
        assert (ds.PhotometricInterpretation, ds.SamplesPerPixel, ds.BitsAllocated) == ("RGB", 3, 8)
        assert ds.BurnedInAnnotation == "YES"
        ref = ds.SourceImageSequence[0]
        source = sources[ref.ReferencedSOPInstanceUID]
        assert str(source.SOPInstanceUID) == ref.ReferencedSOPInstanceUID
        frame = by_key[key].ref.frame
        assert ref.get("ReferencedFrameNumber") == (None if frame is None else frame + 1)
        pixels = ds.pixel_array
        assert pixels.shape[2] == 3 and pixels.shape[1] > source.Columns  # image | heatmap
        caption = pixels[:44]
        big = np.repeat(np.repeat(caption, 3, axis=0), 3, axis=1)
        text = pytesseract.image_to_string(255 - big.max(axis=2))
        assert "Research use only" in text, text


def test_pdf_report_is_encapsulated_with_its_facts(predicted, outputs):
    from pypdf import PdfReader

    _sr, _sc, pdf_path = _by_kind(outputs)
    ds = pydicom.dcmread(pdf_path)
    assert ds.SOPClassUID == pydicom.uid.EncapsulatedPDFStorage
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    data = bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength]
    assert data.startswith(b"%PDF-")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    text = " ".join(text.split())
    assert RESEARCH_USE_ONLY in text
    assert display_name(predicted.verdict.pred) in text
    assert predicted.card.weights_sha256 in text
    assert predicted.verdict.rule_text.split(" (")[0] in text
    for pred in predicted.predictions[:3]:
        assert pred.ref.name in text
    referenced = {r.ReferencedSOPInstanceUID for r in ds.SourceInstanceSequence}
    assert referenced == set(_source(predicted))


def test_the_callers_pdf_is_sent_as_given(predicted, tmp_path):
    from matplotlib.figure import Figure

    buf = io.BytesIO()
    Figure().savefig(buf, format="pdf")  # any real PDF: the app's comes from QPdfWriter
    paths = write_study_outputs(
        tmp_path, predicted.predictions, predicted.verdict, predicted.card, pdf=buf.getvalue()
    )
    ds = pydicom.dcmread([p for p in paths if p.name == PDF_NAME][0])
    assert bytes(ds.EncapsulatedDocument)[: ds.EncapsulatedDocumentLength] == buf.getvalue()
    assert len(ds.EncapsulatedDocument) % 2 == 0


def test_a_patient_without_an_assessable_view_is_reported_not_assessable(predicted, tmp_path):
    blank = DomainCheck(False, "blank", "the image is near-uniform")
    preds = [replace(p, check=blank) for p in predicted.predictions]
    verdict = aggregate_patient(
        "p", [p.probs for p in preds], [p.ref.key for p in preds], predicted.card.class_names,
        assessable=[False] * len(preds),
    )  # fmt: skip
    paths = write_study_outputs(tmp_path, preds, verdict, predicted.card)
    assert [p.name for p in paths] == [SR_NAME, PDF_NAME]  # no heatmap: nothing drove a verdict
    sr = pydicom.dcmread(paths[0])
    patient, *images = _groups(sr)
    assert _code_value(_children(patient, "Finding")[0]) == "not_assessable"
    assert _children(patient, "Score (attribute)") == []
    for group in images:
        assert _code_value(_children(group, "Assessable by the model")[0]) == "373067005"  # No
        assert _code_value(_children(group, "Reason not assessable")[0]) == "blank"
        assert _children(group, "Probability") == []
    if DCIODVFY is not None:
        assert dciodvfy_errors(paths[0])[0] == []


def test_writing_again_replaces_the_objects(predicted, tmp_path):
    first = write_study_outputs(tmp_path, predicted.predictions, predicted.verdict, predicted.card)
    first_uid = pydicom.dcmread(first[0]).SOPInstanceUID
    assert len(first) == 2 + len(predicted.verdict.drivers) > 3
    fewer = replace(predicted.verdict, drivers=predicted.verdict.drivers[:1])
    second = write_study_outputs(tmp_path, predicted.predictions, fewer, predicted.card)
    folder = first[0].parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in second)
    assert len(second) == 3  # SR, one heatmap, PDF
    assert pydicom.dcmread(second[0]).SOPInstanceUID != first_uid


def test_the_dicom_outputs_load_without_torch():
    """The app's GUI side calls write_study_outputs (the contract "desktop never imports
    torch"): importing it must not load the model stack."""
    import subprocess
    import sys

    code = "import sys, core.dicom_out; assert 'torch' not in sys.modules, 'torch imported'"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
