"""What kind of file is this? Decided from the first bytes, never from the name alone."""

from __future__ import annotations

from pathlib import Path

from core.errors import ImageReadError

#: Extensions that make a file a candidate in a folder scan without reading it.
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
DICOM_EXTENSIONS = frozenset({".dcm", ".dicom"})
CANDIDATE_EXTENSIONS = IMAGE_EXTENSIONS | DICOM_EXTENSIONS

#: Raster formats read through Pillow (Pillow format names).
RASTER_FORMATS = ("PNG", "JPEG", "BMP", "TIFF")

#: Bytes needed to recognise every format below (DICOM preamble + "DICM").
HEAD_SIZE = 132

_RASTER_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)
_UNSUPPORTED_MAGIC = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000 (JP2)"),
    (b"\xff\x4f\xff\x51", "JPEG 2000 codestream"),
    (b"%PDF", "PDF"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"II\xbc", "JPEG XR"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "Photoshop PSD"),
)


def read_head(path: str | Path, size: int = HEAD_SIZE) -> bytes:
    """The first ``size`` bytes of ``path`` (fewer for a short file)."""
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError as exc:
        raise ImageReadError(path, f"cannot open file: {exc.strerror or exc}") from exc


def has_dicom_marker(head: bytes) -> bool:
    """Whether bytes 128..132 hold the DICOM Part 10 marker ``DICM``."""
    return head[128:132] == b"DICM"


def sniff_format(head: bytes) -> str | None:
    """``"DICOM"``, a Pillow raster format name, ``"unsupported:<name>"`` or None (unknown)."""
    if has_dicom_marker(head):
        return "DICOM"
    for magic, name in _RASTER_MAGIC:
        if head.startswith(magic):
            return name
    if head[4:12] in (b"ftypavif", b"ftypheic", b"ftypheix", b"ftypmif1"):
        return "unsupported:HEIF/AVIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "unsupported:WebP"
    for magic, name in _UNSUPPORTED_MAGIC:
        if head.startswith(magic):
            return f"unsupported:{name}"
    return None


def looks_like_text(head: bytes) -> bool:
    """Whether the first bytes look like text (printable ASCII/UTF-8, no NUL)."""
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in text)


def is_candidate(path: str | Path) -> bool:
    """Whether a file found in a folder scan should be probed as an image or DICOM file.

    True for the image and DICOM extensions (.png .jpg .jpeg .bmp .tif .tiff .dcm .dicom);
    for any other name (no extension, unknown extension) only when bytes 128..132 are ``DICM``.
    Hidden files (``.DS_Store``, ``._x.dcm``) and folders are never candidates.
    """
    p = Path(path)
    if p.name.startswith(".") or not p.is_file():
        return False
    if p.suffix.lower() in CANDIDATE_EXTENSIONS:
        return True
    try:
        with open(p, "rb") as f:
            return has_dicom_marker(f.read(HEAD_SIZE))
    except OSError:
        return False


def classify_file(path: Path) -> tuple[str, bytes]:
    """Check ``path`` is a non-empty file and say how to read it, with its first bytes.

    Returns a raster format name, ``"DICOM"`` (has the DICM marker) or ``"DICOM?"`` (no
    marker and no known signature: may still be a DICOM data set without preamble).
    """
    if not path.exists():
        raise ImageReadError(path, "file not found")
    if not path.is_file():
        raise ImageReadError(path, "not a file (a folder or a device)")
    head = read_head(path)
    if not head:
        raise ImageReadError(path, "empty file (0 bytes)")
    fmt = sniff_format(head)
    if fmt is not None and fmt.startswith("unsupported:"):
        raise ImageReadError(
            path,
            f"unsupported format {fmt.split(':', 1)[1]} (supported: PNG, JPEG, BMP, TIFF, DICOM)",
        )
    if fmt is not None:
        return fmt, head
    text_hint = " (the content looks like text)" if looks_like_text(head) else ""
    ext = path.suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        raise ImageReadError(
            path,
            f"not an image: the file is named {ext} but its content is not PNG, JPEG, BMP, "
            f"TIFF or DICOM{text_hint}",
        )
    if text_hint:
        raise ImageReadError(path, f"not an image or DICOM file{text_hint}")
    return "DICOM?", head
