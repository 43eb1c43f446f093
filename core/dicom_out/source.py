"""The source study of a prediction: the DICOM headers of the images it was made on.

Every object CNSight sends back belongs to the study its images came from (same Study Instance
UID, same patient module) and references the images by SOP Class and SOP Instance UID (and
frame number for a multi-frame file). Those facts live in the files' headers, so they are read
here, from the files, with the bounded header reader the imaging code uses
(``core.imaging.dicom_header``) - the app and ``cnsight-predict`` both have the files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from ..errors import DicomOutputError, ImageReadError, NotADicomStudyError
from ..imaging.detect import classify_file
from ..imaging.dicom_header import read_dicom_header
from ..records import ImageRef

#: Type 2 attributes of the Patient and General Study modules: every object CNSight writes
#: must have them (empty when unknown), and highdicom copies them from the source header, so a
#: source image that lacks one gets it empty here (the header is CNSight's own copy).
_TYPE2_PATIENT_STUDY = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber",
)  # fmt: skip

#: A DICOM UID: digits and dots, at most 64 characters (PS3.5 9.1). The Study Instance UID
#: names the output folder, so anything else (a path, a traversal) is refused here.
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


@dataclass(frozen=True)
class SourceImage:
    """One predicted image in its DICOM file."""

    ref: ImageRef
    dataset: Dataset  # the file's header, without pixel data
    frame_number: int | None  # 1-based (DICOM) for a frame of a multi-frame file, else None

    @property
    def sop_class_uid(self) -> str:
        return str(self.dataset.SOPClassUID)

    @property
    def sop_instance_uid(self) -> str:
        return str(self.dataset.SOPInstanceUID)


@dataclass(frozen=True)
class SourceStudy:
    """The images of one DICOM study that a prediction used."""

    study_uid: str
    images: dict[str, SourceImage]  # by ImageRef.key

    @property
    def datasets(self) -> list[Dataset]:
        """One header per file (the frames of a cine share it), in reading order."""
        seen: dict[str, Dataset] = {}
        for image in self.images.values():
            seen.setdefault(image.sop_instance_uid, image.dataset)
        return list(seen.values())

    @property
    def first(self) -> Dataset:
        """The header the patient and study modules are copied from."""
        return self.datasets[0]


def valid_uid(value: str) -> bool:
    return len(value) <= 64 and bool(_UID.match(value))


def read_source_study(refs: Sequence[ImageRef]) -> SourceStudy:
    """The DICOM headers of ``refs``; ``DicomOutputError`` when they are not one DICOM study.

    Refused: no image; an image that is not a DICOM file (``NotADicomStudyError``: a PNG has
    no study to attach results to, and a study half of DICOM files would get an SR whose
    verdict rests on images outside it); a header that cannot be read or lacks its SOP Class,
    SOP Instance or Study Instance UID; images of more than one study.
    """
    if not refs:
        raise DicomOutputError("no predicted image: there is nothing to send back")
    not_dicom = [r for r in refs if not _is_dicom(Path(r.path))]
    if not_dicom:
        raise NotADicomStudyError(
            f"{len(not_dicom)} of {len(refs)} images are not DICOM files (first: "
            f"{not_dicom[0].path.name}): there is no DICOM study to attach the results to"
        )
    headers: dict[Path, Dataset] = {}
    images: dict[str, SourceImage] = {}
    for ref in refs:
        path = Path(ref.path)
        if path not in headers:
            headers[path] = _header(path)
        ds = headers[path]
        frames = int(ds.get("NumberOfFrames") or 1)
        frame_number = None if ref.frame is None or frames <= 1 else ref.frame + 1
        images[ref.key] = SourceImage(ref, ds, frame_number)
    studies = {str(ds.StudyInstanceUID) for ds in headers.values()}
    if len(studies) > 1:
        raise DicomOutputError(
            f"the images belong to {len(studies)} studies ({', '.join(sorted(studies))}): the "
            "results of one patient verdict must go to one study"
        )
    return SourceStudy(studies.pop(), images)


def _is_dicom(path: Path) -> bool:
    try:
        fmt, _head = classify_file(path)
    except ImageReadError:
        return True  # unreadable: let the header reader say why
    return fmt.startswith("DICOM")


def _header(path: Path) -> Dataset:
    try:
        header = read_dicom_header(path, force=True)
    except ImageReadError as exc:
        raise DicomOutputError(str(exc)) from exc
    ds = header.ds
    for keyword, what in (
        ("SOPClassUID", "SOP Class UID"),
        ("SOPInstanceUID", "SOP Instance UID"),
        ("StudyInstanceUID", "Study Instance UID"),
    ):
        value = str(ds.get(keyword) or "").strip()
        if not value:
            raise DicomOutputError(
                f"{path}: no {what} ({keyword}) in the header: the results cannot be attached "
                "to its study"
            )
        if not valid_uid(value):
            raise DicomOutputError(f"{path}: {what} {value[:80]!r} is not a valid DICOM UID")
    for keyword in _TYPE2_PATIENT_STUDY:
        if keyword not in ds:
            setattr(ds, keyword, None)
    return ds
