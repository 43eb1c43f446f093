"""``write_study_outputs``: the DICOM objects CNSight sends back for one study, on disk.

One entry point for the app ("Send results to PACS") and ``cnsight-predict --dicom-out``; the
PACS code sends the files it returns. Everything is built in memory first (a refusal writes
nothing), then each file is written under a temporary name and renamed when complete, so a
file with a final name is always a whole object; if one write fails, the files this call
wrote are removed again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import highdicom as hd
from pydicom.dataset import Dataset

from ..errors import CNSightError, DicomOutputError
from ..heatmap_overlay import FORWARD_CAM
from ..records import ImageRef, LoadedImage
from .encapsulated_pdf import build_encapsulated_pdf, check_pdf
from .report_pdf import study_report_pdf
from .secondary_capture import build_driver_images
from .source import read_source_study
from .sr import build_sr

if TYPE_CHECKING:
    from ..aggregation import PatientPrediction
    from ..bundle import ModelCard
    from ..predictor import ImagePrediction

SR_NAME = "cnsight-sr.dcm"
PDF_NAME = "cnsight-report.dcm"
SC_PATTERN = "cnsight-heatmap-{:02d}.dcm"
_SC_GLOB = "cnsight-heatmap-*.dcm"


def write_study_outputs(
    out_dir: Path,
    predictions: Sequence[ImagePrediction],
    verdict: PatientPrediction,
    card: ModelCard,
    *,
    pdf: bytes | None = None,
    load_image: Callable[[ImageRef], LoadedImage] | None = None,
    heatmap_method: str = FORWARD_CAM,
    created: dt.datetime | None = None,
) -> list[Path]:
    """Write the study's SR, heatmap Secondary Captures and Encapsulated PDF report to
    ``out_dir/<StudyInstanceUID>/``; returns their paths (SR, the heatmaps best driver first,
    the PDF).

    ``predictions``: every predicted image of the study (``Predictor.predict`` results, in
    reading order; their ``ref`` must be DICOM files of ONE study - the headers are read from
    the files for the UIDs and the patient and study modules). ``verdict``: the patient
    verdict aggregated over exactly these predictions (``aggregate_patient``; its drivers are
    the views that get a heatmap image). ``card``: the model card of the bundle that made them
    (name, version = creation time, weights sha256 go into every object). ``pdf``: the report
    as PDF bytes (the app's Qt report); None makes the short matplotlib report the CLI uses.
    ``load_image``: how to get a driving view's pixels (the app passes its cache; default
    ``core.imaging.read_image``). ``heatmap_method``: the method of ``pred.cams`` (the
    forward-pass CAM unless the caller computed others). ``created``: the report's timestamp
    (default now).

    Files: ``cnsight-sr.dcm`` (Comprehensive SR, TID 1500), ``cnsight-heatmap-NN.dcm``
    (Secondary Capture, RGB), ``cnsight-report.dcm`` (Encapsulated PDF); each in a new series
    of the source study. Writing again replaces them (new SOP Instance UIDs; heatmaps of an
    earlier run beyond the new count are removed).

    Raises ``NotADicomStudyError`` for images that are not DICOM files (no study to attach
    to), ``DicomOutputError`` for any other refusal (mixed studies, a header without its UIDs,
    a ``pdf`` that is not a PDF, a verdict of other images or classes, a folder that cannot
    be written) - in every case nothing is left behind under a final name.
    """
    if not predictions:
        raise DicomOutputError("no predicted image: there is nothing to send back")
    if tuple(verdict.class_names) != tuple(card.class_names):
        raise DicomOutputError(
            "the verdict's classes are not the model's: it was made by another bundle"
        )
    if verdict.n_images != len(predictions):
        raise DicomOutputError(
            f"the verdict rests on {verdict.n_images} images but {len(predictions)} predictions "
            "were given: pass the predictions the verdict was aggregated from"
        )
    if pdf is not None:
        check_pdf(pdf)
    study = read_source_study([p.ref for p in predictions])
    by_key = {p.ref.key: p for p in predictions}
    missing = [key for key, _p in verdict.drivers if key not in by_key]
    if missing:
        raise DicomOutputError(
            f"the verdict's driving image {missing[0]} is not among the predictions"
        )
    if load_image is None:
        from ..imaging import read_image

        load_image = read_image
    try:
        objects = _build(
            study, predictions, by_key, verdict, card, pdf, load_image, heatmap_method, created
        )
    except (ValueError, TypeError) as exc:  # highdicom's checks of a source header's values
        raise DicomOutputError(f"cannot make the DICOM results of this study: {exc}") from exc
    folder = Path(out_dir) / study.study_uid
    written = _write_all(folder, objects)
    keep = {p.name for p in written}
    for stale in folder.glob(_SC_GLOB):
        if stale.name not in keep:
            with contextlib.suppress(OSError):
                stale.unlink()
    return written


def _write_all(folder: Path, objects: list[tuple[str, Dataset]]) -> list[Path]:
    written: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, ds in objects:
            path = folder / name
            part = folder / f".{name}.part"
            try:
                ds.save_as(part, enforce_file_format=True)
                os.replace(part, path)
            finally:
                with contextlib.suppress(OSError):
                    part.unlink()
            written.append(path)
    except OSError as exc:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise DicomOutputError(f"cannot write the DICOM results to {folder}: {exc}") from exc
    return written


def _build(study, predictions, by_key, verdict, card, pdf, load_image, heatmap_method, created):
    """(file name, data set) of every object, built in memory."""
    objects: list[tuple[str, Dataset]] = [
        (SR_NAME, build_sr(study, predictions, verdict, card, heatmap_method, hd.UID()))
    ]
    drivers = [key for key, _p in verdict.drivers]
    try:
        heatmaps = build_driver_images(
            study.images, by_key, drivers, verdict.pred_index, card, heatmap_method,
            load_image, hd.UID(),
        )  # fmt: skip
    except CNSightError as exc:  # a driving view that cannot be decoded again: say which
        raise DicomOutputError(f"cannot draw the heatmap of a driving view: {exc}") from exc
    objects += [(SC_PATTERN.format(i), sc) for i, sc in enumerate(heatmaps, start=1)]
    if pdf is None:
        pdf = study_report_pdf(study.first, predictions, verdict, card, created)
    title = f"CNSight AI report - {verdict.pred if verdict.assessable else 'not assessable'}"
    objects.append((PDF_NAME, build_encapsulated_pdf(pdf, study, card, title, hd.UID())))
    return objects
