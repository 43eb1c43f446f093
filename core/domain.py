"""Model-free input-domain checks: is this image something the model can assess at all?

The classifier labels anything it is given, so a power-Doppler lymph node, a CT slice or a grey
test pattern would otherwise get a confident-looking anomaly label. These checks run before the
model, on the pixels and the DICOM header only (numpy + OpenCV, a few ms at 800 x 600):

- ``not_ultrasound``: the DICOM Modality is known and is not ultrasound (the same rule as
  ``core.imaging.dicom_info.modality_warning``).
- ``too_small``: the assessed area (the DICOM ultrasound region, else the whole image) is too
  small or too elongated for the model input.
- ``blank``: the area is near-uniform or nearly empty (black cine frames, blank screens, text on
  a plain background).
- ``not_bmode``: colour (Doppler flow, colour pictures) covers more than a small share of the
  area; the model reads B-mode greyscale only. A uniform low-saturation tint (sepia or blue
  B-mode maps) is not colour.

``check_image`` runs them in that order and returns the first that fails. Images that pass are
still scored by the model-based out-of-distribution score (Mahalanobis distance on the
network's features, ``core.predictor``); ``out_of_distribution(score, threshold)`` writes that
verdict in the same form. ``INVALID_OUTPUT`` is the verdict on an image whose model output is
not a finite number (a corrupted or overflowing network): such a result is never a class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from core.imaging.dicom_info import modality_warning
from core.records import LoadedImage


@dataclass(frozen=True)
class DomainCheck:
    """Whether an image can be assessed by the model, and if not, why (for a radiologist)."""

    assessable: bool
    reason: str  # "" when assessable, else a key of REASONS
    message: str  # one plain sentence saying what was found, "" when assessable

    @property
    def label(self) -> str:
        """Short label of the reason ("" when assessable)."""
        return REASONS.get(self.reason, "")


ASSESSABLE = DomainCheck(True, "", "")

#: Reason code -> short label (for a table column or a badge).
REASONS = {
    "not_ultrasound": "not ultrasound",
    "too_small": "too small",
    "blank": "blank image",
    "not_bmode": "not B-mode greyscale",
    "out_of_distribution": "unlike the training images",
    "invalid_output": "no valid model output",
}

# --- too_small ---------------------------------------------------------------------------------
#: Shortest side, in pixels, of an area the model can assess. The model input is 112-224 px;
#: below 64 px the image is upsampled more than 3.5x, so the speckle texture and the bone edges
#: the model reads are gone. Real ultrasound images are 200 px or more (the smallest ultrasound
#: region among pydicom's files is 209 px, FBAU images are 640 px).
MIN_SIDE_PX = 64
#: Longest allowed long/short side ratio. Beyond 4:1 the image fills less than a quarter of the
#: square model input (pad-to-square framing), or the centre crop keeps less than a quarter of
#: it (centre-crop framing). Ultrasound regions are between 1:2 and 2:1 (pydicom's are <= 2.4).
MAX_ASPECT = 4.0

# --- blank -------------------------------------------------------------------------------------
#: Grey-level standard deviation below which an image is uniform. JPEG noise on a blank page is
#: ~1-2 levels; the darkest real fetal head image in FBAU still has 4.6.
BLANK_MAX_STD = 3.0
#: Grey levels a pixel must differ from the dominant (background) level to count as content.
#: Above JPEG ringing and noise (a few levels) and below the faintest tissue echo worth reading.
CONTENT_TOLERANCE = 10
#: Structures thinner than this (pixels) are removed before counting content: burned-in text,
#: calipers, frame lines and other overlay graphics are 1-3 px wide (a 7 px opening also removes
#: their letter junctions); tissue echoes are wider. 9 px would start to erode the faint skull
#: arcs of the darkest FBAU images.
THIN_STRUCTURE_PX = 7
#: Least share of the area that must be content. The darkest real FBAU image (a faint skull arc
#: on black) has 1.2%; an all-black cine frame with its text overlay has ~0%.
MIN_CONTENT_SHARE = 0.005

# --- not_bmode ---------------------------------------------------------------------------------
#: Chroma (max - min of R, G, B) a pixel needs to count as coloured. Greyscale JPEGs carry up to
#: ~26 levels of chroma noise (FBAU's maximum); the flow pixels of pydicom's power-Doppler
#: screens have a median chroma of 234-255.
MIN_CHROMA = 60
#: HSV saturation (chroma / max) a pixel needs to count as coloured. A sepia or blue B-mode map
#: gives every pixel one hue at a saturation well below this (0.38 for a sepia of gains 1, 0.82,
#: 0.62; 0.28 for a blue of 0.72, 0.86, 1); Doppler flow colours are near 1.
MIN_SATURATION = 0.5
#: Coloured specks thinner than this (pixels) are ignored: coloured text, calipers, markers.
COLOUR_SPECK_PX = 3
#: Largest share of the area that may be coloured. Colour scale bars, icons and coloured text
#: stay near or under 1% (1.0% outside the flow box on pydicom's Doppler screens, 0.14% in its OB
#: screen's region); the power-Doppler lymph nodes of pydicom's examples have 5%.
MAX_COLOUR_SHARE = 0.02


def _percent(share: float) -> str:
    """A share as a percentage with the precision a reader needs ("38%", "2.4%", "0.15%")."""
    if share >= 0.1:
        return f"{share:.0%}"
    if share >= 0.01:
        return f"{share:.1%}"
    return f"{share:.2%}"


def assessed_area(image: LoadedImage) -> np.ndarray:
    """The pixels the model would read: the DICOM ultrasound region, else the whole image."""
    if image.region is None:
        return image.pixels
    x0, y0, x1, y1 = image.region
    return image.pixels[y0:y1, x0:x1]


def _area_name(image: LoadedImage) -> str:
    return "the ultrasound region" if image.region is not None else "the image"


def check_ultrasound_modality(image: LoadedImage) -> DomainCheck:
    """``not_ultrasound`` when the DICOM Modality is known and is neither US nor OT."""
    if modality_warning(image.modality) is None:
        return ASSESSABLE
    return DomainCheck(
        False,
        "not_ultrasound",
        f"the DICOM modality is {image.modality}, not ultrasound: the model reads fetal "
        "ultrasound only",
    )


def check_size(image: LoadedImage, area: np.ndarray) -> DomainCheck:
    """``too_small`` when the area's short side is under MIN_SIDE_PX or its aspect over
    MAX_ASPECT."""
    height, width = area.shape[:2]
    short, long = min(height, width), max(height, width)
    what = _area_name(image)
    if short < MIN_SIDE_PX:
        return DomainCheck(
            False,
            "too_small",
            f"{what} is {width} x {height} px: too small to assess (at least {MIN_SIDE_PX} px "
            "on each side)",
        )
    if long / short > MAX_ASPECT:
        return DomainCheck(
            False,
            "too_small",
            f"{what} is {width} x {height} px, {long / short:.0f} times longer than wide: too "
            f"elongated to assess (at most {MAX_ASPECT:.0f}:1)",
        )
    return ASSESSABLE


def greyscale(area: np.ndarray) -> np.ndarray:
    """The area as one 8-bit grey channel (BT.601 luma, like the display)."""
    return cv2.cvtColor(np.ascontiguousarray(area), cv2.COLOR_RGB2GRAY)


def dominant_level(grey: np.ndarray) -> int:
    """The most frequent grey level (the background: black around a sector, or a plain fill)."""
    hist = cv2.calcHist([grey], [0], None, [256], [0, 256])
    return int(np.argmax(hist))


def content_share(grey: np.ndarray) -> float:
    """Share of the area that differs from the background by more than CONTENT_TOLERANCE, once
    structures thinner than THIN_STRUCTURE_PX (text, lines) are removed."""
    background = np.full_like(grey, dominant_level(grey))
    differs = cv2.compare(cv2.absdiff(grey, background), CONTENT_TOLERANCE, cv2.CMP_GT)
    kernel = np.ones((THIN_STRUCTURE_PX, THIN_STRUCTURE_PX), np.uint8)
    solid = cv2.morphologyEx(differs, cv2.MORPH_OPEN, kernel)
    return cv2.countNonZero(solid) / grey.size


def _background_name(level: int) -> str:
    if level < 16:
        return "black"
    if level > 240:
        return "white"
    return "plain grey"


def check_not_blank(image: LoadedImage, grey: np.ndarray) -> DomainCheck:
    """``blank`` when the area is near-uniform (std under BLANK_MAX_STD) or shows content on
    less than MIN_CONTENT_SHARE of it (black frames, text on a plain background)."""
    what = _area_name(image)
    spread = float(cv2.meanStdDev(grey)[1][0, 0])
    if spread < BLANK_MAX_STD:
        return DomainCheck(
            False,
            "blank",
            f"{what} is blank: almost uniform (grey levels vary by {spread:.1f} on average)",
        )
    share = content_share(grey)
    if share < MIN_CONTENT_SHARE:
        background = _background_name(dominant_level(grey))
        return DomainCheck(
            False,
            "blank",
            f"{what} is nearly empty: only {_percent(share)} of it shows anything but the "
            f"{background} background, once text and lines are set aside",
        )
    return ASSESSABLE


def colour_share(area: np.ndarray) -> float:
    """Share of the area in saturated colour (chroma >= MIN_CHROMA and saturation >=
    MIN_SATURATION), once specks thinner than COLOUR_SPECK_PX (coloured text) are removed."""
    area = np.ascontiguousarray(area)
    # extractChannel, not cv2.split: several times faster on an 800 x 600 image.
    red, green, blue = (cv2.extractChannel(area, channel) for channel in range(3))
    brightest = cv2.max(cv2.max(red, green), blue)
    chroma = cv2.subtract(brightest, cv2.min(cv2.min(red, green), blue))
    strong = cv2.compare(chroma, MIN_CHROMA, cv2.CMP_GE)
    # saturation = chroma / brightest >= MIN_SATURATION, in uint8 without a division.
    limit = cv2.convertScaleAbs(brightest, alpha=MIN_SATURATION)
    saturated = cv2.compare(chroma, limit, cv2.CMP_GE)
    coloured = cv2.bitwise_and(strong, saturated)
    kernel = np.ones((COLOUR_SPECK_PX, COLOUR_SPECK_PX), np.uint8)
    return cv2.countNonZero(cv2.morphologyEx(coloured, cv2.MORPH_OPEN, kernel)) / chroma.size


def check_greyscale(image: LoadedImage, area: np.ndarray) -> DomainCheck:
    """``not_bmode`` when saturated colour covers more than MAX_COLOUR_SHARE of the area."""
    share = colour_share(area)
    if share <= MAX_COLOUR_SHARE:
        return ASSESSABLE
    return DomainCheck(
        False,
        "not_bmode",
        f"colour covers {_percent(share)} of {_area_name(image)} (colour Doppler or a colour "
        "picture): the model reads B-mode greyscale only",
    )


def check_image(image: LoadedImage) -> DomainCheck:
    """The first failing model-free check (modality, size, blank, colour), else ASSESSABLE."""
    check = check_ultrasound_modality(image)
    if not check.assessable:
        return check
    area = assessed_area(image)
    check = check_size(image, area)
    if not check.assessable:
        return check
    check = check_not_blank(image, greyscale(area))
    if not check.assessable:
        return check
    return check_greyscale(image, area)


def out_of_distribution(score: float, threshold: float) -> DomainCheck:
    """The model-based verdict: ASSESSABLE when ``score <= threshold``, else
    ``out_of_distribution`` (also when the score is not a finite number)."""
    if math.isfinite(score) and score <= threshold:
        return ASSESSABLE
    if not math.isfinite(score):
        detail = "its out-of-distribution score could not be computed"
    else:
        detail = f"out-of-distribution score {score:.3g}, threshold {threshold:.3g}"
    return DomainCheck(
        False,
        "out_of_distribution",
        "the image does not look like the fetal head and spine ultrasound the model was "
        f"trained on ({detail}): its label would not be meaningful",
    )


#: The model's output for the image is not a finite number: never read as a class (an argmax
#: over NaN probabilities is the first class, "normal").
INVALID_OUTPUT = DomainCheck(
    False,
    "invalid_output",
    "the model's output for this image is not a finite number (the model or its input is "
    "corrupted or out of range): there is no result to show",
)
