"""Looking into compressed streams before a decoder is called: the size a JPEG, JPEG-LS or
JPEG 2000 stream will decode to, and how many scans a JPEG has.

A DICOM header can say 320x256 while its JPEG stream is 30000x30000 (the decoder would
allocate gigabytes before anyone compares); a progressive JPEG can hold thousands of scans
(each one a full pass of the decoder). Both are read from the stream's own markers here, in
microseconds, and refused with a reason.
"""

from __future__ import annotations

import struct
from pathlib import Path

from core.errors import ImageReadError
from core.imaging.limits import MAX_JPEG_SCANS

_SOI, _SOS = b"\xff\xd8", b"\xff\xda"
_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
#: Start-of-frame markers: baseline, extended, progressive, lossless (Huffman and arithmetic)
#: and JPEG-LS SOF55 (0xF7).
_SOF_MARKERS = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC)}) | {
    *range(0xCD, 0xD0),
    0xF7,
}
_STANDALONE = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})  # markers without a length


def jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first start-of-frame segment of a JPEG / JPEG-LS stream; None
    when ``data`` is not one or the segment is not within ``data``."""
    if not data.startswith(_SOI):
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker == 0xDA:  # scan data before any frame header: not a valid stream
            return None
        if marker in _SOF_MARKERS:
            if i + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(width), int(height)
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        i += 2 + length
    return None


def j2k_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the SIZ segment of a JPEG 2000 codestream (bare or inside JP2
    boxes); None when there is none in ``data``."""
    at = data.find(_J2K_SOC_SIZ, 0, 4096)
    if at < 0 or at + 24 > len(data):
        return None
    xsiz, ysiz, x0, y0 = struct.unpack(">IIII", data[at + 8 : at + 24])
    return int(xsiz) - int(x0), int(ysiz) - int(y0)


def stream_dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) a JPEG-family stream announces (JPEG, JPEG-LS, JPEG 2000), or None."""
    return jpeg_dimensions(data) or j2k_dimensions(data)


def count_jpeg_scans(data: bytes) -> int:
    """Start-of-scan markers in a JPEG stream. In entropy-coded data 0xFF is always followed by
    0x00 or a restart marker, so every ``FF DA`` is a marker (one in an embedded EXIF thumbnail
    counts too: an upper bound)."""
    return data.count(_SOS)


def check_scan_count(path: str | Path, n_scans: int) -> None:
    if n_scans > MAX_JPEG_SCANS:
        raise ImageReadError(
            path,
            f"JPEG stream with {n_scans} scans exceeds the limit of {MAX_JPEG_SCANS} scans "
            "(a progressive JPEG has about 10; decoding this one could take minutes)",
        )


def count_file_scans(path: Path, chunk: int = 1 << 20) -> int:
    """``count_jpeg_scans`` over a whole file, read in chunks (memory stays flat)."""
    n, tail = 0, b""
    with open(path, "rb") as f:
        while block := f.read(chunk):
            data = tail + block
            n += data.count(_SOS)
            tail = data[-1:] if data.endswith(b"\xff") else b""
    return n


def check_encoded_frame(path: str | Path, data: bytes, columns: int, rows: int) -> None:
    """Refuse a compressed frame whose own header disagrees with (0028,0011) Columns x
    (0028,0010) Rows, or a JPEG with more scans than accepted, before it is decoded."""
    dims = stream_dimensions(data)
    if dims is not None:
        width, height = dims
        # a JPEG may give height 0 and define it later (DNL marker): only the width is known
        if width != columns or (height != 0 and height != rows):
            raise ImageReadError(
                path,
                f"the compressed frame is {width}x{height} but the header says {columns}x{rows}"
                " (refused before decoding)",
            )
    if data.startswith(_SOI):
        check_scan_count(path, count_jpeg_scans(data))
