"""Walking folders and probing files into entries (header-only)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from core.discovery.grouping import Entry, Found
from core.errors import CancelledError, ImageReadError
from core.imaging import is_candidate, probe_details
from core.records import FileError

log = logging.getLogger(f"cnsight.{__name__}")

CancelCheck = Callable[[], bool] | None


def check_cancel(cancelled: CancelCheck) -> None:
    """Raise CancelledError when the caller's ``cancelled()`` says so."""
    if cancelled is not None and cancelled():
        raise CancelledError("study discovery cancelled")


def walk_candidates(root: Path, found: Found, cancelled: CancelCheck = None) -> list[Path]:
    """Image/DICOM candidate files under ``root`` in a fixed order; hidden folders and files,
    DICOMDIR files and non-candidates are skipped (counted in ``found.skipped``)."""

    def on_error(exc: OSError) -> None:
        found.errors.append(FileError(str(exc.filename), f"cannot read folder: {exc.strerror}"))

    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error):
        check_cancel(cancelled)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.upper() != "DICOMDIR" and is_candidate(path):
                files.append(path)
            elif not name.startswith("."):
                found.skipped += 1
    return files


def probe_into(
    found: Found,
    path: Path,
    *,
    folder_id: str,
    patient_id: str | None = None,
    by_study: bool = True,
    **fields,
) -> None:
    """Probe ``path`` and add one entry per image to ``found`` (or one FileError).

    ``patient_id`` given: it is used (manifest, dataset layout). Otherwise DICOM (0010,0020)
    Patient ID when present, else ``folder_id``. ``by_study``: group by Study Instance UID
    too. ``fields``: ImageRef fields to set (label, ga_weeks, site, plane).
    """
    try:
        probed = probe_details(path)
    except ImageReadError as exc:
        found.errors.append(FileError(str(path), exc.reason))
        return
    for ref in probed.refs:
        pid = patient_id or (ref.patient_id if probed.patient_id_in_header else folder_id)
        ref = replace(ref, patient_id=pid, **fields)
        group = (pid, ref.study_uid if by_study else "")
        found.entries.append(Entry(ref=ref, group=group, instance_number=probed.instance_number))
