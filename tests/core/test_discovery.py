"""Folder discovery: plain trees, the dataset layout, DICOM grouping, order, errors, speed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.discovery import discover, natural_key
from core.errors import CancelledError, DiscoveryError
from tests.support.dicom_files import base_dataset, write_dicom

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def png(path, value=0, size=(8, 8)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(path)
    return path


def dcm(path, *, frames=1, **ds_kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (frames, 8, 8) if frames > 1 else (8, 8)
    return write_dicom(
        path, np.zeros(shape, np.uint8), ds=base_dataset(multiframe=frames > 1, **ds_kwargs)
    )


def names(patient):
    return [r.name for r in patient.images]


def test_mixed_folder_with_one_bad_file_still_loads(tmp_path):
    png(tmp_path / "p1" / "a.png")
    png(tmp_path / "p1" / "b.png")
    (tmp_path / "p1" / "broken.png").write_bytes(b"\x00garbage" * 50)
    (tmp_path / "p1" / "README.txt").write_text("notes")
    (tmp_path / "p1" / ".DS_Store").write_bytes(b"\x00" * 64)
    study = discover(tmp_path)
    assert [p.patient_id for p in study.patients] == ["p1"]
    assert names(study.patients[0]) == ["a.png", "b.png"]
    assert len(study.errors) == 1
    assert study.errors[0].path.endswith("broken.png")
    assert study.errors[0].message.startswith("not an image")
    assert study.source == str(tmp_path)


def test_plain_images_are_grouped_by_folder_relative_to_the_root(tmp_path):
    png(tmp_path / "siteA" / "P1" / "x.png")
    png(tmp_path / "siteA" / "P2" / "x.png")
    png(tmp_path / "loose.png")
    study = discover(tmp_path)
    assert [p.patient_id for p in study.patients] == ["siteA/P1", "siteA/P2", tmp_path.name]
    assert all(r.label is None for r in study.images)


def test_dataset_layout_labels_from_class_folders(tmp_path):
    png(tmp_path / "normal" / "P1" / "a.png")
    png(tmp_path / "anencephaly" / "P2" / "img2.png")
    png(tmp_path / "anencephaly" / "P2" / "img10.png")
    png(tmp_path / "Rachischisis" / "P3" / "deeper" / "c.jpg".replace(".jpg", ".png"))
    png(tmp_path / "ventriculomegaly" / "P4" / "d.png")
    png(tmp_path / "anencephaly" / "loose.png")
    study = discover(tmp_path)
    by_id = {p.patient_id: p for p in study.patients}
    assert list(by_id) == ["P1", "P2", "P3"]
    assert by_id["P1"].label == "normal"
    assert by_id["P2"].label == "anencephaly" and names(by_id["P2"]) == ["img2.png", "img10.png"]
    assert by_id["P3"].label == "rachischisis"  # folder names match case-insensitively
    messages = sorted(e.message for e in study.errors)
    assert messages[0].startswith("folder 'ventriculomegaly' is not a class")
    assert messages[1] == "not inside a anencephaly/<patient_id>/ folder"


def test_dataset_layout_with_a_bundle_taxonomy(tmp_path):
    png(tmp_path / "cat" / "P1" / "a.png")
    png(tmp_path / "dog" / "P2" / "b.png")
    study = discover(tmp_path, class_names=["cat", "dog"])
    assert [p.label for p in study.patients] == ["cat", "dog"]
    # with the default taxonomy the same folder is a plain tree
    assert {p.patient_id for p in discover(tmp_path).patients} == {"cat/P1", "dog/P2"}


def test_dataset_layout_patient_in_two_classes_is_one_patient(tmp_path):
    png(tmp_path / "normal" / "P1" / "a.png")
    png(tmp_path / "encephalocele" / "P1" / "b.png")
    study = discover(tmp_path)
    assert len(study.patients) == 1
    assert study.patients[0].label == "encephalocele"
    assert [r.label for r in study.patients[0].images] == ["normal", "encephalocele"]


def test_dicom_grouped_by_patient_then_study(tmp_path):
    dcm(tmp_path / "a" / "1.dcm", patient_id="A", study_uid="1.1")
    dcm(tmp_path / "a" / "2.dcm", patient_id="A", study_uid="1.2")
    dcm(tmp_path / "b" / "3.dcm", patient_id="A", study_uid="1.1")
    dcm(tmp_path / "c" / "4.dcm", patient_id="B", study_uid="2.1")
    dcm(tmp_path / "anon" / "5.dcm", patient_id=None, study_uid="3.1")
    study = discover(tmp_path)
    summary = [(p.patient_id, p.study_uid, names(p)) for p in study.patients]
    assert summary == [
        ("A", "1.1", ["1.dcm", "3.dcm"]),
        ("A", "1.2", ["2.dcm"]),
        ("anon", "3.1", ["5.dcm"]),
        ("B", "2.1", ["4.dcm"]),
    ]


def test_multiframe_expands_to_one_image_per_frame(tmp_path):
    dcm(tmp_path / "cine.dcm", frames=4)
    study = discover(tmp_path)
    assert [r.frame for r in study.images] == [0, 1, 2, 3]
    assert len(study.patients) == 1


def test_natural_order_of_patients_and_images(tmp_path):
    for name in ("img10.png", "img2.png", "img1.png", "IMG3.png"):
        png(tmp_path / "p10" / name)
    png(tmp_path / "p2" / "x.png")
    png(tmp_path / "p1" / "x.png")
    study = discover(tmp_path)
    assert [p.patient_id for p in study.patients] == ["p1", "p2", "p10"]
    assert names(study.patients[2]) == ["img1.png", "img2.png", "IMG3.png", "img10.png"]
    assert natural_key("a2") < natural_key("a10") < natural_key("b1")


def test_same_file_name_is_ordered_by_instance_number(tmp_path):
    dcm(tmp_path / "s1" / "IM.dcm", patient_id="P", instance=2)
    dcm(tmp_path / "s2" / "IM.dcm", patient_id="P", instance=1)
    study = discover(tmp_path)
    assert [r.path.parent.name for r in study.images] == ["s2", "s1"]


def test_single_files_and_folders_can_be_mixed(tmp_path):
    png(tmp_path / "f1" / "a.png")
    extra = png(tmp_path / "elsewhere" / "b.png")
    study = discover([tmp_path / "f1", extra, tmp_path / "f1" / "a.png"])
    assert [p.patient_id for p in study.patients] == ["elsewhere", "f1"]
    assert len(study.images) == 2  # a.png given twice counts once
    assert study.source == "; ".join(
        str(p) for p in [tmp_path / "f1", extra, tmp_path / "f1" / "a.png"]
    )


def test_empty_folder(tmp_path):
    with pytest.raises(DiscoveryError, match=r"no images found in .*: it is empty"):
        discover(tmp_path)


def test_folder_without_images(tmp_path):
    (tmp_path / "README.txt").write_text("hi")
    with pytest.raises(
        DiscoveryError, match=r"no image or DICOM files \(1 other file\(s\) skipped\)"
    ):
        discover(tmp_path)


def test_folder_with_only_bad_files_gives_the_reason(tmp_path):
    (tmp_path / "x.dcm").write_bytes(b"")
    with pytest.raises(
        DiscoveryError, match=r"1 file\(s\) could not be used, e.g. .*x.dcm: empty file"
    ):
        discover(tmp_path)


def test_nonexistent_path(tmp_path):
    with pytest.raises(DiscoveryError, match="no such file or folder"):
        discover(tmp_path / "missing")
    with pytest.raises(DiscoveryError, match="no path given"):
        discover([])


def test_discovery_can_be_cancelled(tmp_path):
    png(tmp_path / "a.png")
    with pytest.raises(CancelledError):
        discover(tmp_path, cancelled=lambda: True)


def test_thousand_dicom_headers_scanned_without_pixels(tmp_path, monkeypatch):
    """Discovery is header-only: decoding pixel data during a scan is an error (no timing test:
    shared machines are noisy; the speed follows from never touching pixels)."""
    import core.imaging.dicom_decode as dicom_decode
    import core.imaging.reader as reader

    template = dcm(tmp_path / "template" / "t.dcm", patient_id="P")
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(1000):
        shutil.copyfile(template, folder / f"im{i}.dcm")

    def no_pixels(*_a, **_k):
        raise AssertionError("discovery decoded pixel data")

    monkeypatch.setattr(dicom_decode, "decode_frame", no_pixels)
    monkeypatch.setattr(dicom_decode, "_decode", no_pixels)
    monkeypatch.setattr(reader, "decode_frame", no_pixels)
    study = discover(folder)
    assert len(study.images) == 1000 and not study.errors
    assert study.images[0].path.name == "im0.dcm" and study.images[-1].path.name == "im999.dcm"


def test_unreadable_folder_is_a_study_error(tmp_path, monkeypatch):
    png(tmp_path / "a.png")

    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "iterdir", denied)
    with pytest.raises(DiscoveryError, match="cannot be read \\(Permission denied\\)"):
        discover(tmp_path)
