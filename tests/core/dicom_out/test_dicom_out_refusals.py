"""Every refusal of write_study_outputs: a clear message, and nothing under a final name."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from matplotlib.figure import Figure

from core.aggregation import aggregate_patient
from core.dicom_out import DicomOutputError, NotADicomStudyError, write_study_outputs
from core.dicom_out.study_outputs import SR_NAME
from core.predictor import ImagePrediction
from core.records import ImageRef
from tests.support.dicom_files import base_dataset, write_dicom
from tests.support.dicom_out import DCIODVFY, dciodvfy_errors
from tests.support.gui import write_png

CLASSES = ("normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis")


def _predictions(paths: list[Path]) -> list[ImagePrediction]:
    """Predictions as the Predictor makes them (the numbers do not matter for a refusal)."""
    rng = np.random.default_rng(0)
    preds = []
    for path in paths:
        probs = rng.dirichlet(np.ones(len(CLASSES)))
        preds.append(
            ImagePrediction(
                ref=ImageRef(path=path, patient_id="P1"), probs=probs,
                cams=rng.random((len(CLASSES), 2, 2)), input_box=(0, 0, 32, 32),
            )
        )  # fmt: skip
    return preds


def _verdict(preds):
    return aggregate_patient("P1", [p.probs for p in preds], [p.ref.key for p in preds], CLASSES)


def _dicom(path: Path, **header) -> Path:
    """A small US image; ``header`` sets attributes (None: removes them, also those pydicom
    would add back from the file meta when writing)."""
    ds = base_dataset()
    rng = np.random.default_rng(1)
    write_dicom(path, rng.integers(0, 255, (32, 32), dtype=np.uint8), ds=ds)
    ds = pydicom.dcmread(path)
    for key, value in header.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    ds.save_as(path, enforce_file_format=False)
    return path


def _refused(tmp_path, preds, card, match, error=DicomOutputError, **kwargs):
    out = tmp_path / "out"
    with pytest.raises(error, match=match):
        write_study_outputs(out, preds, _verdict(preds), card, **kwargs)
    leftovers = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert leftovers == []


@pytest.fixture(scope="module")
def card(tiny_bundle):
    from core.bundle import load_bundle

    return load_bundle(tiny_bundle).card


def test_images_without_a_study_instance_uid_are_refused(tmp_path, card):
    preds = _predictions([_dicom(tmp_path / "a.dcm", StudyInstanceUID=None)])
    _refused(tmp_path, preds, card, "no Study Instance UID")


def test_images_of_two_studies_are_refused(tmp_path, card):
    preds = _predictions(
        [
            _dicom(tmp_path / "a.dcm", StudyInstanceUID="1.2.3.4"),
            _dicom(tmp_path / "b.dcm", StudyInstanceUID="1.2.3.5"),
        ]
    )
    _refused(tmp_path, preds, card, "belong to 2 studies")


def test_a_uid_that_is_not_a_uid_is_refused_and_never_becomes_a_path(tmp_path, card):
    preds = _predictions([_dicom(tmp_path / "a.dcm", StudyInstanceUID="../../escape")])
    _refused(tmp_path, preds, card, "not a valid DICOM UID")
    assert not (tmp_path.parent / "escape").exists()


def test_an_image_without_sop_instance_uid_is_refused(tmp_path, card):
    preds = _predictions([_dicom(tmp_path / "a.dcm", SOPInstanceUID=None)])
    _refused(tmp_path, preds, card, "no SOP Instance UID")


def test_a_study_of_png_files_is_not_a_dicom_study(tmp_path, card):
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for i, path in enumerate(paths):
        write_png(path, seed=i)
    _refused(tmp_path, _predictions(paths), card, "not DICOM files", NotADicomStudyError)


def test_a_study_half_dicom_half_png_is_refused(tmp_path, card):
    png = tmp_path / "b.png"
    write_png(png, seed=0)
    preds = _predictions([_dicom(tmp_path / "a.dcm"), png])
    _refused(tmp_path, preds, card, "1 of 2 images are not DICOM", NotADicomStudyError)


@pytest.mark.parametrize(
    ("pdf", "match"),
    [
        (b"", "empty"),
        (b"<html>not a report</html>", "not a PDF"),
        ("truncated", "truncated"),
    ],
)
def test_a_pdf_that_is_not_a_pdf_is_refused(tmp_path, card, pdf, match):
    if pdf == "truncated":
        buf = io.BytesIO()
        Figure().savefig(buf, format="pdf")
        pdf = buf.getvalue()[: len(buf.getvalue()) // 2]
    preds = _predictions([_dicom(tmp_path / "a.dcm")])
    _refused(tmp_path, preds, card, match, pdf=pdf)


def test_a_verdict_of_other_images_or_classes_is_refused(tmp_path, card):
    preds = _predictions([_dicom(tmp_path / "a.dcm"), _dicom(tmp_path / "b.dcm")])
    out = tmp_path / "out"
    with pytest.raises(DicomOutputError, match="rests on 1 images but 2"):
        write_study_outputs(out, preds, _verdict(preds[:1]), card)
    other = replace(_verdict(preds), class_names=("a", "b", "c", "d", "e"))
    with pytest.raises(DicomOutputError, match="another bundle"):
        write_study_outputs(out, preds, other, card)
    with pytest.raises(DicomOutputError, match="nothing to send back"):
        write_study_outputs(out, [], _verdict(preds), card)
    assert not out.exists()


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, card):
    preds = _predictions([_dicom(tmp_path / "a.dcm")])
    blocked = tmp_path / "file"
    blocked.write_text("a file where the output folder should be")
    with pytest.raises(DicomOutputError, match="cannot write the DICOM results"):
        write_study_outputs(blocked, preds, _verdict(preds), card)


def test_a_write_that_fails_halfway_leaves_no_object_behind(tmp_path, card):
    """The last object cannot be written (a folder holds its name): the SR and the heatmaps
    written before it are removed again, and no temporary file stays."""
    preds = _predictions([_dicom(tmp_path / "a.dcm")])
    out = tmp_path / "out"
    study = out / "1.2.826.0.1.3680043.8.498.1"
    (study / "cnsight-report.dcm").mkdir(parents=True)
    with pytest.raises(DicomOutputError, match="cannot write"):
        write_study_outputs(out, preds, _verdict(preds), card)
    assert sorted(p.name for p in study.iterdir()) == ["cnsight-report.dcm"]
    assert not (study / SR_NAME).exists()


def test_a_sparse_source_header_still_gives_valid_objects(tmp_path, card):
    """No birth date, sex, study date or accession number in the source (Type 2 there too):
    the objects carry them empty, and validate."""
    preds = _predictions([_dicom(tmp_path / "a.dcm")])
    paths = write_study_outputs(tmp_path / "out", preds, _verdict(preds), card)
    assert len(paths) == 3
    for path in paths:
        ds = pydicom.dcmread(path)
        assert ds.PatientBirthDate == "" and ds.AccessionNumber == ""
        if DCIODVFY is not None:
            assert dciodvfy_errors(path)[0] == []
