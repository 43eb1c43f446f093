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
