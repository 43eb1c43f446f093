"""Domain exceptions, all in one place so callers can catch exactly what they mean."""

from __future__ import annotations


class CNSightError(Exception):
    """Base class of every error CNSight raises on purpose (message is user-facing)."""


class ImageReadError(CNSightError):
    """A file could not be read as an image. The message names the file and the reason."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DiscoveryError(CNSightError):
    """An input (folder, manifest, DICOMDIR) could not be opened as a whole."""


class ReaderStudyError(CNSightError):
    """A reader study cannot be created, opened or written (protocol, enrolment, log)."""


class BundleError(CNSightError):
    """A model bundle was refused (missing card, bad hash, wrong keys, unknown schema...)."""


class BackendUnavailable(CNSightError):
    """An inference backend that cannot run here (its package missing, the CPU lacking an
    instruction set, the wrong device); the message says why and what to use instead."""


class OutOfScopeError(CNSightError):
    """Input is readable but outside what the model was made for (e.g. a CT image)."""


class CancelledError(CNSightError):
    """A long operation was cancelled by its caller."""


class ReadsError(CNSightError):
    """Reader-study reads could not be analysed (missing columns, a design that is not fully
    crossed, a case with two truths...). The message says what and where."""


class DicomOutputError(CNSightError):
    """The DICOM result objects of a study (SR, Secondary Capture, Encapsulated PDF) cannot be
    made or written: the images are not one DICOM study, a header lacks a UID, the PDF given
    is not a PDF, the folder cannot be written. The message says which and why."""


class NotADicomStudyError(DicomOutputError):
    """The images are not DICOM files (PNG, JPEG...): there is no study to attach results to.
    A normal outcome for the CLI (the study is skipped with this reason), not a failure."""
