"""Real Orthanc servers for the PACS tests (tests/support/orthanc.py).

``orthanc`` (tests/conftest.py, shared with the app's PACS tests): one server per module with
the phantom studies stored, for tests that only read from it or add series of their own;
``fresh_orthanc``: a server per test, for the tests that kill, pause or empty it.
"""

from __future__ import annotations

import pytest

from tests.support.orthanc import running_orthanc


@pytest.fixture
def fresh_orthanc(tmp_path, phantom_studies):
    for server in running_orthanc(tmp_path / "orthanc"):
        server.upload(phantom_studies)
        yield server


@pytest.fixture
def cache(tmp_path):
    from core.pacs.cache import StudyCache

    return StudyCache(tmp_path / "cache", limit_bytes=50_000_000)
