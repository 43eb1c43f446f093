"""The ``cnsight`` command line: --help, --screenshot (real subprocess), --demo without resources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop.app import EXIT_USAGE, get_args_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_contract_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--model", "--demo", "--screenshot", "--device", "PATH"):
        assert option in out
    args = get_args_parser().parse_args(["a", "b", "--device", "cpu"])
    assert args.paths == ["a", "b"] and args.device == "cpu"


def test_app_modules_do_not_import_torch_before_the_window(tmp_path):
    code = (
        "import sys, desktop.app, desktop.main_window; "
        "print('torch' in sys.modules, 'pytorch_grad_cam' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.stdout.split() == ["False", "False"], result.stderr


def test_screenshot_saves_the_analysed_window_and_exits_0(tmp_path, phantom_study, tiny_bundle):
    out = tmp_path / "shot.png"
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop.app",
            str(phantom_study),
            "--model",
            str(tiny_bundle),
            "--screenshot",
            str(out),
            "--device",
            "cpu",
            "--timeout",
            "240",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    from PIL import Image

    picture = np.asarray(Image.open(out).convert("RGB"))
    assert picture.shape[:2] == (900, 1440)
    # The heatmap is on in the picture: the viewer area (grey ultrasound) is strongly coloured.
    viewer_area = picture[100:820, 310:1050].astype(int)
    saturation = viewer_area.max(axis=2) - viewer_area.min(axis=2)
    assert (saturation > 60).mean() > 0.1
    assert not (tmp_path / "xdg" / "CNSight").exists()  # screenshots use throwaway settings


def test_screenshot_fails_clearly_when_the_demo_is_missing(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("CNSIGHT_RESOURCES", str(tmp_path / "no_resources"))
    code = main(["--demo", "--screenshot", str(tmp_path / "x.png")])
    assert code == EXIT_USAGE
    assert "demo resources are missing" in caplog.text
    assert not (tmp_path / "x.png").exists()


def test_demo_resolves_the_demo_study_and_accepts_another_model(tmp_path, monkeypatch):
    from desktop.app import resolve_inputs
    from desktop.settings import AppSettings

    resources = tmp_path / "resources"
    (resources / "demo_study").mkdir(parents=True)
    (resources / "demo_study" / "manifest.csv").write_text("path,patient_id\n")
    monkeypatch.setenv("CNSIGHT_RESOURCES", str(resources))
    parser = get_args_parser()
    paths, model, error = resolve_inputs(
        parser.parse_args(["--demo", "--model", "B"]), AppSettings()
    )
    assert (
        error is None
        and paths == [resources / "demo_study" / "manifest.csv"]
        and model == Path("B")
    )
    _paths, _model, error = resolve_inputs(parser.parse_args(["--demo"]), AppSettings())
    assert "demo_model" in error
