"""DICOMDIR: the images a DICOM media directory references (IMAGE records)."""

from __future__ import annotations

import logging
from pathlib import Path

from pydicom import dcmread
from pydicom.fileset import FileSet

from core.discovery.grouping import Found
from core.discovery.naming import folder_patient_id
from core.discovery.scan import CancelCheck, check_cancel, probe_into
from core.errors import DiscoveryError
from core.imaging.limits import DEFER_SIZE
from core.records import FileError

log = logging.getLogger(f"cnsight.{__name__}")

DICOMDIR_NAME = "DICOMDIR"


def find_dicomdir(folder: Path) -> Path | None:
    """The DICOMDIR file at the root of ``folder`` (name matched case-insensitively)."""
    for child in sorted(folder.iterdir()):
        if child.name.upper() == DICOMDIR_NAME and child.is_file():
            return child
    return None


def _record_patient_id(instance) -> str | None:
    """(0010,0020) Patient ID from the instance's PATIENT directory record, if any."""
    try:
        value = instance["PatientID"].value if "PatientID" in instance else None
    except (KeyError, AttributeError):
        return None
    return str(value).strip() or None if value is not None else None


def _referenced_path(root: Path, record) -> Path:
    """(0004,1500) Referenced File ID (path components) as a path below ``root``."""
    parts = record.ReferencedFileID
    parts = [parts] if isinstance(parts, str) else list(parts)
    return root.joinpath(*(str(p) for p in parts))


def missing_image_files(ds, root: Path) -> list[Path]:
    """Files that IMAGE records of (0004,1220) Directory Record Sequence reference but that do
    not exist (pydicom's FileSet drops these silently, with a warning only)."""
    missing = []
    for record in ds.get("DirectoryRecordSequence") or []:
        if record.get("DirectoryRecordType") == "IMAGE" and "ReferencedFileID" in record:
            path = _referenced_path(root, record)
            if not path.is_file():
                missing.append(path)
    return missing


_FIRST = "OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity"
_NEXT = "OffsetOfTheNextDirectoryRecord"
_LOWER = "OffsetOfReferencedLowerLevelDirectoryEntity"


def check_record_links(ds, dicomdir: Path) -> None:
    """Follow the directory's record offsets ((0004,1200) first record, (0004,1400) next,
    (0004,1420) lower level) once each, and refuse a DICOMDIR where one leads to a record
    already visited (pydicom's ``FileSet`` would loop forever: a record pointing at itself)
    or to a byte where no record starts (pydicom raises a bare KeyError)."""
    records = {
        int(r.seq_item_tell): r
        for r in ds.get("DirectoryRecordSequence") or []
        if r.seq_item_tell is not None
    }
    if not records:
        return
    pending = [int(ds.get(_FIRST, 0) or 0)]
    seen: set[int] = set()
    while pending:
        offset = pending.pop()
        while offset:
            if offset in seen:
                raise DiscoveryError(
                    f"{dicomdir}: corrupt DICOMDIR: the record at byte {offset} is linked to "
                    "twice (the directory loops)"
                )
            record = records.get(offset)
            if record is None:
                raise DiscoveryError(
                    f"{dicomdir}: corrupt DICOMDIR: a record offset points to byte {offset}, "
                    "where no directory record starts"
                )
            seen.add(offset)
            lower = int(record.get(_LOWER, 0) or 0)
            if lower:
                pending.append(lower)
            offset = int(record.get(_NEXT, 0) or 0)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def read_dicomdir(dicomdir: Path, cancelled: CancelCheck = None) -> Found:
    """Probe every file an IMAGE record references (through ReferencedFileID); a missing or
    unreadable file, or one outside the DICOMDIR's folder, is one FileError; other record
    types (SR, presentation states) are skipped."""
    try:
        ds = dcmread(dicomdir, defer_size=DEFER_SIZE)
        check_record_links(ds, dicomdir)
        file_set = FileSet(ds)
    except DiscoveryError:
        raise
    except Exception as exc:  # pydicom raises several types for a bad DICOMDIR
        raise DiscoveryError(f"{dicomdir}: not a readable DICOMDIR ({exc})") from exc
    found = Found()
    root = dicomdir.parent
    for path in missing_image_files(ds, root):
        found.errors.append(FileError(str(path), "listed in the DICOMDIR but the file is missing"))
    for instance in file_set:
        check_cancel(cancelled)
        if instance.node.record_type != "IMAGE":
            log.info("%s: skipping %s record", dicomdir, instance.node.record_type)
            found.skipped += 1
            continue
        path = Path(instance.path)
        if not _inside(path, root):
            found.errors.append(
                FileError(
                    str(path),
                    f"listed in the DICOMDIR {dicomdir} but outside its folder: not read",
                )
            )
            continue
        folder_id = _record_patient_id(instance) or folder_patient_id(path.parent, root)
        probe_into(found, path, folder_id=folder_id)
    return found
