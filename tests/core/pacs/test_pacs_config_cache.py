"""The nodes file and the study cache, without a server."""

from __future__ import annotations

import json
import os
import time

import pytest

from core.pacs.cache import MARKER, STALE_AFTER_S, StudyCache
from core.pacs.errors import CacheFull, NodeConfigError, RetrieveFailed
from core.pacs.nodes import (
    CacheSettings,
    PacsConfig,
    PacsNode,
    TlsOptions,
    load_config,
    save_config,
)
from core.pacs.query import QueryError, StudyQuery

UID_A, UID_B, UID_C = "1.2.3.1", "1.2.3.2", "1.2.3.3"


# ----- nodes file ----------------------------------------------------------------------------------
def test_nodes_file_round_trip(tmp_path):
    node = PacsNode(
        name="main", ae_title="PACS", host="pacs.example.org", port=11112,
        dicomweb_url="https://pacs.example.org/dicom-web", tls=TlsOptions(enabled=True, ca_file="/ca.pem"),
    )  # fmt: skip
    config = PacsConfig((node,), CacheSettings(folder=str(tmp_path / "c"), limit_mb=5))
    path = save_config(config, tmp_path / "nodes.json")
    assert load_config(path) == config
    assert not list(tmp_path.glob("*.part"))  # written by rename


def test_default_nodes_file_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("CNSIGHT_PACS_NODES", raising=False)
    save_config(PacsConfig((PacsNode(name="a", ae_title="A", host="h"),)))
    assert (tmp_path / "CNSight" / "pacs-nodes.json").exists()
    assert load_config().node("a").host == "h"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not a readable JSON"),
        ('{"nodes": [{"name": "a", "aet": "X"}]}', "unknown setting(s) aet"),
        ('{"nodes": [{"name": "a", "ae_title": "MUCH_TOO_LONG_AE_TITLE"}]}', "1-16 letters"),
        ('{"nodes": [{"name": "a", "port": 70000}]}', "1-65535"),
        ('{"nodes": [{"name": "a"}, {"name": "a"}]}', "share a name"),
        ('{"nodes": [{"name": "a", "dicomweb_url": "pacs:8042"}]}', "http://"),
        ('{"cache": {"limit_mb": 0}}', "positive"),
        ('{"servers": []}', "unknown key"),
    ],
)
def test_bad_nodes_files_are_refused(tmp_path, content, message):
    path = tmp_path / "nodes.json"
    path.write_text(content)
    with pytest.raises(NodeConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(path)


def test_unknown_node_name_lists_the_known_ones():
    with pytest.raises(NodeConfigError, match="known: a, b"):
        PacsConfig((PacsNode(name="a"), PacsNode(name="b"))).node("c")


def test_bad_tls_files_are_refused(tmp_path):
    with pytest.raises(NodeConfigError, match="TLS files could not be loaded"):
        TlsOptions(enabled=True, ca_file=str(tmp_path / "missing.pem")).ssl_context()


def test_query_dates():
    assert StudyQuery(date_from="20240101").date_range == "20240101-"
    assert StudyQuery(date_to="20240101").date_range == "-20240101"
    assert StudyQuery(date_from="20240101", date_to="20240101").date_range == "20240101"
    with pytest.raises(QueryError, match="YYYYMMDD"):
        StudyQuery(date_from="2024-01-01")
    with pytest.raises(QueryError, match="after"):
        StudyQuery(date_from="20240102", date_to="20240101")


# ----- cache -----------------------------------------------------------------------------------------
def _fill(cache: StudyCache, uid: str, n: int, size: int):
    with cache.begin(uid, "test") as writer:
        for i in range(n):
            writer.add(f"{uid}.{i + 1}", bytes(size))
        return writer.complete(expected=n)


def _disk_bytes(root) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def test_complete_study_is_listed_with_whole_files_only(tmp_path):
    cache = StudyCache(tmp_path, 10_000)
    study = _fill(cache, UID_A, 3, 100)
    assert cache.get(UID_A) == study
    assert sorted(p.name for p in study.instances.iterdir()) == [
        f"{UID_A}.{i}.dcm" for i in (1, 2, 3)
    ]
    assert not (study.folder / ".incoming").exists()
    assert cache.used_bytes() == _disk_bytes(tmp_path) > 300
    assert json.loads((study.folder / MARKER).read_text())["n_instances"] == 3


def test_an_unfinished_study_is_never_complete_and_is_removed(tmp_path):
    cache = StudyCache(tmp_path, 10_000)
    with cache.begin(UID_A, "test") as writer:
        writer.add(f"{UID_A}.1", bytes(10))
        assert cache.get(UID_A) is None  # being written: not complete
    assert not (tmp_path / UID_A).exists()  # left without complete(): abandoned
    assert cache.used_bytes() == 0


def test_fewer_instances_than_announced_is_refused(tmp_path):
    cache = StudyCache(tmp_path, 10_000)
    writer = cache.begin(UID_A, "test")
    writer.add(f"{UID_A}.1", bytes(10))
    with pytest.raises(RetrieveFailed, match="only 1 of 2 instances"):
        writer.complete(expected=2)
    assert cache.get(UID_A) is None and not (tmp_path / UID_A).exists()


def test_oldest_study_is_evicted_first(tmp_path):
    cache = StudyCache(tmp_path, 1000)
    _fill(cache, UID_A, 4, 100)
    _fill(cache, UID_B, 4, 100)
    os.utime(tmp_path / UID_A / MARKER, (time.time() + 5, time.time() + 5))  # A used last
    _fill(cache, UID_C, 4, 100)  # needs 400 of 1000 with 800 used: B goes
    assert [s.study_uid for s in cache.complete_studies()] == [UID_C, UID_A]
    assert cache.used_bytes() == _disk_bytes(tmp_path)


def test_protected_study_is_not_evicted(tmp_path):
    cache = StudyCache(tmp_path, 500)
    _fill(cache, UID_A, 4, 100)
    cache.protected.add(UID_A)
    with pytest.raises(CacheFull, match="does not fit"):
        _fill(cache, UID_B, 2, 100)
    assert cache.get(UID_A) is not None and not (tmp_path / UID_B).exists()


def test_study_larger_than_the_cache_is_refused_and_nothing_kept(tmp_path):
    cache = StudyCache(tmp_path, 250)
    with pytest.raises(CacheFull, match=r"needs more than 0\.0 MB.*nothing of this study was kept"):
        _fill(cache, UID_A, 3, 100)
    assert list(tmp_path.iterdir()) == [] and cache.used_bytes() == 0


def test_stale_incomplete_folders_are_swept_at_open(tmp_path):
    leftover = tmp_path / UID_A / "instances"
    leftover.mkdir(parents=True)
    (leftover / "x.dcm").write_bytes(b"0" * 10)
    old = time.time() - STALE_AFTER_S - 10
    os.utime(tmp_path / UID_A, (old, old))
    assert StudyCache(tmp_path, 1000).used_bytes() == 0
    assert not (tmp_path / UID_A).exists()


def test_uids_that_are_not_uids_are_refused(tmp_path):
    with pytest.raises(RetrieveFailed, match="not a valid DICOM UID"):
        StudyCache(tmp_path, 1000).begin("../etc", "test")
