"""bench/ood_inputs.py: the out-of-domain evaluation set is complete, readable and seeded."""

from __future__ import annotations

import csv
import hashlib

import pytest

from bench.ood_inputs import KINDS, main
from core.discovery import discover
from core.imaging import probe_file, read_image

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on its odd test files


def _manifest(out):
    with (out / "manifest.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _digest(out, rows) -> dict[str, str]:
    return {r["path"]: hashlib.sha1((out / r["path"]).read_bytes()).hexdigest() for r in rows}


@pytest.fixture(scope="module")
def ood_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("ood") / "set"
    assert main([str(out), "--seed", "8"]) == 0
    return out, _manifest(out)


def test_manifest_lists_every_file_once_with_its_kind(ood_set):
    out, rows = ood_set
    assert list(rows[0]) == ["path", "kind", "patient_id"]
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths))
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert on_disk - {"manifest.csv"} == set(paths)
    counts = {kind: sum(r["kind"] == kind for r in rows) for kind in KINDS}
    assert set(r["kind"] for r in rows) == set(KINDS)
    assert counts["pydicom_us"] == 5  # cardiac cine, 2 Doppler lymph nodes, OB screen, crop
    assert counts["pydicom_other"] >= 10 and counts["pattern"] >= 20 and counts["photo_like"] >= 10
    assert len(rows) == sum(counts.values())


def test_every_file_decodes_and_the_manifest_opens(ood_set):
    out, rows = ood_set
    for row in rows:
        read_image(probe_file(out / row["path"])[0])
    assert len(discover(out / "manifest.csv").patients) == len(rows)


def test_the_same_seed_writes_the_same_files(ood_set, tmp_path):
    out, rows = ood_set
    again = tmp_path / "again"
    assert main([str(again), "--seed", "8"]) == 0
    assert _manifest(again) == rows
    assert _digest(again, rows) == _digest(out, rows)
