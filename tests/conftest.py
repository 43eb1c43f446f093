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
    from tests.support.models import make_bundle

    return make_bundle(tmp_path_factory.mktemp("bundle") / "tiny", crop=64, resize=72)
