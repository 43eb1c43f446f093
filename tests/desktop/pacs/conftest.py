"""The app's PACS tests run against a real Orthanc (``orthanc``, tests/conftest.py) holding the
two phantom studies; the nodes file and the cache are per test (XDG folders under tmp_path)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def own_cache_folder(tmp_path, monkeypatch):
    """The PACS cache of the test (the default folder is under $XDG_CACHE_HOME)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("CNSIGHT_PACS_NODES", raising=False)
    return tmp_path / "xdg-cache" / "CNSight" / "pacs"


@pytest.fixture
def runner():
    from desktop.background import OpRunner

    runner = OpRunner()
    yield runner
    runner.wait(20_000)


@pytest.fixture
def saved_node(orthanc):
    """The Orthanc node saved in the test's nodes file (as PACS > PACS nodes… would)."""
    from core.pacs.nodes import PacsConfig, save_config

    node = orthanc.node()
    save_config(PacsConfig((node,)))
    return node
