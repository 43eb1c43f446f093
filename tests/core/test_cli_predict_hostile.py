"""cnsight-predict against hostile inputs and for sharing (issue 15): one bad file costs only
its own row, the run never stops half-way, no cell is a spreadsheet formula, and
``--deidentify`` writes no id, no file name and no path."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core.predictor
from core.cli.predict import main
from tests.fuzz import hostile as H
from tests.support.dicom_files import base_dataset, write_dicom

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _run(args: list[str], seconds: float = 300.0) -> int:
    """main() on a thread: a hang fails the test instead of blocking the suite."""
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("rc", main(args)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"cnsight-predict still running after {seconds} s"
    return result["rc"]


@pytest.fixture()
def good(tmp_path) -> Path:
    folder = tmp_path / "good"
    folder.mkdir()
    for i in range(3):
        H.good_png(folder / f"img{i}.png", seed=i, h=80, w=96)
    return folder


def _predict(bundle, out, *inputs, extra=()):
    return _run([*map(str, inputs), "--model", str(bundle), "--out", str(out), "--no-progress",
                 *extra])  # fmt: skip


def test_an_image_that_fails_in_the_model_costs_only_its_row(
    tiny_bundle, good, tmp_path, monkeypatch
):
    """A RuntimeError while preparing one image (a 15.7 GB allocation) killed the whole batch:
    good files lost, exit 1."""
    real = core.predictor.prepare

    def prepare(image, spec):
        if image.ref.path.name == "img1.png":
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: 15728640000 bytes")
        return real(image, spec)

    monkeypatch.setattr(core.predictor, "prepare", prepare)
    out = tmp_path / "out"
    assert _predict(tiny_bundle, out, good, extra=["--batch-size", "8"]) == 0
    rows = {Path(r["path"]).name: r for r in _rows(out / "images.csv")}
    assert set(rows) == {"img0.png", "img1.png", "img2.png"}
    assert "can't allocate memory" in rows["img1.png"]["error"] and rows["img1.png"]["pred"] == ""
    assert rows["img0.png"]["pred"] and rows["img2.png"]["pred"]
    (patient,) = _rows(out / "patients.csv")
    assert patient["n_images"] == "2"


def test_a_looping_dicomdir_and_a_strip_do_not_stop_the_run(tiny_bundle, good, tmp_path):
    dicomdir = H.relink_dicomdir(H.dicomdir_folder(tmp_path / "media", 2), "self")
    strip = H.strip_png(tmp_path / "strip.png")
    out = tmp_path / "out"
    assert _predict(tiny_bundle, out, good, dicomdir, strip) == 0
    rows = _rows(out / "images.csv")
    errors = {r["path"]: r["error"] for r in rows if r["error"]}
    assert "corrupt DICOMDIR" in errors[str(dicomdir)]
    assert "aspect ratio" in errors[str(strip)]
    assert sum(1 for r in rows if r["pred"]) == 3


def test_file_name_that_is_not_utf8_gets_its_row_and_the_run_finishes(tiny_bundle, good, tmp_path):
    """Such a name raised UnicodeEncodeError in the CSV writer: a partial CSV, exit 1."""
    odd = H.non_utf8_name(good)
    out = tmp_path / "out"
    assert _predict(tiny_bundle, out, good) == 0
    rows = _rows(out / "images.csv")  # valid UTF-8 (opened strictly)
    assert len(rows) == 4 and all(r["pred"] for r in rows)
    assert any("\\udcff" in r["path"] for r in rows), [r["path"] for r in rows]
    assert (out / "patients.csv").read_text(encoding="utf-8")
    assert odd.exists()


def test_patient_id_that_is_a_formula_is_neutralised(tiny_bundle, tmp_path):
    """A PatientID ``=cmd|' /C calc'!A0`` was written raw: a spreadsheet runs it."""
    folder = tmp_path / "dicom"
    folder.mkdir()
    payloads = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)"]
    for i, pid in enumerate(payloads):
        ds = base_dataset(patient_id=pid)
        pixels = np.random.default_rng(i).integers(30, 200, (80, 96), np.uint8)
        write_dicom(folder / f"p{i}.dcm", pixels, ds=ds)
    out = tmp_path / "out"
    assert _predict(tiny_bundle, out, folder) == 0
    for name in ("images.csv", "patients.csv"):
        ids = {r["patient_id"] for r in _rows(out / name)}
        assert ids == {"'" + p for p in payloads}, ids
        for line in (out / name).read_text(encoding="utf-8").splitlines()[1:]:
            first = next(csv.reader([line]))[0]
            assert not first.startswith(("=", "+", "-", "@")), line


def test_decoder_failures_print_no_traceback(tiny_bundle, good, tmp_path):
    bad = H.dicom_jpeg_lying_size(tmp_path / "bad.dcm", stream=(320, 256))
    data = bad.read_bytes()
    at = data.find(b"\xff\xc0")
    bad.write_bytes(data[: at + 9] + b"\x00" + data[at + 10 :])  # 0 image components
    out = tmp_path / "out"
    # in a process of its own: pytest's logging capture would hide what a real run prints
    run = subprocess.run(
        [sys.executable, "-m", "core.cli.predict", str(good), str(bad), "--model",
         str(tiny_bundle), "--out", str(out), "--no-progress"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert any("cannot decode" in r["error"] for r in _rows(out / "images.csv"))


def _burned_in(path: Path, name: str) -> Path:
    """An ultrasound-like PNG with a burned-in name line at the top left."""
    import cv2

    rng = np.random.default_rng(7)
    arr = rng.integers(40, 160, (128, 160), np.uint8)
    arr[:30] = 0
    cv2.putText(arr, name, (3, 13), cv2.FONT_HERSHEY_PLAIN, 0.8, 255, 1, cv2.LINE_AA)
    Image.fromarray(arr).save(path)
    return path


def test_deidentify_writes_no_ids_names_or_paths(tiny_bundle, tmp_path):
    data = tmp_path / "SMITH_Jane"
    data.mkdir()
    _burned_in(data / "Jane_Smith_1.png", "SMITH Jane ID 4711")
    _burned_in(data / "Jane_Smith_2.png", "SMITH Jane ID 4711")
    (data / "Jane_Smith_notes.png").write_text("not an image")
    out = tmp_path / "out"
    assert _predict(tiny_bundle, out, data, extra=["--deidentify", "--heatmaps"]) == 0
    written = [p for p in out.rglob("*") if p.is_file()]
    for path in [out / "images.csv", out / "patients.csv"]:
        text = path.read_text(encoding="utf-8")
        for secret in ("SMITH", "Smith", "Jane", str(tmp_path), "notes"):
            assert secret not in text, (path.name, secret, text)
    rows = _rows(out / "images.csv")
    assert {r["patient_id"] for r in rows if r["pred"]} == {"case-001"}
    paths = sorted(r["path"] for r in rows)
    assert paths == ["case-001/image-01", "case-001/image-02", "file-001"], paths
    assert any(r["error"] for r in rows)
    overlays = [p for p in written if p.suffix == ".png"]
    assert overlays and all("Smith" not in str(p) and "SMITH" not in str(p) for p in overlays)
    panel = np.asarray(Image.open(overlays[0]).convert("L"))
    caption = 44  # overlay_panel's caption bar
    assert panel[caption : caption + 16, :160].max() == 0, "the burned-in name is visible"


def test_without_deidentify_the_ids_are_there(tiny_bundle, tmp_path):
    data = tmp_path / "SMITH_Jane"
    data.mkdir()
    _burned_in(data / "Jane_Smith_1.png", "SMITH Jane ID 4711")
    out = tmp_path / "out"
    assert _predict(tiny_bundle, out, data) == 0
    (row,) = _rows(out / "images.csv")
    assert row["patient_id"] == "SMITH_Jane" and row["path"].endswith("Jane_Smith_1.png")
    assert os.path.isabs(row["path"])
