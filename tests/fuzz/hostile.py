"""Builders of hostile input files, one function per attack (docs/security.md, "Input
handling"). Small on disk, deterministic, each the smallest file that shows the attack:
the bombs are a few KB to a few MB that claim or inflate to gigabytes.

Used by the targeted tests (tests/core/imaging, tests/core/discovery) and by the fuzz corpus
(``tests/fuzz/corpus.py``).
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.fileset import FileSet
from pydicom.uid import JPEGBaseline8Bit

from tests.support.dicom_files import base_dataset, write_dicom

GIB = 1 << 30
MIB = 1 << 20


def fixed_uid(key: str) -> str:
    """A UID derived from ``key`` (pydicom's generate_uid is random: the corpus must not be)."""
    digest = hashlib.sha256(key.encode()).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"


def dataset(key: str, multiframe: bool = False, **kwargs):
    """``base_dataset`` with UIDs fixed by ``key``."""
    ds = base_dataset(multiframe=multiframe, **kwargs)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = fixed_uid(key + "/sop")
    ds.SeriesInstanceUID = fixed_uid(key + "/series")
    return ds


def dicom(path: Path, pixels: np.ndarray, key: str | None = None, **kwargs) -> Path:
    """``write_dicom`` with UIDs fixed by ``key`` (default: the file name)."""
    multiframe = pixels.ndim == 3 and kwargs.get("photometric", "MONOCHROME2") != "RGB"
    key = key or path.name
    write_dicom(path, pixels, ds=dataset(key, multiframe=multiframe), **kwargs)
    ds = dcmread(path)  # set_pixel_data made a new random SOP Instance UID: fix it again
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = fixed_uid(key + "/sop")
    ds.save_as(path)
    return path


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth grey picture (compresses like an ultrasound frame, not like noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 60 * np.sin(xx / 7.0 + seed) * np.cos(yy / 9.0)
    return np.clip(base + rng.normal(0, 8, (h, w)), 0, 255).astype(np.uint8)


def png_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(arr: np.ndarray, progressive: bool = False) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=90, progressive=progressive)
    return buf.getvalue()


def strip_png(path: Path, width: int = 20000, height: int = 1) -> Path:
    """A 1 x 20000 strip: resizing its short side to 256 px would allocate 15.7 GB."""
    path.write_bytes(png_bytes(_image(height, width)))
    return path


def set_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """The JPEG stream ``data`` with its SOF0 frame header saying width x height."""
    at = data.find(b"\xff\xc0")
    assert at > 0, "no baseline SOF0 marker"
    return data[: at + 5] + struct.pack(">HH", height, width) + data[at + 9 :]


def jpeg_dimension_bomb(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A 2 KB JPEG whose frame header claims width x height (the decoder allocates it all)."""
    path.write_bytes(set_jpeg_size(jpeg_bytes(_image(64, 64)), width, height))
    return path


def progressive_scan_bomb(path: Path, n_scans: int = 3000) -> Path:
    """A progressive JPEG whose shortest scan is repeated to ``n_scans`` scans in all (each
    one a full pass of the decoder: 3000 scans on a large picture took 83 s)."""
    data = jpeg_bytes(_image(96, 128), progressive=True)
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xDA]
    ends = [*starts[1:], data.rindex(b"\xff\xd9")]
    shortest = min(zip(starts, ends, strict=True), key=lambda se: se[1] - se[0])
    scan = data[shortest[0] : shortest[1]]
    extra = max(0, n_scans - len(starts))
    end = ends[-1]
    path.write_bytes(data[:end] + scan * extra + data[end:])
    return path


def dicom_jpeg_lying_size(
    path: Path, header: tuple[int, int] = (320, 256), stream: tuple[int, int] = (30000, 30000)
) -> Path:
    """JPEG Baseline DICOM whose header says 320x256 while its JPEG stream says 30000x30000."""
    width, height = header
    dicom(path, _image(height, width), syntax=JPEGBaseline8Bit)
    data = path.read_bytes()
    at = data.find(b"\xff\xc0")
    patched = data[: at + 5] + struct.pack(">HH", stream[1], stream[0]) + data[at + 9 :]
    path.write_bytes(patched)
    return path


def _explicit_le(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT", b"UC", b"UR"):
        return struct.pack("<HH2sHL", group, elem, vr, 0, len(value)) + value
    return struct.pack("<HH2sH", group, elem, vr, len(value)) + value


def _file_meta(transfer_syntax: str) -> bytes:
    ts = transfer_syntax.encode() + (b"\x00" if len(transfer_syntax) % 2 else b"")
    sop = b"1.2.840.10008.5.1.4.1.1.6.1\x00"  # Ultrasound Image Storage
    inst = b"1.2.826.0.1.3680043.8.498.77\x00"
    body = (
        _explicit_le(0x0002, 0x0001, b"OB", b"\x00\x01")
        + _explicit_le(0x0002, 0x0002, b"UI", sop)
        + _explicit_le(0x0002, 0x0003, b"UI", inst)
        + _explicit_le(0x0002, 0x0010, b"UI", ts)
    )
    group_length = _explicit_le(0x0002, 0x0000, b"UL", struct.pack("<L", len(body)))
    return b"\x00" * 128 + b"DICM" + group_length + body


def _image_elements(rows: int, columns: int) -> bytes:
    us = lambda v: struct.pack("<H", v)  # noqa: E731
    return (
        _explicit_le(0x0008, 0x0060, b"CS", b"US")
        + _explicit_le(0x0010, 0x0020, b"LO", b"FUZZ")
        + _explicit_le(0x0028, 0x0002, b"US", us(1))
        + _explicit_le(0x0028, 0x0004, b"CS", b"MONOCHROME2 ")
        + _explicit_le(0x0028, 0x0010, b"US", us(rows))
        + _explicit_le(0x0028, 0x0011, b"US", us(columns))
        + _explicit_le(0x0028, 0x0100, b"US", us(8))
        + _explicit_le(0x0028, 0x0101, b"US", us(8))
        + _explicit_le(0x0028, 0x0102, b"US", us(7))
        + _explicit_le(0x0028, 0x0103, b"US", us(0))
    )


def deflate_bomb(path: Path, inflated: int = GIB) -> Path:
    """Deflated Explicit VR Little Endian DICOM (about 1 MB per GiB) whose data set inflates to
    ``inflated`` bytes (rounded up to 16 MiB): a 4096 x 4096 image header and a Pixel Data
    element of zeros. Built from one compressed 16 MiB block of zeros repeated: after a full
    flush a raw deflate block refers to nothing before it."""
    side, block = 4096, 16 * MIB
    n_blocks = -(-inflated // block)
    head = _image_elements(side, side)
    pixel_header = struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, n_blocks * block)
    first = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    start = first.compress(head + pixel_header) + first.flush(zlib.Z_FULL_FLUSH)
    zeros = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    repeated = zeros.compress(bytes(block)) + zeros.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS).flush()
    path.write_bytes(_file_meta("1.2.840.10008.1.2.1.99") + start + repeated * n_blocks + end)
    return path


def _split_at_patient(rows: int, columns: int) -> tuple[bytes, bytes]:
    """The image elements before and from (0010,0020): private group 0009 goes between."""
    elements = _image_elements(rows, columns)
    at = elements.find(struct.pack("<HH", 0x0010, 0x0020))
    return elements[:at], elements[at:]


def _pixel_element(rows: int, columns: int) -> bytes:
    pixels = _image(rows, columns).tobytes()
    return struct.pack("<HH2sHL", 0x7FE0, 0x0010, b"OB", 0, len(pixels)) + pixels


def many_private_elements(path: Path, n: int = 500_000) -> Path:
    """A small native image after ``n`` private 4-byte elements (6 MB)."""
    chunks, left, group = [], n, 0x0009
    while left > 0:
        blocks = range(0x10, 0x100)
        chunks += [_explicit_le(group, b, b"LO", b"FUZZ CREATOR") for b in blocks]
        for b in blocks:
            for e in range(min(left, 256)):
                chunks.append(struct.pack("<HH2sH", group, (b << 8) | e, b"LO", 4) + b"abcd")
            left -= min(left, 256)
            if left <= 0:
                break
        group += 2
    before, after = _split_at_patient(48, 64)
    body = before + b"".join(chunks) + after + _pixel_element(48, 64)
    path.write_bytes(_file_meta("1.2.840.10008.1.2.1") + body)
    return path


def huge_private_element(path: Path, length: int = 2 * GIB - 2) -> Path:
    """A native image after a private OB element of ``length`` bytes, written as a sparse
    file (``length`` bytes on paper, a few KB on disk): read in full, it costs 2 GiB."""
    before, after = _split_at_patient(48, 64)
    head = (
        _file_meta("1.2.840.10008.1.2.1")
        + before
        + _explicit_le(0x0009, 0x0010, b"LO", b"FUZZ CREATOR")
        + struct.pack("<HH2sHL", 0x0009, 0x1001, b"OB", 0, length)
    )
    with open(path, "wb") as f:
        f.write(head)
        f.seek(len(head) + length)
        f.write(after + _pixel_element(48, 64))
    return path


def native_dicom(path: Path, rows: int = 48, columns: int = 64) -> Path:
    """A minimal valid native (uncompressed) ultrasound image."""
    before, after = _split_at_patient(rows, columns)
    path.write_bytes(
        _file_meta("1.2.840.10008.1.2.1") + before + after + _pixel_element(rows, columns)
    )
    return path


def dicomdir_folder(folder: Path, n_images: int = 2) -> Path:
    """A valid DICOM media folder (DICOMDIR + n small images); returns the DICOMDIR."""
    file_set = FileSet()
    file_set.UID = fixed_uid(f"fileset/{n_images}")
    for i in range(n_images):
        ds = dataset(f"dd{i}", patient_id=f"DD{i}", study_uid=f"1.2.3.{i}", instance=1)
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240101", "1200", "1", ""
        ds.SeriesNumber = 1
        ds.set_pixel_data(_image(32, 40, seed=i), "MONOCHROME2", 8, generate_instance_uid=False)
        file_set.add(ds)
    file_set.write(folder)
    return folder / "DICOMDIR"


def relink_dicomdir(dicomdir: Path, how: str) -> Path:
    """Corrupt the record links of a DICOMDIR in place:
    ``self``: the first record's next-record offset points to itself (pydicom loops forever);
    ``cycle``: the last top-level record points back to the first;
    ``lower-self``: a record's lower-level offset points to itself;
    ``dangling``: the first record's next offset points past the end of the file."""
    ds = dcmread(dicomdir)
    records = ds.DirectoryRecordSequence
    first = records[0]
    if how == "self":
        first.OffsetOfTheNextDirectoryRecord = first.seq_item_tell
    elif how == "cycle":
        top = [r for r in records if r.DirectoryRecordType == "PATIENT"]
        top[-1].OffsetOfTheNextDirectoryRecord = first.seq_item_tell
    elif how == "lower-self":
        first.OffsetOfReferencedLowerLevelDirectoryEntity = first.seq_item_tell
    elif how == "dangling":
        first.OffsetOfTheNextDirectoryRecord = dicomdir.stat().st_size + 1000
    else:
        raise ValueError(how)
    ds.save_as(dicomdir)
    return dicomdir


def referenced_outside(dicomdir: Path, target: str, up: int = 1) -> Path:
    """Point the first IMAGE record's Referenced File ID ``up`` folders above the DICOMDIR, at
    ``target`` (padded with "." components to its old length, so no record offset moves)."""
    ds = dcmread(dicomdir)
    for record in ds.DirectoryRecordSequence:
        if record.DirectoryRecordType == "IMAGE":
            old = len("\\".join(record.ReferencedFileID)) + 1 >> 1 << 1
            parts = [".."] * up + [target]
            while len("\\".join(parts)) + 1 >> 1 << 1 < old:
                parts.insert(up, ".")
            assert len("\\".join(parts)) + 1 >> 1 << 1 == old, "cannot keep the length"
            record.ReferencedFileID = parts
            break
    ds.save_as(dicomdir)
    return dicomdir


def non_utf8_name(folder: Path, stem: bytes = b"scan_\xff\xfe") -> Path:
    """A good PNG whose file name is not valid UTF-8 (a Latin-1 name from an old share)."""
    raw = os.fsencode(folder) + b"/" + stem + b".png"
    with open(raw, "wb") as f:
        f.write(png_bytes(_image(40, 50)))
    return Path(os.fsdecode(raw))


def good_png(path: Path, seed: int = 0, h: int = 60, w: int = 80) -> Path:
    path.write_bytes(png_bytes(_image(h, w, seed)))
    return path
