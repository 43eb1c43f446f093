"""Patient-grouped splits: no patient ever in two parts, for every split kind."""

from pathlib import Path

import pytest

from core.records import Cohort, ImageRef, Patient
from training.splits import PatientRow, Split, SplitError, make_split, patient_rows


def rows(n_per_class=(10, 6, 3), sites=("A", "B", "C"), images=(1, 5, 12)) -> list[PatientRow]:
    out = []
    for c, n in enumerate(n_per_class):
        for i in range(n):
            out.append(
                PatientRow(
                    f"c{c}p{i}", f"class{c}", sites[i % len(sites)], 20.0, images[i % len(images)]
                )
            )
    return out


def assert_no_leak(split: Split, all_rows):
    train, val, test = set(split.train), set(split.val), set(split.test)
    assert not train & val and not train & test and not val & test
    assert train | val | test == {r.patient_id for r in all_rows}


KINDS = [
    {"kind": "holdout", "val_fraction": 0.2, "test_fraction": 0.2},
    {"kind": "holdout", "val_fraction": 0.3, "test_fraction": 0.0},
    *({"kind": "kfold", "folds": 3, "fold": f} for f in range(3)),
    *({"kind": "site", "test_site": s} for s in ("A", "B", "C")),
]


@pytest.mark.parametrize("options", KINDS)
def test_no_patient_in_two_parts(options):
    data = rows()
    for seed in range(3):
        split = make_split(data, seed=seed, **options)
        assert_no_leak(split, data)
        assert split.val and split.train


def test_kfold_test_sets_partition_the_patients():
    data = rows()
    tests = [set(make_split(data, kind="kfold", folds=3, fold=f, seed=7).test) for f in range(3)]
    assert not (tests[0] & tests[1] or tests[0] & tests[2] or tests[1] & tests[2])
    assert set.union(*tests) == {r.patient_id for r in data}


def test_holdout_is_stratified_and_keeps_small_classes_on_both_sides():
    data = rows(n_per_class=(20, 10, 2))
    split = make_split(data, kind="holdout", val_fraction=0.2, test_fraction=0.0, seed=0)
    labels = {r.patient_id: r.label for r in data}
    val_labels = [labels[p] for p in split.val]
    assert val_labels.count("class0") == 4 and val_labels.count("class1") == 2
    assert val_labels.count("class2") == 1  # at least one of a 2-patient class
    assert any(labels[p] == "class2" for p in split.train)


def test_site_split_tests_exactly_one_site():
    data = rows()
    split = make_split(data, kind="site", test_site="B")
    sites = {r.patient_id: r.site for r in data}
    assert {sites[p] for p in split.test} == {"B"}
    assert "B" not in {sites[p] for p in split.train + split.val}


def test_split_is_deterministic_and_independent_of_row_order():
    data = rows()
    a = make_split(data, kind="holdout", test_fraction=0.2, seed=3)
    b = make_split(list(reversed(data)), kind="holdout", test_fraction=0.2, seed=3)
    assert a == b and a.digest() == b.digest()
    assert make_split(data, kind="holdout", test_fraction=0.2, seed=4).digest() != a.digest()


def test_split_refuses_overlap():
    with pytest.raises(SplitError, match="both train and test"):
        Split("holdout", ("p1", "p2"), ("p3",), ("p2",))


@pytest.mark.parametrize(
    "options,message",
    [
        ({"kind": "site", "test_site": "Z"}, "not in the data"),
        ({"kind": "site"}, "--test-site"),
        ({"kind": "kfold", "folds": 50}, "at least 50"),
        ({"kind": "holdout", "val_fraction": 0.0}, "validation split is empty"),
    ],
)
def test_impossible_splits_explain_themselves(options, message):
    with pytest.raises(SplitError, match=message):
        make_split(rows(), **options)


def test_patient_rows_come_from_patient_labels():
    refs = tuple(
        ImageRef(Path(f"{i}.png"), patient_id="p", label=lab)
        for i, lab in enumerate(["normal", "encephalocele"])
    )
    study = Cohort(
        "x", (Patient("p", refs), Patient("q", (ImageRef(Path("q.png"), patient_id="q"),)))
    )
    got = patient_rows(study)
    assert [(r.patient_id, r.label, r.n_images) for r in got] == [
        ("p", "encephalocele", 2)
    ]  # q has no label
