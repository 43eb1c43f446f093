"""A study-level search and its results, the same for C-FIND and QIDO-RS."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.dataset import Dataset

from .errors import PacsError

_DATE = re.compile(r"^\d{8}$")


class QueryError(PacsError):
    """A search that cannot be sent as given (a bad date), or that the PACS refused."""


@dataclass(frozen=True)
class StudyQuery:
    """What to search for; empty fields match everything. ``patient_name`` may hold the DICOM
    wildcards ``*`` and ``?`` (e.g. ``DOE*``); dates are ``YYYYMMDD``, either end open."""

    patient_name: str = ""
    patient_id: str = ""
    date_from: str = ""
    date_to: str = ""
    modality: str = ""
    accession: str = ""
    study_uid: str = ""

    def __post_init__(self) -> None:
        for label, value in (("from", self.date_from), ("to", self.date_to)):
            if value and not _DATE.match(value):
                raise QueryError(f"study date {label} {value!r} must be YYYYMMDD (e.g. 20240131)")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise QueryError(f"study date from {self.date_from} is after to {self.date_to}")

    @property
    def date_range(self) -> str:
        """The DICOM range matching value: ``A-B``, ``A-``, ``-B``, ``A`` or empty."""
        if self.date_from and self.date_from == self.date_to:
            return self.date_from
        if self.date_from or self.date_to:
            return f"{self.date_from}-{self.date_to}"
        return ""

    def identifier(self) -> Dataset:
        """The C-FIND identifier (Study Root, STUDY level) with the fields to return."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        ds.PatientName = self.patient_name
        ds.PatientID = self.patient_id
        ds.StudyDate = self.date_range
        ds.StudyTime = ""
        ds.ModalitiesInStudy = self.modality
        ds.AccessionNumber = self.accession
        ds.StudyInstanceUID = self.study_uid
        ds.StudyDescription = ""
        ds.NumberOfStudyRelatedInstances = ""
        return ds

    def qido_filters(self) -> dict[str, str]:
        """The same search as QIDO-RS query parameters."""
        pairs = {
            "PatientName": self.patient_name,
            "PatientID": self.patient_id,
            "StudyDate": self.date_range,
            "ModalitiesInStudy": self.modality,
            "AccessionNumber": self.accession,
            "StudyInstanceUID": self.study_uid,
        }
        return {k: v for k, v in pairs.items() if v}


#: The fields a search asks the PACS to return (QIDO-RS ``includefield``).
RETURN_FIELDS = (
    "PatientName",
    "PatientID",
    "StudyDate",
    "StudyTime",
    "ModalitiesInStudy",
    "AccessionNumber",
    "StudyInstanceUID",
    "StudyDescription",
    "NumberOfStudyRelatedInstances",
)


@dataclass(frozen=True)
class StudyRecord:
    """One study the PACS found."""

    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""
    study_time: str = ""
    modalities: str = ""  # backslash-free: "US, SR"
    accession: str = ""
    description: str = ""
    n_instances: int | None = None

    @classmethod
    def from_dataset(cls, ds: Dataset) -> StudyRecord:
        modalities = ds.get("ModalitiesInStudy", "")
        if not isinstance(modalities, str):
            modalities = ", ".join(str(m) for m in modalities)
        count = ds.get("NumberOfStudyRelatedInstances", None)
        try:
            n = int(count) if count not in (None, "") else None
        except (TypeError, ValueError):
            n = None
        return cls(
            study_uid=str(ds.get("StudyInstanceUID", "")),
            patient_id=str(ds.get("PatientID", "")),
            patient_name=str(ds.get("PatientName", "")),
            study_date=str(ds.get("StudyDate", "")),
            study_time=str(ds.get("StudyTime", "")),
            modalities=modalities,
            accession=str(ds.get("AccessionNumber", "")),
            description=str(ds.get("StudyDescription", "")),
            n_instances=n,
        )

    @classmethod
    def from_dicom_json(cls, data: dict) -> StudyRecord:
        """From a QIDO-RS result (DICOM JSON)."""
        return cls.from_dataset(Dataset.from_json(data))
