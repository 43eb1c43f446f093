"""Reading a DICOM file's header (everything before the pixel data) and checking that the
pixel data it announces is there, complete, and within the size limits.

No pixel is read here: this is what makes folder scans fast.
"""

from __future__ import annotations

import logging
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import _read_file_meta_info
from pydicom.pixels.utils import get_expected_length
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from core.errors import ImageReadError
from core.imaging.limits import (
    DEFER_SIZE,
    MAX_HEADER_ELEMENTS,
    MAX_INFLATED_BYTES,
    check_dimensions,
    check_frame_count,
)

log = logging.getLogger(f"cnsight.{__name__}")

_PIXEL_TAGS = MappingProxyType(
    {
        0x7FE00010: "PixelData",
        0x7FE00008: "FloatPixelData",
        0x7FE00009: "DoubleFloatPixelData",
    }
)
_UNDEFINED_LENGTH = 0xFFFFFFFF
_ITEM, _SEQUENCE_DELIMITER = 0xFFFEE000, 0xFFFEE0DD
_MAX_ITEMS = 1_000_000
_PIXEL_VRS = frozenset({b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN"})
_NOT_DICOM = "not a DICOM file: no 'DICM' marker at byte 128 and no readable DICOM header"

#: Tags a folder scan needs (read with ``specific_tags`` for speed).
PROBE_TAGS = (
    "SOPClassUID", "Modality", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
    "InstanceNumber", "NumberOfFrames", "Rows", "Columns", "SamplesPerPixel", "BitsAllocated",
    "PhotometricInterpretation",
)  # fmt: skip


@dataclass(frozen=True)
class DicomHeader:
    """A DICOM file's data set without its pixel data, and where the pixel data lies."""

    path: Path
    ds: Dataset
    transfer_syntax: UID
    pixel_keyword: str | None  # None: the file has no pixel data element (or it is deflated)
    pixel_vr: str | None  # explicit VR of the pixel data element ("OB", "OW", ...)
    pixel_offset: int | None  # file offset of the pixel data value
    pixel_length: int | None  # declared value length; None = undefined (encapsulated)
    file_size: int

    @property
    def deflated(self) -> bool:
        return self.transfer_syntax == DeflatedExplicitVRLittleEndian


def read_dicom_header(
    path: Path, *, force: bool = False, specific_tags: tuple[str, ...] | None = None
) -> DicomHeader:
    """Parse the header of ``path``; every failure becomes ImageReadError with the reason.

    Bounded: values over ``DEFER_SIZE`` bytes are not read (pydicom ``defer_size``), parsing
    stops after ``MAX_HEADER_ELEMENTS`` elements' worth of reads, and a deflated data set is
    inflated (counting, not keeping) up to ``MAX_INFLATED_BYTES`` before pydicom inflates it.
    """
    try:
        size = path.stat().st_size
        check_inflated_size(path)
        with open(path, "rb") as raw:
            f = _BudgetedFile(raw, _READS_PER_ELEMENT * MAX_HEADER_ELEMENTS)
            tags = list(specific_tags) if specific_tags else None
            ds = dcmread(
                f, stop_before_pixels=True, force=force, specific_tags=tags,
                defer_size=DEFER_SIZE,
            )  # fmt: skip
            stop = raw.tell()  # just before the pixel data element, or at the end of the file
            head = raw.read(12)
    except ImageReadError:
        raise
    except _TooManyReads as exc:
        raise ImageReadError(
            path,
            f"DICOM header with more than {MAX_HEADER_ELEMENTS} data elements (real files have "
            "a few hundred): refused",
        ) from exc
    except InvalidDicomError as exc:
        raise ImageReadError(path, f"not a DICOM file ({exc})") from exc
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file: {exc.strerror or exc}") from exc
    except Exception as exc:  # pydicom raises many types on corrupt headers
        if force:
            raise ImageReadError(path, _NOT_DICOM) from exc
        raise ImageReadError(path, f"truncated or corrupt DICOM header: {exc}") from exc
    if force and not ("SOPClassUID" in ds or ("Rows" in ds and "Columns" in ds)):
        raise ImageReadError(path, _NOT_DICOM)
    tsyntax = transfer_syntax_of(ds)
    if tsyntax == DeflatedExplicitVRLittleEndian:
        return DicomHeader(path, ds, tsyntax, None, None, None, None, size)
    keyword, vr, length = parse_pixel_element(
        head, little_endian=dataset_little_endian(ds, tsyntax)
    )
    offset = stop + (8 if vr is None else 12) if keyword else None
    return DicomHeader(path, ds, tsyntax, keyword, vr, offset, length, size)


#: pydicom reads an element's tag and VR, its length and its value (or seeks past it) in at
#: most 4 calls.
_READS_PER_ELEMENT = 4


class _TooManyReads(Exception):
    """The header took more reads than ``MAX_HEADER_ELEMENTS`` elements need."""


class _BudgetedFile:
    """A binary file that refuses more than ``budget`` reads and seeks: bounds the time and memory
    pydicom can spend on a header of countless small elements (pydicom has no such limit)."""

    def __init__(self, f, budget: int):
        self._f, self._left = f, budget

    def read(self, size: int = -1) -> bytes:
        self._left -= 1
        if self._left < 0:
            raise _TooManyReads
        return self._f.read(size)

    def seek(self, *args) -> int:  # pydicom seeks past the values it does not keep
        self._left -= 1
        if self._left < 0:
            raise _TooManyReads
        return self._f.seek(*args)

    def __getattr__(self, name):  # tell, name, close...
        return getattr(self._f, name)


def _file_meta_end(path: Path) -> tuple[UID | None, int]:
    """Transfer syntax in the file meta information and the offset where the data set starts
    (None and 0 when the file has no DICM preamble)."""
    with open(path, "rb") as f:
        preamble = f.read(132)
        if preamble[128:132] != b"DICM":
            return None, 0
        meta = _read_file_meta_info(f)
        tsyntax = meta.get("TransferSyntaxUID")
        return (UID(tsyntax) if tsyntax else None), f.tell()


def check_inflated_size(path: Path, limit: int | None = None) -> None:
    """For a deflated data set (Deflated Explicit VR Little Endian): inflate it as a stream,
    counting and discarding, and refuse it when it exceeds ``MAX_INFLATED_BYTES`` (pydicom
    inflates it whole in memory, where 1 MB can become gigabytes)."""
    limit = MAX_INFLATED_BYTES if limit is None else limit
    tsyntax, start = _file_meta_end(path)
    if tsyntax != DeflatedExplicitVRLittleEndian:
        return
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(1 << 20)
        while data and not inflater.eof:
            total += len(inflater.decompress(data, 16 << 20))
            if total > limit:
                raise ImageReadError(
                    path,
                    f"deflated DICOM data set inflates to more than {limit // (1 << 20)} MiB "
                    f"(from a {path.stat().st_size} byte file): refused as a decompression bomb",
                )
            data = inflater.unconsumed_tail or f.read(1 << 20)


def dataset_little_endian(ds: Dataset, tsyntax: UID) -> bool:
    """Whether pydicom read the data set as little endian (else what the syntax says)."""
    encoding = getattr(ds, "original_encoding", None)
    if encoding and encoding[1] is not None:
        return bool(encoding[1])
    return tsyntax.is_little_endian


def transfer_syntax_of(ds: Dataset) -> UID:
    """(0002,0010) Transfer Syntax UID, or the encoding pydicom detected for files without
    file meta information."""
    meta = getattr(ds, "file_meta", None)
    tsyntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if tsyntax:
        return UID(tsyntax)
    implicit, little = getattr(ds, "original_encoding", (True, True))
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def parse_pixel_element(
    head: bytes, *, little_endian: bool
) -> tuple[str | None, str | None, int | None]:
    """Keyword, VR and declared length of the element whose header is ``head`` when it is a
    (7FE0,0010) Pixel Data / Float / Double Float Pixel Data element; (None, None, None) else."""
    if len(head) < 8:
        return None, None, None
    endian = "<" if little_endian else ">"
    group, elem = struct.unpack(f"{endian}HH", head[:4])
    keyword = _PIXEL_TAGS.get((group << 16) | elem)
    if keyword is None:
        return None, None, None
    # Files exist whose data set is implicit VR under an explicit transfer syntax (and the
    # reverse): the bytes after the tag say which it is.
    explicit = head[4:6] in _PIXEL_VRS and head[6:8] == b"\x00\x00" and len(head) >= 12
    if explicit:
        vr = head[4:6].decode("ascii")
        (length,) = struct.unpack(f"{endian}L", head[8:12])
    else:
        vr = None
        (length,) = struct.unpack(f"{endian}L", head[4:8])
    return keyword, vr, None if length == _UNDEFINED_LENGTH else int(length)


def number_of_frames(path: Path, ds: Dataset) -> int:
    """(0028,0008) Number of Frames: 1 when absent or zero; an invalid value is an error.

    Not ``pydicom.pixels.utils.get_nr_frames``: it returns the value unchecked (a text or a
    negative Number of Frames would pass through) and warns on 0, which is common in files
    and harmless here."""
    value = ds.get("NumberOfFrames")
    if value in (None, ""):
        return 1
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ImageReadError(path, f"invalid NumberOfFrames {str(value)!r}") from None
    return max(n, 1)


def expected_pixel_bytes(
    rows: int, columns: int, frames: int, samples: int, bits_allocated: int, photometric: str
) -> int:
    """Bytes of native (uncompressed) pixel data implied by (0028,0010) Rows, (0028,0011)
    Columns, (0028,0008) Number of Frames, (0028,0002) Samples per Pixel, (0028,0100) Bits
    Allocated and (0028,0004) Photometric Interpretation (1-bit data is packed, YBR_FULL_422
    stores 2 values per pixel): ``pydicom.pixels.utils.get_expected_length``.

    It is given a data set of exactly these values rather than the file's own: the caller
    has already validated the frame count and chosen the defaults for absent attributes,
    where pydicom would raise AttributeError or warn about the file's Number of Frames.
    Being pydicom's rule, it is also the length its decoder checks; it differs from a plain
    2-values-per-pixel count only for non-conformant YBR_FULL_422 (not 3 samples of 8 bits
    or more), which the decoder cannot read either."""
    image_pixel = Dataset()
    image_pixel.Rows = rows
    image_pixel.Columns = columns
    image_pixel.NumberOfFrames = frames
    image_pixel.SamplesPerPixel = samples
    image_pixel.BitsAllocated = bits_allocated
    image_pixel.PhotometricInterpretation = photometric
    return get_expected_length(image_pixel, unit="bytes")


def describe_non_image(ds: Dataset) -> str:
    """A short description of a DICOM object that is not an image, for error messages."""
    parts = []
    sop = ds.get("SOPClassUID")
    if sop:
        parts.append(UID(str(sop)).name)
    if ds.get("Modality"):
        parts.append(f"modality {ds.Modality}")
    return ", ".join(parts) or "unknown object type"


def check_pixel_data(header: DicomHeader) -> int:
    """Check the image is there, complete and within limits; return its number of frames."""
    path, ds = header.path, header.ds
    rows, columns = ds.get("Rows"), ds.get("Columns")
    # a deflated data set cannot be looked into cheaply: no Rows/Columns means no image
    if header.pixel_keyword is None and (not header.deflated or rows is None or columns is None):
        raise ImageReadError(
            path, f"DICOM file without pixel data ({describe_non_image(ds)}): not an image"
        )
    if rows is None or columns is None:
        raise ImageReadError(path, "DICOM image without (0028,0010) Rows / (0028,0011) Columns")
    check_dimensions(path, int(columns), int(rows))
    frames = number_of_frames(path, ds)
    check_frame_count(path, frames)
    if not header.deflated:
        _check_pixel_length(header, int(rows), int(columns), frames)
    return frames


def _check_pixel_length(header: DicomHeader, rows: int, columns: int, frames: int) -> None:
    path, ds = header.path, header.ds
    available = header.file_size - (header.pixel_offset or 0)
    if header.transfer_syntax.is_encapsulated:
        if header.pixel_length is not None:
            raise ImageReadError(
                path, "compressed pixel data is not encapsulated (defined length element)"
            )
        check_encapsulated(header)
        return
    if header.pixel_keyword != "PixelData":
        return  # float pixel data: length checked by the decoder
    expected = expected_pixel_bytes(
        rows,
        columns,
        frames,
        int(ds.get("SamplesPerPixel", 1)),
        int(ds.get("BitsAllocated", 8)),
        str(ds.get("PhotometricInterpretation", "")),
    )
    declared = header.pixel_length
    if declared is None:
        raise ImageReadError(path, "native pixel data with undefined length (corrupt file)")
    if declared < expected:
        raise ImageReadError(
            path,
            f"pixel data length mismatch: {columns}x{rows}, {frames} frame(s) need {expected} "
            f"bytes but the Pixel Data element holds {declared}",
        )
    if available < expected:
        raise ImageReadError(
            path,
            f"truncated DICOM file: pixel data needs {expected} bytes but only {available} "
            "remain in the file",
        )


def _read_items(f, start: int, file_size: int):
    """Yield (offset, tag, length) of the items of encapsulated pixel data from ``start``."""
    pos = start
    for _ in range(_MAX_ITEMS):
        f.seek(pos)
        raw = f.read(8)
        if len(raw) < 8:
            yield pos, None, None
            return
        group, elem, length = struct.unpack("<HHL", raw)
        yield pos, (group << 16) | elem, length
        pos += 8 + (0 if length == _UNDEFINED_LENGTH else length)
        if pos > file_size:
            yield pos, None, None
            return


def check_encapsulated(header: DicomHeader) -> None:
    """Walk the (FFFE,E000) items of encapsulated pixel data (PS3.5 A.4) down to the
    (FFFE,E0DD) Sequence Delimitation Item, reading 8 bytes per fragment: a file cut short
    is refused here rather than decoded into a partial picture.

    Not ``pydicom.encaps.parse_fragments``: it stops without complaint when the data ends
    before the delimiter, so a truncated file would look complete, and it has no item limit."""
    with open(header.path, "rb") as f:
        for pos, tag, length in _read_items(f, header.pixel_offset or 0, header.file_size):
            if tag == _SEQUENCE_DELIMITER:
                return
            if tag is None:
                raise ImageReadError(
                    header.path,
                    "truncated DICOM file: the compressed pixel data is cut short "
                    f"(file ends at byte {header.file_size})",
                )
            if tag != _ITEM or length == _UNDEFINED_LENGTH:
                raise ImageReadError(
                    header.path, f"corrupt encapsulated pixel data: unexpected item at byte {pos}"
                )
    raise ImageReadError(header.path, f"corrupt encapsulated pixel data: over {_MAX_ITEMS} items")
