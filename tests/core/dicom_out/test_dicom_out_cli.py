"""cnsight-predict --dicom-out: a folder per DICOM study, PNG studies skipped with the reason,
refusals reported with exit code 2 after everything else was written."""

from __future__ import annotations

import logging

import numpy as np
import pydicom
import pytest

from core.cli.predict import main
from tests.support.dicom_files import base_dataset, write_dicom
from tests.support.gui import write_png


def _run(tmp_path, inputs, model, *extra) -> int:
    return main(
        [*map(str, inputs), "--model", str(model), "--out", str(tmp_path / "csv"),
         "--dicom-out", str(tmp_path / "dicom"), "--device", "cpu", "--no-progress", *extra]
    )  # fmt: skip


def test_dicom_studies_get_their_objects_and_png_studies_are_skipped(
    tmp_path, tiny_bundle, phantom_dicom, caplog
):
    png = tmp_path / "png" / "P9"
    for i in range(2):
        write_png(png / f"img{i}.png", seed=i)
    caplog.set_level(logging.INFO, logger="cnsight.predict")
    assert _run(tmp_path, [phantom_dicom, png.parent], tiny_bundle) == 0
    study_uid = pydicom.dcmread(next(phantom_dicom.glob("*.dcm"))).StudyInstanceUID
    (folder,) = (tmp_path / "dicom").iterdir()
    assert folder.name == study_uid
    names = sorted(p.name for p in folder.iterdir())
    assert names[0] == "cnsight-heatmap-01.dcm" and names[-2:] == [
        "cnsight-report.dcm",
        "cnsight-sr.dcm",
    ]
    assert not [n for n in names if n.endswith(".part")]
    assert "DICOM results for patient P9 skipped: 2 of 2 images are not DICOM files" in caplog.text
    assert "1 studies written, 1 skipped, 0 refused" in caplog.text
    assert (tmp_path / "csv" / "patients.csv").is_file()


def test_dicom_out_with_deidentify_is_refused_before_anything_is_written(
    tmp_path, tiny_bundle, phantom_dicom, capsys
):
    assert _run(tmp_path, [phantom_dicom], tiny_bundle, "--deidentify") == 2
    assert "cannot be combined with --deidentify" in capsys.readouterr().err
    assert not (tmp_path / "dicom").exists() and not (tmp_path / "csv").exists()


def test_a_refused_study_is_reported_and_the_run_exits_2(tmp_path, tiny_bundle, caplog):
    """Files without a Patient ID are their folder's patient: two studies in one folder make
    one patient whose results cannot go to one study."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, study in enumerate(("1.2.3.4", "1.2.3.5")):
        ds = base_dataset(patient_id=None, study_uid=study)
        write_dicom(folder / f"img{i}.dcm", rng.integers(0, 255, (96, 96), dtype=np.uint8), ds=ds)
    caplog.set_level(logging.INFO, logger="cnsight.predict")
    assert _run(tmp_path, [folder], tiny_bundle) == 2
    assert "not written: the images belong to 2 studies" in caplog.text
    assert (tmp_path / "csv" / "images.csv").is_file()  # the predictions are still there
    assert not [p for p in (tmp_path / "dicom").rglob("*") if p.is_file()]


def test_help_names_the_option(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--dicom-out DIR" in capsys.readouterr().out
