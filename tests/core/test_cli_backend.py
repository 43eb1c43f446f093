"""cnsight-predict --backend: the default (auto) is ONNX Runtime on the CPU and agrees with
torch; what ran is recorded in OUT/run.json; every backend that cannot run is refused with
exit code 2 and a message, and leaves no run.json."""

from __future__ import annotations

import csv
import json
import sys

import numpy as np
import pytest
from PIL import Image

from core.cli.predict import main


@pytest.fixture(scope="module")
def pngs(tmp_path_factory):
    root = tmp_path_factory.mktemp("pngs")
    rng = np.random.default_rng(5)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (80, 96), np.uint8)).save(root / f"img{i}.png")
    return root


def _predict(tiny_bundle, pngs, out, *extra) -> int:
    argv = [str(pngs), "--model", str(tiny_bundle), "--out", str(out), "--device", "cpu"]
    return main([*argv, "--no-progress", *extra])


def _probs(out) -> dict[str, np.ndarray]:
    with open(out / "images.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    cols = [c for c in rows[0] if c.startswith("p_")]
    return {r["path"]: np.array([float(r[c]) for c in cols]) for r in rows}


def test_default_backend_is_recorded_and_agrees_with_torch(tiny_bundle, pngs, tmp_path):
    assert _predict(tiny_bundle, pngs, tmp_path / "auto") == 0
    assert _predict(tiny_bundle, pngs, tmp_path / "torch", "--backend", "torch") == 0
    auto = json.loads((tmp_path / "auto" / "run.json").read_text())
    torch_run = json.loads((tmp_path / "torch" / "run.json").read_text())
    assert auto["backend"] == "onnxruntime" and torch_run["backend"] == "torch"
    assert auto["device"] == "cpu" and auto["images_predicted"] == 3 and auto["errors"] == 0
    assert len(auto["model"]["weights_sha256"]) == 64
    a, t = _probs(tmp_path / "auto"), _probs(tmp_path / "torch")
    assert a.keys() == t.keys() and len(a) == 3
    for path in a:
        np.testing.assert_allclose(a[path], t[path], atol=1e-4)
    assert not list((tmp_path / "auto").glob(".run.json*"))


def test_unknown_backend_is_a_usage_error(tiny_bundle, pngs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        _predict(tiny_bundle, pngs, tmp_path / "o", "--backend", "tensorrt")
    assert exc.value.code == 2
    assert "invalid choice: 'tensorrt'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_help_lists_every_backend(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = "".join(capsys.readouterr().out.split())  # argparse wraps at hyphens
    for name in ("auto", "torch", "torch-channels-last", "onnxruntime", "onnxruntime-int8"):
        assert name in help_text


def test_missing_onnxruntime(tiny_bundle, pngs, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an absent package raises
    assert _predict(tiny_bundle, pngs, tmp_path / "named", "--backend", "onnxruntime") == 2
    assert "needs the onnxruntime package" in capsys.readouterr().err
    assert not (tmp_path / "named" / "run.json").exists()
    # auto falls back to torch channels_last, and says so in the record
    assert _predict(tiny_bundle, pngs, tmp_path / "auto") == 0
    assert json.loads((tmp_path / "auto" / "run.json").read_text())["backend"] == (
        "torch-channels-last"
    )


def test_uncalibrated_int8_is_refused(tiny_bundle, pngs, tmp_path, capsys):
    assert _predict(tiny_bundle, pngs, tmp_path / "o", "--backend", "onnxruntime-int8") == 2
    err = capsys.readouterr().err
    assert "no int8 graph calibrated" in err and "Traceback" not in err
    assert not (tmp_path / "o" / "run.json").exists()


def test_jpeg_overlays_only_for_the_class_asked_for(tiny_bundle, pngs, tmp_path):
    import cv2

    out = tmp_path / "jpg"
    extra = ["--backend", "torch", "--heatmaps", "--heatmap-format", "jpg"]
    assert _predict(tiny_bundle, pngs, out, *extra, "--heatmap-class", "normal") == 0
    written = sorted((out / "heatmaps").rglob("*"))
    files = [p for p in written if p.is_file()]
    assert len(files) == 3 and all(p.name.endswith("_normal.jpg") for p in files)
    panel = cv2.imread(str(files[0]))
    assert panel is not None and panel.shape[0] == 80 + 44 and panel.shape[1] == 2 * 96 + 4
