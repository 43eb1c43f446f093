"""Manifest CSV discovery: relative paths, optional columns, per-row errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.discovery import discover
from core.errors import DiscoveryError
from core.taxonomy import DEFAULT_CLASS_NAMES
from tests.support.dicom_files import base_dataset, write_dicom

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), 40).save(path)
    return path


def manifest(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_manifest_relative_paths_and_columns(tmp_path):
    png(tmp_path / "data" / "imgs" / "a.png")
    png(tmp_path / "data" / "imgs" / "b.png")
    png(tmp_path / "data" / "other" / "c.png")
    csv = manifest(
        tmp_path / "data" / "manifest.csv",
        "path,patient_id,label,ga_weeks,site,plane,notes\n"
        "imgs/b.png,P1,normal,21.5,siteA,transventricular,x\n"
        "imgs/a.png,P1,normal,22,siteA,transcerebellar,\n"
        "other/c.png,P2,anencephaly,,siteB,,\n",
    )
    study = discover(csv, class_names=DEFAULT_CLASS_NAMES)
    assert not study.errors
    p1, p2 = study.patients
    assert (p1.patient_id, p2.patient_id) == ("P1", "P2")
    assert [r.name for r in p1.images] == ["a.png", "b.png"]
    assert p1.images[0].ga_weeks == 22.0 and p1.images[1].plane == "transventricular"
    assert p1.site == "siteA" and p1.label == "normal" and p1.ga_weeks == pytest.approx(21.75)
    assert p2.label == "anencephaly" and p2.images[0].ga_weeks is None
    assert p2.images[0].plane is None


def test_manifest_only_required_columns(tmp_path):
    png(tmp_path / "a.png")
    study = discover(manifest(tmp_path / "m.csv", "patient_id,path\nX,a.png\n"))
    assert study.patients[0].patient_id == "X" and study.images[0].label is None


def test_manifest_bad_rows_become_file_errors(tmp_path):
    png(tmp_path / "ok.png")
    png(tmp_path / "ok2.png")
    png(tmp_path / "ok3.png")
    png(tmp_path / "ok4.png")
    csv = manifest(
        tmp_path / "m.csv",
        "path,patient_id,label,ga_weeks\n"
        "ok.png,P1,normal,20\n"
        "missing.png,P1,normal,20\n"
        "ok2.png,P1,spina_bifida,20\n"
        "ok3.png,P1,normal,twenty\n"
        "ok4.png,,normal,20\n"
        ",P1,normal,20\n"
        "ok.png,P1,normal,20\n",
    )
    study = discover(csv, class_names=DEFAULT_CLASS_NAMES)
    assert len(study.images) == 1
    messages = [e.message for e in study.errors]
    assert messages == [
        "manifest m.csv line 3: file not found",
        "manifest m.csv line 4: unknown label 'spina_bifida' (known: normal, anencephaly, "
        "encephalocele, holoprosencephaly, rachischisis)",
        "manifest m.csv line 5: non-numeric ga_weeks 'twenty'",
        "manifest m.csv line 6: empty patient_id",
        "manifest m.csv line 7: empty path",
        "manifest m.csv line 8: listed twice (first on line 2)",
    ]
    assert study.errors[0].path == str(tmp_path / "missing.png")


def test_labels_are_not_checked_without_class_names(tmp_path):
    png(tmp_path / "a.png")
    study = discover(manifest(tmp_path / "m.csv", "path,patient_id,label\na.png,P,whatever\n"))
    assert study.images[0].label == "whatever"


def test_implausible_ga_is_refused(tmp_path):
    png(tmp_path / "a.png")
    png(tmp_path / "b.png")
    png(tmp_path / "c.png")
    csv = manifest(
        tmp_path / "m.csv", "path,patient_id,ga_weeks\na.png,P,90\nb.png,P,nan\nc.png,P,12\n"
    )
    study = discover(csv)
    assert [e.message.split(": ", 1)[1] for e in study.errors] == [
        "ga_weeks '90' is outside 0-45 weeks",
        "ga_weeks 'nan' is outside 0-45 weeks",
    ]


def test_manifest_with_bom_and_an_unreadable_file(tmp_path):
    png(tmp_path / "a.png")
    (tmp_path / "bad.png").write_bytes(b"not a png at all")
    csv = tmp_path / "m.csv"
    csv.write_bytes("\ufeffpath,patient_id\na.png,P\nbad.png,P\n".encode())
    study = discover(csv)
    assert len(study.images) == 1
    assert study.errors[0].path == str(tmp_path / "bad.png")
    assert study.errors[0].message.startswith("not an image")


def test_manifest_dicom_cine_frames_carry_the_row_fields(tmp_path):
    frames = np.zeros((3, 8, 8), np.uint8)
    write_dicom(tmp_path / "cine.dcm", frames, ds=base_dataset(multiframe=True, patient_id="HDR"))
    study = discover(manifest(tmp_path / "m.csv", "path,patient_id,label\ncine.dcm,P9,normal\n"))
    assert [(r.patient_id, r.label, r.frame) for r in study.images] == [
        ("P9", "normal", 0), ("P9", "normal", 1), ("P9", "normal", 2),
    ]  # fmt: skip


def test_manifest_missing_required_column(tmp_path):
    csv = manifest(tmp_path / "m.csv", "file,label\na.png,normal\n")
    with pytest.raises(DiscoveryError, match="missing required column"):
        discover(csv)


def test_empty_manifest(tmp_path):
    with pytest.raises(DiscoveryError, match="no images found in manifest .*: it has no rows"):
        discover(manifest(tmp_path / "m.csv", "path,patient_id\n"))


def test_manifest_where_every_row_fails(tmp_path):
    csv = manifest(tmp_path / "m.csv", "path,patient_id\nnope.png,P\n")
    with pytest.raises(
        DiscoveryError, match=r"no images found in .*m.csv: 1 file\(s\) could not be used"
    ):
        discover(csv)


def test_manifest_accepts_windows_separators_and_absolute_paths(tmp_path):
    png(tmp_path / "sub" / "a.png")
    absolute = png(tmp_path / "elsewhere" / "b.png")
    csv = manifest(tmp_path / "m.csv", f"path,patient_id\nsub\\a.png,P\n{absolute},P\n")
    study = discover(csv)
    assert not study.errors
    assert [r.path.name for r in study.images] == ["a.png", "b.png"]
