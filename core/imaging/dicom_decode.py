"""Decoding one frame of DICOM pixel data with pydicom 3 and its plugins (pylibjpeg, Pillow).

Only the requested frame is read from the file: the decoder is handed the open file positioned
at the pixel data, so a long cine is never loaded whole.
"""

from __future__ import annotations

import logging

import numpy as np
from pydicom import dcmread
from pydicom.encaps import get_frame
from pydicom.pixels import as_pixel_options, get_decoder
from pydicom.uid import UID

from core.errors import ImageReadError
from core.imaging.dicom_header import DicomHeader, number_of_frames
from core.imaging.encoded import check_encoded_frame
from core.imaging.limits import DEFER_SIZE

log = logging.getLogger(f"cnsight.{__name__}")


class _PluginAttemptFilter(logging.Filter):
    """pydicom logs every failed decoding-plugin attempt with its traceback
    (``LOGGER.exception``) before it tries the next plugin or raises. The failure reaches the
    user as one ImageReadError, so the attempt is a DEBUG record: dropped unless pydicom's
    logger is set to DEBUG, where it keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


PLUGIN_ATTEMPT_FILTER = _PluginAttemptFilter()
logging.getLogger("pydicom.pixels.decoders.base").addFilter(PLUGIN_ATTEMPT_FILTER)

_VIDEO_HINT = "video (MPEG/HEVC) transfer syntaxes are not supported: export the cine as JPEG"


def transfer_syntax_text(tsyntax: UID) -> str:
    """Name and UID, e.g. ``JPEG Baseline (Process 1) (1.2.840.10008.1.2.4.50)``."""
    name = tsyntax.name
    return f"{name} ({tsyntax})" if name != str(tsyntax) else str(tsyntax)


def decoder_for(header: DicomHeader):
    """The pydicom decoder for the file's transfer syntax, or ImageReadError saying what is
    missing (an unknown syntax, or which plugin would decode it)."""
    tsyntax = header.transfer_syntax
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError:
        hint = _VIDEO_HINT if tsyntax.name.startswith(("MPEG", "HEVC")) else "no decoder exists"
        raise ImageReadError(
            header.path, f"unsupported transfer syntax {transfer_syntax_text(tsyntax)}: {hint}"
        ) from None
    if not decoder.is_available:
        needs = "; ".join(decoder.missing_dependencies) or "a decoding plugin"
        raise ImageReadError(
            header.path,
            f"unsupported transfer syntax {transfer_syntax_text(tsyntax)}: no decoder plugin is "
            f"installed (needs {needs})",
        )
    return decoder


def _decode(header: DicomHeader, decoder, index: int) -> tuple[np.ndarray, dict]:
    """Frame ``index`` through the decoder's own ``as_array`` - what ``pydicom.pixels.
    pixel_array(path, index=...)`` calls too. Not that wrapper, because it
    - drops the pixel properties after decoding, which ``to_display_rgb`` needs (whether YBR
      was already converted to RGB, the decoded Bits Stored);
    - parses the header again, trusting the transfer syntax's VR: a data set written in
      implicit VR under an explicit-VR syntax (such files exist) is misread, where
      ``read_dicom_header`` detects the encoding from the bytes;
    - cannot read a deflated data set from the file."""
    if header.deflated:  # a deflated data set cannot be seeked: read it whole
        # (its inflated size was capped by read_dicom_header, before this)
        ds = dcmread(header.path, defer_size=DEFER_SIZE)
        return decoder.as_array(ds, index=index, raw=False)
    opts = as_pixel_options(
        header.ds, transfer_syntax_uid=header.transfer_syntax, pixel_keyword=header.pixel_keyword
    )
    if header.pixel_vr:
        opts["pixel_vr"] = header.pixel_vr
    with open(header.path, "rb") as f:
        if header.transfer_syntax.is_encapsulated:
            f.seek(header.pixel_offset or 0)
            frames = number_of_frames(header.path, header.ds)
            frame = get_frame(f, index, number_of_frames=frames)
            check_encoded_frame(header.path, frame, int(header.ds.Columns), int(header.ds.Rows))
        f.seek(header.pixel_offset or 0)
        return decoder.as_array(f, index=index, validate=True, raw=False, **opts)


def _decoder_failure(header: DicomHeader, decoder, exc: Exception) -> ImageReadError:
    tsyntax = transfer_syntax_text(header.transfer_syntax)
    detail = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        return ImageReadError(header.path, "not enough memory to decode the image")
    if isinstance(exc, EOFError):
        return ImageReadError(header.path, f"truncated pixel data ({tsyntax}): {detail}")
    message = f"cannot decode {tsyntax} pixel data: {detail or type(exc).__name__}"
    missing = [m.split(" - ")[0] for m in getattr(decoder, "missing_dependencies", [])]
    if missing and header.transfer_syntax.is_encapsulated:
        message += f" (another decoder may succeed: {', '.join(missing)})"
    return ImageReadError(header.path, message)


def decode_frame(header: DicomHeader, index: int) -> tuple[np.ndarray, dict]:
    """Frame ``index`` (0-based) as an array plus pydicom's pixel properties after decoding.

    pydicom converts YBR_FULL / YBR_FULL_422 to RGB while decoding and then reports
    ``photometric_interpretation`` "RGB", so colour conversion is never applied twice.
    """
    decoder = decoder_for(header)
    try:
        arr, props = _decode(header, decoder, index)
    except ImageReadError:
        raise
    except Exception as exc:  # decoders raise many types; none may escape unexplained
        log.debug("decoder failure for %s", header.path, exc_info=True)
        raise _decoder_failure(header, decoder, exc) from exc
    rows, columns = int(header.ds.Rows), int(header.ds.Columns)
    if arr.shape[:2] != (rows, columns):
        raise ImageReadError(
            header.path,
            f"decoded frame is {arr.shape[1]}x{arr.shape[0]}, header says {columns}x{rows}",
        )
    return arr, props
