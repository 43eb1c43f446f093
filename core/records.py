"""Plain records passed between core, training and desktop (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.measurements.calibration import Calibration

#: (x0, y0, x1, y1) in pixels of the full image, end exclusive.
Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class ImageRef:
    """One image of a study: a single-frame file, or one frame of a multi-frame file."""

    path: Path
    frame: int | None = None  # index within a multi-frame file; None for single-frame files
    patient_id: str = ""
    study_uid: str = ""
    label: str | None = None  # ground truth class name, when known (manifest, dataset layout)
    ga_weeks: float | None = None
    site: str | None = None
    plane: str | None = None
    modality: str | None = None  # DICOM Modality when known ("US", "CT", ...)
    n_frames: int = 1  # frames in the file this image comes from

    @property
    def key(self) -> str:
        """Stable identifier of this image (path, plus ``#frame`` for multi-frame files)."""
        return str(self.path) if self.frame is None else f"{self.path}#{self.frame}"

    @property
    def name(self) -> str:
        return (
            self.path.name
            if self.frame is None
            else f"{self.path.name} [{self.frame + 1}/{self.n_frames}]"
        )


@dataclass(frozen=True)
class FileError:
    """A file that could not be used, with a specific, user-facing reason."""

    path: str
    message: str


@dataclass(frozen=True)
class Patient:
    """The images of one patient (one study), in reading order."""

    patient_id: str
    images: tuple[ImageRef, ...]
    study_uid: str = ""

    @property
    def label(self) -> str | None:
        """Patient-level truth: the one anomaly among the image labels, else normal, else None."""
        labels = {r.label for r in self.images if r.label}
        if not labels:
            return None
        abnormal = labels - {"normal"}
        if len(abnormal) == 1:
            return abnormal.pop()
        if not abnormal:
            return "normal"
        return None  # conflicting anomalies: no single truth

    @property
    def site(self) -> str | None:
        sites = {r.site for r in self.images if r.site}
        return sites.pop() if len(sites) == 1 else None

    @property
    def ga_weeks(self) -> float | None:
        gas = [r.ga_weeks for r in self.images if r.ga_weeks is not None]
        return float(np.median(gas)) if gas else None


@dataclass(frozen=True)
class Cohort:
    """What was found at a path: patients and the files that could not be used."""

    source: str
    patients: tuple[Patient, ...]
    errors: tuple[FileError, ...] = ()

    @property
    def images(self) -> tuple[ImageRef, ...]:
        return tuple(r for p in self.patients for r in p.images)


@dataclass(frozen=True)
class LoadedImage:
    """Pixels of one image, display-ready, plus what the pipeline needs to know about them."""

    ref: ImageRef
    pixels: np.ndarray  # H x W x 3 uint8 RGB, after every DICOM pixel step (LUTs, colour space)
    region: Box | None = None  # the ultrasound image area (DICOM US regions), None = whole image
    modality: str | None = None
    frame_time_ms: float | None = None  # for cines: time between frames
    header: dict[str, str] = field(default_factory=dict)  # displayable tags (DICOM tag view)
    warning: str | None = None  # e.g. "modality CT is out of scope" (still displayed, flagged)
    # Pixel -> mm (DICOM US regions, Pixel Spacing, Pixel Aspect Ratio); None: not known
    calibration: Calibration | None = None

    @property
    def in_scope(self) -> bool:
        return self.modality in (None, "US", "OT")
