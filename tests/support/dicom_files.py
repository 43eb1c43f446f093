"""Builders for small DICOM and raster test files (used by the imaging and discovery tests)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    JPEG2000,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
    UltrasoundImageStorage,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

#: Four flat patches: red, green / blue, yellow (JPEG 2000 needs images of 32 px or more).
PATCH_COLOURS = np.array(
    [[[220, 30, 30], [30, 200, 40]], [[40, 50, 210], [230, 220, 40]]], np.uint8
)


def colour_patches(size: int = 32) -> np.ndarray:
    """size x size RGB image of four flat colour patches (PATCH_COLOURS)."""
    half = size // 2
    return np.repeat(np.repeat(PATCH_COLOURS, half, axis=0), half, axis=1)


def patch_centres(size: int = 32) -> list[tuple[int, int, np.ndarray]]:
    """(row, col, expected RGB) at the centre of each patch."""
    q = size // 4
    return [(q + 2 * q * r, q + 2 * q * c, PATCH_COLOURS[r, c]) for r in range(2) for c in range(2)]


def base_dataset(
    *,
    modality: str | None = "US",
    patient_id: str | None = "P1",
    study_uid: str | None = None,
    instance: int | None = None,
    multiframe: bool = False,
) -> Dataset:
    """A minimal ultrasound image data set with file meta (no pixel data yet)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    sop_class = UltrasoundMultiFrameImageStorage if multiframe else UltrasoundImageStorage
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if modality is not None:
        ds.Modality = modality
    if patient_id is not None:
        ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.StudyInstanceUID = study_uid or "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = generate_uid()
    if instance is not None:
        ds.InstanceNumber = instance
    return ds


def _save(ds: Dataset, path: Path, syntax) -> Path:
    ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(
        path,
        implicit_vr=syntax == ImplicitVRLittleEndian,
        little_endian=syntax != ExplicitVRBigEndian,
        enforce_file_format=True,
    )
    return path


def write_dicom(
    path: Path,
    pixels: np.ndarray,
    photometric: str = "MONOCHROME2",
    *,
    syntax=ExplicitVRLittleEndian,
    bits_stored: int | None = None,
    ds: Dataset | None = None,
    **attrs,
) -> Path:
    """Write ``pixels`` (frames first for multi-frame) with the given transfer syntax.

    syntax: a native syntax, RLELossless, JPEG2000Lossless/JPEG2000 (pylibjpeg-openjpeg
    encoder) or JPEGBaseline8Bit (frames encoded with Pillow; colour as YBR_FULL_422).
    ``attrs`` are set on the data set (WindowCenter=..., FrameTime=...).
    """
    colour = photometric in ("RGB", "YBR_FULL")
    multiframe = pixels.ndim == (4 if colour else 3)
    ds = ds or base_dataset(multiframe=multiframe)
    bits = bits_stored or pixels.dtype.itemsize * 8
    if syntax == JPEGBaseline8Bit:
        return _write_jpeg_baseline(path, ds, pixels, photometric, multiframe, attrs)
    ds.set_pixel_data(pixels, photometric, bits)
    for key, value in attrs.items():
        setattr(ds, key, value)
    if syntax == ExplicitVRBigEndian and pixels.dtype.itemsize > 1:
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder(">")).tobytes()
        ds["PixelData"].VR = "OW"
    if syntax == RLELossless:
        ds.compress(RLELossless, encoding_plugin="pydicom")
    elif syntax in (JPEG2000Lossless, JPEG2000):
        extra = {"j2k_psnr": [45]} if syntax == JPEG2000 else {}
        ds.compress(syntax, encoding_plugin="pylibjpeg", **extra)
    if syntax.is_encapsulated:
        ds.save_as(path, enforce_file_format=True)
        return path
    return _save(ds, path, syntax)


def _write_jpeg_baseline(path, ds, pixels, photometric, multiframe, attrs) -> Path:
    frames = list(pixels) if multiframe else [pixels]
    encoded = []
    for frame in frames:
        buf = io.BytesIO()
        Image.fromarray(frame).save(buf, format="JPEG", quality=95, subsampling=1)
        encoded.append(buf.getvalue())
    colour = frames[0].ndim == 3
    ds.set_pixel_data(pixels, "RGB" if colour else "MONOCHROME2", 8)
    ds.PhotometricInterpretation = "YBR_FULL_422" if colour else "MONOCHROME2"
    ds.PixelData = encapsulate(encoded)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.LossyImageCompression = "01"
    for key, value in attrs.items():
        setattr(ds, key, value)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.save_as(path, enforce_file_format=True)
    return path


def region_item(x0, y0, x1, y1, *, spatial=1, data_type=1) -> Dataset:
    """One item of (0018,6011) Sequence of Ultrasound Regions (inclusive max corners)."""
    item = Dataset()
    item.RegionSpatialFormat = spatial
    item.RegionDataType = data_type
    item.RegionFlags = 0
    item.RegionLocationMinX0 = x0
    item.RegionLocationMinY0 = y0
    item.RegionLocationMaxX1 = x1
    item.RegionLocationMaxY1 = y1
    return item


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk with its CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png_header(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` (valid CRC) with a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int) -> bytes:
    """A JPEG that is only markers: SOI, SOF0 claiming ``width`` x ``height``, SOS, EOI."""
    sof = struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    sos = struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00"
    return b"\xff\xd8\xff\xc0" + sof + b"\xff\xda" + sos + b"\x00" * 16 + b"\xff\xd9"
