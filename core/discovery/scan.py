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
from core.imaging.detect import CANDIDATE_EXTENSIONS
from core.records import FileError

log = logging.getLogger(f"cnsight.{__name__}")

CancelCheck = Callable[[], bool] | None


def check_cancel(cancelled: CancelCheck) -> None:
    """Raise CancelledError when the caller's ``cancelled()`` says so."""
    if cancelled is not None and cancelled():
        raise CancelledError("study discovery cancelled")


def _resolves_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (a symbolic link, or below one) resolves to a place inside ``root``."""
    try:
        path.resolve(strict=True).relative_to(root)
    except (ValueError, OSError, RuntimeError):  # outside, dangling, or a loop
        return False
    return True


def _link_error(path: Path) -> FileError:
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return FileError(str(path), "symbolic link that leads nowhere (dangling or a loop)")
    return FileError(
        str(path), f"symbolic link to {target}, outside the folder being read: not followed"
    )


def _special_file(path: Path) -> bool:
    """A pipe, socket or device named like an image file (opening a pipe would block)."""
    if path.name.startswith(".") or path.suffix.lower() not in CANDIDATE_EXTENSIONS:
        return False
    try:
        return not path.is_file() and not path.is_dir() and path.exists()
    except OSError:
        return False


def _empty_folder_reason(folder: Path) -> str:
    if folder.suffix.lower() in CANDIDATE_EXTENSIONS:
        return f"a folder named like an image file ({folder.name}), not a file, and empty"
    return "empty folder: no image or DICOM file"


def walk_candidates(
    root: Path, found: Found, cancelled: CancelCheck = None, within: Path | None = None
) -> list[Path]:
    """Image/DICOM candidate files under ``root`` in a fixed order; hidden folders and files,
    DICOMDIR files and non-candidates are skipped (counted in ``found.skipped``).

    Symbolic links (to files or folders) are followed only when they resolve to a place
    inside ``root``: a link out of the data folder, a dangling link or a loop is one
    FileError. A folder named like an image file (``x.dcm``) and an empty folder are one
    FileError each, so that nothing the user gave disappears without a row. ``within``: the
    folder the user opened, when ``root`` is a folder below it (a patient folder)."""

    def on_error(exc: OSError) -> None:
        found.errors.append(FileError(str(exc.filename), f"cannot read folder: {exc.strerror}"))

    try:
        real_root = (within or root).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        found.errors.append(FileError(str(root), f"cannot read folder: {exc}"))
        return []
    if within is not None and not _resolves_inside(root, real_root):
        found.errors.append(_link_error(root))
        return []
    files: list[Path] = []
    visited = {root.resolve()}  # real folders walked: a link back to one of them is a loop
    for dirpath, dirnames, filenames in os.walk(root, onerror=on_error, followlinks=True):
        check_cancel(cancelled)
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            sub = here / d
            if d.startswith("."):
                continue
            if sub.is_symlink():
                if not _resolves_inside(sub, real_root):
                    found.errors.append(_link_error(sub))
                    continue
                target, real_here = sub.resolve(), here.resolve()
                if target in visited or target == real_here or target in real_here.parents:
                    found.errors.append(
                        FileError(str(sub), f"symbolic link to {target}, a folder read already")
                    )
                    continue
            visited.add(sub.resolve())
            kept.append(d)
        dirnames[:] = kept
        if here != root and not kept and not any(not n.startswith(".") for n in filenames):
            found.errors.append(FileError(str(here), _empty_folder_reason(here)))
        for name in sorted(filenames):
            path = here / name
            if path.is_symlink() and not _resolves_inside(path, real_root):
                found.errors.append(_link_error(path))
            elif name.upper() != "DICOMDIR" and is_candidate(path):
                files.append(path)
            elif _special_file(path):
                found.errors.append(
                    FileError(str(path), "not a regular file (a pipe, socket or device): not read")
                )
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
        from_folder = not patient_id and not probed.patient_id_in_header
        pid = folder_id if from_folder else (patient_id or ref.patient_id)
        ref = replace(ref, patient_id=pid, **fields)
        # Files without a Patient ID are the folder's patient, whatever their study UIDs.
        group = (pid, ref.study_uid if by_study and not from_folder else "")
        found.entries.append(Entry(ref=ref, group=group, instance_number=probed.instance_number))
