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

from core.deidentify import HEADER_BAND_FRACTION, REGION_TOP_MARGIN_FRACTION  # noqa: F401
from core.deidentify import mask_burned_in_text as deidentify_pixels  # noqa: F401 (one mask)
from core.heatmap_overlay import (  # noqa: F401 (the ramp's constants, re-exported)
    HEATMAP_OPAQUE_FROM,
    HEATMAP_TRANSPARENT_BELOW,
    colormap_legend,
    colour_map,
    heatmap_alpha,
    place_cam,
    render_overlay,
)
from core.records import Box


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


def heatmap_layer(
    cam: np.ndarray, box: Box, image_shape: tuple[int, int]
) -> tuple[np.ndarray, tuple[int, int]] | None:
    """RGBA layer and its top-left corner in image pixels: the map placed over the model's
    whole input box (clipped to the image) and coloured by ``core.heatmap_overlay``, its alpha
    ``heatmap_alpha`` (transparent low end). Painting it with opacity ``o`` equals
    ``blend_heatmap(opacity=o)``."""
    placed = place_cam(cam, box, image_shape)
    if placed is None:
        return None
    full, origin = placed
    alpha = np.uint8(np.rint(heatmap_alpha(full) * 255))
    return np.ascontiguousarray(np.dstack([colour_map(full), alpha])), origin


def blend_heatmap(pixels: np.ndarray, cam: np.ndarray, box: Box, opacity: float) -> np.ndarray:
    """The heatmap over H x W x 3 uint8 pixels as the viewer shows it (for the PDF report):
    ``core.heatmap_overlay.render_overlay``, the one blend the CLI's overlays use too."""
    return render_overlay(pixels, cam, box, opacity=opacity)


def legend_pixels(width: int = 160, height: int = 10) -> np.ndarray:
    """Colour bar low -> high for the heatmap legend, RGBA: its alpha is the overlay's
    (``heatmap_alpha``), so the bar shows where the map is transparent."""
    rgb = colormap_legend(width, height)
    alpha = np.uint8(np.rint(heatmap_alpha(np.linspace(0, 1, width)) * 255))
    return np.ascontiguousarray(np.dstack([rgb, np.tile(alpha, (height, 1))]))


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
