"""Plain steps of the reading mode (no Qt): open a reader's session, find a case's images.

What readers may see of a case is decided here: the one-patient ``Cohort`` handed to the viewer
is relabelled with the case id (the patient id, the study UID, the truth label and the site are
dropped from every image), so no widget downstream can show them by accident. File paths stay
inside the refs (needed to read the pixels); the reading window never shows them.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from core.deidentify import mask_with_ocr
from core.errors import CNSightError, ReaderStudyError
from core.readerstudy import ReaderSession
from core.readerstudy.protocol import CaseSpec, Protocol, image_token, load_protocol, relative_key
from core.records import Cohort, ImageRef, LoadedImage, Patient
from desktop.loading import DiscoverFn, ReadImageFn, default_discover, default_read_image

log = logging.getLogger(f"cnsight.{__name__}")


class CaseUnavailable(ReaderStudyError):
    """A case cannot be shown. The message is for the reader: case id, no path, no patient id;
    the details (paths) go to the log for the coordinator."""


def open_reader_session(study_dir: str | Path, reader: str) -> ReaderSession:
    """The reader's core session, or ReaderStudyError with a message for the command line.

    Checked before any window opens (exit code 2): the protocol, that the reader is enrolled,
    that the data the cases come from is there, and that the log opens and verifies. The log is
    only created once everything else is fine, so a typo in a reader id leaves no file behind.
    """
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise ReaderStudyError(f"{study_dir}: no such study folder")
    protocol, _sha = load_protocol(study_dir)
    protocol.plan(reader)  # unknown reader -> ReaderStudyError naming the enrolled ones
    data = protocol.data_path(study_dir)
    if not data.exists():
        raise ReaderStudyError(
            f"the study's data ({data}, 'data' in protocol.json) is missing: connect or restore "
            "it, or ask the study coordinator"
        )
    try:
        return ReaderSession(study_dir, reader)
    except (OSError, sqlite3.Error) as exc:  # e.g. a read-only study folder
        raise ReaderStudyError(f"{study_dir}: the reading log cannot be written ({exc})") from None


def model_path(protocol: Protocol, study_dir: Path) -> Path | None:
    """The protocol's model bundle (a relative path is relative to the study folder)."""
    if not protocol.model or not protocol.model.get("path"):
        return None
    path = Path(protocol.model["path"])
    return path if path.is_absolute() else (Path(study_dir) / path).resolve()


def _split_key(key: str) -> tuple[str, str | None]:
    """An image key -> (file path, frame) (see ImageRef.key: ``path`` or ``path#frame``)."""
    path, sep, frame = key.rpartition("#")
    return (path, frame) if sep and frame.isdigit() else (key, None)


def _relative_keys(keys: Sequence[str]) -> list[str]:
    """Keys relative to the folder that holds all of them: what stays the same when the data
    folder is moved or mounted elsewhere (the protocol stores the keys found at creation)."""
    split = [_split_key(k) for k in keys]
    root = os.path.commonpath([os.path.dirname(p) for p, _f in split])
    return [os.path.relpath(p, root) + (f"#{f}" if f is not None else "") for p, f in split]


def select_case_images(case: CaseSpec, refs: Sequence[ImageRef]) -> list[ImageRef]:
    """The case's images in protocol order: by key, else by their path below the case's folder.

    Every reader must see the same images in both treatments, so images added to the data
    later are not shown, and a missing one makes the case unavailable (CaseUnavailable).
    """
    by_key = {r.key: r for r in refs}
    chosen = [by_key.get(k) for k in case.image_keys]
    if None in chosen and refs:
        by_relative = dict(zip(_relative_keys([r.key for r in refs]), refs, strict=True))
        relative = _relative_keys(case.image_keys)
        chosen = [c or by_relative.get(rel) for c, rel in zip(chosen, relative, strict=True)]
    missing = [k for k, c in zip(case.image_keys, chosen, strict=True) if c is None]
    if missing:
        log.error("case %s: images not found in the data: %s", case.case_id, ", ".join(missing))
        raise CaseUnavailable(
            f"Case {case.case_id}: {len(missing)} of its {len(case.image_keys)} images can no "
            "longer be found in the study's data. Ask the study coordinator (the details are "
            "in the log)."
        )
    return [c for c in chosen if c is not None]


