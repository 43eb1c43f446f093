"""The de-identification mask of burned-in text (issue 15): a name line whose baseline sits
just below the fixed header band left its lower half readable in de-identified mode."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from desktop.rendering import deidentify_pixels


def _header_image(name_baseline: float, h: int = 256, w: int = 320, footer: bool = False):
    """A dark frame with a speckled sector in the middle and scanner text in the corners, laid
    out as the phantom sites burn it (hospital line, then name and id at ``name_baseline``)."""
    rng = np.random.default_rng(0)
    image = np.zeros((h, w), np.uint8)
    cv2.ellipse(image, (w // 2, int(h * 0.1)), (int(h * 0.85), int(h * 0.85)), 90, -35, 35, 1, -1)
    image = np.where(image > 0, rng.integers(40, 200, (h, w)), 0).astype(np.uint8)
    scale = 1.05 * h / 256.0
    font = cv2.FONT_HERSHEY_PLAIN
    text = np.zeros((h, w), np.uint8)
    cv2.putText(text, "Kestrel Bay Centre", (6, int(h * 0.045)), font, scale, 255, 1, cv2.LINE_AA)
    name = "KALMARR, Orla  ID PH1-0001"
    cv2.putText(text, name, (6, int(round(h * name_baseline))), font, scale, 255, 1, cv2.LINE_AA)
    if footer:
        cv2.putText(
            text, "08.03.2024 14:33:48", (6, int(h * 0.965)), font, scale, 255, 1, cv2.LINE_AA
        )
    out = np.maximum(image, text)
    return np.repeat(out[..., None], 3, axis=2), text


@pytest.mark.parametrize("baseline", [0.095, 0.105, 0.15])
def test_no_residue_of_the_name_line(baseline):
    pixels, text = _header_image(baseline)
    masked = deidentify_pixels(pixels, None)
    assert masked[text > 0].max() == 0, "part of the burned-in name line is still visible"


def test_exam_date_in_a_lower_corner_is_masked():
    pixels, text = _header_image(0.095, footer=True)
    masked = deidentify_pixels(pixels, None)
    assert masked[text > 0].max() == 0


def test_the_sector_below_the_header_is_kept():
    pixels, text = _header_image(0.095)
    masked = deidentify_pixels(pixels, None)
    h = pixels.shape[0]
    middle = slice(int(h * 0.3), int(h * 0.85))
    assert np.array_equal(masked[middle], pixels[middle])
