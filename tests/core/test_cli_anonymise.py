"""cnsight-anonymise: a study round trip (no PHI left, pixels masked in every frame, UIDs
consistent), compressed input written uncompressed, and every refusal."""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np
import pydicom
import pytesseract
import pytest
from pydicom.uid import ExplicitVRLittleEndian, RLELossless

from core.cli.anonymise import SUMMARY_NAME, main
from phantoms.phantom_set import TEXT_BOXES_NAME, generate_phantom_set
from tests.support.dicom_files import base_dataset, write_dicom

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PHI_KEYWORDS = (
    "PatientName", "PatientID", "PatientBirthDate", "StudyDate", "StudyTime", "InstitutionName",
    "AccessionNumber", "ReferringPhysicianName", "StudyID", "StudyDescription", "ImageComments",
)  # fmt: skip


def _one_dicom(folder, pixels=None, **kwargs):
    folder.mkdir()
    pixels = np.zeros((80, 96), np.uint8) if pixels is None else pixels
    return write_dicom(folder / "a.dcm", pixels, **kwargs)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One phantom patient (seed 301, 160x128) as PNG and DICOM (one cine), anonymised."""
    root = tmp_path_factory.mktemp("anon")
    source = generate_phantom_set(root / "in", 1, seed=301, fmt="both", size=(160, 128)).parent
    out = root / "out"
    assert main([str(source), "--out", str(out)]) == 0
    return source, out


def _originals(source):
    return {p: pydicom.dcmread(p) for p in sorted(source.rglob("*.dcm"))}


def test_no_phi_value_is_left_in_any_output_file(study):
    source, out = study
    secrets = set()
    for ds in _originals(source).values():
        for keyword in PHI_KEYWORDS:
            value = str(ds.get(keyword, "") or "")
            if len(value) > 3:
                secrets.add(value)
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            secrets.add(str(ds.get(keyword)))
    family_name = str(next(iter(_originals(source).values())).PatientName).split("^")[0]
    secrets.add(family_name)
    outputs = [p for p in out.rglob("*") if p.is_file()]
    assert outputs
    for path in outputs:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, (path.name, secret)
        assert source.name not in str(path.relative_to(out))
        assert not any(part.startswith("PH301") for part in path.relative_to(out).parts)
    assert not list(out.parent.glob(".out.partial-*"))


def test_headers_say_what_was_done_and_uids_stay_consistent(study):
    source, out = study
    written = [pydicom.dcmread(p) for p in sorted(out.rglob("*.dcm"))]
    originals = list(_originals(source).values())
    assert len(written) == len(originals)
    for ds in written:
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.BurnedInAnnotation == "NO"
        assert ds.PatientName == "case-001" and ds.PatientID == "case-001"
        assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == [
            "113100", "113101",
        ]  # fmt: skip
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert "SequenceOfUltrasoundRegions" in ds  # calibration kept
        assert ds.StudyDate == "" and "PatientBirthDate" in ds  # type 2: present, empty
    # one study stays one study, each series one series; instances stay distinct
    assert len({ds.StudyInstanceUID for ds in written}) == len(
        {ds.StudyInstanceUID for ds in originals}
    )
    assert len({ds.SeriesInstanceUID for ds in written}) == len(
        {ds.SeriesInstanceUID for ds in originals}
    )
    assert len({ds.SOPInstanceUID for ds in written}) == len(written)
    assert {ds.SOPClassUID for ds in written} == {ds.SOPClassUID for ds in originals}
    summary = json.loads((out / SUMMARY_NAME).read_text())
    assert summary["files_written"] == len(written) + len(list(out.rglob("*.png")))
    assert summary["files_skipped"] == 0


def test_every_name_id_and_date_box_is_black_in_every_frame(study):
    source, out = study
    boxes = json.loads((source / TEXT_BOXES_NAME).read_text())["files"]
    by_instance = {}
    for path, ds in _originals(source).items():
        by_instance[int(ds.InstanceNumber)] = boxes[f"{path.parent.name}/{path.name}"]
    checked = 0
    for path in sorted(out.rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        arr = ds.pixel_array
        frames = arr if int(ds.get("NumberOfFrames", 1) or 1) > 1 else arr[None]
        texts = by_instance[int(ds.InstanceNumber)]
        assert len(texts) == len(frames)
        for frame, drawn in zip(frames, texts, strict=True):
            for text in drawn:
                if text["kind"] in ("name_id", "date", "institution"):
                    x0, y0, x1, y1 = text["box"]
                    assert not frame[y0:y1, x0:x1].any(), text
                    checked += 1
    assert checked >= 3 * len(list(out.rglob("*.dcm")))
    for png in out.rglob("*.png"):  # images masked too (the raster path)
        pixels = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
        assert not pixels[: int(0.08 * pixels.shape[0])].any()


def test_output_passes_dciodvfy_with_no_error_the_input_did_not_have(study):
    source, out = study

    def errors(path):
        run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        lines = (run.stdout + run.stderr).splitlines()
        return {line for line in lines if line.startswith("Error")}

    original = next(iter(_originals(source)))
    written = sorted(out.rglob("*.dcm"))[0]
    assert errors(written) <= errors(original)


def test_compressed_input_is_decoded_masked_and_written_uncompressed(tmp_path):
    ramp = np.add.outer(np.arange(96), np.arange(128)) // 2 + 10  # smooth: no glyph edges
    pixels = ramp.astype(np.uint8)
    ds = base_dataset()
    ds.PatientName = "Doe^Jane"
    ds.StudyDate = "20240102"
    _one_dicom(tmp_path / "in", pixels, syntax=RLELossless, ds=ds)
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    (written,) = (tmp_path / "out").rglob("*.dcm")
    out = pydicom.dcmread(written)
    assert out.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    arr = out.pixel_array
    band = int(np.ceil(0.08 * 96))
    assert not arr[:band].any()  # the header band is masked
    kept = arr != 0
    np.testing.assert_array_equal(arr[kept], pixels[kept])  # the rest is the input, lossless
    assert kept.mean() > 0.8
    assert b"Doe" not in written.read_bytes() and b"20240102" not in written.read_bytes()


def test_unreadable_files_are_reported_and_skipped(tmp_path, capsys):
    source = tmp_path / "in"
    source.mkdir()
    write_dicom(source / "good.dcm", np.zeros((80, 96), np.uint8))
    (source / "text.dcm").write_text("not a DICOM file")
    good = (source / "good.dcm").read_bytes()
    (source / "truncated.dcm").write_bytes(good[: len(good) // 2])
    assert main([str(source), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "text.dcm" in err and "truncated.dcm" in err and "skipped" in err
    assert len(list((tmp_path / "out").rglob("*.dcm"))) == 1


def test_nothing_readable_writes_nothing(tmp_path, capsys):
    source = tmp_path / "in"
    source.mkdir()
    (source / "text.dcm").write_text("not a DICOM file")
    assert main([str(source), "--out", str(tmp_path / "out")]) == 2
    assert "error" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no out, no .partial left


def test_a_non_empty_out_is_refused(tmp_path, capsys):
    _one_dicom(tmp_path / "in")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]


def test_missing_tesseract_refuses_before_writing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    _one_dicom(tmp_path / "in")
    assert main([str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 2
    assert "install-system-deps.sh" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
