"""The FBAU converter on the real data (skipped when ../shared/data is absent)."""

import csv
from collections import defaultdict

import pytest

from core.discovery import discover
from training.datasets.fbau import convert
from training.splits import make_split, patient_rows


@pytest.fixture(scope="module")
def fbau_manifest(shared_data, tmp_path_factory):
    fbau = shared_data / "fbau"
    if not (fbau / "MANIFEST.csv").is_file():
        pytest.skip("fbau not present in ../shared/data")
    out = tmp_path_factory.mktemp("fbau") / "manifest.csv"
    counts = convert(fbau, out)
    return fbau, out, counts


def test_mapping_and_patients(fbau_manifest):
    _, out, counts = fbau_manifest
    assert counts == {"normal": 282, "encephalocele": 146, "other_anomaly": 1340}
    study = discover([out])
    assert not study.errors and len(study.images) == 1768
    labels = {p.patient_id: p.label for p in study.patients}
    assert sum(v == "normal" for v in labels.values()) == 31
    assert sum(v == "encephalocele" for v in labels.values()) == 7


def test_no_source_image_spans_two_parts_of_a_fold(fbau_manifest):
    """Augmented copies of one source image must never sit on both sides of a split."""
    fbau, out, _ = fbau_manifest
    with open(fbau / "MANIFEST.csv") as f:
        source_of = {(fbau / r["path"]).resolve(): r["source_image"] for r in csv.DictReader(f)}
    study = discover([out])
    rows = patient_rows(study)
    for fold in range(3):
        split = make_split(rows, kind="kfold", folds=3, fold=fold, val_fraction=0.15, seed=0)
        part_of_source = defaultdict(set)
        for ref in study.images:
            part_of_source[source_of[ref.path.resolve()]].add(split.part_of(ref.patient_id))
        assert all(len(parts) == 1 for parts in part_of_source.values())
