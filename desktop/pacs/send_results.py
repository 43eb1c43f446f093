"""PACS > Send results to PACS…: the open patient's AI results back into its own study.

What is sent is exactly what ``cnsight-predict --dicom-out`` writes for a study
(``core.dicom_out.write_study_outputs``: the Comprehensive SR, Secondary Capture heatmaps of
the driving views, the report as Encapsulated PDF), built from the predictions the app shows
and sent with ``core.pacs.transfer.send`` (C-STORE or STOW-RS). ``results_of_current_patient``
copies what is needed on the GUI thread; ``build_and_send`` runs on a background thread.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.aggregation import PatientPrediction
from core.dicom_out import write_study_outputs
from core.errors import DicomOutputError
from core.pacs import transfer
from core.pacs.dimse import SendReport
from core.pacs.nodes import PacsNode
from core.records import ImageRef, LoadedImage

from ..model_worker import ModelInfo
from ..viewmodels.cohort import CohortViewModel
from ..viewmodels.groups import patient_key


@dataclass(frozen=True)
class PatientResults:
    """One patient's results as the app holds them, copied on the GUI thread."""

    label: str  # how the app names the patient ("Case 2" when de-identified)
    predictions: tuple  # ImagePrediction, reading order; the verdict's images exactly
    verdict: PatientPrediction
    card: object  # core.bundle.ModelCard of the model that predicted (no torch import here)
    images: dict[str, LoadedImage]  # ref.key -> the pixels already loaded (driving views)

    def load_image(self, ref: ImageRef) -> LoadedImage:
        """A driving view's pixels: from the app's memory, or read again from its file."""
        image = self.images.get(ref.key)
        if image is not None:
            return image
        from core.imaging import read_image

        return read_image(ref)


@dataclass(frozen=True)
class SentResults:
    files: tuple[str, ...]  # names of the objects sent
    report: SendReport
    study_uid: str


def results_of_current_patient(vm: CohortViewModel, model: ModelInfo | None) -> PatientResults:
    """The current patient's results (DicomOutputError when there are none to send yet)."""
    patient = vm.current_patient
    if patient is None:
        raise DicomOutputError("no study is open: open one (or retrieve it from the PACS) first")
    key = patient_key(patient)
    verdict = vm.verdict(key)
    if verdict is None or model is None:
        raise DicomOutputError(
            "the current patient has no AI result yet; wait for the analysis to finish"
        )
    predictions = tuple(p for p in (vm.prediction(r) for r in patient.images) if p is not None)
    pixels = vm.pixels(key)
    label = vm.patient_label(vm.patient_index)
    return PatientResults(
        label, predictions, verdict, model.card, dict(pixels.images) if pixels else {}
    )


def build_and_send(results: PatientResults, node: PacsNode, method: str) -> SentResults:
    """Write the study's DICOM objects into a temporary folder and send them (background)."""
    # highdicom logs every module it copies at INFO: noise in the app's log.
    logging.getLogger("highdicom").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="cnsight-send-") as tmp:
        paths: Sequence[Path] = write_study_outputs(
            Path(tmp), results.predictions, results.verdict, results.card,
            load_image=results.load_image,
        )  # fmt: skip
        report = transfer.send(node, list(paths), method)
        return SentResults(tuple(p.name for p in paths), report, paths[0].parent.name)
