"""CohortViewModel: the open study, what is selected, and what the model said about it.

Holds state and rules only (no widgets, no threads): the session feeds it loaded pixels and
predictions; widgets read it and call its navigation methods.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.aggregation import PatientPrediction, aggregate_patient
from core.records import Cohort, FileError, ImageRef, LoadedImage, Patient

from .groups import ImageGroup, group_check, group_images, group_probabilities, patient_key

log = logging.getLogger(f"cnsight.{__name__}")

#: Patients whose pixels stay in memory (the current one is always kept).
PIXEL_CACHE_PATIENTS = 4


class PatientStatus:
    """Where a patient is in the load -> predict pipeline (shown as the list badge)."""

    QUEUED = "queued"
    LOADING = "loading"
    PREDICTING = "predicting"
    DONE = "done"
    FAILED = "failed"


@dataclass
class PatientPixels:
    """Decoded pixels of one patient's readable images, plus one thumbnail per file."""

    images: dict[str, LoadedImage] = field(default_factory=dict)  # ref.key -> image
    thumbnails: dict[str, np.ndarray] = field(default_factory=dict)  # group key -> small RGB
    unreadable: dict[str, str] = field(default_factory=dict)  # ref.key -> reason


class CohortViewModel(QObject):
    study_changed = Signal()
    patient_status_changed = Signal(str)  # patient key (see groups.patient_key)
    current_changed = Signal()  # patient, image or frame
    pixels_changed = Signal(str)  # patient key
    predictions_changed = Signal(str)  # patient key
    errors_changed = Signal()
    deidentified_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.cohort: Cohort | None = None
        self.class_names: tuple[str, ...] = ()
        self.aggregation_rule = "mean_softmax"
        self.patient_temperature: float | None = None  # the bundle's (None: figures are scores)
        self._revealed: set[str] = set()  # images whose output the reader asked to see anyway
        self.deidentified = False
        self.errors: list[FileError] = []
        self._groups: dict[str, tuple[ImageGroup, ...]] = {}
        self._status: dict[str, str] = {}
        self._pixels: OrderedDict[str, PatientPixels] = OrderedDict()
        self._predictions: dict[str, object] = {}  # ref.key -> ImagePrediction
        self._verdicts: dict[str, PatientPrediction] = {}
        self.patient_index = -1
        self.group_index = 0
        self.frame_index = 0

    # ----- study -----------------------------------------------------------------------------
    @property
    def patients(self) -> tuple[Patient, ...]:
        return self.cohort.patients if self.cohort else ()

    def set_cohort(self, cohort: Cohort) -> None:
        self.cohort = cohort
        self._groups = {patient_key(p): group_images(p.images) for p in cohort.patients}
        self._status = {patient_key(p): PatientStatus.QUEUED for p in cohort.patients}
        self._pixels.clear()
        self._predictions.clear()
        self._verdicts.clear()
        self.errors = list(cohort.errors)
        self.patient_index = 0 if cohort.patients else -1
        self.group_index = self.frame_index = 0
        self.study_changed.emit()
        self.errors_changed.emit()
        self.current_changed.emit()

    def add_errors(self, errors: Iterable[FileError]) -> None:
        new = [e for e in errors if e not in self.errors]
        if new:
            self.errors.extend(new)
            self.errors_changed.emit()

    def set_model_classes(
        self,
        class_names: Sequence[str],
        aggregation_rule: str,
        patient_temperature: float | None = None,
    ) -> None:
        """A new model: its classes, rule and patient temperature; earlier predictions are void."""
        self.class_names = tuple(class_names)
        self.aggregation_rule = aggregation_rule
        self.patient_temperature = patient_temperature
        self.clear_predictions()

    def clear_predictions(self) -> None:
        self._predictions.clear()
        self._verdicts.clear()
        self._revealed.clear()
        for p in self.patients:
            if self._status.get(patient_key(p)) != PatientStatus.FAILED:
                self._status[patient_key(p)] = PatientStatus.QUEUED
            self.predictions_changed.emit(patient_key(p))
            self.patient_status_changed.emit(patient_key(p))

    # ----- patients and status ---------------------------------------------------------------
    def patient(self, key: str) -> Patient | None:
        return next((p for p in self.patients if patient_key(p) == key), None)

    def patient_label(self, index: int) -> str:
        """What the UI calls a patient: its id, or "Case N" in de-identified mode."""
        if self.deidentified:
            return f"Case {index + 1}"
        pid = self.patients[index].patient_id
        same = [i for i, p in enumerate(self.patients) if p.patient_id == pid]
        if len(same) == 1:
            return pid
        # One patient id with two studies: two entries, never two rows that read the same.
        return f"{pid} · study {same.index(index) + 1} of {len(same)}"

    def status(self, key: str) -> str:
        return self._status.get(key, PatientStatus.QUEUED)

    def set_status(self, key: str, status: str) -> None:
        if self._status.get(key) != status:
            self._status[key] = status
            self.patient_status_changed.emit(key)

    def groups(self, key: str) -> tuple[ImageGroup, ...]:
        return self._groups.get(key, ())

    def set_deidentified(self, on: bool) -> None:
        if on != self.deidentified:
            self.deidentified = on
            self.deidentified_changed.emit(on)

    # ----- pixels ----------------------------------------------------------------------------
    def set_pixels(self, key: str, pixels: PatientPixels) -> None:
        self._pixels[key] = pixels
        self._pixels.move_to_end(key)
        self._evict_pixels()
        self.pixels_changed.emit(key)

    def pixels(self, key: str) -> PatientPixels | None:
        return self._pixels.get(key)

    def _evict_pixels(self) -> None:
        current = patient_key(self.current_patient) if self.current_patient else None
        for key in list(self._pixels):
            if len(self._pixels) <= PIXEL_CACHE_PATIENTS:
                break
            if key != current:
                del self._pixels[key]

    def loaded_image(self, ref: ImageRef | None) -> LoadedImage | None:
        if ref is None:
            return None
        px = self._pixels.get(patient_key(ref))
        return px.images.get(ref.key) if px else None

    # ----- predictions -----------------------------------------------------------------------
    def set_predictions(self, key: str, predictions: Sequence) -> None:
        """Store a patient's image predictions and aggregate them into its verdict."""
        for p in predictions:
            self._predictions[p.ref.key] = p
        if predictions:
            probs = np.stack([p.probs for p in predictions])
            patient = self.patient(key)
            self._verdicts[key] = aggregate_patient(
                patient.patient_id if patient else key,
                probs,
                [p.ref.key for p in predictions],
                self.class_names,
                rule=self.aggregation_rule,
                views=[str(p.ref.path) for p in predictions],
                assessable=[p.assessable for p in predictions],
                temperature=self.patient_temperature,
            )
        self.set_status(key, PatientStatus.DONE if predictions else PatientStatus.FAILED)
        self.predictions_changed.emit(key)

    def add_image_predictions(self, key: str, predictions: Sequence) -> None:
        """Some of a patient's image predictions, ahead of the rest: each image shows its own
        result at once; the patient's verdict and status wait for ``set_predictions``."""
        for p in predictions:
            self._predictions[p.ref.key] = p
        if predictions:
            self.predictions_changed.emit(key)

    def prediction(self, ref: ImageRef | None):
        return self._predictions.get(ref.key) if ref is not None else None

    # ----- images outside the validated domain -------------------------------------------------
    def reveal(self, ref: ImageRef) -> None:
        """The reader asked to see the class output of an image the model cannot assess."""
        if ref.key not in self._revealed:
            self._revealed.add(ref.key)
            self.predictions_changed.emit(patient_key(ref))

    def output_visible(self, ref: ImageRef | None) -> bool:
        """Whether the class output (bars, badge, heatmap) of ``ref`` may be shown: always for
        an assessable image, on explicit request for one outside the validated domain."""
        pred = self.prediction(ref)
        return pred is not None and (pred.assessable or ref.key in self._revealed)

    def verdict(self, key: str) -> PatientPrediction | None:
        return self._verdicts.get(key)

    def group_probabilities(self, group: ImageGroup) -> np.ndarray | None:
        return group_probabilities(group, self._predictions)

    def group_check(self, group: ImageGroup):
        """The group's domain check (None: not predicted yet); see groups.group_check."""
        return group_check(group, self._predictions)

    def patients_needing_prediction(self) -> list[str]:
        """Patient keys still to predict, the current patient first, then in list order."""
        todo = [
            patient_key(p)
            for p in self.patients
            if self.status(patient_key(p)) not in (PatientStatus.DONE, PatientStatus.FAILED)
        ]
        current = self.current_patient
        if current is not None and patient_key(current) in todo:
            todo.remove(patient_key(current))
            todo.insert(0, patient_key(current))
        return todo

    @property
    def predicted_image_count(self) -> int:
        return len(self._predictions)

    @property
    def all_done(self) -> bool:
        return bool(self.patients) and not self.patients_needing_prediction()

    # ----- selection -------------------------------------------------------------------------
    @property
    def current_patient(self) -> Patient | None:
        pats = self.patients
        return pats[self.patient_index] if 0 <= self.patient_index < len(pats) else None

    @property
    def current_groups(self) -> tuple[ImageGroup, ...]:
        p = self.current_patient
        return self.groups(patient_key(p)) if p else ()

    @property
    def current_group(self) -> ImageGroup | None:
        groups = self.current_groups
        return groups[self.group_index] if 0 <= self.group_index < len(groups) else None

    @property
    def current_ref(self) -> ImageRef | None:
        group = self.current_group
        if group is None:
            return None
        return group.refs[min(self.frame_index, group.n_frames - 1)]

    @property
    def current_image(self) -> LoadedImage | None:
        return self.loaded_image(self.current_ref)

    @property
    def current_prediction(self):
        return self.prediction(self.current_ref)

    def select_patient(self, index: int) -> None:
        if not self.patients:
            return
        index = max(0, min(index, len(self.patients) - 1))
        if index != self.patient_index:
            self.patient_index = index
            self.group_index = self.frame_index = 0
            self.current_changed.emit()

    def step_patient(self, delta: int) -> None:
        self.select_patient(self.patient_index + delta)

    def select_group(self, index: int) -> None:
        groups = self.current_groups
        if not groups:
            return
        index = max(0, min(index, len(groups) - 1))
        if index != self.group_index:
            self.group_index = index
            self.frame_index = 0
            self.current_changed.emit()

    def step_image(self, delta: int) -> None:
        self.select_group(self.group_index + delta)

    def select_frame(self, index: int) -> None:
        group = self.current_group
        if group is None:
            return
        index = max(0, min(index, group.n_frames - 1))
        if index != self.frame_index:
            self.frame_index = index
            self.current_changed.emit()

    def select_image(self, image_key: str) -> bool:
        """Show the current patient's image with this key (e.g. a driver of the verdict)."""
        for g, group in enumerate(self.current_groups):
            for f, ref in enumerate(group.refs):
                if ref.key == image_key:
                    self.group_index, self.frame_index = g, f
                    self.current_changed.emit()
                    return True
        return False

    def advance_frame(self) -> None:
        """Next cine frame, wrapping to the first (cine playback)."""
        group = self.current_group
        if group is not None and group.is_cine:
            self.frame_index = (self.frame_index + 1) % group.n_frames
            self.current_changed.emit()

    def image_label(self, ref: ImageRef) -> str:
        """What the UI calls an image: its file name, or "Image N" in de-identified mode."""
        if not self.deidentified:
            return ref.name
        groups = self.groups(patient_key(ref))
        index = next((i for i, g in enumerate(groups) if g.path == ref.path), 0)
        suffix = f" [{ref.frame + 1}/{ref.n_frames}]" if ref.frame is not None else ""
        return f"Image {index + 1}{suffix}"
