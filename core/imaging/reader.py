"""Decoding one image (or one frame of a cine) to display-ready RGB."""

from __future__ import annotations

import logging
from pathlib import Path

from core.errors import ImageReadError
from core.imaging.detect import classify_file
from core.imaging.dicom_decode import decode_frame
from core.imaging.dicom_header import check_pixel_data, read_dicom_header
from core.imaging.dicom_info import frame_time_ms, header_dict, modality_warning, ultrasound_region
from core.imaging.dicom_pixels import to_display_rgb
from core.imaging.raster import read_raster
from core.measurements.calibration import calibration_from_dataset
from core.records import ImageRef, LoadedImage

log = logging.getLogger(f"cnsight.{__name__}")


def _frame_index(path: Path, frame: int | None, n_frames: int) -> int:
    index = 0 if frame is None else int(frame)
    if not 0 <= index < n_frames:
        raise ImageReadError(path, f"frame {index} requested but the file has {n_frames} frame(s)")
    return index


def _read_dicom(ref: ImageRef, path: Path, force: bool) -> LoadedImage:
    header = read_dicom_header(path, force=force)
    n_frames = check_pixel_data(header)
    arr, props = decode_frame(header, _frame_index(path, ref.frame, n_frames))
    pixels = to_display_rgb(path, arr, header.ds, props)
    ds = header.ds
    modality = str(ds.get("Modality") or "").strip() or None
    height, width = pixels.shape[:2]
    return LoadedImage(
        ref=ref,
        pixels=pixels,
        region=ultrasound_region(ds, width, height),
        modality=modality,
        frame_time_ms=frame_time_ms(ds) if n_frames > 1 else None,
        header=header_dict(ds),
        warning=modality_warning(modality),
        calibration=calibration_from_dataset(ds),
    )


def _read(ref: ImageRef, path: Path) -> LoadedImage:
    fmt, head = classify_file(path)
    if fmt in ("DICOM", "DICOM?"):
        return _read_dicom(ref, path, force=fmt == "DICOM?")
    if ref.frame not in (None, 0):
        raise ImageReadError(path, f"frame {ref.frame} requested but {fmt} files have one image")
    return LoadedImage(ref=ref, pixels=read_raster(path, head, fmt))


def read_image(ref: ImageRef) -> LoadedImage:
    """Decode ``ref`` to H x W x 3 uint8 RGB with every pixel step applied.

    DICOM: the frame ``ref.frame`` (0 for single-frame files) only; region from the ultrasound
    regions, modality, cine timing, tag view and an out-of-scope warning for modalities other
    than US/OT. Raster (PNG/JPEG/BMP/TIFF): pixels only. Every failure raises ImageReadError
    naming the file and the reason.
    """
    path = Path(ref.path)
    try:
        return _read(ref, path)
    except ImageReadError:
        raise
    except MemoryError as exc:
        raise ImageReadError(path, "not enough memory to decode the image") from exc
    except Exception as exc:  # never let a raw numpy/PIL/pydicom traceback escape
        log.debug("unexpected failure reading %s", path, exc_info=True)
        raise ImageReadError(path, f"cannot read image: {type(exc).__name__}: {exc}") from exc
