"""ReadingController: the case flow of the reading mode, no widgets.

All reading state lives in the core session (``core.readerstudy.ReaderSession``): which case
comes next, the washout, the decisions. The controller asks it for the current case, shows it,
hands the decision back and asks again - it keeps no state of its own that a crash could lose.

Showing a case reuses the main window's pipeline (``desktop.pipeline.AnalysisPipeline``: pixels on
the thread pool, the model in its own thread, stale answers dropped) on a one-patient study
named by the case id. Blinding is enforced here, in three layers:

1. in an unaided case the pipeline's analysis gate is closed: nothing is sent to the model;
2. the model is only loaded when an aided case comes, and released when an unaided case follows;
3. the window does not build the AI widgets' visibility from data but from the treatment
   (see window.py), and the view-model of an unaided case never receives a prediction.

The case goes on screen (``case_ready``) when its pixels are decoded and their burned-in text
found (OCR on the pool thread, ``cases.read_masked_image``) and, in an aided read, its AI results
are there too, so reading time (from ``mark_shown``) measures the same thing in both
treatments and never includes loading the model or OCR.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.bundle_seal import check_pinned
from core.devices import DEFAULT_DEVICE
from core.errors import BundleError, ReaderStudyError
from core.inference.names import DEFAULT_BACKEND
from core.readerstudy import ReaderSession, SessionState, StudyComplete, WashoutPending
from core.taxonomy import display_name

from ..background import OpRunner
from ..model_worker import ModelService, PredictorFactory, verified_predictor_factory
from ..pipeline import AnalysisPipeline
from ..viewmodels.cohort import CohortViewModel, PatientStatus
from .cases import CaseSource, CaseUnavailable, model_path, read_masked_image

log = logging.getLogger(f"cnsight.{__name__}")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


class CaseViewModel(CohortViewModel):
    """The study view-model, always de-identified, calling the patient by its case id."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.deidentified = True  # burned-in header masked, images "Image N", tags filtered

    def set_deidentified(self, on: bool) -> None:  # noqa: ARG002 - reading mode forces it on
        return

    def patient_label(self, index: int) -> str:
        return self.patients[index].patient_id if 0 <= index < len(self.patients) else ""


def study_model_factory(model: dict) -> PredictorFactory:
    """The model-thread factory of a reader study: loads only the bundle the protocol pins.

    Before any weights are read, the card must match its seal and the seal must be the one the
    protocol names (``seal_sha256``: card, weights and domain statistics together - a reordered
    class list or another temperature changes it) and, when the protocol names a ``signer``,
    the card must be signed by that key. ``verified_predictor_factory`` then checks the weights'
    sha256, and the strict loader the files against the card (and the site's trusted keys,
    ``CNSIGHT_TRUSTED_KEYS``). Studies created before seals name only the weights' sha256.
    """
    base = verified_predictor_factory(model.get("weights_sha256", ""))
    seal, signer = model.get("seal_sha256", ""), model.get("signer", "")

    def factory(bundle_path: Path, device: str, backend: str = DEFAULT_BACKEND):
        check_pinned(bundle_path, seal, signer)
        predictor = base(bundle_path, device, backend)
        card = predictor.bundle.card
        if (seal and card.seal_sha256 != seal) or (signer and card.signer != signer):
            predictor.close()  # the files changed between the check and the load
            check_pinned(bundle_path, seal, signer)
            raise BundleError(f"the model bundle {bundle_path} changed while it was loaded")
        return predictor

    return factory


CONFIRM_AT = 50.0  # the rating at which a call of "abnormal" and the confidence agree


def contradiction(class_call: str, rating: float, normal_class: str) -> str:
    """Why a decision contradicts itself ("" when it does not): the normal class with a
    confidence >= 50 that the case is abnormal, or an anomaly with a confidence < 50."""
    if class_call == normal_class and rating >= CONFIRM_AT:
        return (
            f"You chose {display_name(class_call)} but a confidence of {rating:g} that the case "
            "is abnormal (50 or more means abnormal more likely than not)."
        )
    if class_call != normal_class and rating < CONFIRM_AT:
        return (
            f"You chose {display_name(class_call)}, an anomaly, but a confidence of only "
            f"{rating:g} that the case is abnormal (below 50 means normal more likely)."
        )
    return ""


