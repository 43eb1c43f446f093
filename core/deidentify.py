"""De-identification shared by the app, ``cnsight-predict --deidentify`` and
``cnsight-eval --deidentify`` (docs/security.md, "Patient data"):

- ``mask_burned_in_text``: black out the text scanners burn into the frame (name, id, date):
  geometry (``heuristic_text_mask``) plus, when given, the lines OCR found
  (``core.burned_text``); ``mask_with_ocr`` / ``mask_if_ready`` do both, cached, for the app;
- ``Pseudonyms``: case and image labels ("case-003", "case-003/image-02") for ids and paths;
- ``scrub``: an error message with file paths and quoted names taken out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .burned_text import INSTALL_HINT, TEXT_MASKER, OcrUnavailable, TextMasker, boxes_mask
from .records import Box, ImageRef

#: Height of the header band always masked (fraction of the height).
HEADER_BAND_FRACTION = 0.08
#: Rows at the top of a declared ultrasound region masked as well (header text descenders).
REGION_TOP_MARGIN_FRACTION = 0.02
#: How far down the header band grows when text lines continue below it (fraction).
HEADER_SEARCH_FRACTION = 0.2
#: How far up from the bottom text lines are looked for (exam dates in the lower corners).
FOOTER_SEARCH_FRACTION = 0.1
#: Width of the left and right strips searched for header text (fraction of the width): the
#: sector's apex is in the middle, the name / id / date lines sit in the corners.
HEADER_SIDE_FRACTION = 0.35
#: A row holds text when it has at least this many sharp horizontal steps (glyph edges).
_TEXT_EDGES_PER_ROW = 4
_TEXT_EDGE_STEP = 60


def _text_rows(grey: np.ndarray) -> np.ndarray:
    """Whether each row of ``grey`` holds glyph-like sharp steps."""
    steps = np.abs(np.diff(grey.astype(np.int16), axis=1)) > _TEXT_EDGE_STEP
    return steps.sum(axis=1) >= _TEXT_EDGES_PER_ROW


def header_band_rows(pixels: np.ndarray) -> int:
    """Rows from the top to mask: at least ``HEADER_BAND_FRACTION`` of the height, and down to
    the last row of text in the top ``HEADER_SEARCH_FRACTION`` of the left and right strips
    (a name line whose baseline sits at 10 % of the height would otherwise keep its lower
    half), plus a margin for descenders."""
    h, w = pixels.shape[:2]
    band = int(np.ceil(h * HEADER_BAND_FRACTION))
    top, side = int(np.ceil(h * HEADER_SEARCH_FRACTION)), max(1, int(w * HEADER_SIDE_FRACTION))
    grey = pixels.max(axis=2) if pixels.ndim == 3 else pixels
    strips = (grey[:top, :side], grey[:top, w - side :])
    rows = np.zeros(top, dtype=bool)
    for strip in strips:
        rows |= _text_rows(strip)
    found = np.flatnonzero(rows)
    if found.size:
        band = max(band, min(top, int(found[-1]) + 1 + int(np.ceil(h * 0.015))))
    return band


def footer_band_rows(pixels: np.ndarray) -> int:
    """Rows from the bottom to mask: from the first row of text in the bottom
    ``FOOTER_SEARCH_FRACTION`` of the left and right strips (scanners that print the exam date
    in the lower corners), with a margin; 0 when there is none."""
    h, w = pixels.shape[:2]
    bottom, side = int(np.ceil(h * FOOTER_SEARCH_FRACTION)), max(1, int(w * HEADER_SIDE_FRACTION))
    grey = pixels.max(axis=2) if pixels.ndim == 3 else pixels
    rows = np.zeros(bottom, dtype=bool)
    for strip in (grey[h - bottom :, :side], grey[h - bottom :, w - side :]):
        rows |= _text_rows(strip)
    found = np.flatnonzero(rows)
    if not found.size:
        return 0
    return min(bottom, bottom - int(found[0]) + int(np.ceil(h * 0.015)))


def heuristic_text_mask(pixels: np.ndarray, region: Box | None) -> np.ndarray:
    """H x W bool, True where the geometric mask blacks out: outside the ultrasound region
    and over the header band.

    Scanners burn patient name, id and date into the frame around the ultrasound sector; the
    DICOM Sequence of Ultrasound Regions says where the sector is, so everything else goes.
    The top header band is blacked out in every case, down to the last header text line found
    in the corners (``header_band_rows``), text lines in the lower corners from the first one
    down (``footer_band_rows``), and the region's first rows too: a region is the
    sector's bounding box, and the descenders of a header line just above it reach into it.
    Text burned into the sector itself cannot be found from geometry: ``core.burned_text``
    reads it (``mask_burned_in_text(..., text_boxes)``).
    """
    h, w = pixels.shape[:2]
    keep = np.zeros((h, w), dtype=bool)
    x0, y0, x1, y1 = (0, 0, w, h) if region is None else region
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 > x0 and y1 > y0:
        keep[y0:y1, x0:x1] = True
    if region is not None:
        keep[y0 : y0 + int(np.ceil(h * REGION_TOP_MARGIN_FRACTION))] = False
    kept = np.where(keep[..., None] if pixels.ndim == 3 else keep, pixels, 0)
    keep[: header_band_rows(kept)] = False
    footer = footer_band_rows(kept)
    if footer:
        keep[h - footer :] = False
    return ~keep


def mask_burned_in_text(
    pixels: np.ndarray, region: Box | None, text_boxes: Iterable = ()
) -> np.ndarray:
    """``pixels`` with burned-in text blacked out: the geometric mask
    (``heuristic_text_mask``) and, when given, the text lines OCR found
    (``core.burned_text.TextBox`` or (x0, y0, x1, y1)), each grown by its margin."""
    masked = heuristic_text_mask(pixels, region)
    boxes = tuple(text_boxes)
    if boxes:
        masked |= boxes_mask(pixels.shape, boxes)
    return np.where(masked[..., None] if pixels.ndim == 3 else masked, 0, pixels).astype(
        pixels.dtype
    )


#: What the app says on the image while OCR cannot run (de-identified mode).
OCR_FALLBACK_WARNING = (
    "OCR unavailable: only the header and the area outside the ultrasound region are masked; "
    "text inside the region may be visible. " + INSTALL_HINT[0].upper() + INSTALL_HINT[1:] + "."
)


@dataclass(frozen=True)
class MaskedPixels:
    """De-identified pixels and how: ``ocr`` False means the geometric mask only (Tesseract
    could not run; ``warning`` says so and must be shown)."""

    pixels: np.ndarray
    ocr: bool
    warning: str | None = None


def mask_with_ocr(
    pixels: np.ndarray, region: Box | None, masker: TextMasker = TEXT_MASKER
) -> MaskedPixels:
    """The de-identified display of one image: geometric mask plus the text OCR finds.
    Slow the first time for an image (OCR; cached by pixel hash after): call it off the GUI
    thread. Without Tesseract: the geometric mask and ``OCR_FALLBACK_WARNING``."""
    try:
        boxes = masker.boxes(pixels)
    except OcrUnavailable:
        return MaskedPixels(mask_burned_in_text(pixels, region), False, OCR_FALLBACK_WARNING)
    return MaskedPixels(mask_burned_in_text(pixels, region, boxes), True)


def mask_if_ready(
    pixels: np.ndarray, region: Box | None, masker: TextMasker = TEXT_MASKER
) -> MaskedPixels | None:
    """``mask_with_ocr``'s answer if it costs nothing now (OCR cached, or known to be
    unavailable), else None: the caller shows nothing of the image until a worker has run
    ``mask_with_ocr`` (never the image with only the geometric mask)."""
    if masker.unavailable is not None:
        return MaskedPixels(mask_burned_in_text(pixels, region), False, OCR_FALLBACK_WARNING)
    boxes = masker.known(pixels)
    if boxes is None:
        return None
    return MaskedPixels(mask_burned_in_text(pixels, region, boxes), True)


class Pseudonyms:
    """Case labels for patients ("case-001", in the order given) and image labels for the
    images of each ("case-001/image-03"), stable within one run; unknown keys get the next."""

    def __init__(self, patient_ids: Iterable[str] = ()):
        self._cases: dict[str, str] = {}
        self._images: dict[str, str] = {}
        self._per_case: dict[str, int] = {}
        self._files = 0
        for pid in patient_ids:
            self.case(pid)

    def case(self, patient_id: str) -> str:
        if patient_id not in self._cases:
            self._cases[patient_id] = f"case-{len(self._cases) + 1:03d}"
        return self._cases[patient_id]

    def image(self, patient_id: str, ref: ImageRef | str) -> str:
        """The label of an image (a cine's frames share their file's label)."""
        key = str(ref.path) if isinstance(ref, ImageRef) else str(ref)
        case = self.case(patient_id)
        if key not in self._images:
            n = self._per_case.get(case, 0) + 1
            self._per_case[case] = n
            self._images[key] = f"{case}/image-{n:02d}"
        return self._images[key]

    def image_key(self, key: str) -> str:
        """The label already given to the image whose ref key (or path) is ``key``."""
        if key in self._images:
            return self._images[key]
        path, _, frame = key.rpartition("#")  # a cine's frame: "<path>#<frame>"
        return self._images.get(path, "image") if frame.isdigit() else "image"

    def file(self, path: str) -> str:
        """A label for a file that belongs to no patient (refused at discovery)."""
        if path not in self._images:
            self._files += 1
            self._images[path] = f"file-{self._files:03d}"
        return self._images[path]


_ABSOLUTE_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/][^\s'\"():,;]+(?:[\\/][^\s'\"():,;]*)*")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def scrub(message: str, paths: Iterable[str | Path] = ()) -> str:
    """``message`` without the given paths (and their file names), without any other absolute
    path and without quoted values (a manifest cell, a file name): what a de-identified
    error row may say."""
    text = str(message)
    for p in sorted({str(p) for p in paths if str(p)}, key=len, reverse=True):
        text = text.replace(p, "<file>")
        name = Path(p).name
        if len(name) > 3:
            text = text.replace(name, "<file>")
    text = _QUOTED.sub("<value>", text)
    return _ABSOLUTE_PATH.sub("<path>", text)
