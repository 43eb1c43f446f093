"""The DICOM objects CNSight sends back to a study: a Comprehensive SR with the findings
(``sr``), Secondary Capture images of the driving views' heatmaps (``secondary_capture``) and
the PDF report as Encapsulated PDF (``encapsulated_pdf``, ``report_pdf``). One entry point,
``write_study_outputs`` (``study_outputs``). No Qt, no torch: the app calls it too.
docs/dicom-outputs.md describes the objects.
"""

from ..errors import DicomOutputError, NotADicomStudyError
from .study_outputs import write_study_outputs

__all__ = ["DicomOutputError", "NotADicomStudyError", "write_study_outputs"]