def ai_output(verdict, normal_class: str) -> tuple[str, float | None]:
    """What an aided read showed, as the log records it: the AI's class and its confidence that
    the case is abnormal, 0-100 (1 - P(normal)); ("", None) when it found no assessable view."""
    if verdict is None or not verdict.assessable:
        return "", None
    normal = verdict.class_names.index(normal_class)
    return verdict.pred, round(100.0 * (1.0 - float(verdict.probs[normal])), 3)


class ReadingController(QObject):
    case_loading = Signal(object, str)  # SessionState, what is being prepared
    case_ready = Signal(object)  # SessionState: on screen, mark_shown logged, clock running
    message = Signal(str, str, str)  # kind ("washout", "complete", "error"), title, text
    decided = Signal(object)  # SessionState whose decision was committed
    #: A practice decision was committed: (the state, the truth, the class the reader called).
    #: Only practice cases have a truth on the reader's workstation (core.readerstudy.protocol).
    practice_feedback = Signal(object, str, str)

    def __init__(
        self,
        session: ReaderSession,
        device: str = DEFAULT_DEVICE,
        predictor_factory: PredictorFactory | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.session, self.device = session, device
        self.protocol = session.protocol
        self.vm = CaseViewModel(self)
        self.source = CaseSource(self.protocol, session.study_dir)
        self.model_service = ModelService(
            predictor_factory or study_model_factory(self.protocol.model or {})
        )
        self.pipeline = AnalysisPipeline(
            self.vm, self.model_service, OpRunner(), discover=self._discover,
            read_image=read_masked_image,
        )  # fmt: skip
        self.pipeline.set_analysis_allowed(False)  # closed until an aided case opens it
        self.state: SessionState | None = None
        self.shown_at: float | None = None  # time.monotonic() of mark_shown
        self._model_requested = False
        self._closed = False
        self.pipeline.study_failed.connect(self._on_case_failed)
        self.pipeline.model_failed.connect(self._on_model_failed)
        self.vm.pixels_changed.connect(self._check_ready)
        self.vm.predictions_changed.connect(self._check_ready)
        self.vm.patient_status_changed.connect(self._check_ready)

    def _discover(self, inputs, class_names=None):  # noqa: ARG002 - the pipeline's signature
        """The pipeline "discovers" a case id: the case's images, relabelled (cases.py). Runs on
        a pool thread; any failure reaches the reader as a message without paths."""
        case_id = Path(inputs[0]).name
        try:
            return self.source.cohort_for(case_id)
        except CaseUnavailable:
            raise
        except Exception as exc:
            log.exception("case %s could not be prepared", case_id)
            raise CaseUnavailable(
                f"Case {case_id} cannot be prepared ({type(exc).__name__}). Ask the study "
                "coordinator (the details are in the log)."
            ) from None

    # ----- the flow --------------------------------------------------------------------------
    def advance(self) -> None:
        """Ask the core session for the case to read now and prepare it (or say why none)."""
        self.state, self.shown_at = None, None
        try:
            state = self.session.current()
        except (ReaderStudyError, sqlite3.Error) as exc:
            self._close_ai()
            self.message.emit("error", "Reading cannot continue", str(exc))
            return
        if isinstance(state, WashoutPending):
            self._close_ai()
            local = state.available_at.astimezone()
            self.message.emit(
                "washout",
                f"Washout: the next block opens on {local:%A %d %B %Y, %H:%M}",
                f"You have finished this block - thank you. {_sentence(state.message)}",
            )
            return
        if isinstance(state, StudyComplete):
            self._close_ai()
            self.message.emit("complete", "Study complete", _sentence(state.message))
            return
        self.state = state
        if state.ai_allowed:
            self._open_ai()
        else:
            self._close_ai()
        if state.ai_allowed and not self._model_ready():
            what = "Loading the AI model…"
        else:
            what = f"Preparing case {state.case.case_id}: reading it, finding burned-in text…"
        self.case_loading.emit(state, what)
        self.pipeline.open([state.case.case_id])

    def retry(self) -> None:
        """After an error page: discover the data again and ask for the current case."""
        self.source.forget()
        self.advance()

    def submit(self, class_call: str, rating: float) -> str:
        """Record the decision durably, then move on. Returns "" or why it was refused (the
        case stays on screen with the reader's answer, nothing is lost)."""
        state = self.state
        if state is None or self.shown_at is None:
            return "No case is on screen."
        seconds = time.monotonic() - self.shown_at
        ai = None
        if state.ai_allowed:
            ai = ai_output(self.vm.verdict(state.case.case_id), self.protocol.normal_class)
        try:
            self.session.submit(state, class_call, rating, seconds, ai=ai)
        except (ReaderStudyError, sqlite3.Error, OSError) as exc:
            log.error("submit of case %s refused: %s", state.case.case_id, exc)
            return f"Not recorded: {exc}"
        log.info("case %s (%s) decided in %.1f s", state.case.case_id, state.treatment, seconds)
        self.decided.emit(state)  # committed (synchronous=FULL) before the next case is shown
        if state.practice:
            self.practice_feedback.emit(state, self.session.practice_truth(state), class_call)
        self.advance()
        return ""

    def progress(self) -> tuple[int, int]:
        return self.session.progress()

    def shutdown(self) -> None:
        """Window closing: stop the threads, close the log. An undecided case comes again."""
        if self._closed:
            return
        self._closed = True
        self.state, self.shown_at = None, None
        self.pipeline.shutdown()
        self.session.close()

    # ----- AI gate ---------------------------------------------------------------------------
    def _model_ready(self) -> bool:
        return self.model_service.model is not None

    def _open_ai(self) -> None:
        self.pipeline.set_analysis_allowed(True)
        if not self._model_ready() and not self._model_requested:
            path = model_path(self.protocol, self.session.study_dir)
            if path is None:
                self._fail("This study names no AI model, so its aided reads cannot be shown.")
                return
            self._model_requested = True
            self.pipeline.load_model(path, self.device)

    def _close_ai(self) -> None:
        self.pipeline.set_analysis_allowed(False)
        if self._model_ready() or self._model_requested:
            self.model_service.unload()
        self._model_requested = False

    @property
    def ai_allowed(self) -> bool:
        return self.state is not None and self.state.ai_allowed

    # ----- readiness -------------------------------------------------------------------------
    def _case_key(self) -> str | None:
        patient = self.vm.current_patient
        if self.state is None or patient is None or patient.patient_id != self.state.case.case_id:
            return None  # the previous case's view-model, or not opened yet
        return patient.patient_id

    def _check_ready(self, key: str) -> None:
        case_key = self._case_key()
        if case_key is None or key != case_key or self.shown_at is not None:
            return
        pixels = self.vm.pixels(key)
        if pixels is None:
            if self.vm.status(key) == PatientStatus.FAILED:  # loading itself failed (a bug)
                self._fail(f"Case {case_key}: its images could not be loaded.")
            return
        if not pixels.images:
            log.error("case %s: no readable image: %s", case_key, pixels.unreadable)
            self._fail(
                f"Case {case_key}: none of its images can be read. Ask the study coordinator "
                "(the details are in the log)."
            )
            return
        if pixels.unreadable:
            # Shown with the rest (thumbnails say "unreadable"); the coordinator needs to know.
            log.warning("case %s: unreadable images: %s", case_key, pixels.unreadable)
        if self.ai_allowed:
            if self.vm.status(key) == PatientStatus.FAILED:
                self._fail(f"Case {case_key}: the AI could not analyse this case's images.")
                return
            if self.vm.verdict(key) is None:
                return  # aided: on screen with its AI results, not before
        try:
            self.session.mark_shown(self.state)
        except (ReaderStudyError, sqlite3.Error, OSError) as exc:
            self._fail(f"The reading log cannot be written: {exc}")
            return
        self.shown_at = time.monotonic()
        self.case_ready.emit(self.state)

    def _fail(self, text: str) -> None:
        self.state, self.shown_at = None, None
        self.pipeline.set_analysis_allowed(False)
        self.message.emit("error", "This case cannot be shown", text)

    def _on_case_failed(self, text: str) -> None:
        if self.state is not None:
            self._fail(text)

    def _on_model_failed(self, text: str) -> None:
        self._model_requested = False
        if self.ai_allowed:
            self._fail(f"The study's AI model cannot be used: {text}")
