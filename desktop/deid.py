"""De-identified display: which header fields may be shown (docs/design.md §4).

Conservative on purpose: any tag whose keyword suggests a person, a place, a date or an
identifier is hidden, plus tags with no keyword (private or unknown meaning). A few UIDs
that only name formats (transfer syntax, SOP class) stay visible.
"""

from __future__ import annotations

from collections.abc import Mapping

#: What an export that names the patient says of itself (PDF header, CSV export notice).
PHI_MARK = "   (contains patient data - PHI: names, ids, dates)"
#: The sentence the app says when it writes an export in identified mode.
PHI_NOTICE = (
    "This export contains patient data (PHI): patient ids and file paths. Share it only as "
    "your data-protection rules allow; switch to de-identified mode (D) for exports to share."
)

#: Keyword fragments that mark a tag as identifying (DICOM PS3.15 basic profile, in spirit).
_IDENTIFYING_FRAGMENTS = (
    "Patient", "Name", "ID", "UID", "Date", "Time", "Birth", "Age", "Sex", "Address", "Telephone",
    "Institution", "Physician", "Operator", "Station", "Serial", "Comment", "History",
    "Accession", "Occupation", "Ethnic", "Religious", "Military", "Weight", "Size",
    "Department", "Location", "Description",
)  # fmt: skip
#: Exceptions: technical tags that contain a fragment above but identify no one.
_SAFE_KEYWORDS = frozenset({
    "TransferSyntaxUID", "SOPClassUID", "MediaStorageSOPClassUID", "ImplementationClassUID",
    "ImplementationVersionName", "FrameTime", "FrameTimeVector", "ActualFrameDuration",
    "PhotometricInterpretation", "Modality", "Rows", "Columns", "NumberOfFrames",
    "SamplesPerPixel", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
    "PlanarConfiguration", "Manufacturer", "ManufacturerModelName", "CineRate",
    "RecommendedDisplayFrameRate", "SequenceOfUltrasoundRegions", "LossyImageCompression",
    "PatientOrientation", "PatientPosition", "BurnedInAnnotation",
})  # fmt: skip


def is_identifying(keyword: str) -> bool:
    """True when a header field may identify the patient, the staff or the site."""
    if keyword in _SAFE_KEYWORDS:
        return False
    if keyword.startswith("("):  # no keyword: private or unknown tag
        return True
    return any(fragment in keyword for fragment in _IDENTIFYING_FRAGMENTS)


def visible_header(header: Mapping[str, str], deidentified: bool) -> list[tuple[str, str]]:
    """The (keyword, value) rows the tag view may show in the current mode."""
    rows = list(header.items())
    if deidentified:
        rows = [(k, v) for k, v in rows if not is_identifying(k)]
    return rows
