"""DICOM header de-identification for ``cnsight-anonymise`` (docs/deidentification.md).

Neither pydicom nor highdicom ships a confidentiality profile, so this module applies the
effect of DICOM PS3.15 Annex E's Basic Application Level Confidentiality Profile with the
Clean Pixel Data Option, the strict way round: instead of removing a list of known
identifying attributes (and keeping whatever the list forgot), it **keeps a list of technical
attributes** and removes everything else, except:

- UIDs: instance UIDs (study, series, SOP instance, frame of reference, any other that is not
  a registered DICOM UID) are replaced, consistently within one ``UidMap``: files of a study
  stay one study, series stay series (profile action U). Registered UIDs (SOP classes,
  transfer syntaxes) stay.
- the patient's name and id become the pseudonym ("case-001"); the type 2 attributes the
  ultrasound IODs require (birth date, sex, study date/time, referring physician, study id,
  accession number, content date/time) stay present and empty (action Z);
- private attributes go (the profile's default).

Then Patient Identity Removed = YES, De-identification Method (+ its code sequence: 113100
basic profile, 113101 clean pixel data when the pixels were masked), Longitudinal Temporal
Information Modified = REMOVED (every date and time is gone).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID_dictionary

#: Technical attributes kept as they are (pixel description, timing, the ultrasound regions'
#: calibration, equipment make and model). Everything not listed here is removed.
KEEP = frozenset({
    "SpecificCharacterSet", "ImageType", "SOPClassUID", "Modality", "Manufacturer",
    "ManufacturerModelName", "SeriesNumber", "InstanceNumber", "PatientOrientation",
    "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "PlanarConfiguration", "NumberOfFrames",
    "FrameIncrementPointer", "FrameTime", "FrameTimeVector", "ActualFrameDuration", "CineRate",
    "RecommendedDisplayFrameRate", "StartTrim", "StopTrim", "PixelAspectRatio", "PixelSpacing",
    "LossyImageCompression", "LossyImageCompressionRatio", "LossyImageCompressionMethod",
    "WindowCenter", "WindowWidth", "RescaleIntercept", "RescaleSlope", "RescaleType",
    "VOILUTFunction", "PixelData", "SequenceOfUltrasoundRegions", "ConversionType",
    "PresentationLUTShape", "UltrasoundColorDataPresent", "BodyPartExamined",
})  # fmt: skip
#: Instance UIDs the IOD requires; replaced, never removed.
MAPPED_UIDS = frozenset({
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID",
})  # fmt: skip
#: Type 2 attributes of the patient, study and image modules: present and empty.
EMPTIED = (
    "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "ReferringPhysicianName",
    "StudyID", "AccessionNumber", "ContentDate", "ContentTime",
)  # fmt: skip
METHOD = "CNSight: PS3.15 Basic Profile (retain list), Clean Pixel Data"
_BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
_CLEAN_PIXELS = ("113101", "Clean Pixel Data Option")


class UidMap:
    """Replacement UIDs: the same input UID always gives the same ``2.25.`` UID within one map
    (HMAC-SHA-256 under a random key that is never written, so the original cannot be
    recomputed from the output)."""

    def __init__(self, key: bytes | None = None):
        self._key = key if key is not None else secrets.token_bytes(32)

    def __call__(self, uid: str) -> str:
        digest = hmac.new(self._key, str(uid).encode("ascii", "replace"), hashlib.sha256)
        return "2.25." + str(int.from_bytes(digest.digest()[:16], "big"))


def _is_registered(uid: str) -> bool:
    return str(uid) in UID_dictionary


def _scrub_item(item: Dataset, uids: UidMap) -> None:
    """Inside a kept sequence: replace instance UIDs, remove people, dates and free text."""
    for elem in list(item):
        if elem.VR == "SQ":
            for sub in elem.value:
                _scrub_item(sub, uids)
        elif elem.VR == "UI" and elem.value and not _is_registered(elem.value):
            elem.value = uids(elem.value)
        elif elem.VR in ("PN", "DA", "DT", "TM", "LO", "SH", "LT", "ST", "UT", "UC", "AE"):
            del item[elem.tag]


def deidentify_header(ds: Dataset, pseudonym: str, uids: UidMap, pixels_cleaned: bool) -> None:
    """De-identify ``ds`` in place (file meta included): see the module docstring."""
    ds.remove_private_tags()
    for elem in list(ds):
        keyword = elem.keyword
        if keyword in MAPPED_UIDS:
            elem.value = uids(elem.value)
        elif keyword not in KEEP:
            del ds[elem.tag]
        elif elem.VR == "SQ":
            for item in elem.value:
                _scrub_item(item, uids)
    ds.PatientName = pseudonym
    ds.PatientID = pseudonym
    for keyword in EMPTIED:
        setattr(ds, keyword, "")
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "REMOVED"
    ds.DeidentificationMethod = METHOD
    codes = [_BASIC_PROFILE, _CLEAN_PIXELS] if pixels_cleaned else [_BASIC_PROFILE]
    ds.DeidentificationMethodCodeSequence = Sequence([_code(*c) for c in codes])
    if pixels_cleaned:
        ds.BurnedInAnnotation = "NO"
    # A new file meta: the old one may name the sending station (Source Application Entity
    # Title) and the writing software; pydicom adds its own implementation UID and version.
    old = getattr(ds, "file_meta", FileMetaDataset())
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = old.TransferSyntaxUID
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta = meta


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = "DCM"
    item.CodeMeaning = meaning
    return item
