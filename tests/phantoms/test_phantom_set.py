"""Phantom studies on disk: manifest, determinism, DICOM tags and cines, the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest

from phantoms import PHANTOM_CLASSES, PLANES, SITE_NAMES
from phantoms.cli import main
from phantoms.dicom_writer import US_IMAGE_STORAGE, US_MULTIFRAME_IMAGE_STORAGE
from phantoms.phantom_set import (
    MANIFEST_COLUMNS,
    class_for_patients,
    generate_phantom_set,
    plan_phantom_set,
)

REQUIRED_COLUMNS = ("path", "patient_id", "label", "ga_weeks", "site", "plane")


def _read_manifest(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def both_study(tmp_path_factory) -> Path:
    return generate_phantom_set(
        tmp_path_factory.mktemp("both"), 5, seed=7, fmt="both", size=(160, 128)
    )


def test_classes_are_balanced_and_all_present_from_five_patients():
    for seed in range(5):
        labels = class_for_patients(5, seed)
        assert sorted(labels) == sorted(PHANTOM_CLASSES)
    labels = class_for_patients(23, 1)
    counts = [labels.count(c) for c in PHANTOM_CLASSES]
    assert max(counts) - min(counts) <= 1


def test_plan_is_stable_when_more_patients_are_asked_for():
    small, large = plan_phantom_set(3, seed=4), plan_phantom_set(8, seed=4)
    assert small == large[:3]


def test_every_patient_has_every_plane_and_four_to_ten_images():
    for patient in plan_phantom_set(12, seed=2):
        planes = [image.plane for image in patient.images]
        assert 4 <= len(planes) <= 10
        assert set(planes) == set(PLANES)
        assert sum(image.cine_frames > 1 for image in patient.images) == 1
        assert patient.site in SITE_NAMES
        assert 12.0 <= patient.ga_weeks <= 40.0


def test_manifest_columns_paths_and_labels(both_study):
    rows = _read_manifest(both_study)
    with both_study.open(encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    assert tuple(header[: len(REQUIRED_COLUMNS)]) == REQUIRED_COLUMNS
    assert tuple(header) == MANIFEST_COLUMNS
    assert {row["label"] for row in rows} == set(PHANTOM_CLASSES)
    per_patient_labels = {}
    for row in rows:
        path = both_study.parent / row["path"]
        assert path.is_file(), row["path"]
        assert not Path(row["path"]).is_absolute() and path.parent.name == row["patient_id"]
        per_patient_labels.setdefault(row["patient_id"], set()).add(row["label"])
        assert row["plane"] in PLANES and row["site"] in SITE_NAMES
        assert 12.0 <= float(row["ga_weeks"]) <= 40.0
        assert row["anomaly_visible"] in ("0", "1")
        if row["label"] == "normal" or (
            row["label"] == "anencephaly" and row["plane"] == "spine-sagittal"
        ):
            assert row["anomaly_visible"] == "0"
        if row["label"] == "rachischisis" and row["plane"] == "spine-sagittal":
            assert row["anomaly_visible"] == "1"
    assert all(len(labels) == 1 for labels in per_patient_labels.values())
    # 'both': every image once as PNG and once as DICOM.
    pngs = sorted(r["path"][:-4] for r in rows if r["path"].endswith(".png"))
    dcms = sorted(r["path"][:-4] for r in rows if r["path"].endswith(".dcm"))
    assert pngs == dcms and len(pngs) == len(rows) // 2


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    first = generate_phantom_set(tmp_path / "a", 5, seed=3, fmt="both", size=(128, 96))
    second = generate_phantom_set(tmp_path / "b", 5, seed=3, fmt="both", size=(128, 96))
    other = generate_phantom_set(tmp_path / "c", 5, seed=4, fmt="both", size=(128, 96))
    a, b, c = _tree_bytes(first.parent), _tree_bytes(second.parent), _tree_bytes(other.parent)
    assert a == b
    assert any(name.endswith(".dcm") for name in a) and any(name.endswith(".png") for name in a)
    assert a.keys() != c.keys() or any(a[k] != c[k] for k in a)


def test_dicom_files_read_back_with_the_right_tags(both_study):
    rows = [r for r in _read_manifest(both_study) if r["path"].endswith(".dcm")]
    cines_per_patient = {}
    study_uids = {}
    for row in rows:
        ds = pydicom.dcmread(both_study.parent / row["path"])
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert ds.Modality == "US" and ds.PatientID == row["patient_id"]
        assert "^" in str(ds.PatientName) and ds.PhotometricInterpretation == "MONOCHROME2"
        assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.SamplesPerPixel) == (8, 8, 7, 1)
        assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
        assert ds.SOPInstanceUID.is_valid and ds.StudyInstanceUID.is_valid
        study_uids.setdefault(row["patient_id"], set()).add(ds.StudyInstanceUID)
        frames = int(getattr(ds, "NumberOfFrames", 1))
        pixels = ds.pixel_array
        if frames > 1:
            assert ds.SOPClassUID == US_MULTIFRAME_IMAGE_STORAGE
            assert 6 <= frames <= 8 and pixels.shape == (frames, ds.Rows, ds.Columns)
            assert float(ds.FrameTime) > 0 and int(ds.CineRate) > 0
            assert not np.array_equal(pixels[0], pixels[-1]), "a cine should move"
            first = pixels[0]
            cines_per_patient[row["patient_id"]] = cines_per_patient.get(row["patient_id"], 0) + 1
        else:
            assert ds.SOPClassUID == US_IMAGE_STORAGE
            first = pixels
        png = cv2.imread(
            str(both_study.parent / row["path"].replace(".dcm", ".png")), cv2.IMREAD_UNCHANGED
        )
        assert np.array_equal(first, png), "PNG and DICOM of one image hold the same pixels"
        (region,) = ds.SequenceOfUltrasoundRegions
        assert region.RegionSpatialFormat == 1 and region.RegionDataType == 1
        assert region.PhysicalUnitsXDirection == 3 and region.PhysicalUnitsYDirection == 3
        assert 0 <= region.RegionLocationMinX0 < region.RegionLocationMaxX1 < ds.Columns
        assert 0 <= region.RegionLocationMinY0 < region.RegionLocationMaxY1 < ds.Rows
        assert 0.005 < region.PhysicalDeltaX == region.PhysicalDeltaY < 0.5
        box = first[
            region.RegionLocationMinY0 : region.RegionLocationMaxY1 + 1,
            region.RegionLocationMinX0 : region.RegionLocationMaxX1 + 1,
        ]
        assert box.mean() > first.mean(), "the region should hold the image"
    assert all(len(uids) == 1 for uids in study_uids.values())
    assert len(set().union(*study_uids.values())) == len(study_uids)
    assert cines_per_patient and all(n == 1 for n in cines_per_patient.values())
    assert set(cines_per_patient) == set(study_uids)


def test_cli_writes_a_study_and_returns_zero(tmp_path):
    out = tmp_path / "study"
    assert main([str(out), "--patients", "5", "--seed", "1", "--size", "128x96", "--quiet"]) == 0
    rows = _read_manifest(out / "manifest.csv")
    assert {r["label"] for r in rows} == set(PHANTOM_CLASSES)
    assert all(r["path"].endswith(".png") for r in rows)
    image = cv2.imread(str(out / rows[0]["path"]), cv2.IMREAD_UNCHANGED)
    assert image.shape == (96, 128)


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--patients" in text and "--format" in text and "manifest.csv" in text


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--patients", "0", "--seed", "1"], "--patients must be between"),
        (["--patients", "x", "--seed", "1"], "whole number"),
        (["--patients", "2", "--seed", "-1"], "--seed must be >= 0"),
        (["--patients", "2", "--seed", "1", "--format", "gif"], "invalid choice"),
        (["--patients", "2", "--seed", "1", "--size", "12x9"], "out of range"),
        (["--patients", "2", "--seed", "1", "--size", "wide"], "320x256"),
        (["--seed", "1"], "--patients"),
    ],
)
def test_cli_bad_arguments_exit_2_with_a_message(tmp_path, capsys, extra, message):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "out"), *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_non_empty_or_unusable_out(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    args = ["--patients", "1", "--seed", "1", "--size", "128x96", "--quiet"]
    with pytest.raises(SystemExit) as exit_info:
        main([str(out), *args])
    assert exit_info.value.code == 2 and "not empty" in capsys.readouterr().err
    assert main([str(out), *args, "--overwrite"]) == 0
    assert (out / "keep.txt").read_text() == "precious" and (out / "manifest.csv").is_file()
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for bad in (a_file, a_file / "below"):
        with pytest.raises(SystemExit) as exit_info:
            main([str(bad), *args])
        assert exit_info.value.code == 2
        assert "OUT" in capsys.readouterr().err
