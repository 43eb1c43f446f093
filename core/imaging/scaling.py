"""Small pure steps shared by the raster and DICOM paths: value scaling and channel layout."""

from __future__ import annotations

import numpy as np


def minmax_to_unit(arr: np.ndarray) -> np.ndarray:
    """Scale values linearly so the minimum is 0.0 and the maximum 1.0 (float32).

    A constant image (maximum == minimum) becomes all 0.0: there is no contrast to show.
    """
    values = arr.astype(np.float64, copy=False)
    lo = float(np.min(values))
    hi = float(np.max(values))
    if not np.isfinite(lo) or not np.isfinite(hi):
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.float32)
    return ((values - lo) / (hi - lo)).astype(np.float32)


def unit_to_uint8(unit: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to uint8 0..255 (rounded, clipped)."""
    return np.clip(np.rint(np.asarray(unit, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def full_range_to_uint8(arr: np.ndarray, bits: int) -> np.ndarray:
    """Scale unsigned integers of ``bits`` significant bits (0 .. 2**bits - 1) to uint8."""
    if arr.dtype == np.uint8 and bits == 8:
        return arr
    top = float(2**bits - 1)
    return unit_to_uint8(np.clip(arr.astype(np.float32) / top, 0.0, 1.0))


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """H x W grey uint8 -> H x W x 3 RGB uint8 (contiguous)."""
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def composite_on_black(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite straight (non-premultiplied) RGB over black using alpha 0..255."""
    a = alpha.astype(np.float32)[:, :, None] / 255.0
    return np.clip(np.rint(rgb.astype(np.float32) * a), 0, 255).astype(np.uint8)
