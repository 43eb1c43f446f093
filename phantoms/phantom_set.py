"""Synthetic multi-patient studies: plan (who, what, where), render, write files + manifest.

Determinism: every random choice comes from a generator seeded with ``(seed, purpose, patient,
image)``, so a study is the same bytes on every run, a patient does not change when more
patients are asked for, and PNG and DICOM output of one image hold the same pixels.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from phantoms.annotate import DrawnText, HeaderInfo
from phantoms.render import DEFAULT_SIZE, check_size, draw_header_info, render_frames_and_text
from phantoms.scene import View, sample_view
from phantoms.sites import SITE_NAMES, get_site
from phantoms.traits import (
    PHANTOM_CLASSES,
    PLANES,
    Traits,
    anomaly_visible,
    draw_traits,
)

log = logging.getLogger(f"cnsight.{__name__}")

FORMATS: tuple[str, ...] = ("png", "dicom", "both")
MANIFEST_NAME = "manifest.csv"
#: Beside the manifest: the text lines burned into each file, per frame (docs/phantoms.md).
TEXT_BOXES_NAME = "text_boxes.json"
MANIFEST_COLUMNS: tuple[str, ...] = (
    "path",
    "patient_id",
    "label",
    "ga_weeks",
    "site",
    "plane",
    "anomaly_visible",
)
IMAGES_PER_PATIENT: tuple[int, int] = (4, 10)
CINE_FRAMES: tuple[int, int] = (6, 8)
# Extra images beyond one per plane: head planes are taken more often than the spine.
_EXTRA_PLANE_WEIGHTS = (0.3, 0.3, 0.22, 0.18)

# Purposes mixed into the seed so independent choices never share a random stream.
_CLASS_ORDER, _PATIENT, _IMAGE = 0, 1, 2


@dataclass(frozen=True)
class PlannedImage:
    index: int  # 1-based position in the patient's study
    plane: str
    view: View
    cine_frames: int  # frames when written as DICOM cine; 1 = a still image
    anomaly_visible: bool


@dataclass(frozen=True)
class PatientPlan:
    patient_id: str
    label: str
    ga_weeks: float
    site: str
    traits: Traits
    header: HeaderInfo
    images: tuple[PlannedImage, ...]


@dataclass(frozen=True)
class RenderedImage:
    patient: PatientPlan
    image: PlannedImage
    frames: tuple[np.ndarray, ...]  # one frame unless rendered as a cine
    texts: tuple[tuple[DrawnText, ...], ...] = ()  # per frame: the text lines drawn


def class_for_patients(n_patients: int, seed: int) -> list[str]:
    """Round-robin over a seeded permutation of the classes: balanced, all classes from N=5."""
    order = np.random.default_rng([seed, _CLASS_ORDER]).permutation(len(PHANTOM_CLASSES))
    return [PHANTOM_CLASSES[int(order[i % len(order)])] for i in range(n_patients)]


def patient_id_for(seed: int, index: int) -> str:
    return f"PH{seed}-{index + 1:04d}"


def _plan_planes(rng: np.random.Generator) -> list[str]:
    """Every plane once, then extra images; in a random reading order."""
    n_images = int(rng.integers(IMAGES_PER_PATIENT[0], IMAGES_PER_PATIENT[1] + 1))
    planes = list(PLANES)
    extra = rng.choice(len(PLANES), size=n_images - len(PLANES), p=_EXTRA_PLANE_WEIGHTS)
    planes += [PLANES[int(i)] for i in extra]
    return [planes[int(i)] for i in rng.permutation(len(planes))]


def plan_patient(seed: int, index: int, label: str, size: tuple[int, int]) -> PatientPlan:
    """Everything random about one patient, images included."""
    rng = np.random.default_rng([seed, _PATIENT, index])
    ga_weeks = int(rng.integers(12 * 7, 40 * 7 + 1)) / 7.0
    site = get_site(SITE_NAMES[int(rng.integers(len(SITE_NAMES)))])
    patient_id = patient_id_for(seed, index)
    header = draw_header_info(rng, ga_weeks, patient_id)
    traits = draw_traits(label, ga_weeks, rng)
    planes = _plan_planes(rng)
    cine_index = int(rng.integers(len(planes)))
    cine_frames = int(rng.integers(CINE_FRAMES[0], CINE_FRAMES[1] + 1))
    images = []
    for j, plane in enumerate(planes):
        image_rng = np.random.default_rng([seed, _IMAGE, index, j])
        images.append(
            PlannedImage(
                index=j + 1,
                plane=plane,
                view=sample_view(plane, ga_weeks, site, size, image_rng),
                cine_frames=cine_frames if j == cine_index else 1,
                anomaly_visible=anomaly_visible(traits, plane),
            )
        )
    return PatientPlan(patient_id, label, ga_weeks, site.name, traits, header, tuple(images))


def plan_phantom_set(
    n_patients: int, seed: int, size: tuple[int, int] = DEFAULT_SIZE
) -> tuple[PatientPlan, ...]:
    """The plan of a study of ``n_patients`` with classes balanced across patients."""
    _check_counts(n_patients, seed)
    size = check_size(size)
    labels = class_for_patients(n_patients, seed)
    return tuple(plan_patient(seed, i, label, size) for i, label in enumerate(labels))


def iter_rendered(
    plans, size: tuple[int, int] = DEFAULT_SIZE, cine: bool = False
) -> Iterator[RenderedImage]:
    """Render planned images in memory (``cine``: all frames of cine images, else frame 0)."""
    size = check_size(size)
    for patient in plans:
        site = get_site(patient.site)
        for image in patient.images:
            n_frames = image.cine_frames if cine else 1
            frames, texts = render_frames_and_text(
                patient.traits, image.view, site, size, patient.header, n_frames
            )
            yield RenderedImage(patient, image, tuple(frames), tuple(map(tuple, texts)))


def _check_counts(n_patients: int, seed: int) -> None:
    if int(n_patients) < 1:
        raise ValueError(f"need at least one patient, got {n_patients}")
    if int(seed) < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")


def _write_png(path: Path, image: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise OSError(f"could not encode {path.name} as PNG")
    path.write_bytes(encoded.tobytes())


def generate_phantom_set(
    out_dir: str | Path,
    n_patients: int,
    seed: int,
    fmt: str = "png",
    size: tuple[int, int] = DEFAULT_SIZE,
) -> Path:
    """Write a phantom study under ``out_dir`` and return the path of its manifest CSV.

    Files go to ``out_dir/<patient_id>/imgNN.png|.dcm``; with ``fmt="both"`` every image is
    written in both formats and listed once per file. In DICOM one image per patient is a
    short cine (listed once; readers expand the frames).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    from phantoms.dicom_writer import write_phantom_dicom  # pydicom only when needed

    out_dir = Path(out_dir)
    plans = plan_phantom_set(n_patients, seed, size)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, text_boxes = [], {}
    want_dicom = fmt in ("dicom", "both")
    for rendered in iter_rendered(plans, size, cine=want_dicom):
        patient, image = rendered.patient, rendered.image
        folder = out_dir / patient.patient_id
        folder.mkdir(exist_ok=True)
        stem = f"img{image.index:02d}"
        written = []
        if fmt in ("png", "both"):
            _write_png(folder / f"{stem}.png", rendered.frames[0])
            written.append(f"{stem}.png")
        if want_dicom:
            write_phantom_dicom(folder / f"{stem}.dcm", rendered, seed, size)
            written.append(f"{stem}.dcm")
        for name in written:
            rows.append(_manifest_row(f"{patient.patient_id}/{name}", patient, image))
            frames = rendered.texts if name.endswith(".dcm") else rendered.texts[:1]
            text_boxes[f"{patient.patient_id}/{name}"] = [
                [drawn.as_json() for drawn in frame] for frame in frames
            ]
        if image.index == len(patient.images):
            log.info("patient %s (%d images) written", patient.patient_id, len(patient.images))
    manifest = out_dir / MANIFEST_NAME
    _write_manifest(manifest, rows)
    (out_dir / TEXT_BOXES_NAME).write_text(
        json.dumps({"image_size": list(size), "files": text_boxes}, indent=1), encoding="utf-8"
    )
    return manifest


def _manifest_row(path: str, patient: PatientPlan, image: PlannedImage) -> dict[str, str]:
    return {
        "path": path,
        "patient_id": patient.patient_id,
        "label": patient.label,
        "ga_weeks": f"{patient.ga_weeks:.2f}",
        "site": patient.site,
        "plane": image.plane,
        "anomaly_visible": "1" if image.anomaly_visible else "0",
    }


def _write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
