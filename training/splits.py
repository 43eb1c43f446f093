"""Patient-grouped, class-stratified splits: hold-out, k-fold and leave-one-site-out.

Every split is made over PATIENTS (one row per patient, its label = ``Patient.label``), so
all images of a patient land in the same part by construction, and ``Split`` refuses to
exist if a patient id appears in two parts. Stratification is by the patient's label.

- ``holdout``: a stratified fraction of every class to test, then to validation.
- ``kfold``: scikit-learn ``StratifiedGroupKFold`` over the images (groups = patients,
  y = patient label), so folds are balanced in images as well as classes when patients have
  very different image counts; fold ``fold`` is the test set, validation is carved from the
  other folds.
- ``site``: leave one site out: every patient of ``test_site`` is the test set.

Validation is always carved from the non-test patients; it is what model selection, early
stopping and temperature scaling see. The test patients are written out for ``cnsight-eval``
and never loaded by ``cnsight-train``.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from core.records import Cohort
from training.errors import TrainingError

SPLIT_KINDS = ("holdout", "kfold", "site")


class SplitError(TrainingError):
    """The data cannot be split as asked (message is user-facing)."""


@dataclass(frozen=True)
class PatientRow:
    """What a split needs to know about a patient."""

    patient_id: str
    label: str
    site: str | None
    ga_weeks: float | None
    n_images: int


@dataclass(frozen=True)
class Split:
    """Patient ids of each part. Disjoint by construction; checked again here."""

    kind: str
    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    description: str = ""

    def __post_init__(self):
        parts = {"train": set(self.train), "val": set(self.val), "test": set(self.test)}
        for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
            shared = parts[a] & parts[b]
            if shared:
                raise SplitError(f"patients in both {a} and {b}: {sorted(shared)[:5]}")
        if not self.train:
            raise SplitError("the training split is empty")

    def part_of(self, patient_id: str) -> str | None:
        for part in ("train", "val", "test"):
            if patient_id in getattr(self, part):
                return part
        return None

    def digest(self) -> str:
        """sha256 of the sorted ids per part: two runs with the same digest used the same split."""
        text = "\n".join(
            f"{p}:{','.join(sorted(getattr(self, p)))}" for p in ("train", "val", "test")
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def summary(self) -> dict:
        """Counts and digest (for the model card, where the ids themselves do not belong)."""
        return {
            "kind": self.kind,
            "description": self.description,
            "patients": {p: len(getattr(self, p)) for p in ("train", "val", "test")},
            "sha256": self.digest(),
        }

    def to_dict(self) -> dict:
        return self.summary() | {p: sorted(getattr(self, p)) for p in ("train", "val", "test")}


def patient_rows(study: Cohort) -> list[PatientRow]:
    """One row per patient that has a label; patients without one cannot be used for training."""
    rows = []
    for patient in study.patients:
        if patient.label is None:
            continue
        rows.append(
            PatientRow(
                patient.patient_id,
                patient.label,
                patient.site,
                patient.ga_weeks,
                len(patient.images),
            )
        )
    return rows


def _rng_order(ids: Sequence[str], seed: int) -> list[str]:
    """``ids`` in a random order that depends only on the seed and the ids (not input order)."""
    ordered = sorted(ids)
    perm = np.random.default_rng(seed).permutation(len(ordered))
    return [ordered[i] for i in perm]


def stratified_holdout(rows: Sequence[PatientRow], fraction: float, seed: int) -> tuple[list, list]:
    """Split rows into (kept, held): ``fraction`` of every class held, at least one patient of
    every class that has two or more (so the class is seen on both sides)."""
    if not 0 <= fraction < 1:
        raise SplitError(f"a split fraction must be in [0, 1), got {fraction}")
    held_ids: set[str] = set()
    if fraction > 0:
        for label in sorted({r.label for r in rows}):
            ids = _rng_order([r.patient_id for r in rows if r.label == label], seed)
            n_held = min(len(ids) - 1, max(1 if len(ids) >= 2 else 0, round(len(ids) * fraction)))
            held_ids.update(ids[:n_held])
    kept = [r for r in rows if r.patient_id not in held_ids]
    held = [r for r in rows if r.patient_id in held_ids]
    return kept, held


def _ids(rows: Sequence[PatientRow]) -> tuple[str, ...]:
    return tuple(sorted(r.patient_id for r in rows))


def holdout_split(
    rows: Sequence[PatientRow], val_fraction: float, test_fraction: float, seed: int
) -> Split:
    """Stratified test set (may be empty), then a stratified validation set from the rest."""
    rest, test = stratified_holdout(rows, test_fraction, seed)
    train, val = stratified_holdout(rest, val_fraction / max(1e-9, 1 - test_fraction), seed + 1)
    return Split(
        "holdout",
        _ids(train),
        _ids(val),
        _ids(test),
        f"hold-out: test {test_fraction:g}, validation {val_fraction:g} of patients, seed {seed}",
    )


def kfold_split(
    rows: Sequence[PatientRow], folds: int, fold: int, val_fraction: float, seed: int
) -> Split:
    """Fold ``fold`` of a grouped, stratified k-fold as test; validation from the other folds."""
    if folds < 2 or not 0 <= fold < folds:
        raise SplitError(f"need folds >= 2 and 0 <= fold < folds, got folds={folds}, fold={fold}")
    if folds > len(rows):
        raise SplitError(
            f"{folds} folds need at least {folds} labelled patients, found {len(rows)}"
        )
    # One entry per image, so StratifiedGroupKFold balances image counts; groups keep patients whole.
    ordered = sorted(rows, key=lambda r: r.patient_id)
    groups = np.repeat([r.patient_id for r in ordered], [max(1, r.n_images) for r in ordered])
    labels = np.repeat([r.label for r in ordered], [max(1, r.n_images) for r in ordered])
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class has fewer members than n_splits"
        _, test_index = list(splitter.split(np.zeros(len(labels)), labels, groups))[fold]
    test_ids = set(groups[test_index].tolist())
    rest = [r for r in ordered if r.patient_id not in test_ids]
    train, val = stratified_holdout(rest, val_fraction, seed + 1 + fold)
    test = [r for r in ordered if r.patient_id in test_ids]
    return Split(
        "kfold",
        _ids(train),
        _ids(val),
        _ids(test),
        f"grouped stratified {folds}-fold, fold {fold} as test, validation {val_fraction:g} "
        f"of the other folds' patients, seed {seed}",
    )


def site_split(rows: Sequence[PatientRow], test_site: str, val_fraction: float, seed: int) -> Split:
    """Leave one site out: all patients of ``test_site`` form the test set."""
    sites = sorted({r.site for r in rows if r.site})
    if test_site not in sites:
        raise SplitError(
            f"site {test_site!r} not in the data; sites: {', '.join(sites) or 'none recorded'}"
        )
    rest = [r for r in rows if r.site != test_site]
    train, val = stratified_holdout(rest, val_fraction, seed + 1)
    test = [r for r in rows if r.site == test_site]
    return Split(
        "site",
        _ids(train),
        _ids(val),
        _ids(test),
        f"leave-one-site-out: test site {test_site}, validation {val_fraction:g} of the "
        f"other sites' patients, seed {seed}",
    )


def make_split(
    rows: Sequence[PatientRow],
    kind: str = "holdout",
    val_fraction: float = 0.2,
    test_fraction: float = 0.0,
    folds: int = 5,
    fold: int = 0,
    test_site: str | None = None,
    seed: int = 0,
) -> Split:
    """The split named by ``kind`` (see the module docstring)."""
    if kind == "holdout":
        split = holdout_split(rows, val_fraction, test_fraction, seed)
    elif kind == "kfold":
        split = kfold_split(rows, folds, fold, val_fraction, seed)
    elif kind == "site":
        if not test_site:
            raise SplitError("--split site needs --test-site NAME")
        split = site_split(rows, test_site, val_fraction, seed)
    else:
        raise SplitError(f"unknown split kind {kind!r}; choose from {', '.join(SPLIT_KINDS)}")
    if not split.val:
        raise SplitError(
            "the validation split is empty: model selection needs validation patients "
            "(raise --val-fraction or add patients)"
        )
    return split
