"""Burned-in text found by OCR (Tesseract), for de-identification (docs/deidentification.md).

``core.deidentify.mask_burned_in_text`` masks by geometry: everything outside the ultrasound
region and the header/footer text lines in the corners. Text inside the region (a caliper
readout, a name typed over the image) needs reading. ``find_text_boxes`` runs Tesseract's
word detector (``image_to_data``) on a preprocessed copy and returns line boxes; ``TextMasker``
caches them per image (SHA-256 of the pixels) because OCR costs about a second per image
(docs/deidentification.md has the measurements).

Preprocessing, and why: ultrasound text is light on dark and often 8-12 px high; Tesseract is
trained on dark text on light paper, 20-40 px high. So the brightest channel is taken (text may
be yellow or green), the image is upscaled so its height is about ``TARGET_HEIGHT`` (cubic),
inverted, and Tesseract reads it as sparse text (``--psm 11``: no page layout, words anywhere).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import CNSightError
from .records import Box

#: Images are upscaled to about this height before OCR (factor 1 to ``MAX_UPSCALE``).
TARGET_HEIGHT = 768
MAX_UPSCALE = 4
#: Words Tesseract is less sure of than this (0-100) are dropped: speckle read as letters.
MIN_CONFIDENCE = 40
#: Word boxes that cannot be text are dropped: lower than ``MIN_WORD_HEIGHT`` px, higher than
#: ``MAX_WORD_HEIGHT_FRACTION`` of the image, or wider than ``MAX_WIDTH_PER_CHAR`` heights per
#: character (Tesseract reads a speckle streak or a colour-Doppler blob as "3" 476 px wide).
MIN_WORD_HEIGHT = 4
MAX_WORD_HEIGHT_FRACTION = 0.1
MAX_WIDTH_PER_CHAR = 2.0
#: ... or higher than this many times the median word height (with three words or more):
#: a scanner writes in one or two font sizes.
MAX_HEIGHT_OVER_MEDIAN = 2.5
#: Words of one or two letters or digits need this confidence: speckle is read as "Ss", "PE".
MIN_SHORT_WORD_CONFIDENCE = 60
#: Mask margin around a found line, as a fraction of the line's height (descenders, accents
#: and the anti-aliased edge of the glyphs that the word box leaves out).
BOX_MARGIN_FRACTION = 0.35
#: Words of one line further apart than this many line heights are separate boxes.
LINE_GAP_HEIGHTS = 2.5
#: A found line is extended sideways over glyph-bright columns no further apart than this
#: many line heights (Tesseract often drops a line's first or last characters: "1 BPD" read
#: as "BPD", "PH301-0001" as "PH3OL" with a box that stops before "0001"), at most
#: ``MAX_EXTENSION_HEIGHTS`` line heights each way.
EXTENSION_GAP_HEIGHTS = 1.0
MAX_EXTENSION_HEIGHTS = 8.0
#: Inked columns running wider than this many line heights are no glyph: the walk stops.
MAX_GLYPH_WIDTH_HEIGHTS = 3.0
#: Tesseract: sparse text, one thread (the app and the CLIs run several images in parallel).
TESSERACT_CONFIG = "--psm 11 -c tessedit_do_invert=0"
INSTALL_HINT = "run scripts/install-system-deps.sh (installs the Debian package tesseract-ocr)"


class OcrUnavailable(CNSightError):
    """Tesseract cannot run here (not installed, not executable, broken install)."""


@dataclass(frozen=True)
class TextBox:
    """One line of burned-in text: its box (x0, y0, x1, y1, ends exclusive) in image pixels,
    what Tesseract read and its lowest word confidence."""

    box: Box
    text: str
    confidence: float


def ocr_grey(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """The image Tesseract reads (dark text on light, upscaled) and the upscale factor."""
    grey = pixels.max(axis=2) if pixels.ndim == 3 else pixels
    grey = np.ascontiguousarray(grey, dtype=np.uint8)
    scale = float(np.clip(np.ceil(TARGET_HEIGHT / max(1, grey.shape[0])), 1, MAX_UPSCALE))
    if scale > 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return 255 - grey, scale


def _plausible(box: Box, text: str, image_height: int) -> bool:
    width, height = box[2] - box[0], box[3] - box[1]
    if not MIN_WORD_HEIGHT <= height <= MAX_WORD_HEIGHT_FRACTION * image_height:
        return False
    return width <= MAX_WIDTH_PER_CHAR * height * (len(text) + 1)


def _words(
    data: dict, scale: float, image_height: int
) -> list[tuple[tuple[int, int, int], Box, str, float]]:
    """(line key, box in image pixels, text, confidence) of each word worth keeping."""
    words = []
    for i, text in enumerate(data["text"]):
        text, conf = str(text).strip(), float(data["conf"][i])
        alnum = sum(c.isalnum() for c in text)
        if conf < MIN_CONFIDENCE or not alnum or (alnum < 3 and conf < MIN_SHORT_WORD_CONFIDENCE):
            continue
        x, y, w, h = (data[k][i] / scale for k in ("left", "top", "width", "height"))
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        box = (int(np.floor(x)), int(np.floor(y)), int(np.ceil(x + w)), int(np.ceil(y + h)))
        if not _plausible(box, text, image_height):
            continue
        words.append((key, box, text, conf))
    if len(words) >= 3:
        median = float(np.median([w[1][3] - w[1][1] for w in words]))
        words = [w for w in words if w[1][3] - w[1][1] <= MAX_HEIGHT_OVER_MEDIAN * median]
    return words


def _lines(words) -> list[TextBox]:
    """Words of one Tesseract line joined into boxes (split where the gap is wide: two
    columns Tesseract put on one line), so the spaces between words are masked too."""
    lines: list[TextBox] = []
    current: list = []
    for word in sorted(words, key=lambda w: (w[0], w[1][0])):
        if current:
            (key, box, _, _), height = current[-1], current[-1][1][3] - current[-1][1][1]
            if word[0] != key or word[1][0] - box[2] > LINE_GAP_HEIGHTS * max(height, 1):
                lines.append(_join(current))
                current = []
        current.append(word)
    if current:
        lines.append(_join(current))
    return lines


def _join(words) -> TextBox:
    boxes = np.array([w[1] for w in words])
    box = (int(boxes[:, 0].min()), int(boxes[:, 1].min()), int(boxes[:, 2].max()))
    box = (*box, int(boxes[:, 3].max()))
    return TextBox(box, " ".join(w[2] for w in words), min(w[3] for w in words))


def _extended(grey: np.ndarray, line: TextBox) -> TextBox:
    """``line`` widened over the bright columns that continue it on its rows: a column is
    inked when its brightest pixel in the line's rows reaches 60 % of the line's own glyph
    brightness (the 95th percentile inside its box)."""
    x0, y0, x1, y1 = line.box
    height = max(1, y1 - y0)
    inside = grey[y0:y1, x0:x1]
    if inside.size == 0:
        return line
    inked = grey[y0:y1].max(axis=0) >= max(60.0, 0.8 * float(np.percentile(inside, 95)))
    gap = int(np.ceil(EXTENSION_GAP_HEIGHTS * height))
    # At most a few characters more than Tesseract read: speckle would carry it on forever.
    reach = int(min(MAX_EXTENSION_HEIGHTS, len(line.text) + 2) * height)

    def walk(start: int, step: int) -> int:
        """The last inked column of the text continuing from ``start``, stopping before
        anything inked wider than a glyph (a bright echo, colour Doppler)."""
        last = before_run = x = start
        run = 0
        while 0 <= x + step < grey.shape[1] and abs(x + step - start) <= reach:
            x += step
            if not inked[x]:
                run = 0
                if abs(x - last) > gap:
                    break
                continue
            if run == 0:
                before_run = last
            run += 1
            if run > MAX_GLYPH_WIDTH_HEIGHTS * height:
                return before_run
            last = x
        return last

    left, right = walk(x0, -1), walk(x1 - 1, 1) + 1
    return TextBox((left, y0, right, y1), line.text, line.confidence)


def check_ocr() -> str:
    """Tesseract's version, or ``OcrUnavailable`` saying how to install it (a CLI's first
    check, before any output is written)."""
    import pytesseract

    try:
        return str(pytesseract.get_tesseract_version())
    except _not_runnable(pytesseract) as exc:
        raise _unavailable(pytesseract, exc) from exc


def _not_runnable(pytesseract) -> tuple[type[Exception], ...]:
    """What pytesseract raises when the Tesseract binary is missing or cannot be executed."""
    return pytesseract.TesseractNotFoundError, FileNotFoundError, PermissionError


def _unavailable(pytesseract, exc: Exception) -> OcrUnavailable:
    """The error for a Tesseract that cannot run: names the binary and how to install it."""
    return OcrUnavailable(
        f"OCR for burned-in text is unavailable: Tesseract "
        f"({pytesseract.pytesseract.tesseract_cmd}) cannot be run ({exc.__class__.__name__}); "
        f"{INSTALL_HINT}"
    )


def _limit_tesseract_threads(pytesseract) -> None:
    """Run Tesseract with one OpenMP thread (its own threads fight the app's worker threads for
    two cores), through the environment of the Tesseract process only.

    Never by setting ``OMP_THREAD_LIMIT`` in this process's ``os.environ``: libgomp reads it
    when torch loads it, and oneDNN's convolution backward then waits forever at a barrier for
    a second thread that the limit never starts (a Grad-CAM backward hung for over 7 minutes;
    tests/core/test_burned_text.py::test_ocr_leaves_this_process_threads_alone). pytesseract
    passes its module's ``environ`` to every subprocess it starts, so that mapping is replaced
    by a copy of ours plus the limit, rebuilt per call so later changes (TESSDATA_PREFIX) count.
    """
    pytesseract.pytesseract.environ = {**os.environ, "OMP_THREAD_LIMIT": "1"}


def find_text_boxes(pixels: np.ndarray) -> tuple[TextBox, ...]:
    """Lines of text Tesseract finds in ``pixels`` (H x W or H x W x 3 uint8), in image pixels.

    Raises ``OcrUnavailable`` when Tesseract cannot run (the message says how to install it).
    Slow (about a second per image): call it off the GUI thread, through ``TextMasker``.
    """
    import pytesseract  # only here: the heuristic mask works without it

    grey, scale = ocr_grey(pixels)
    _limit_tesseract_threads(pytesseract)
    try:
        data = pytesseract.image_to_data(
            grey, config=TESSERACT_CONFIG, output_type=pytesseract.Output.DICT
        )
    except _not_runnable(pytesseract) as exc:
        raise _unavailable(pytesseract, exc) from exc
    except pytesseract.TesseractError as exc:
        raise OcrUnavailable(
            f"OCR for burned-in text failed: Tesseract said {exc.message!r}; {INSTALL_HINT}"
        ) from exc
    bright = pixels.max(axis=2) if pixels.ndim == 3 else pixels
    return tuple(_extended(bright, line) for line in _lines(_words(data, scale, pixels.shape[0])))


def grown(box: Box, shape: tuple[int, ...], margin_fraction: float = BOX_MARGIN_FRACTION) -> Box:
    """``box`` grown by ``margin_fraction`` of its height on every side, clipped to the image."""
    x0, y0, x1, y1 = box
    m = int(np.ceil(margin_fraction * max(1, y1 - y0))) + 1
    return max(0, x0 - m), max(0, y0 - m), min(shape[1], x1 + m), min(shape[0], y1 + m)


def boxes_mask(shape: tuple[int, ...], boxes) -> np.ndarray:
    """H x W bool: True over every box (``TextBox`` or plain (x0, y0, x1, y1)) grown by its
    margin."""
    mask = np.zeros(shape[:2], dtype=bool)
    for item in boxes:
        x0, y0, x1, y1 = grown(item.box if isinstance(item, TextBox) else item, shape)
        mask[y0:y1, x0:x1] = True
    return mask


def pixels_key(pixels: np.ndarray) -> str:
    """The cache key of an image: SHA-256 of its shape and bytes."""
    digest = hashlib.sha256(repr((pixels.shape, pixels.dtype.str)).encode())
    digest.update(np.ascontiguousarray(pixels).data)
    return digest.hexdigest()


class TextMasker:
    """OCR results per image, cached by pixel hash (thread-safe; least recently used out).

    ``boxes`` is the slow call (run it on a worker thread); ``known`` answers at once from
    the cache. When Tesseract cannot run, ``boxes`` raises ``OcrUnavailable`` every time (the
    caller decides: the app falls back to the geometric mask and says so, the anonymise export
    refuses), and ``unavailable`` keeps the message.
    """

    def __init__(self, capacity: int = 512):
        self._cache: OrderedDict[str, tuple[TextBox, ...]] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()
        self.unavailable: str | None = None

    def known(self, pixels: np.ndarray) -> tuple[TextBox, ...] | None:
        key = pixels_key(pixels)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        return None

    def boxes(self, pixels: np.ndarray) -> tuple[TextBox, ...]:
        key = pixels_key(pixels)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            found = find_text_boxes(pixels)
        except OcrUnavailable as exc:
            self.unavailable = str(exc)
            raise
        with self._lock:
            self._cache[key] = found
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        return found


#: The one cache the app and the CLIs share in a process.
TEXT_MASKER = TextMasker()
