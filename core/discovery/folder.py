"""Folders: the published dataset layout ``<class_name>/<patient_id>/*``, or any tree of
DICOM and image files (DICOM grouped by PatientID / StudyInstanceUID, images by folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.discovery.grouping import Found
from core.discovery.naming import folder_patient_id
from core.discovery.scan import CancelCheck, check_cancel, probe_into, walk_candidates
from core.imaging import is_candidate
from core.records import FileError


def class_folders(root: Path, class_names: Sequence[str]) -> dict[Path, str]:
    """Immediate subfolders of ``root`` named like a class (case-insensitive) -> class name."""
    by_name = {name.casefold(): name for name in class_names}
    found = {}
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.casefold() in by_name:
            found[child] = by_name[child.name.casefold()]
    return found


def scan_plain_folder(root: Path, cancelled: CancelCheck = None) -> Found:
    """Every candidate file under ``root``; patient = DICOM Patient ID, else the file's folder
    relative to ``root``; DICOM studies split by Study Instance UID."""
    found = Found()
    for path in walk_candidates(root, found, cancelled):
        check_cancel(cancelled)
        probe_into(found, path, folder_id=folder_patient_id(path.parent, root))
    return found


def scan_dataset_layout(
    root: Path, classes: dict[Path, str], class_names: Sequence[str], cancelled: CancelCheck = None
) -> Found:
    """``<class_name>/<patient_id>/...``: label from the class folder, patient id from the
    folder below it (a patient found under two classes is one patient). Anything else at
    those levels is reported, not guessed."""
    found = Found()
    known = ", ".join(class_names)
    for child in sorted(root.iterdir()):
        if child.name.startswith(".") or child in classes:
            continue
        if child.is_dir():
            found.errors.append(
                FileError(str(child), f"folder '{child.name}' is not a class ({known}); skipped")
            )
        else:
            _report_loose_file(found, child, "not inside a <class>/<patient_id>/ folder")
    for class_dir, label in classes.items():
        for child in sorted(class_dir.iterdir()):
            if child.name.startswith("."):
                continue
            if not child.is_dir():
                _report_loose_file(found, child, f"not inside a {label}/<patient_id>/ folder")
                continue
            for path in walk_candidates(child, found, cancelled, within=root):
                check_cancel(cancelled)
                probe_into(
                    found, path, folder_id=child.name, patient_id=child.name, by_study=False,
                    label=label,
                )  # fmt: skip
    return found


def _report_loose_file(found: Found, path: Path, reason: str) -> None:
    if is_candidate(path):
        found.errors.append(FileError(str(path), reason))
    else:
        found.skipped += 1


def scan_folder(root: Path, class_names: Sequence[str], cancelled: CancelCheck = None) -> Found:
    """Dataset layout when an immediate subfolder is named like a class, else a plain scan."""
    classes = class_folders(root, class_names)
    if classes:
        return scan_dataset_layout(root, classes, class_names, cancelled)
    return scan_plain_folder(root, cancelled)
