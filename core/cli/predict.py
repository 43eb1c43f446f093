"""``cnsight-predict``: batch prediction over files, folders, DICOMDIRs and manifests.

Writes ``OUT/images.csv`` (one row per image or frame; ``error`` says why a file was not
read, ``assessable``/``reason`` whether the model could assess it), ``OUT/patients.csv``
(patient-level verdicts over the assessable views, rule named; ``not_assessable`` when there
are none) and, with ``--heatmaps``, one overlay PNG per image under ``OUT/heatmaps/``.

Every file that cannot be used is one row with its reason and the run goes on: an image that
cannot be read, prepared or predicted costs only itself (a failing batch is predicted again
image by image). With ``--deidentify`` no patient id, file name or path is written: patients
are ``case-NNN``, images ``case-NNN/image-NN``, error messages are scrubbed of paths and
names, and overlays have the burned-in text masked (docs/security.md, "Patient data").
``--dicom-out DIR`` also writes every DICOM study's SR, heatmap and PDF objects
(``core.cli.dicom_out``, docs/dicom-outputs.md). ``OUT/run.json``, written last, records what
ran: the model (name, weights sha256), the device and the inference backend (``--backend``,
``core.inference``), and the counts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import RESEARCH_USE_ONLY, prediction_csv
from ..aggregation import RULES
from ..deidentify import Pseudonyms, mask_burned_in_text, scrub
from ..devices import DEFAULT_DEVICE, DEVICES
from ..errors import BackendUnavailable, BundleError, CNSightError, DiscoveryError
from ..inference.names import add_backend_argument
from ..isolation import PredictionFailure, failure_reason, predict_batch_isolated
from ..memory import release_freed_heap
from ..read_ahead import ReadItem, read_ahead
from ..records import ImageRef, LoadedImage, Patient
from ..resources import demo_model_dir
from .dicom_out import StudyDicomWriter, add_dicom_out_argument
from .overlays import OVERLAY_FORMATS, write_overlay

if TYPE_CHECKING:
    from ..predictor import ImagePrediction

log = logging.getLogger("cnsight.predict")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cnsight-predict",
        description="Classify ultrasound images and patients with a CNSight model bundle. "
        f"{RESEARCH_USE_ONLY}.",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image/DICOM files, folders, DICOMDIRs or manifest CSVs (any mix)",
    )
    p.add_argument(
        "--model",
        type=Path,
        default=None,
        help="model bundle folder (default: the bundled demo model)",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (created if needed)")
    p.add_argument(
        "--heatmaps", action="store_true", help="also write one heatmap overlay PNG per image"
    )
    p.add_argument(
        "--heatmap-class",
        default="pred",
        help="class whose map is drawn: 'pred' (each image's predicted class, default), "
        "'all', or a class name",
    )
    p.add_argument(
        "--heatmap-format",
        default="png",
        choices=list(OVERLAY_FORMATS),
        help="overlay files: png (lossless, default) or jpg (quality 90: faster, smaller)",
    )
    p.add_argument(
        "--device",
        default=DEFAULT_DEVICE,
        help=f"{', '.join(DEVICES)} or cuda:N (auto: CUDA, then MPS, then CPU)",
    )
    p.add_argument(
        "--batch-size", type=int, default=16, help="images per forward pass (default 16)"
    )
    add_backend_argument(p)
    p.add_argument(
        "--rule",
        default=None,
        choices=list(RULES),
        help="patient-level rule (default: the bundle's)",
    )
    p.add_argument(
        "--deidentify",
        action="store_true",
        help="write no patient id, file name or path: case and image labels instead, error "
        "messages without paths, overlays with the burned-in text masked",
    )
    add_dicom_out_argument(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


class CsvWriters:
    """images.csv and patients.csv, columns from ``core.prediction_csv`` (the contract), every
    cell through its safe writer (formula cells neutralised, any file name writable). With
    ``pseudonyms`` the id and path columns hold case and image labels."""

    def __init__(self, out: Path, class_names: Sequence[str], pseudonyms: Pseudonyms | None = None):
        self.class_names = tuple(class_names)
        self.pseudonyms = pseudonyms
        # Opened for the whole run and closed by __exit__: rows are written as images finish.
        self._files = [
            open(out / n, "w", newline="", encoding="utf-8")  # noqa: SIM115
            for n in ("images.csv", "patients.csv")
        ]
        self.images = prediction_csv.writer(self._files[0])
        self.images.writerow(prediction_csv.image_header(class_names))
        self.patients = prediction_csv.writer(self._files[1])
        self.patients.writerow(prediction_csv.patient_header(class_names))

    def _patient(self, patient_id: str) -> str:
        if self.pseudonyms is None or not patient_id:
            return patient_id
        return self.pseudonyms.case(patient_id)

    def _where(self, patient_id: str, path: str) -> str:
        if self.pseudonyms is None:
            return path
        if not patient_id:
            return self.pseudonyms.file(path)
        return self.pseudonyms.image(patient_id, path)

    def message(self, text: str, path: str = "") -> str:
        """An error message as this run may write it (scrubbed when de-identifying)."""
        return text if self.pseudonyms is None else scrub(text, [path])

    def error_row(self, patient_id: str, path: str, frame, error: str):
        self.images.writerow(
            prediction_csv.image_row(
                self.class_names, self._patient(patient_id), self._where(patient_id, path),
                frame, None, self.message(error, path),
            )
        )  # fmt: skip

    def prediction_row(self, patient_id: str, pred: ImagePrediction):
        where = self._where(patient_id, str(pred.ref.path))
        self.images.writerow(
            prediction_csv.prediction_row(self.class_names, self._patient(patient_id), where, pred)
        )

    def patient_row(self, patient_id: str, verdict, rule: str):
        kwargs = {}
        if self.pseudonyms is not None:
            kwargs["image_name"] = self.pseudonyms.image_key
        self.patients.writerow(
            prediction_csv.patient_row(
                self.class_names, self._patient(patient_id), verdict, rule, **kwargs
            )
        )

    def __enter__(self) -> CsvWriters:
        return self

    def __exit__(self, *exc) -> None:
        for f in self._files:
            f.close()


def _heatmap_classes(arg: str, class_names: Sequence[str]) -> str | list[int]:
    if arg in ("pred", "all"):
        return arg
    if arg not in class_names:
        raise ValueError(
            f"--heatmap-class {arg!r}: not a class of this model ({', '.join(class_names)})"
        )
    return [list(class_names).index(arg)]


def main(argv: Sequence[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    _printable_stderr()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return run(args)
    except (BundleError, DiscoveryError, BackendUnavailable, ValueError) as e:
        print(f"cnsight-predict: error: {e}", file=sys.stderr)
        return 2


def _printable_stderr() -> None:
    """A file name that is not valid UTF-8 (a lone surrogate in Python) is printed as an
    escape instead of raising inside the logging handler."""
    reconfigure = getattr(sys.stderr, "reconfigure", None)
    if reconfigure is not None:
        with contextlib.suppress(ValueError, OSError):  # a stream that cannot change it
            reconfigure(errors="backslashreplace")


def run(args: argparse.Namespace) -> int:
    # Heavy imports here, after argument parsing, so --help is instant.
    from ..bundle import load_bundle
    from ..discovery import discover
    from ..predictor import Predictor

    dicom_out = StudyDicomWriter.from_args(args)
    bundle_dir = args.model or demo_model_dir()
    bundle = load_bundle(bundle_dir)
    class_names = bundle.card.class_names
    heatmap_classes = _heatmap_classes(args.heatmap_class, class_names)
    study = discover([Path(p) for p in args.inputs], class_names=class_names)
    args.out.mkdir(parents=True, exist_ok=True)
    pseudonyms = Pseudonyms(p.patient_id for p in study.patients) if args.deidentify else None
    with (
        CsvWriters(args.out, class_names, pseudonyms) as writers,
        Predictor(
            bundle, device=args.device, batch_size=args.batch_size, backend=args.backend
        ) as predictor,
    ):
        # The backend's build leaves ~150 MB freed but resident (core.memory): given back once.
        release_freed_heap()
        for err in study.errors:
            writers.error_row("", err.path, None, err.message)
        log.info(
            "model %s (%s) on %s, backend %s; %d patients, %d images, %d unreadable files",
            bundle.card.name,
            bundle.card.weights_sha256[:12],
            predictor.device,
            predictor.backend_name,
            len(study.patients),
            len(study.images),
            len(study.errors),
        )
        job = _PredictJob(predictor, writers, args, heatmap_classes, total=len(study.images))
        job.dicom_out = dicom_out
        try:
            n_ok = job.run(study.patients)
        finally:
            job.close()
    n_err = len(study.errors) + job.n_errors
    write_run_record(args.out, bundle.card, predictor, n_ok, n_err)
    log.info("%d images predicted, %d not; results in %s", n_ok, n_err, args.out)
    return dicom_out.exit_code(0 if n_ok else 1) if dicom_out else 0 if n_ok else 1


def write_run_record(out: Path, card, predictor, n_predicted: int, n_errors: int) -> None:
    """``OUT/run.json``: what produced the tables (written last and atomically, so a run that
    stopped midway has none)."""
    record = {
        "research_use_only": RESEARCH_USE_ONLY,
        "model": {"name": card.name, "weights_sha256": card.weights_sha256},
        "device": str(predictor.device),
        "backend": predictor.backend_name,
        "images_predicted": n_predicted,
        "errors": n_errors,
    }
    tmp = out / ".run.json.tmp"
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out / "run.json")


@dataclass
class _PatientRun:
    """A patient whose images are on their way: its predictions so far, and how many of its
    images still wait in the batch."""

    patient: Patient
    preds: list[ImagePrediction] = field(default_factory=list)
    waiting: int = 0
    all_queued: bool = False


class _PredictJob:
    """Predicts every patient's images in one stream: files decoded and prepared ahead on two
    threads (``core.read_ahead``), batches filled across patients (a study of one-image
    patients still runs full batches), rows written in input order. A patient's row is
    written as soon as its last image is predicted; nothing is kept but the batch in hand, the
    images read ahead and the patients they belong to."""

    def __init__(self, predictor, writers: CsvWriters, args, heatmap_classes, total: int):
        from tqdm import tqdm

        self.predictor, self.writers, self.args = predictor, writers, args
        self.heatmap_classes = heatmap_classes
        self.rule = args.rule or predictor.bundle.card.aggregation
        self.bar = tqdm(total=total, unit="img", disable=args.no_progress, file=sys.stderr)
        self.n_errors = 0
        self.n_predicted = 0
        self.dicom_out: StudyDicomWriter | None = None
        self._open: deque[_PatientRun] = deque()  # patients not yet written, in order
        self._batch: list[tuple[_PatientRun, ReadItem]] = []  # in input order, errors included

    def run(self, patients: Sequence[Patient]) -> int:
        """Predict all ``patients``; returns the number of images predicted."""
        from ..imaging import read_image

        refs = (ref for patient in patients for ref in patient.images)
        items = read_ahead(refs, read_image, self.predictor.prepare)
        try:
            for patient in patients:
                run = _PatientRun(patient)
                self._open.append(run)
                for _ in patient.images:
                    self._queue(run, next(items))
                run.all_queued = True
                self._write_finished_patients()
            self._flush()
        finally:
            items.close()
        return self.n_predicted

    def _queue(self, run: _PatientRun, item: ReadItem) -> None:
        self._batch.append((run, item))
        run.waiting += 1
        if sum(it.image is not None for _, it in self._batch) >= self.predictor.batch_size:
            self._flush()

    def _flush(self) -> None:
        """Predict the batch's images (failure isolated per image), then write its rows in
        input order, then every patient that is now complete."""
        if not self._batch:
            return
        readable = [(run, it) for run, it in self._batch if it.image is not None]
        results = iter(
            predict_batch_isolated(
                self.predictor,
                [it.image for _, it in readable],
                [it.prepared for _, it in readable],
            )
        )
        names = self.writers.class_names
        for run, item in self._batch:
            run.waiting -= 1
            if item.image is None:
                self._error(run.patient, item.ref, self._read_failure(item))
                continue
            result = next(results)
            if isinstance(result, PredictionFailure):
                self._error(run.patient, item.ref, f"{item.ref.path}: {result.reason}")
                continue
            self.writers.prediction_row(run.patient.patient_id, result)
            run.preds.append(result)
            self.n_predicted += 1
            self.bar.update(1)
            # No overlay for an image the model cannot assess: a heatmap would look like a finding.
            if self.args.heatmaps and result.assessable:
                self._overlay(run.patient, item.image, result, names)
        self._batch.clear()
        self._write_finished_patients()

    @staticmethod
    def _read_failure(item: ReadItem) -> str:
        exc = item.error
        if isinstance(exc, CNSightError):
            return str(exc)
        log.debug("reading %s failed", item.ref.key, exc_info=exc)
        return f"{item.ref.path}: cannot read image: {failure_reason(exc)}"

    def _write_finished_patients(self) -> None:
        while self._open and self._open[0].all_queued and self._open[0].waiting == 0:
            self._patient_row(self._open.popleft())

    def _patient_row(self, run: _PatientRun) -> None:
        from ..aggregation import aggregate_patient

        preds, patient = run.preds, run.patient
        card = self.predictor.bundle.card
        verdict = (
            aggregate_patient(
                patient.patient_id,
                [p.probs for p in preds],
                [p.ref.key for p in preds],
                self.writers.class_names,
                self.rule,
                views=[str(p.ref.path) for p in preds],
                assessable=[p.assessable for p in preds],
                temperature=card.patient_temperature_for(self.rule),
            )
            if preds
            else None
        )
        self.writers.patient_row(patient.patient_id, verdict, self.rule)
        if self.dicom_out is not None:
            self.dicom_out.study(patient, preds, verdict, card)

    def _overlay(self, patient: Patient, image: LoadedImage, pred, names) -> None:
        pseudonyms = self.writers.pseudonyms
        if pseudonyms is None:
            folder, stem = patient.patient_id, None
        else:  # case folder, image label, burned-in text masked
            folder, label = pseudonyms.image(patient.patient_id, image.ref).split("/", 1)
            stem = label
            image = replace(image, pixels=mask_burned_in_text(image.pixels, image.region))
        try:
            write_overlay(
                self.args.out / "heatmaps", folder, image, pred, names, self.heatmap_classes,
                stem=stem, fmt=self.args.heatmap_format,
            )  # fmt: skip
        except (OSError, ValueError) as exc:  # a full disk, an unwritable folder
            log.warning("%s", self.writers.message(f"heatmap not written: {exc}"))

    def _error(self, patient: Patient, ref: ImageRef, message: str) -> None:
        """One error row (the image is counted on the progress bar too)."""
        path = str(ref.path)
        log.warning("%s", self.writers.message(message, path))
        self.writers.error_row(patient.patient_id, path, ref.frame, message)
        self.n_errors += 1
        self.bar.update(1)

    def close(self):
        self.bar.close()


if __name__ == "__main__":
    sys.exit(main())
