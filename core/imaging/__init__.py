"""Reading images: PNG/JPEG/BMP/TIFF and DICOM (see docs/data-formats.md).

- ``probe_file(path)``: the images a file holds, from its header only (fast folder scans).
- ``read_image(ref)``: one image (or cine frame) as display-ready H x W x 3 uint8 RGB.
- ``is_candidate(path)``: whether a folder scan should probe a file at all.
Every failure is an ``ImageReadError(path, reason)`` with a specific, user-facing reason.
"""

from core.imaging.detect import is_candidate
from core.imaging.limits import MAX_FRAMES, MAX_PIXELS, MAX_SIDE
from core.imaging.probe import ProbedFile, probe_details, probe_file
from core.imaging.reader import read_image

__all__ = [
    "MAX_FRAMES",
    "MAX_PIXELS",
    "MAX_SIDE",
    "ProbedFile",
    "is_candidate",
    "probe_details",
    "probe_file",
    "read_image",
]
