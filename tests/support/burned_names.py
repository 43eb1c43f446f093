"""DICOM files with a patient's name and id burned in inside the ultrasound region (where the
geometric mask does not reach and only OCR finds it), for the de-identification tests of the
reading window and the PDF report."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from pydicom.sequence import Sequence

from phantoms.phantom_set import iter_rendered, plan_phantom_set
from tests.support.dicom_files import base_dataset, region_item, write_dicom

#: The ultrasound region of the files (x0, y0, x1, y1, exclusive; the DICOM item is inclusive).
REGION = (60, 45, 310, 250)
FONT = cv2.FONT_HERSHEY_SIMPLEX
#: Where the name is drawn: inside the region, below the header band, in the sector's dark top
#: (Tesseract reads it there; the geometric mask does not reach it).
NAME_AT, NAME_SCALE = (150, 75), 0.4
NAMES = {"P1": "DOE^JANE 0412345", "P2": "ROE^MARY 0598765"}
LABELS = {"P1": "normal", "P2": "anencephaly"}


def name_box(name: str) -> tuple[int, int, int, int]:
    """The drawn name's pixels (x0, y0, x1, y1), anti-aliased edges included."""
    (w, h), baseline = cv2.getTextSize(name, FONT, NAME_SCALE, 1)
    x, y = NAME_AT
    return x - 1, y - h - 1, x + w + 1, y + baseline + 1


def named_frames() -> dict[str, np.ndarray]:
    """A 320x256 phantom frame per patient with the patient's name and id drawn inside the
    region (the phantom's own header lines are outside it)."""
    frame = next(iter_rendered(plan_phantom_set(1, seed=301))).frames[0]
    frames = {}
    for patient, name in NAMES.items():
        image = frame.copy()
        cv2.putText(image, name, NAME_AT, FONT, NAME_SCALE, 255, 1, cv2.LINE_AA)
        frames[patient] = image
    return frames


def write_named_study(folder: Path, frames: dict[str, np.ndarray]) -> Path:
    """One DICOM file per patient (with the US region) and a manifest with their labels;
    returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["path,patient_id,label"]
    x0, y0, x1, y1 = REGION
    for patient, image in frames.items():
        ds = base_dataset(patient_id=patient)
        ds.SequenceOfUltrasoundRegions = Sequence([region_item(x0, y0, x1 - 1, y1 - 1)])
        write_dicom(folder / f"{patient}.dcm", image, ds=ds)
        rows.append(f"{patient}.dcm,{patient},{LABELS[patient]}")
    manifest = folder / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def shown_patient(pixels: np.ndarray, frames: dict[str, np.ndarray]) -> str:
    """Which patient's frame ``pixels`` (H x W x 3, as decoded) is."""
    return next(p for p, f in frames.items() if np.array_equal(pixels[..., 0], f))
