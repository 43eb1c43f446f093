"""Which cases may show identifying text in their pixels.

The app's de-identified display masks the header band, everything outside the DICOM
ultrasound region and the text OCR finds inside it (docs/deidentification.md), but OCR misses
some text - and in a reader study readers could recognise a case across the washout by it.
DICOM says whether pixels carry annotations: (0028,0301) Burned In Annotation.
``cnsight-study create`` warns about those cases, so the coordinator can run
``cnsight-anonymise`` on the data first.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom import dcmread
from pydicom.errors import InvalidDicomError


def burned_in_patients(patients: Sequence) -> list[str]:
    """Patient ids with at least one DICOM file whose Burned In Annotation is YES."""
    flagged = []
    for patient in patients:
        paths = {
            r.path for r in patient.images if r.path.suffix.lower() in (".dcm", "") or r.modality
        }
        for path in sorted(paths):
            try:
                ds = dcmread(path, stop_before_pixels=True, specific_tags=["BurnedInAnnotation"])
            except (InvalidDicomError, OSError, ValueError):
                continue  # not DICOM (a raster image): nothing is declared
            if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
                flagged.append(patient.patient_id)
                break
    return flagged
