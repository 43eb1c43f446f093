"""Training data: finding labelled studies, summarising them, and the torch Dataset.

Inputs are whatever ``core.discovery.discover`` opens (manifest CSV, ``<class>/<patient_id>/``
layout, DICOM folders), plus an optional labels CSV (``patient_id,label[,ga_weeks,site]``)
that gives labels to studies that carry none (DICOM folders).

Images are decoded with ``core.imaging.read_image`` (what the app uses) and turned into model
inputs by ``core.augment.augment`` (training) or ``core.preprocess.prepare`` (validation).
"""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from core.augment import AugmentParams, augment
from core.discovery import discover
from core.errors import ImageReadError
from core.imaging import read_image
from core.preprocess import PreprocessSpec, prepare
from core.records import Cohort, ImageRef, Patient
from core.texture_statistics import image_texture
from training.errors import TrainingError

log = logging.getLogger(f"cnsight.{__name__}")
MANIFEST_COLUMNS = ("path", "patient_id", "label", "ga_weeks", "site", "plane")


def _optional_float(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def read_labels_csv(path: Path) -> dict[str, dict]:
    """``patient_id -> {label, ga_weeks, site}`` from a CSV with at least patient_id,label."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            columns = set(reader.fieldnames or ())
            if not {"patient_id", "label"} <= columns:
                raise TrainingError(
                    f"{path}: a labels CSV needs the columns patient_id,label "
                    f"(found: {', '.join(sorted(columns)) or 'none'})"
                )
            table = {}
            for row in reader:
                table[row["patient_id"].strip()] = {
                    "label": (row["label"] or "").strip() or None,
                    "ga_weeks": _optional_float(row.get("ga_weeks")),
                    "site": (row.get("site") or "").strip() or None,
                }
            return table
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise TrainingError(f"{path}: cannot read the labels CSV ({e})") from None


def apply_labels(study: Cohort, table: dict[str, dict]) -> Cohort:
    """The study with every image of a listed patient given that patient's label, GA and site."""
    patients = []
    for patient in study.patients:
        entry = table.get(patient.patient_id)
        if entry is None:
            patients.append(patient)
            continue
        images = tuple(
            replace(
                ref,
                label=entry["label"],
                ga_weeks=entry["ga_weeks"] if entry["ga_weeks"] is not None else ref.ga_weeks,
                site=entry["site"] or ref.site,
            )
            for ref in patient.images
        )
        patients.append(replace(patient, images=images))
    missing = sorted(set(table) - {p.patient_id for p in study.patients})
    if missing:
        log.warning(
            "labels CSV lists %d patient(s) not found in the data, e.g. %s",
            len(missing),
            missing[:3],
        )
    return replace(study, patients=tuple(patients))


def load_cohort(data: Path, class_names: Sequence[str], labels_csv: Path | None = None) -> Cohort:
    """Discover the study at ``data`` and attach labels from ``labels_csv`` when given."""
    data = Path(data)
    if not data.exists():
        raise TrainingError(f"{data}: no such file or folder")
    # A manifest's labels are checked by check_labels (one clear message) rather than row by row;
    # for a folder the class names say which subfolders are the <class>/<patient_id>/ layout.
    study = discover([data], class_names=list(class_names) if data.is_dir() else None)
    for error in study.errors:
        log.warning("skipped %s: %s", error.path, error.message)
    if labels_csv is not None:
        study = apply_labels(study, read_labels_csv(Path(labels_csv)))
    return study


def check_labels(study: Cohort, class_names: Sequence[str]) -> None:
    """Refuse data that cannot train a classifier, with a message that says what to fix."""
    if not study.patients:
        raise TrainingError(f"{study.source}: no images found")
    labels = Counter(ref.label for ref in study.images)
    if set(labels) == {None}:
        raise TrainingError(
            f"{study.source}: no image has a label; training needs labels (a manifest "
            "'label' column, the <class>/<patient_id>/ layout, or --labels CSV)"
        )
    unknown = sorted(str(k) for k in labels if k is not None and k not in class_names)
    if unknown:
        raise TrainingError(
            f"labels not in the class list: {', '.join(unknown)} "
            f"(classes: {', '.join(class_names)}; set them with --classes)"
        )
    present = [k for k in labels if k is not None]
    if len(present) < 2:
        raise TrainingError(
            f"all labelled images are {present[0]!r}: a classifier needs at least two classes"
        )


def select_images(study: Cohort, patient_ids: Sequence[str]) -> list[ImageRef]:
    """The labelled images of the given patients, in study order."""
    wanted = set(patient_ids)
    return [ref for p in study.patients if p.patient_id in wanted for ref in p.images if ref.label]


def preprocess_spec(args) -> PreprocessSpec:
    """THE preprocessing a run trains, validates and bundles with (--framing, --resize, --crop)."""
    return PreprocessSpec(resize=args.resize, crop=args.crop, framing=args.framing)


#: A plane head is trained when at least this share of the training images name their plane.
MIN_PLANE_LABELLED = 0.5


def plane_names(refs: Sequence[ImageRef], requested: str) -> tuple[str, ...]:
    """The plane head's outputs: ``auto`` = the distinct plane labels of the training images,
    when at least two occur and most images carry one; ``none`` = no plane head."""
    if requested == "none":
        return ()
    labelled = [r.plane for r in refs if r.plane]
    names = tuple(sorted(set(labelled)))
    if len(names) < 2 or len(labelled) < MIN_PLANE_LABELLED * max(1, len(refs)):
        log.info(
            "no plane head: %d of %d training images name one of %d plane(s)",
            len(labelled), len(refs), len(names),
        )  # fmt: skip
        return ()
    return names


def plane_targets(refs: Sequence[ImageRef], planes: Sequence[str]) -> torch.Tensor:
    """Plane index of every dataset item (-1: unknown, ignored by the loss)."""
    index = {p: i for i, p in enumerate(planes)}
    return torch.tensor([index.get(r.plane or "", -1) for r in refs], dtype=torch.long)


def data_summary(refs: Sequence[ImageRef], class_names: Sequence[str]) -> dict:
    """Counts per class (images and patients), sites and GA range of a set of images."""
    images = Counter(r.label for r in refs)
    patients: dict[str, set[str]] = {}
    for r in refs:
        patients.setdefault(r.label, set()).add(r.patient_id)
    gas = [r.ga_weeks for r in refs if r.ga_weeks is not None]
    return {
        "images": int(len(refs)),
        "patients": int(len({r.patient_id for r in refs})),
        "images_per_class": {c: int(images.get(c, 0)) for c in class_names},
        "patients_per_class": {c: len(patients.get(c, ())) for c in class_names},
        "sites": sorted({r.site for r in refs if r.site}),
        "ga_weeks_range": [float(min(gas)), float(max(gas))] if gas else None,
    }


def write_manifest(path: Path, refs: Sequence[ImageRef]) -> None:
    """A manifest CSV of ``refs`` (one row per file; paths relative to the CSV, docs/data-formats.md)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    seen = set()
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(MANIFEST_COLUMNS)
        for r in refs:
            if r.path in seen:
                continue  # a multi-frame file is one row; discover() expands its frames again
            seen.add(r.path)
            rel = os.path.relpath(Path(r.path).resolve(), path.parent.resolve())
            writer.writerow(
                [
                    rel,
                    r.patient_id,
                    r.label or "",
                    "" if r.ga_weeks is None else r.ga_weeks,
                    r.site or "",
                    r.plane or "",
                ]
            )


def class_weights(refs: Sequence[ImageRef], class_names: Sequence[str]) -> torch.Tensor:
    """Inverse-frequency weights ``N / (K * n_k)`` over training images; 0 for an absent class."""
    counts = Counter(r.label for r in refs)
    n, k = len(refs), len(class_names)
    weights = [n / (k * counts[c]) if counts.get(c) else 0.0 for c in class_names]
    absent = [c for c, w in zip(class_names, weights, strict=True) if w == 0]
    if absent:
        log.warning(
            "no training images of %s: those outputs get no training signal", ", ".join(absent)
        )
    return torch.tensor(weights, dtype=torch.float32)


def augment_params(args) -> AugmentParams:
    """The augmentation named by the ``--aug-*`` training arguments."""
    return AugmentParams(
        scale=tuple(args.aug_scale),
        hflip=args.aug_hflip,
        rotation_deg=args.aug_rotation,
        brightness=args.aug_brightness,
        contrast=args.aug_contrast,
        gamma=args.aug_gamma,
        speckle=args.aug_speckle,
    )


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """Seed of one sample's augmentation: fixed by (seed, epoch, index), whatever worker loads it."""
    return int(
        np.random.SeedSequence([seed, epoch, index]).generate_state(1, dtype=np.uint64)[0] >> 1
    )


class ImageDataset(Dataset):
    """Labelled images -> (input tensor, class index, dataset index).

    With ``augment_params`` every item is a random view drawn from a generator seeded by
    (seed, epoch, index): the same epoch gives the same tensors in any worker, in any process
    and after ``--resume``. Without, items are ``prepare(image, spec)``, exactly as evaluated.
    An unreadable image yields ``None``, which ``collate_readable`` drops (one bad file must not
    stop a training run; it is logged). ``report_cropped``: items also say whether the image
    was cut to a DICOM ultrasound region (the out-of-distribution thresholds depend on it) and
    carry its pixel texture (``core.texture_statistics``, a feature group of that score).
    """

    def __init__(
        self,
        refs: Sequence[ImageRef],
        class_names: Sequence[str],
        spec: PreprocessSpec,
        augment_params: AugmentParams | None = None,
        seed: int = 0,
        report_cropped: bool = False,
    ):
        self.refs = list(refs)
        self.report_cropped = report_cropped
        self.class_index = {c: i for i, c in enumerate(class_names)}
        self.spec = spec
        self.augment_params = augment_params
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Call before each epoch's DataLoader iterator is created (workers copy the dataset)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int):
        ref = self.refs[index]
        try:
            image = read_image(ref)
        except ImageReadError as e:
            log.warning("unreadable training image skipped: %s", e)
            return None
        if self.augment_params is None:
            tensor, _ = prepare(image, self.spec)
        else:
            generator = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, index))
            tensor = augment(image, self.spec, self.augment_params, generator)
        if self.report_cropped:
            # The pixel texture is one of the domain score's feature groups (as Predictor.prepare).
            texture = torch.from_numpy(image_texture(image, self.spec))
            return tensor, self.class_index[ref.label], index, image.region is not None, texture
        return tensor, self.class_index[ref.label], index


def collate_readable(batch):
    """``default_collate`` over the items that could be read; None when none could."""
    items = [item for item in batch if item is not None]
    return default_collate(items) if items else None


def patients_by_id(study: Cohort) -> dict[str, Patient]:
    return {p.patient_id: p for p in study.patients}
