"""The PDF report as an Encapsulated PDF (PS3.3 A.45.1), in the source study.

highdicom has no Encapsulated PDF class; its ``SOPClass`` base gives the SOP Common, Patient,
General Study, series and General Equipment modules (and copies the patient and study modules
from the source image), and this module adds the Encapsulated Document and SC Equipment
modules. The bytes are the caller's PDF (the app's Qt report) or the CLI's matplotlib report
(``report_pdf``); they are checked to be a PDF before they are wrapped.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.uid import EncapsulatedPDFStorage, ExplicitVRLittleEndian

from ..errors import DicomOutputError
from .identity import CHARACTER_SET, PDF_SERIES_NUMBER, equipment, lo, series_description
from .source import SourceStudy

if TYPE_CHECKING:
    from ..bundle import ModelCard

PDF_MIME = "application/pdf"
#: A PDF starts with "%PDF-" (ISO 32000-1 7.5.2) and ends with "%%EOF" within its last bytes
#: (7.5.5; writers may add a line end or a little padding after it).
_PDF_TAIL = 1024


def check_pdf(data: bytes) -> None:
    """Refuse what is not a complete PDF (``DicomOutputError`` says which check failed)."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise DicomOutputError("the PDF report is empty")
    if not bytes(data[:5]) == b"%PDF-":
        raise DicomOutputError(
            "the PDF report is not a PDF (it does not start with '%PDF-'); refused"
        )
    if b"%%EOF" not in bytes(data[-_PDF_TAIL:]):
        raise DicomOutputError("the PDF report is truncated (no '%%EOF' at its end); refused")


def build_encapsulated_pdf(
    pdf: bytes,
    study: SourceStudy,
    card: ModelCard,
    title: str,
    series_uid: str,
) -> hd.SOPClass:
    check_pdf(pdf)
    eq = equipment(card)
    now = dt.datetime.now()
    doc = hd.SOPClass(
        study_instance_uid=study.study_uid,
        series_instance_uid=series_uid,
        series_number=PDF_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        sop_class_uid=EncapsulatedPDFStorage,
        instance_number=1,
        modality="DOC",
        manufacturer=eq["manufacturer"],
        manufacturer_model_name=eq["manufacturer_model_name"],
        software_versions=eq["software_versions"],
        transfer_syntax_uid=ExplicitVRLittleEndian,
        series_description=series_description("report (PDF)"),
        content_date=now.date(),
        content_time=now.time(),
    )
    doc.copy_patient_and_study_information(study.first)
    doc.SpecificCharacterSet = CHARACTER_SET
    doc.ConversionType = "SYN"  # SC Equipment: made by software, not scanned
    doc.AcquisitionDateTime = now.strftime("%Y%m%d%H%M%S")
    doc.BurnedInAnnotation = "YES"  # the report names the patient
    doc.DocumentTitle = lo(title)
    doc.ConceptNameCodeSequence = []
    doc.MIMETypeOfEncapsulatedDocument = PDF_MIME
    doc.SourceInstanceSequence = [_reference(ds) for ds in study.datasets]
    # OB values have even length: pad with a NUL, and say the true length (PS3.3 C.24.2.1).
    doc.EncapsulatedDocumentLength = len(pdf)
    doc.EncapsulatedDocument = bytes(pdf) + (b"\0" if len(pdf) % 2 else b"")
    return doc


def _reference(ds: Dataset) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    return ref
