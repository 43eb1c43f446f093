"""``cnsight-predict``: batch prediction over files, folders, DICOMDIRs and manifests.

Writes ``OUT/images.csv`` (one row per image or frame; ``error`` says why a file was not
read, ``assessable``/``reason`` whether the model could assess it), ``OUT/patients.csv``
(patient-level verdicts over the assessable views, rule named; ``not_assessable`` when there
are none) and, with ``--heatmaps``, one overlay PNG per image under ``OUT/heatmaps/``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from .. import RESEARCH_USE_ONLY, prediction_csv
from ..aggregation import RULES
from ..devices import DEFAULT_DEVICE, DEVICES
from ..errors import BundleError, CNSightError, DiscoveryError
from ..records import ImageRef, LoadedImage, Patient
from ..resources import demo_model_dir
from .overlays import write_overlay

if TYPE_CHECKING:
    from ..predictor import ImagePrediction

log = logging.getLogger("cnsight.predict")
PREFETCH = 8  # images decoded ahead of the model (bounded, so memory stays flat)


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
        "--device",
        default=DEFAULT_DEVICE,
        help=f"{', '.join(DEVICES)} or cuda:N (auto: CUDA, then MPS, then CPU)",
    )
    p.add_argument(
        "--batch-size", type=int, default=16, help="images per forward pass (default 16)"
    )
    p.add_argument(
        "--rule",
        default=None,
        choices=list(RULES),
        help="patient-level rule (default: the bundle's)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def prefetch(
    refs: Sequence[ImageRef], load, depth: int = PREFETCH
) -> Iterator[tuple[ImageRef, Future]]:
    """Yield (ref, future) in order, decoding at most ``depth`` images ahead on two threads."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cnsight-load") as pool:
        pending: list[tuple[ImageRef, Future]] = []
        it = iter(refs)
        for ref in it:
            pending.append((ref, pool.submit(load, ref)))
            if len(pending) >= depth:
                yield pending.pop(0)
        yield from pending


class CsvWriters:
    """images.csv and patients.csv, columns from ``core.prediction_csv`` (the contract)."""

    def __init__(self, out: Path, class_names: Sequence[str]):
        self.class_names = tuple(class_names)
        # Opened for the whole run and closed by __exit__: rows are written as images finish.
        self._files = [
            open(out / n, "w", newline="", encoding="utf-8")  # noqa: SIM115
            for n in ("images.csv", "patients.csv")
        ]
        self.images = csv.writer(self._files[0])
        self.images.writerow(prediction_csv.image_header(class_names))
        self.patients = csv.writer(self._files[1])
        self.patients.writerow(prediction_csv.patient_header(class_names))

    def error_row(self, patient_id: str, path: str, frame, error: str):
        self.images.writerow(
            prediction_csv.image_row(self.class_names, patient_id, path, frame, None, error)
        )

    def prediction_row(self, patient_id: str, pred: ImagePrediction):
        self.images.writerow(
            prediction_csv.prediction_row(self.class_names, patient_id, str(pred.ref.path), pred)
        )

    def patient_row(self, patient_id: str, verdict, rule: str):
        self.patients.writerow(
            prediction_csv.patient_row(self.class_names, patient_id, verdict, rule)
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
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        return run(args)
    except (BundleError, DiscoveryError, ValueError) as e:
        print(f"cnsight-predict: error: {e}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    # Heavy imports here, after argument parsing, so --help is instant.
    from ..bundle import load_bundle
    from ..discovery import discover
    from ..predictor import Predictor

    bundle_dir = args.model or demo_model_dir()
    bundle = load_bundle(bundle_dir)
    class_names = bundle.card.class_names
    heatmap_classes = _heatmap_classes(args.heatmap_class, class_names)
    study = discover([Path(p) for p in args.inputs], class_names=class_names)
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        CsvWriters(args.out, class_names) as writers,
        Predictor(bundle, device=args.device, batch_size=args.batch_size) as predictor,
    ):
        for err in study.errors:
            writers.error_row("", err.path, None, err.message)
        log.info(
            "model %s (%s) on %s; %d patients, %d images, %d unreadable files",
            bundle.card.name,
            bundle.card.weights_sha256[:12],
            predictor.device,
            len(study.patients),
            len(study.images),
            len(study.errors),
        )
        job = _PredictJob(predictor, writers, args, heatmap_classes, total=len(study.images))
        n_ok = sum(job.patient(p) for p in study.patients)
        job.close()
    n_err = len(study.errors) + job.n_errors
    log.info("%d images predicted, %d not; results in %s", n_ok, n_err, args.out)
    return 0 if n_ok else 1


class _PredictJob:
    """Predicts patient after patient, writing rows as it goes (nothing kept but one patient)."""

    def __init__(self, predictor, writers: CsvWriters, args, heatmap_classes, total: int):
        from tqdm import tqdm

        self.predictor, self.writers, self.args = predictor, writers, args
        self.heatmap_classes = heatmap_classes
        self.rule = args.rule or predictor.bundle.card.aggregation
        self.bar = tqdm(total=total, unit="img", disable=args.no_progress, file=sys.stderr)
        self.n_errors = 0

    def patient(self, patient: Patient) -> int:
        """Predict one patient's images and write its rows; returns the number predicted."""
        from ..aggregation import aggregate_patient
        from ..imaging import read_image

        loaded: list[LoadedImage] = []
        preds: list[ImagePrediction] = []
        for ref, future in prefetch(patient.images, read_image):
            try:
                image = future.result()
            except CNSightError as e:
                self._error(patient, ref, str(e))
                continue
            loaded.append(image)  # out-of-scope images too: the domain check says why
            if len(loaded) >= self.predictor.batch_size:
                self._predict(patient, loaded, preds)
        self._predict(patient, loaded, preds)
        names = self.writers.class_names
        card = self.predictor.bundle.card
        verdict = (
            aggregate_patient(
                patient.patient_id,
                [p.probs for p in preds],
                [p.ref.key for p in preds],
                names,
                self.rule,
                views=[str(p.ref.path) for p in preds],
                assessable=[p.assessable for p in preds],
                temperature=card.patient_temperature_for(self.rule),
            )
            if preds
            else None
        )
        self.writers.patient_row(patient.patient_id, verdict, self.rule)
        return len(preds)

    def _predict(self, patient: Patient, loaded: list[LoadedImage], preds: list) -> None:
        """Predict the loaded images (then clear them), appending to ``preds``."""
        if not loaded:
            return
        names = self.writers.class_names
        for image, pred in zip(loaded, self.predictor.predict_batch(loaded), strict=True):
            self.writers.prediction_row(patient.patient_id, pred)
            preds.append(pred)
            # No overlay for an image the model cannot assess: a heatmap would look like a finding.
            if self.args.heatmaps and pred.assessable:
                write_overlay(
                    self.args.out / "heatmaps",
                    patient.patient_id,
                    image,
                    pred,
                    names,
                    self.heatmap_classes,
                )
        self.bar.update(len(loaded))
        loaded.clear()

    def _error(self, patient: Patient, ref: ImageRef, message: str) -> None:
        log.warning("%s", message)
        self.writers.error_row(patient.patient_id, str(ref.path), ref.frame, message)
        self.n_errors += 1
        self.bar.update(1)

    def close(self):
        self.bar.close()


if __name__ == "__main__":
    sys.exit(main())
