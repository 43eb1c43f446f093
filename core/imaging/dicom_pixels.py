"""DICOM pixel steps, each a small pure function named after the attribute it implements.

Order for grey images (PS3.3 C.11, "grey scale pipeline"): Modality LUT (rescale) -> VOI LUT
(window) -> Presentation (MONOCHROME1 inversion) -> 8 bit. Colour images: Palette Color LUT, or
YBR -> RGB when the decoder has not already converted, then 8 bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, convert_color_space

from core.errors import ImageReadError
from core.imaging.scaling import full_range_to_uint8, grey_to_rgb, minmax_to_unit, unit_to_uint8

#: Photometric interpretations that pydicom's decoders hand back as RGB (JPEG 2000 ICT/RCT are
#: converted by the J2K decoder itself).
RGB_LIKE = frozenset({"RGB", "YBR_ICT", "YBR_RCT"})
YBR_FULL = frozenset({"YBR_FULL", "YBR_FULL_422"})
MONOCHROME = frozenset({"MONOCHROME1", "MONOCHROME2"})


def has_modality_lut(ds: Dataset) -> bool:
    """Whether (0028,1052) Rescale Intercept / (0028,1053) Rescale Slope or (0028,3000) Modality
    LUT Sequence change the stored values."""
    if "ModalityLUTSequence" in ds:
        return True
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    return slope != 1.0 or intercept != 0.0


def apply_rescale(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """Modality LUT: (0028,1053) Rescale Slope and (0028,1052) Rescale Intercept, or the
    (0028,3000) Modality LUT Sequence (through ``pydicom.pixels.apply_modality_lut``)."""
    if not has_modality_lut(ds):
        return arr
    return apply_modality_lut(arr, ds)


def _first(value):
    """First value of a multi-valued element (None when empty)."""
    if isinstance(value, MultiValue | list | tuple):
        return value[0] if len(value) else None
    return value


def window_parameters(ds: Dataset) -> tuple[float, float, str] | None:
    """First (0028,1050) Window Center, (0028,1051) Window Width and (0028,1056) VOI LUT
    Function; None when absent or unusable (width must be > 0, and >= 1 for LINEAR)."""
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    try:
        center, width = float(_first(center)), float(_first(width))
    except (TypeError, ValueError):
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    minimum = 1.0 if function == "LINEAR" else 0.0
    if not (np.isfinite(center) and np.isfinite(width)) or width < minimum or width <= 0:
        return None
    return center, width, function


def apply_voi_window(
    arr: np.ndarray, center: float, width: float, function: str = "LINEAR"
) -> np.ndarray:
    """VOI LUT window (PS3.3 C.11.2.1.2): (0028,1050) Window Center, (0028,1051) Window Width,
    (0028,1056) VOI LUT Function LINEAR / LINEAR_EXACT / SIGMOID, to values in [0, 1].

    Same formulas as ``pydicom.pixels.apply_windowing``, which is not used: it maps to an
    output range derived from the data set's Bits Stored and rescale instead of [0, 1],
    raises on an unknown VOI LUT Function (shown here as LINEAR), and lets SIGMOID overflow
    ``exp`` (with a warning) for values far from the centre."""
    x = arr.astype(np.float64, copy=False)
    if function == "SIGMOID":
        unit = 1.0 / (1.0 + np.exp(np.clip(-4.0 * (x - center) / width, -60.0, 60.0)))
    elif function == "LINEAR_EXACT":
        unit = (x - center) / width + 0.5
    else:  # LINEAR: x <= c - 0.5 - (w-1)/2 -> min; x > c - 0.5 + (w-1)/2 -> max
        low = center - 0.5 - (width - 1.0) / 2.0
        high = center - 0.5 + (width - 1.0) / 2.0
        ramp = (x - (center - 0.5)) / max(width - 1.0, 1e-9) + 0.5
        unit = np.where(x <= low, 0.0, np.where(x > high, 1.0, ramp))
    return np.clip(unit, 0.0, 1.0).astype(np.float32)


def apply_voi_lut_sequence(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """(0028,3010) VOI LUT Sequence, first item, to values in [0, 1]; the output range is
    0 .. 2**n - 1 with n the third value of its (0028,3002) LUT Descriptor."""
    item = ds.VOILUTSequence[0]
    bits = int(item.LUTDescriptor[2]) if "LUTDescriptor" in item else 16
    out = apply_voi(arr, ds, index=0)
    return np.clip(out.astype(np.float32) / float(2 ** max(bits, 1) - 1), 0.0, 1.0)


def grey_to_unit(arr: np.ndarray, ds: Dataset, bits_stored: int = 8) -> np.ndarray:
    """Grey values to [0, 1]. Unsigned values of at most 8 (0028,0101) Bits Stored without a
    Modality LUT are display-ready (ultrasound devices store them so) and are only scaled from
    their full range (0 .. 2**bits - 1); otherwise Modality LUT, then the VOI LUT Sequence or
    the window when present, else min-max scaling."""
    if arr.dtype == np.uint8 and bits_stored <= 8 and not has_modality_lut(ds):
        top = float(2 ** max(bits_stored, 1) - 1)
        return np.clip(arr.astype(np.float32) / top, 0.0, 1.0)
    values = apply_rescale(arr, ds)
    if "VOILUTSequence" in ds:
        return apply_voi_lut_sequence(values, ds)
    window = window_parameters(ds)
    if window is not None:
        return apply_voi_window(values, *window)
    return minmax_to_unit(values)


def invert_monochrome1(unit: np.ndarray) -> np.ndarray:
    """(0028,0004) Photometric Interpretation MONOCHROME1: the minimum value is white."""
    return 1.0 - unit


def palette_to_rgb(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """PALETTE COLOR: (0028,1101-1103) Red/Green/Blue Palette Color LUT Descriptor with the
    (0028,1201-1203) LUT Data or (0028,1221-1223) Segmented LUT Data, to RGB uint8."""
    rgb = apply_color_lut(arr, ds)
    return rgb if rgb.dtype == np.uint8 else full_range_to_uint8(rgb, 16)


def ybr_full_to_rgb(arr: np.ndarray) -> np.ndarray:
    """(0028,0004) YBR_FULL / YBR_FULL_422 (PS3.3 C.7.6.3.1.2) to RGB (8-bit)."""
    return convert_color_space(arr, "YBR_FULL", "RGB")


def color_to_rgb8(arr: np.ndarray, bits_stored: int) -> np.ndarray:
    """3-sample RGB values of (0028,0101) Bits Stored significant bits to uint8."""
    if arr.dtype == np.uint8:
        return arr
    return full_range_to_uint8(np.clip(arr, 0, None), bits_stored)


def to_display_rgb(path: Path, arr: np.ndarray, ds: Dataset, props: dict) -> np.ndarray:
    """One decoded frame -> H x W x 3 uint8 RGB.

    ``props`` are the pixel properties pydicom reports after decoding: its
    ``photometric_interpretation`` says whether YBR was already converted to RGB.
    """
    photometric = str(props.get("photometric_interpretation") or "MONOCHROME2").upper()
    bits = int(props.get("bits_stored") or ds.get("BitsStored") or 8)
    if arr.ndim == 2 and photometric in MONOCHROME:
        unit = grey_to_unit(arr, ds, bits)
        if photometric == "MONOCHROME1":
            unit = invert_monochrome1(unit)
        return grey_to_rgb(unit_to_uint8(unit))
    if arr.ndim == 2 and photometric == "PALETTE COLOR":
        return np.ascontiguousarray(palette_to_rgb(arr, ds))
    if arr.ndim == 3 and arr.shape[2] == 3 and photometric in RGB_LIKE | YBR_FULL:
        if photometric in YBR_FULL:
            if arr.dtype != np.uint8:
                raise ImageReadError(
                    path, f"{photometric} with {bits}-bit samples is not supported"
                )
            arr = ybr_full_to_rgb(arr)
        return np.ascontiguousarray(color_to_rgb8(arr, bits))
    shape = "x".join(str(s) for s in arr.shape)
    raise ImageReadError(
        path, f"unsupported photometric interpretation {photometric} for pixel array {shape}"
    )
