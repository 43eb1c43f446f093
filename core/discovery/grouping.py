"""Turning probed images into patients, in a deterministic order."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.discovery.naming import natural_key
from core.records import FileError, ImageRef, Patient

log = logging.getLogger(f"cnsight.{__name__}")


@dataclass(frozen=True)
class Entry:
    """One image found by a scan, with the group it belongs to and its order in it."""

    ref: ImageRef
    group: tuple[str, str]  # (patient_id, study_uid); study_uid "" = group by patient only
    instance_number: int | None = None


@dataclass
class Found:
    """What one input yielded: images, files that could not be used, files not looked at."""

    entries: list[Entry] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    skipped: int = 0  # files that are not image or DICOM candidates (README.txt, ...)

    def extend(self, other: Found) -> None:
        self.entries.extend(other.entries)
        self.errors.extend(other.errors)
        self.skipped += other.skipped


def image_order(entry: Entry) -> tuple:
    """Natural order of the file name, then (0020,0013) Instance Number, then the full path,
    then the frame."""
    ref = entry.ref
    instance = entry.instance_number if entry.instance_number is not None else -1
    return (
        natural_key(ref.path.name),
        instance,
        natural_key(str(ref.path)),
        -1 if ref.frame is None else ref.frame,
    )


def _study_uid(group_uid: str, refs: Iterable[ImageRef]) -> str:
    if group_uid:
        return group_uid
    uids = {r.study_uid for r in refs if r.study_uid}
    return uids.pop() if len(uids) == 1 else ""


def build_patients(entries: Iterable[Entry]) -> tuple[Patient, ...]:
    """Group entries by (patient_id, study_uid); patients sorted by id (natural order) then
    study UID; images in ``image_order``. An image seen twice (same path and frame) counts once."""
    groups: dict[tuple[str, str], dict[str, Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.group, {}).setdefault(entry.ref.key, entry)
    patients = []
    for (patient_id, uid), members in groups.items():
        ordered = sorted(members.values(), key=image_order)
        refs = tuple(e.ref for e in ordered)
        patients.append(
            Patient(patient_id=patient_id, images=refs, study_uid=_study_uid(uid, refs))
        )
    patients.sort(key=lambda p: (natural_key(p.patient_id), p.study_uid))
    for patient in patients:
        labels = {r.label for r in patient.images if r.label} - {"normal"}
        if len(labels) > 1:
            log.warning("patient %s has conflicting labels %s", patient.patient_id, sorted(labels))
    return tuple(patients)
