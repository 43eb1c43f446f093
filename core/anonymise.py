"""One file de-identified: burned-in text masked in every frame, DICOM header cleaned.

``cnsight-anonymise`` (core/cli/anonymise.py) calls ``anonymise_file`` per input file. The
mask of a file is the union, over its frames, of the geometric mask and the lines OCR finds
(``core.deidentify``): scanners burn the same layout into every frame, so text read in one
frame is masked in all.

Pixels are written **uncompressed** (Explicit VR Little Endian) whatever the input's transfer
syntax: a compressed input is decoded, masked and stored raw, never re-encoded (re-encoding
JPEG would add a second loss; Lossy Image Compression stays as the input said). YBR inputs
become RGB, PALETTE COLOR becomes RGB (the palette is not kept), MONOCHROME1 is masked to
its white (its black). Images (PNG, JPEG, ...) are written as PNG: lossless, no metadata.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut

from .burned_text import TEXT_MASKER, TextMasker, boxes_mask
from .deidentify import heuristic_text_mask
from .dicom_deidentify import UidMap, deidentify_header
from .errors import ImageReadError
from .imaging import read_image
from .records import ImageRef


def text_mask(refs: Sequence[ImageRef], masker: TextMasker = TEXT_MASKER) -> np.ndarray:
    """H x W bool: True where any frame of ``refs`` has burned-in text (geometric mask or
    OCR). Raises ``ImageReadError`` for an unreadable frame, ``OcrUnavailable`` without
    Tesseract."""
    mask = None
    for ref in refs:
        image = read_image(ref)
        frame = heuristic_text_mask(image.pixels, image.region)
        frame |= boxes_mask(image.pixels.shape, masker.boxes(image.pixels))
        mask = frame if mask is None else mask | frame
    if mask is None:
        raise ImageReadError(refs[0].path if refs else "?", "no frame to read")
    return mask


def _stored_pixels(ds: pydicom.Dataset) -> tuple[np.ndarray, str, int]:
    """The pixel array as it will be written, its photometric interpretation, bits stored."""
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress(as_rgb=True, generate_instance_uid=False)
    arr = ds.pixel_array
    photometric = str(ds.PhotometricInterpretation)
    bits = int(ds.BitsStored)
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        if arr.dtype != np.uint8:  # 16-bit palette entries: keep the high byte
            arr = (arr >> 8).astype(np.uint8)
        photometric, bits = "RGB", 8
    elif photometric.startswith("YBR"):  # pixel_array already converted it
        photometric = "RGB"
    return np.ascontiguousarray(arr), photometric, bits


def _black(arr: np.ndarray, photometric: str, bits: int) -> int:
    if photometric == "MONOCHROME1":
        return (1 << bits) - 1 if arr.dtype.kind == "u" else (1 << (bits - 1)) - 1
    return 0 if arr.dtype.kind == "u" else -(1 << (bits - 1))


def _atomic_write(dest: Path, write) -> None:
    """``write(tmp_path)`` then rename: a file at ``dest`` is always complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    try:
        write(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def anonymise_dicom(
    refs: Sequence[ImageRef], dest: Path, pseudonym: str, uids: UidMap, masker=TEXT_MASKER
) -> None:
    """Write ``dest``: the DICOM file of ``refs`` (its frames) masked and de-identified."""
    mask = text_mask(refs, masker)
    path = refs[0].path
    try:
        ds = pydicom.dcmread(path)
        arr, photometric, bits = _stored_pixels(ds)
    except Exception as exc:  # pydicom and its decoders raise many kinds
        raise ImageReadError(path, f"pixel data could not be decoded: {exc}") from exc
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    spatial = arr.shape[1:3] if frames > 1 else arr.shape[:2]
    if tuple(spatial) != mask.shape:
        raise ImageReadError(path, f"frames are {spatial}, the displayed image {mask.shape}")
    black = _black(arr, photometric, bits)
    if frames > 1:
        arr[:, mask] = black
    else:
        arr[mask] = black
    ds.set_pixel_data(arr, photometric, bits, generate_instance_uid=False)
    deidentify_header(ds, pseudonym, uids, pixels_cleaned=True)
    _atomic_write(dest, lambda tmp: ds.save_as(tmp, enforce_file_format=True))


def anonymise_raster(ref: ImageRef, dest: Path, masker=TEXT_MASKER) -> None:
    """Write ``dest`` (PNG): the image of ``ref`` masked; no metadata is carried over."""
    pixels = read_image(ref).pixels
    mask = text_mask([ref], masker)
    masked = np.where(mask[..., None], 0, pixels).astype(np.uint8)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(masked, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {dest.name} as PNG")
    _atomic_write(dest, lambda tmp: tmp.write_bytes(encoded.tobytes()))
