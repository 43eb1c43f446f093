"""PNG / JPEG / BMP / TIFF through Pillow: header probing and decoding to RGB uint8."""

from __future__ import annotations

import logging
import struct
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageReadError
from core.imaging.detect import RASTER_FORMATS
from core.imaging.encoded import check_scan_count, count_file_scans
from core.imaging.limits import check_dimensions, limits_text
from core.imaging.scaling import composite_on_black, grey_to_rgb, minmax_to_unit, unit_to_uint8

log = logging.getLogger(f"cnsight.{__name__}")

_HIGH_DEPTH_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def header_dimensions(head: bytes, fmt: str) -> tuple[int, int] | None:
    """Width and height read straight from a PNG IHDR or a BMP info header (None otherwise).

    Lets an absurd size be refused before Pillow parses anything.
    """
    if fmt == "PNG" and len(head) >= 24 and head[12:16] == b"IHDR":
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if fmt == "BMP" and len(head) >= 26:
        (info_size,) = struct.unpack("<I", head[14:18])
        if info_size == 12:
            width, height = struct.unpack("<HH", head[18:22])
        else:
            width, height = struct.unpack("<ii", head[18:26])
        return abs(int(width)), abs(int(height))
    return None


@contextmanager
def _open_image(path: Path, fmt: str):
    """Open with Pillow restricted to ``fmt``; every Pillow failure becomes ImageReadError."""
    try:
        with warnings.catch_warnings():
            # A decompression-bomb warning is an error here (the caller must never hang).
            # Only this filter is added, so a racing thread can at worst keep it.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path, formats=[fmt])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageReadError(
            path, f"image dimensions exceed the limit of {limits_text()} ({exc})"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(path, f"not a valid {fmt} image (header not recognised)") from exc
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise ImageReadError(path, f"corrupt {fmt} header: {exc}") from exc
    try:
        yield im
    finally:
        im.close()


def probe_raster(path: Path, head: bytes, fmt: str) -> tuple[int, int]:
    """Width and height of a raster image, from its header only (no pixel is decoded)."""
    if fmt not in RASTER_FORMATS:
        raise ImageReadError(path, f"unsupported format {fmt}")
    dims = header_dimensions(head, fmt)
    if dims is not None:
        check_dimensions(path, *dims)
    with _open_image(path, fmt) as im:
        width, height = im.size
    check_dimensions(path, width, height)
    return width, height


def read_raster(path: Path, head: bytes, fmt: str) -> np.ndarray:
    """Decode a raster image to H x W x 3 uint8 RGB, display-ready (a JPEG with more scans
    than ``MAX_JPEG_SCANS`` is refused before decoding: each scan is a pass of the decoder)."""
    probe_raster(path, head, fmt)
    if fmt == "JPEG":
        check_scan_count(path, count_file_scans(path))
    with _open_image(path, fmt) as im:
        try:
            im.load()
            if getattr(im, "n_frames", 1) > 1:
                log.info("%s: %d pages/frames, reading the first", path, im.n_frames)
            oriented = ImageOps.exif_transpose(im)
            return pil_to_rgb(oriented)
        except ImageReadError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            raise ImageReadError(path, f"truncated or corrupt {fmt} image: {exc}") from exc
        except MemoryError as exc:
            raise ImageReadError(path, "not enough memory to decode the image") from exc


def pil_to_rgb(im: Image.Image) -> np.ndarray:
    """Any Pillow image mode -> H x W x 3 uint8 RGB.

    Grey 8-bit is repeated to 3 channels; 16/32-bit grey and float are min-max scaled to 8 bit;
    transparency (alpha, or a palette/grey transparency entry) is composited on black;
    CMYK, YCbCr, LAB, HSV are converted by Pillow (Adobe inverted CMYK JPEGs included).
    """
    mode = im.mode
    if mode in ("P", "L", "1", "RGB") and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in _HIGH_DEPTH_MODES:
        return grey_to_rgb(unit_to_uint8(minmax_to_unit(np.asarray(im))))
    if mode in ("L", "1"):
        return grey_to_rgb(np.asarray(im.convert("L"), dtype=np.uint8))
    if mode in _ALPHA_MODES:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
        return composite_on_black(rgba[:, :, :3], rgba[:, :, 3])
    if mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
