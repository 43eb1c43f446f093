"""Desktop test set-up: offscreen Qt (tests/conftest.py), isolated QSettings, tiny studies."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from tests.support.gui import write_png


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Every test gets its own settings file: nothing read from or written to the user's."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings")
    )
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    yield tmp_path / "settings"


@pytest.fixture
def png_study(tmp_path) -> Path:
    """Two patients (folders) of three tiny PNGs each, plus one corrupt file."""
    root = tmp_path / "study"
    for p, patient in enumerate(("P001", "P002")):
        for i in range(3):
            write_png(root / patient / f"img{i}.png", seed=10 * p + i)
    (root / "P002" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    return root


@pytest.fixture(scope="session")
def phantom_study(tmp_path_factory) -> Path:
    """A tiny synthetic DICOM study from phantoms: 2 patients, each with one cine."""
    from phantoms.phantom_set import generate_phantom_set

    out = tmp_path_factory.mktemp("phantoms")
    generate_phantom_set(out, n_patients=2, seed=3, fmt="dicom", size=(128, 104))
    return out


@pytest.fixture
def main_window(qtbot):
    """The real main window at the size of a typical screen (1440 x 900), dark theme."""
    from PySide6.QtWidgets import QApplication

    from desktop.app import _build
    from desktop.settings import AppSettings
    from desktop.theme import apply_dark_theme

    apply_dark_theme(QApplication.instance())
    _session, win = _build(AppSettings())
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


@pytest.fixture
def opened_phantom_window(qtbot, main_window, phantom_study, tiny_bundle, tmp_path):
    """The main window with a copy of the phantom DICOM study opened and analysed."""
    import shutil

    study = tmp_path / "study"
    shutil.copytree(phantom_study, study)
    with qtbot.waitSignal(main_window.session.model_changed, timeout=120_000):
        main_window.session.load_model(tiny_bundle, "cpu")
    with qtbot.waitSignal(main_window.session.all_predicted, timeout=120_000):
        main_window.open_paths([study])
    qtbot.waitUntil(lambda: main_window.vm.current_image is not None, timeout=120_000)
    return main_window, study


@pytest.fixture
def session_parts(qtbot):
    """The analysis pipeline without widgets: (view-model, model service, pipeline)."""
    from desktop.background import OpRunner
    from desktop.model_worker import ModelService
    from desktop.pipeline import AnalysisPipeline
    from desktop.viewmodels.cohort import CohortViewModel

    vm, runner = CohortViewModel(), OpRunner()
    service = ModelService()
    session = AnalysisPipeline(vm, service, runner)
    yield vm, service, session
    session.shutdown()
