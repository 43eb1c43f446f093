"""Size limits every image must meet before any pixel is allocated, and the limits that bound
the work a hostile file can cause (docs/security.md, "Input handling").

The limits sit below Pillow's own decompression-bomb threshold (about 89 Mpixel), so Pillow's
warning never fires for an image CNSight accepts; a bigger image is refused from its header.
Each limit is checked before the work it bounds: sizes from the header before decoding,
inflation while it runs, the number of JPEG scans before the decoder is called.
"""

from __future__ import annotations

from pathlib import Path

from core.errors import ImageReadError

#: Longest side accepted, in pixels (ultrasound frames are about 1000 px wide).
MAX_SIDE = 20_000
#: Most pixels accepted in one image or one frame.
MAX_PIXELS = 80_000_000
#: Most frames accepted in one multi-frame (cine) file.
MAX_FRAMES = 10_000
#: Longest side / shortest side accepted (ultrasound frames are 4:3 to 16:9; a strip of
#: 1 x 20000 would make the centre-crop framing allocate gigabytes).
MAX_ASPECT = 20
#: Most bytes a deflated DICOM data set may inflate to (a 1 MB file can inflate to gigabytes).
MAX_INFLATED_BYTES = 256 * 1024 * 1024
#: Most scans (SOS markers) accepted in one JPEG stream: a progressive JPEG has about 10;
#: thousands make the decoder run for minutes.
MAX_JPEG_SCANS = 100
#: DICOM element values longer than this are not read while parsing a header (pydicom
#: ``defer_size``): a 2 GiB private element costs nothing unless it is used.
DEFER_SIZE = 1024 * 1024
#: Most data elements accepted in a DICOM header (real files have a few hundred; 500,000
#: private elements would take seconds and hundreds of MB to parse).
MAX_HEADER_ELEMENTS = 50_000


def limits_text() -> str:
    """The limits, as said in error messages."""
    return f"{MAX_SIDE} px per side and {MAX_PIXELS // 1_000_000} Mpixel"


def check_dimensions(path: str | Path, width: int, height: int) -> None:
    """Raise ImageReadError when ``width`` x ``height`` is empty, exceeds the size limits or
    is a strip longer than ``MAX_ASPECT`` times its width."""
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"invalid image dimensions {width}x{height}")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageReadError(
            path, f"image dimensions {width}x{height} exceed the limit of {limits_text()}"
        )
    check_aspect(path, width, height)


def check_aspect(path: str | Path, width: int, height: int, what: str = "image") -> None:
    """Raise ImageReadError when the long side exceeds ``MAX_ASPECT`` times the short side."""
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageReadError(
            path,
            f"{what} of {width}x{height} pixels is not an ultrasound picture: its aspect ratio "
            f"exceeds {MAX_ASPECT}:1",
        )


def check_frame_count(path: str | Path, n_frames: int) -> None:
    """Raise ImageReadError when a multi-frame file claims more frames than accepted."""
    if n_frames > MAX_FRAMES:
        raise ImageReadError(
            path, f"{n_frames} frames exceed the limit of {MAX_FRAMES} frames per file"
        )
