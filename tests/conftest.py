"""Shared test set-up. Qt must run offscreen before any QApplication exists, or pytest-qt
aborts the process on a machine without a display."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")
# Exported inference graphs (core.inference.export_cache) go to one folder per test session,
# never to the user's cache; tests that share a bundle share its export.
os.environ.setdefault("CNSIGHT_CACHE_DIR", tempfile.mkdtemp(prefix="cnsight-test-cache-"))

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
    from core.bundle import load_bundle
    from core.inference.onnx_runtime import ensure_export
    from core.inference.outputs import MultiOutputNet
    from tests.support.models import make_bundle

    path = make_bundle(tmp_path_factory.mktemp("bundle") / "tiny", crop=64, resize=72)
    # Its ONNX graph exported once here (into this session's CNSIGHT_CACHE_DIR), as `auto`
    # (the CLIs' and the app's default) would on first use: the app's model thread then only
    # opens it, within the GUI tests' waits, however loaded the machine is.
    bundle = load_bundle(path)
    ensure_export(bundle, MultiOutputNet(bundle.model), bundle.card.preprocessing.crop)
    return path


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
