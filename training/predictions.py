"""Predictions of a set of images as ``cnsight-eval`` scores them: probabilities, the domain
check, the out-of-distribution score and the plane of every readable image, and the files that
could not be read. Read and predicted batch by batch, so memory stays flat."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from core.domain import DomainCheck
from core.errors import ImageReadError
from core.imaging import read_image
from core.isolation import PredictionFailure, predict_batch_isolated
from core.predictor import Predictor
from core.read_ahead import ReadItem, read_ahead
from core.records import ImageRef

log = logging.getLogger("cnsight.eval")


@dataclass(frozen=True)
class Predictions:
    """Probabilities of the images that could be read, and the files that could not."""

    refs: list[ImageRef]
    probs: np.ndarray  # N x K
    errors: list[tuple[ImageRef, str]]  # (image, why it could not be read)
    checks: list[DomainCheck] = field(default_factory=list)  # per row: assessable, reason
    ood_scores: np.ndarray | None = None  # per row, distance / threshold (None: no statistics)
    planes: list[str | None] = field(default_factory=list)

    @property
    def assessable(self) -> np.ndarray:
        return np.array([c.assessable for c in self.checks], dtype=bool)


def predict_images(
    predictor: Predictor, refs: Sequence[ImageRef], progress: bool = True
) -> Predictions:
    """Predict ``refs`` in full batches, decoded and prepared ahead on two threads
    (``core.read_ahead``: memory stays flat); unreadable files are collected."""
    done, probs, errors, checks, scores, planes = [], [], [], [], [], []
    bar = tqdm(
        total=len(refs), desc="predicting", unit="img", disable=not progress, dynamic_ncols=True
    )

    def flush(batch: list[ReadItem]) -> None:
        images, prepared = [it.image for it in batch], [it.prepared for it in batch]
        for prediction in predict_batch_isolated(predictor, images, prepared):
            if isinstance(prediction, PredictionFailure):  # this image only (issue 15)
                errors.append((prediction.ref, prediction.reason))
                log.warning("not predicted: %s: %s", prediction.ref.key, prediction.reason)
                continue
            done.append(prediction.ref)
            probs.append(prediction.probs)
            checks.append(prediction.check)
            scores.append(np.nan if prediction.ood_score is None else prediction.ood_score)
            planes.append(prediction.plane)
        bar.update(len(batch))
        batch.clear()

    batch: list[ReadItem] = []
    for item in read_ahead(refs, read_image, predictor.prepare):
        if item.error is not None:
            if not isinstance(item.error, ImageReadError):
                raise item.error  # a reader bug is not a property of the data: stop loudly
            errors.append((item.ref, item.error.reason))
            log.warning("unreadable: %s", item.error)
            bar.update(1)
            continue
        batch.append(item)
        if len(batch) >= predictor.batch_size:
            flush(batch)
    flush(batch)
    bar.close()
    k = len(predictor.class_names)
    has_scores = predictor.bundle.feature_domain is not None
    return Predictions(
        done, np.asarray(probs, dtype=np.float64).reshape(-1, k), errors, checks,
        np.asarray(scores, dtype=np.float64) if has_scores else None, planes,
    )  # fmt: skip
