"""cnsight-predict end to end: good files predicted, each bad file one clear error row, exit 0."""

import csv
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pydicom.data
import pytest
from PIL import Image

from core.cli.predict import main
from tests.support.dicom_files import huge_png_header

US_FILES = [
    "examples_ybr_color.dcm",
    "examples_jpeg2k.dcm",
    "examples_palette.dcm",
    "examples_rgb_color.dcm",
    "ExplVR_BigEnd.dcm",
]


def _png_bytes(arr, mode=None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    good, bad, odd = root / "good", root / "bad", root / "odd"
    for d in (good, bad, odd):
        d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        (good / f"img{i}.png").write_bytes(_png_bytes(rng.integers(0, 255, (80, 96), np.uint8)))
    (bad / "empty.png").write_bytes(b"")
    (bad / "noise.dcm").write_bytes(rng.bytes(3000))
    (bad / "noise.png").write_bytes(rng.bytes(3000))
    full = _png_bytes(rng.integers(0, 255, (60, 80, 3), np.uint8))
    (bad / "truncated.png").write_bytes(full[: len(full) // 2])
    src = pydicom.data.get_testdata_file("examples_rgb_color.dcm")
    data = Path(src).read_bytes()
    (bad / "truncated.dcm").write_bytes(data[: len(data) // 3])
    (bad / "notes.jpg").write_text("this is a text file, not a JPEG\n")
    (bad / "huge.png").write_bytes(huge_png_header())
    (odd / "grey16.png").write_bytes(_png_bytes((rng.random((40, 50)) * 65535).astype(np.uint16)))
    Image.new("CMYK", (40, 30), (0, 128, 255, 10)).save(odd / "cmyk.jpg")
    pal = Image.fromarray(rng.integers(0, 4, (30, 30), np.uint8), "P")
    pal.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
    pal.info["transparency"] = 0
    pal.save(odd / "palette.png", transparency=0)
    shutil.copy(pydicom.data.get_testdata_file("CT_small.dcm"), odd / "ct.dcm")
    return root


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_mixed_good_bad_odd(tiny_bundle, mixed_inputs, tmp_path):
    out = tmp_path / "out"
    rc = main(
        [
            str(mixed_inputs / "good"),
            str(mixed_inputs / "bad"),
            str(mixed_inputs / "odd"),
            "--model",
            str(tiny_bundle),
            "--out",
            str(out),
            "--heatmaps",
            "--no-progress",
        ]
    )
    assert rc == 0
    rows = _rows(out / "images.csv")
    by_name = {os.path.basename(r["path"]): r for r in rows}
    bad = [
        "empty.png",
        "noise.dcm",
        "noise.png",
        "truncated.png",
        "truncated.dcm",
        "notes.jpg",
        "huge.png",
    ]
    for name in bad:
        assert by_name[name]["error"], f"{name} should have an error"
        assert by_name[name]["pred"] == ""
        assert sum(1 for r in rows if os.path.basename(r["path"]) == name) == 1, (
            f"one row for {name}"
        )
    assert "100000" in by_name["huge.png"]["error"]
    classes = ("normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis")
    for name in ["img0.png", "img1.png", "img2.png", "grey16.png", "cmyk.jpg", "palette.png"]:
        r = by_name[name]
        probs = [float(r[k]) for k in r if k.startswith("p_")]
        assert r["error"] == "" and len(probs) == 5 and abs(sum(probs) - 1) < 1e-4
        if name.startswith("img"):  # 80 x 96 grey noise: assessable by the model-free checks
            assert r["assessable"] == "1" and r["reason"] == "" and r["pred"] in classes
    # 40 x 50 and 40 x 30 are too small to assess; a 30 x 30 palette image too: read, not labelled
    for name in ["grey16.png", "cmyk.jpg", "palette.png"]:
        r = by_name[name]
        assert (r["assessable"], r["reason"], r["pred"]) == ("0", "too_small", "not_assessable")
    ct = by_name["ct.dcm"]
    assert (ct["error"], ct["assessable"], ct["reason"], ct["pred"]) == (
        "", "0", "not_ultrasound", "not_assessable",
    )  # fmt: skip
    patients = _rows(out / "patients.csv")
    good = next(p for p in patients if p["patient_id"].endswith("good"))
    assert good["n_images"] == "3" and good["rule"] == "mean_softmax" and good["pred"]
    overlays = list((out / "heatmaps").rglob("*.png"))
    # Only assessable images get an overlay: a heatmap over an image the model cannot assess
    # would look like a finding.
    assert len(overlays) == 3


def test_pydicom_ultrasound_files_with_frames(tiny_bundle, tmp_path):
    files = [pydicom.data.get_testdata_file(n) for n in US_FILES]
    out = tmp_path / "out"
    assert main([*files, "--model", str(tiny_bundle), "--out", str(out), "--no-progress"]) == 0
    rows = _rows(out / "images.csv")
    assert all(r["error"] == "" for r in rows), [r["error"] for r in rows if r["error"]]
    cine = [r for r in rows if r["path"].endswith("examples_ybr_color.dcm")]
    assert [int(r["frame"]) for r in cine] == list(range(30))


def test_overlay_colours_follow_the_image(tiny_bundle, tmp_path):
    """The overlay's left half is the image as decoded (colour file: red stays red)."""
    arr = np.random.default_rng(1).integers(40, 160, (64, 64, 3), np.uint8)
    arr[..., 1] = arr[..., 2] = arr[..., 0]  # grey B-mode-like image ...
    arr[-12:-8, 3:7] = (200, 0, 0)  # ... with a small red mark (colour on 0.4 %: still assessable)
    src = tmp_path / "in" / "red.png"
    src.parent.mkdir()
    Image.fromarray(arr).save(src)
    out = tmp_path / "out"
    assert (
        main(
            [
                str(src),
                "--model",
                str(tiny_bundle),
                "--out",
                str(out),
                "--heatmaps",
                "--no-progress",
            ]
        )
        == 0
    )
    panel = np.asarray(Image.open(next((out / "heatmaps").rglob("*.png"))).convert("RGB"))
    left = panel[-10, 5]
    assert left[0] == 200 and left[1] == 0 and left[2] == 0


def test_usage_errors(tiny_bundle, tmp_path, capsys):
    assert (
        main([str(tmp_path / "missing"), "--model", str(tiny_bundle), "--out", str(tmp_path / "o")])
        == 2
    )
    assert "missing" in capsys.readouterr().err
    assert (
        main([str(tmp_path), "--model", str(tmp_path / "nobundle"), "--out", str(tmp_path / "o")])
        == 2
    )
    assert "not a model bundle" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0


def test_batches_span_patients_and_each_file_is_read_once(tiny_bundle, tmp_path, monkeypatch):
    """A study of one-image patients still runs full batches (issue 10: batches across
    patients), every file is decoded once, and each patient's row is what predicting that
    patient alone gives."""
    from collections import Counter

    import core.imaging
    from core.predictor import Predictor

    root = tmp_path / "study"
    rng = np.random.default_rng(3)
    for i in range(11):
        (root / f"p{i:02d}").mkdir(parents=True)
        pixels = rng.integers(0, 255, (80, 96), np.uint8)
        (root / f"p{i:02d}" / "img.png").write_bytes(_png_bytes(pixels))
    truncated = _png_bytes(rng.integers(0, 255, (80, 96), np.uint8))[:60]
    (root / "p05" / "broken.png").write_bytes(truncated)  # found, then fails to decode
    reads, sizes = Counter(), []
    real_read, real_batch = core.imaging.read_image, Predictor.predict_batch

    def counting_read(ref):
        reads[ref.key] += 1
        return real_read(ref)

    def recording_batch(self, images, prepared=None):
        sizes.append(len(images))
        return real_batch(self, images, prepared)

    monkeypatch.setattr(core.imaging, "read_image", counting_read)
    monkeypatch.setattr(Predictor, "predict_batch", recording_batch)
    args = ["--model", str(tiny_bundle), "--batch-size", "4", "--no-progress"]
    assert main([str(root), *args, "--out", str(tmp_path / "all")]) == 0
    assert sizes == [4, 4, 3]
    assert len(reads) == 12 and set(reads.values()) == {1}, reads
    images = _rows(tmp_path / "all" / "images.csv")
    assert [r["error"] != "" for r in images].count(True) == 1
    broken = next(r for r in images if r["error"])
    assert broken["path"].endswith("broken.png") and broken["patient_id"].endswith("p05")
    patients = {r["patient_id"]: r for r in _rows(tmp_path / "all" / "patients.csv")}
    assert len(patients) == 11
    monkeypatch.setattr(Predictor, "predict_batch", real_batch)
    assert main([str(root / "p07"), *args, "--out", str(tmp_path / "alone")]) == 0
    (alone,) = _rows(tmp_path / "alone" / "patients.csv")
    together = next(r for pid, r in patients.items() if pid.endswith("p07"))
    for k in alone:
        if k.startswith("p_"):
            assert abs(float(alone[k]) - float(together[k])) < 1e-4, k
    assert alone["pred"] == together["pred"]
