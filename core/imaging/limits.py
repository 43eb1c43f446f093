"""Size limits every image must meet before any pixel is allocated.

The limits sit below Pillow's own decompression-bomb threshold (about 89 Mpixel), so Pillow's
warning never fires for an image CNSight accepts; a bigger image is refused from its header.
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


def limits_text() -> str:
    """The limits, as said in error messages."""
    return f"{MAX_SIDE} px per side and {MAX_PIXELS // 1_000_000} Mpixel"


def check_dimensions(path: str | Path, width: int, height: int) -> None:
    """Raise ImageReadError when ``width`` x ``height`` is empty or exceeds the limits."""
    if width <= 0 or height <= 0:
        raise ImageReadError(path, f"invalid image dimensions {width}x{height}")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise ImageReadError(
            path, f"image dimensions {width}x{height} exceed the limit of {limits_text()}"
        )


def check_frame_count(path: str | Path, n_frames: int) -> None:
    """Raise ImageReadError when a multi-frame file claims more frames than accepted."""
    if n_frames > MAX_FRAMES:
        raise ImageReadError(
            path, f"{n_frames} frames exceed the limit of {MAX_FRAMES} frames per file"
        )