def anonymous_cohort(case: CaseSpec, refs: Sequence[ImageRef]) -> Cohort:
    """A one-patient study named by the case id; nothing that identifies the patient or gives
    the truth away is left in the refs."""
    images = tuple(
        replace(r, patient_id=case.case_id, study_uid="", label=None, site=None) for r in refs
    )
    return Cohort(source=case.case_id, patients=(Patient(case.case_id, images),))


def read_masked_image(ref: ImageRef, read_image: ReadImageFn = default_read_image) -> LoadedImage:
    """A case's image, read, with its burned-in text found now (OCR, about a second per new
    image). The pipeline calls this on its pool thread while the case is prepared, so every
    image of the case is masked with OCR the moment it is on screen (the viewer's
    ``masked_or_request`` finds the boxes cached by pixel hash in
    ``core.burned_text.TEXT_MASKER``): no image waits black for OCR while the reader reads,
    and the reading clock, started when the case is shown, never counts OCR. Without Tesseract
    the viewer shows the geometric mask and ``OCR_FALLBACK_WARNING`` on the image. The pixels
    stay unmasked here: the model sees the same pixels as in the main window."""
    image = read_image(ref)
    mask_with_ocr(image.pixels, image.region)
    return image


class CaseSource:
    """Cases -> their one-patient studies. The data is discovered once (headers only), on the
    first case, off the GUI thread (the pipeline calls ``cohort_for`` from its thread pool)."""

    def __init__(
        self, protocol: Protocol, study_dir: Path, discover: DiscoverFn = default_discover
    ):
        self.protocol, self.study_dir = protocol, Path(study_dir)
        self._discover = discover
        self._by_patient: dict[str, list[ImageRef]] | None = None
        self._by_token: dict[str, ImageRef] | None = None
        self._lock = threading.Lock()  # two pool threads must not discover twice

    def _images_by_patient(self) -> dict[str, list[ImageRef]]:
        with self._lock:
            return self._by_patient_unlocked()

    def _by_patient_unlocked(self) -> dict[str, list[ImageRef]]:
        """Discover the data once (the caller holds ``self._lock``)."""
        if self._by_patient is None:
            data = self.protocol.data_path(self.study_dir)
            try:
                study = self._discover([data], class_names=self.protocol.class_names)
            except CNSightError as exc:
                log.error("discovering the study's data %s failed: %s", data, exc)
                raise CaseUnavailable(
                    "The study's data cannot be read (is the drive connected?). Ask the "
                    "study coordinator (the details are in the log)."
                ) from None
            by_patient: dict[str, list[ImageRef]] = {}
            for patient in study.patients:
                by_patient.setdefault(patient.patient_id, []).extend(patient.images)
            self._by_patient = by_patient
        return self._by_patient

    def forget(self) -> None:
        """Discover again next time (after the reader asked to try again)."""
        with self._lock:
            self._by_patient = self._by_token = None

    def _images_by_token(self) -> dict[str, ImageRef]:
        """Schema 2: every discovered image by the name protocol.json gives it (a salted hash
        of its key relative to the data folder: the protocol holds no path, no patient id)."""
        with self._lock:
            if self._by_token is None:
                data_dir = self.protocol.data_dir(self.study_dir)
                self._by_token = {
                    image_token(self.protocol.study_id, relative_key(r.key, data_dir)): r
                    for refs in self._by_patient_unlocked().values()
                    for r in refs
                }
            return self._by_token

    def cohort_for(self, case_id: str) -> Cohort:
        case = self.protocol.case(case_id)
        if self.protocol.schema >= 2:
            by_token = self._images_by_token()
            chosen = [by_token.get(k) for k in case.image_keys]
            missing = sum(c is None for c in chosen)
            if missing:
                log.error(
                    "case %s: %d of its images not found in the data (tokens %s)",
                    case_id, missing, [k for k, c in zip(case.image_keys, chosen, strict=True) if c is None],
                )  # fmt: skip
                raise CaseUnavailable(
                    f"Case {case_id}: {missing} of its {len(chosen)} images can no longer be "
                    "found in the study's data. Ask the study coordinator (the details are in "
                    "the log)."
                )
            return anonymous_cohort(case, [c for c in chosen if c is not None])
        refs = self._images_by_patient().get(case.patient_id, [])
        if not refs:
            log.error("case %s: patient %s not found in the data", case_id, case.patient_id)
            raise CaseUnavailable(
                f"Case {case_id}: its images can no longer be found in the study's data. Ask the "
                "study coordinator (the details are in the log)."
            )
        return anonymous_cohort(case, select_case_images(case, refs))
