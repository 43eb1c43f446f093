"""Shared test set-up. Qt must run offscreen before any QApplication exists, or pytest-qt
aborts the process on a machine without a display."""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip when this checkout has none beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory):
    """A small untrained ResNet34 bundle (input 64 px) for fast tests; seeded, so deterministic."""
    from tests.support.models import make_bundle

    return make_bundle(tmp_path_factory.mktemp("bundle") / "tiny", crop=64, resize=72)


@pytest.fixture(scope="session")
def phantom_studies(tmp_path_factory):
    """Two tiny DICOM phantom patients, one study each (8 and 7 instances), for the PACS tests."""
    from tests.support.orthanc import phantom_dicom_study

    return phantom_dicom_study(tmp_path_factory.mktemp("pacs-phantoms"))


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory, phantom_studies):
    """A real Orthanc (tests/support/orthanc.py) with the phantom studies stored, one per module
    (tests/core/pacs, tests/desktop/pacs); skips when the Orthanc binary is absent."""
    from tests.support.orthanc import running_orthanc

    for server in running_orthanc(tmp_path_factory.mktemp("orthanc")):
        server.upload(phantom_studies)
        yield server
