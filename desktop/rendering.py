"""Pixel steps for display: small pure functions over numpy arrays, plus numpy -> QImage.

The heatmap layer is ``core.heatmap_overlay.render_overlay`` as an RGBA layer (the same
placing and colouring functions, not a copy), so the viewer can change opacity by painting
with an alpha instead of re-blending; ``tests/desktop/test_gui_rendering.py`` checks the two
agree.
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage

from core.heatmap_overlay import colormap_legend, colour_map, place_cam
from core.records import Box

#: Height of the burned-in header band masked in de-identified mode (fraction of the height).
HEADER_BAND_FRACTION = 0.08
#: Rows at the top of a declared ultrasound region masked as well (header text descenders).
REGION_TOP_MARGIN_FRACTION = 0.02


def brightness_contrast_lut(brightness: int, contrast_percent: int, invert: bool) -> np.ndarray:
    """256-entry lookup table: contrast about mid-grey, then brightness, then inversion."""
    values = np.arange(256, dtype=np.float32)
    values = (values - 128.0) * (contrast_percent / 100.0) + 128.0 + brightness
    lut = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return 255 - lut if invert else lut


def apply_brightness_contrast(
    pixels: np.ndarray, brightness: int, contrast_percent: int, invert: bool
) -> np.ndarray:
    """Brightness/contrast/invert applied to H x W x 3 uint8 (returns the input when unchanged)."""
    if brightness == 0 and contrast_percent == 100 and not invert:
        return pixels
    return cv2.LUT(pixels, brightness_contrast_lut(brightness, contrast_percent, invert))


def deidentify_pixels(pixels: np.ndarray, region: Box | None) -> np.ndarray:
    """Mask burned-in text: black outside the ultrasound region and over the header band.

    Scanners burn patient name, id and date into the frame around the ultrasound sector; the
    DICOM Sequence of Ultrasound Regions says where the sector is, so everything else goes.
    The top header band is blacked out in every case, and the region's first rows too: a
    region is the sector's bounding box, and the descenders of a header line just above it
    reach into it. Text burned into the sector itself cannot be found from geometry.
    """
    h, w = pixels.shape[:2]
    keep = np.zeros((h, w), dtype=bool)
    x0, y0, x1, y1 = (0, 0, w, h) if region is None else region
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 > x0 and y1 > y0:
        keep[y0:y1, x0:x1] = True
    if region is not None:
        keep[y0 : y0 + int(np.ceil(h * REGION_TOP_MARGIN_FRACTION))] = False
    keep[: int(np.ceil(h * HEADER_BAND_FRACTION))] = False
    return np.where(keep[..., None], pixels, 0).astype(pixels.dtype)


def heatmap_layer(
    cam: np.ndarray, box: Box, image_shape: tuple[int, int], threshold: float = 0.0
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """RGBA layer (opaque where cam >= threshold) and its top-left corner in image pixels.

    Same placing and colouring as ``render_overlay`` (``core.heatmap_overlay``); painting it
    with opacity ``o`` equals ``render_overlay(opacity=o)``.
    """
    placed = place_cam(cam, box, image_shape)
    if placed is None:
        return None
    full, origin = placed
    alpha = np.where(full >= threshold, 255, 0).astype(np.uint8)
    return np.ascontiguousarray(np.dstack([colour_map(full), alpha])), origin


def legend_pixels(width: int = 160, height: int = 10) -> np.ndarray:
    """Colour bar low -> high for the viewer's heatmap legend (the overlay's own legend)."""
    return colormap_legend(width, height)


def thumbnail(pixels: np.ndarray, max_side: int = 120) -> np.ndarray:
    """A small copy for the thumbnail strip (area interpolation: no aliasing)."""
    h, w = pixels.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return np.ascontiguousarray(pixels)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def to_qimage(pixels: np.ndarray) -> QImage:
    """H x W x 3 (RGB) or H x W x 4 (RGBA) uint8 -> a QImage that owns its memory."""
    arr = np.ascontiguousarray(pixels)
    h, w, channels = arr.shape
    fmt = QImage.Format.Format_RGB888 if channels == 3 else QImage.Format.Format_RGBA8888
    return QImage(arr.data, w, h, arr.strides[0], fmt).copy()


def qimage_to_array(image: QImage) -> np.ndarray:
    """A QImage (any format) -> H x W x 3 uint8 RGB copy (for tests and exports)."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = rgb.height(), rgb.width(), rgb.bytesPerLine()
    buf = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=stride * h).reshape(h, stride)
    return buf[:, : w * 3].reshape(h, w, 3).copy()
