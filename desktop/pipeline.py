"""AnalysisPipeline: opens studies, loads pixels and runs the model, off the GUI thread.

It drives the CohortViewModel through one pipeline, a patient at a time: load the patient's
pixels (thread pool), then predict them (model thread). The current patient always goes
first; switching patients cancels a prediction for another patient and queues it again.
Every request carries an id (model requests) or a study generation (loads): an answer whose
id is not the one the session waits for is stale and dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from core.devices import DEFAULT_DEVICE
from core.inference.names import DEFAULT_BACKEND
from core.records import Cohort, FileError, ImageRef

from .background import CancelToken, OpRunner
from .loading import (
    DiscoverFn,
    ReadImageFn,
    default_discover,
    default_read_image,
    images_to_predict,
    load_patient_pixels,
)
from .model_worker import ModelInfo, ModelService
from .viewmodels.cohort import CohortViewModel, PatientPixels, PatientStatus
from .viewmodels.groups import patient_key

log = logging.getLogger(f"cnsight.{__name__}")
EXTRA_CAM_CACHE = 32
#: An extra heatmap's name: (image ref key, class index, method).
HeatmapKey = tuple[str, int, str]


@dataclass
class _ActivePrediction:
    request_id: int
    patient_key: str
    token: CancelToken
    n_images: int
    done: int = 0


class AnalysisPipeline(QObject):
    study_opening = Signal(str)  # what is being opened
    study_opened = Signal(str)
    study_failed = Signal(str)  # message
    model_changed = Signal(object)  # ModelInfo
    model_failed = Signal(str)
    model_loading = Signal(str)
    progress = Signal(int, int)  # images done, images total (total 0 = idle)
    all_predicted = Signal()
    extra_heatmap_ready = Signal(object)  # (ref key, class index, method)
    extra_heatmap_failed = Signal(str)

    def __init__(
        self,
        vm: CohortViewModel,
        model: ModelService,
        runner: OpRunner,
        discover: DiscoverFn = default_discover,
        read_image: ReadImageFn = default_read_image,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.vm, self.model, self.runner = vm, model, runner
        self._discover, self._read_image = discover, read_image
        self._generation = 0
        self._loading: dict[str, int] = {}  # patient key -> generation of its in-flight load
        self._active: _ActivePrediction | None = None
        self._paused = False
        # Blinding gate (reader-study unaided reads): while False, nothing is sent to the model.
        # Unlike ``_paused`` (a user's Esc), opening a study does not lift it.
        self._analysis_allowed = True
        self._model_request: int | None = None
        self._heatmap_request: tuple[int, HeatmapKey] | None = None
        self.extra_cams: dict[HeatmapKey, np.ndarray] = {}
        self._shown_patient: str | None = None
        self._pump_scheduled = False
        self.stale_dropped = 0  # answers dropped as stale (for tests and the log)
        w = model.worker
        w.model_loaded.connect(self._on_model_loaded)
        w.model_failed.connect(self._on_model_failed)
        w.predicted.connect(self._on_predicted)
        w.batch_predicted.connect(self._on_batch_predicted)
        w.cancelled.connect(self._on_cancelled)
        w.predict_failed.connect(self._on_predict_failed)
        w.images_failed.connect(self._on_images_failed)
        w.progress.connect(self._on_progress)
        w.heatmap_ready.connect(self._on_heatmap_ready)
        w.heatmap_failed.connect(self._on_heatmap_failed)
        vm.current_changed.connect(self._on_current_changed)

    # ----- opening ---------------------------------------------------------------------------
    def open(self, inputs: Sequence[Path | str]) -> None:
        """Discover a study off the GUI thread; the current study stays until it succeeds."""
        paths = [Path(p) for p in inputs]
        self._generation += 1
        generation = self._generation
        label = ", ".join(str(p) for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        self.study_opening.emit(label)
        class_names = self.vm.class_names or None
        self.runner.run(
            lambda: self._discover(paths, class_names=class_names),
            lambda study: self._on_study(generation, label, study),
            lambda exc: self._on_study_failed(generation, exc),
        )

    def _on_study(self, generation: int, label: str, study: Cohort) -> None:
        if generation != self._generation:
            self._note_stale("study discovery")
            return
        self._cancel_active()
        self._loading.clear()
        self.extra_cams.clear()
        self._shown_patient = None
        self._paused = False
        self.vm.set_cohort(study)
        self.study_opened.emit(label)
        self._schedule_pump()

    def _on_study_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.study_failed.emit(str(exc) or type(exc).__name__)

    # ----- model -----------------------------------------------------------------------------
    def load_model(
        self, bundle_path: Path | str, device: str = DEFAULT_DEVICE, backend: str = DEFAULT_BACKEND
    ) -> None:
        """Load a bundle in the model thread; until it answers, the current model stays."""
        self.model_loading.emit(str(bundle_path))
        self._model_request = self.model.load(Path(bundle_path), device, backend)

    @Slot(int, object)
    def _on_model_loaded(self, request_id: int, info: ModelInfo) -> None:
        if request_id != self._model_request:
            self._note_stale("model load")
            return
        self._cancel_active()
        self.extra_cams.clear()
        self.vm.set_model_classes(
            info.card.class_names, info.card.aggregation, info.card.patient_temperature
        )
        self.model_changed.emit(info)
        self._schedule_pump()

    @Slot(int, str)
    def _on_model_failed(self, request_id: int, message: str) -> None:
        if request_id == self._model_request:
            self.model_failed.emit(message)

    # ----- pixels ----------------------------------------------------------------------------
    def ensure_pixels(self, key: str) -> None:
        """Start loading a patient's pixels unless they are cached or on their way."""
        if self.vm.pixels(key) is not None or key in self._loading:
            return
        patient = self.vm.patient(key)
        if patient is None:
            return
        generation = self._generation
        self._loading[key] = generation
        if self.vm.status(key) == PatientStatus.QUEUED:
            self.vm.set_status(key, PatientStatus.LOADING)
        read = self._read_image
        self.runner.run(
            lambda: load_patient_pixels(patient, read),
            lambda result: self._on_pixels(generation, key, result),
            lambda exc: self._on_pixels_failed(generation, key, exc),
        )

    def _on_pixels(
        self, generation: int, key: str, result: tuple[PatientPixels, list[FileError]]
    ) -> None:
        if generation != self._generation:
            self._note_stale("pixels of a previous study")
            return
        self._loading.pop(key, None)
        pixels, errors = result
        self.vm.add_errors(errors)
        self.vm.set_pixels(key, pixels)
        if self.vm.status(key) == PatientStatus.LOADING:
            self.vm.set_status(key, PatientStatus.QUEUED)
        self._schedule_pump()

    def _on_pixels_failed(self, generation: int, key: str, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._loading.pop(key, None)
        log.error("loading patient %s failed: %s", key, exc, exc_info=exc)
        self.vm.add_errors([FileError(key, f"could not load this patient's images: {exc}")])
        self.vm.set_status(key, PatientStatus.FAILED)
        self._schedule_pump()

    # ----- prediction pipeline ---------------------------------------------------------------
    def _schedule_pump(self) -> None:
        """Run the pipeline step from the event loop (never recursively from an answer)."""
        if not self._pump_scheduled:
            self._pump_scheduled = True
            QTimer.singleShot(0, self._pump)

    @Slot()
    def _pump(self) -> None:
        self._pump_scheduled = False
        if (
            self._active is not None
            or self.model.model is None
            or self._paused
            or not self._analysis_allowed
        ):
            return
        todo = self.vm.patients_needing_prediction()
        if not todo:
            if self.vm.patients:
                self._emit_progress()
                self.all_predicted.emit()
            return
        key = todo[0]
        pixels = self.vm.pixels(key)
        if pixels is None:
            self.ensure_pixels(key)
            return
        patient = self.vm.patient(key)
        current = self.vm.current_patient
        on_screen = (
            self.vm.current_ref if current is not None and patient_key(current) == key else None
        )
        images = images_to_predict(patient, pixels, on_screen)
        if not images:
            self.vm.set_predictions(key, [])  # nothing readable: FAILED badge
            self._schedule_pump()
            return
        request_id, token = self.model.predict(images)
        self._active = _ActivePrediction(request_id, key, token, len(images))
        self.vm.set_status(key, PatientStatus.PREDICTING)
        self._emit_progress()
        if len(todo) > 1:  # read the next patient while this one is predicted (I/O beside compute)
            self.ensure_pixels(todo[1])

    def _take_active(self, request_id: int) -> _ActivePrediction | None:
        """The active request if this answer belongs to it; otherwise the answer is stale."""
        active = self._active
        if active is None or active.request_id != request_id:
            self._note_stale(f"prediction request {request_id}")
            return None
        self._active = None
        return active

    @Slot(int, object)
    def _on_predicted(self, request_id: int, predictions) -> None:
        active = self._take_active(request_id)
        if active is not None:
            patient = self.vm.patient(active.patient_key)
            if patient is not None:  # back to reading order (the file on screen went first)
                order = {ref.key: i for i, ref in enumerate(patient.images)}
                predictions = sorted(predictions, key=lambda p: order.get(p.ref.key, len(order)))
            self.vm.set_predictions(active.patient_key, predictions)
            self._emit_progress()
            self._schedule_pump()

    @Slot(int, object)
    def _on_batch_predicted(self, request_id: int, predictions) -> None:
        """Part of the active patient's images: shown at once (frame by frame while a cine
        plays); the patient's verdict waits for all of them (``_on_predicted``)."""
        active = self._active
        if active is not None and active.request_id == request_id:
            self.vm.add_image_predictions(active.patient_key, predictions)

    @Slot(int)
    def _on_cancelled(self, request_id: int) -> None:
        active = self._take_active(request_id)
        if active is not None:
            self.vm.set_status(active.patient_key, PatientStatus.QUEUED)
            self._emit_progress()
            self._schedule_pump()

    @Slot(int, str)
    def _on_predict_failed(self, request_id: int, message: str) -> None:
        active = self._take_active(request_id)
        if active is not None:
            self.vm.add_errors([FileError(active.patient_key, f"prediction failed: {message}")])
            self.vm.set_status(active.patient_key, PatientStatus.FAILED)
            self._schedule_pump()

    @Slot(int, object)
    def _on_images_failed(self, request_id: int, failures) -> None:
        """Images of the active patient that could not be prepared or predicted: one error
        each (the others' predictions follow in ``predicted``)."""
        if self._active is not None and self._active.request_id == request_id:
            self.vm.add_errors(
                [FileError(f.ref.key, f"not analysed: {f.reason}") for f in failures]
            )

    @Slot(int, int, int)
    def _on_progress(self, request_id: int, done: int, _total: int) -> None:
        if self._active is not None and self._active.request_id == request_id:
            self._active.done = done
            self._emit_progress()

    def _emit_progress(self) -> None:
        total = len(self.vm.cohort.images) if self.vm.cohort else 0
        finished = (PatientStatus.DONE, PatientStatus.FAILED)
        done = sum(
            len(p.images) for p in self.vm.patients if self.vm.status(patient_key(p)) in finished
        )
        if self._active is not None:
            done += self._active.done
        self.progress.emit(done, total if done < total else 0)

    def _cancel_active(self) -> None:
        """Cancel the running prediction; its answer, whenever it comes, is then stale."""
        active, self._active = self._active, None
        if active is not None:
            active.token.cancel()
            if self.vm.status(active.patient_key) == PatientStatus.PREDICTING:
                self.vm.set_status(active.patient_key, PatientStatus.QUEUED)

    def cancel(self) -> None:
        """User cancel (Esc): stop predicting until resumed."""
        self._paused = True
        self._cancel_active()
        self._emit_progress()

    def resume(self) -> None:
        self._paused = False
        self._schedule_pump()

    def set_analysis_allowed(self, allowed: bool) -> None:
        """Blinding gate: while False no prediction or heatmap is requested from the model and a
        running one is cancelled (its answer is then stale). Pixels still load, for display."""
        self._analysis_allowed = allowed
        if allowed:
            self._schedule_pump()
        else:
            self._cancel_active()
            self._heatmap_request = None
            self.extra_cams.clear()

    @property
    def analysis_allowed(self) -> bool:
        return self._analysis_allowed

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def active_patient(self) -> str | None:
        return self._active.patient_key if self._active else None

    @Slot()
    def _on_current_changed(self) -> None:
        patient = self.vm.current_patient
        key = patient_key(patient) if patient else None
        if key is None or key == self._shown_patient:
            return
        self._shown_patient = key
        self.ensure_pixels(key)
        active = self._active
        if (
            active is not None
            and active.patient_key != key
            and key in self.vm.patients_needing_prediction()
        ):
            log.debug("switching to %s: cancelling prediction of %s", key, active.patient_key)
            self._cancel_active()
        self._schedule_pump()

    # ----- extra heatmaps --------------------------------------------------------------------
    def request_extra_heatmap(self, ref: ImageRef, class_index: int, method: str) -> bool:
        """Ask for a grad-cam heatmap of an image; True when it is already cached.

        Only the latest request counts: asking for another image/class/method makes the
        previous answer stale.
        """
        if not self._analysis_allowed:
            return False
        wanted = (ref.key, class_index, method)
        if wanted in self.extra_cams:
            return True
        if self._heatmap_request is not None and self._heatmap_request[1] == wanted:
            return False  # already on its way
        image = self.vm.loaded_image(ref)
        if image is None:
            return False
        request_id = self.model.extra_heatmap(image, class_index, method)
        self._heatmap_request = (request_id, wanted)
        return False

    @Slot(int, object)
    def _on_heatmap_ready(self, request_id: int, cam: np.ndarray) -> None:
        if self._heatmap_request is None or self._heatmap_request[0] != request_id:
            self._note_stale("heatmap")
            return
        wanted = self._heatmap_request[1]
        self._heatmap_request = None
        if len(self.extra_cams) >= EXTRA_CAM_CACHE:
            self.extra_cams.pop(next(iter(self.extra_cams)))
        self.extra_cams[wanted] = cam
        self.extra_heatmap_ready.emit(wanted)

    @Slot(int, str)
    def _on_heatmap_failed(self, request_id: int, message: str) -> None:
        if self._heatmap_request is not None and self._heatmap_request[0] == request_id:
            self._heatmap_request = None
            self.extra_heatmap_failed.emit(message)

    def _note_stale(self, what: str) -> None:
        self.stale_dropped += 1
        log.debug("dropped a stale answer: %s", what)

    def shutdown(self) -> None:
        """Cancel everything and stop the model thread (window closing)."""
        self._generation += 1
        self._cancel_active()
        self.model.stop()
        self.runner.wait(3000)
