"""One image's failure never costs the others: a batch that fails is predicted again image by
image, so only the image that cannot be prepared or predicted gets an error (its row, its
entry), with a user-facing reason. Used by ``cnsight-predict``, ``cnsight-eval`` and the app's
model worker around ``Predictor.predict_batch``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import CancelledError, CNSightError, ImageReadError
from .records import ImageRef, LoadedImage


class BatchPredictor(Protocol):
    """What is needed of ``core.predictor.Predictor`` (not imported: it imports torch, and
    the app's model worker uses this module from its thread)."""

    def predict_batch(
        self, images: Sequence[LoadedImage], prepared: Sequence[Any] | None = None
    ) -> list[Any]: ...


#: ``core.predictor.ImagePrediction`` (not imported, see ``BatchPredictor``).
ImagePrediction = Any

log = logging.getLogger(f"cnsight.{__name__}")

#: Longest library message kept in a reason (torch's can run to several lines).
_MAX_DETAIL = 300


@dataclass(frozen=True)
class PredictionFailure:
    """An image that was read but could not be prepared or predicted, and why."""

    ref: ImageRef
    reason: str


def failure_reason(exc: BaseException) -> str:
    """What the user is told about ``exc`` (no traceback)."""
    if isinstance(exc, ImageReadError):
        return exc.reason
    if isinstance(exc, CNSightError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory to prepare or predict this image"
    detail = " ".join(str(exc).split())
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 3] + "..."
    return (
        f"prediction failed ({type(exc).__name__}: {detail})"
        if detail
        else (f"prediction failed ({type(exc).__name__})")
    )


def predict_batch_isolated(
    predictor: BatchPredictor,
    images: Sequence[LoadedImage],
    prepared: Sequence[Any] | None = None,
) -> list[ImagePrediction | PredictionFailure]:
    """``predictor.predict_batch(images, prepared)``, in order; when the batch fails (a
    RuntimeError from an allocation, a non-finite output, an image that cannot be prepared),
    each image is predicted on its own and only those that fail again become
    ``PredictionFailure``. ``CancelledError`` and ``KeyboardInterrupt`` still propagate."""
    if not images:
        return []
    if prepared is None:
        prepared = [None] * len(images)
    try:
        return list(predictor.predict_batch(images, prepared))
    except (CancelledError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - isolated below, image by image
        if len(images) == 1:
            return [_failure(images[0], exc)]
        log.warning(
            "a batch of %d images failed (%s); predicting them one by one",
            len(images),
            failure_reason(exc),
        )
    results: list[ImagePrediction | PredictionFailure] = []
    for image, ready in zip(images, prepared, strict=True):
        try:
            results.extend(predictor.predict_batch([image], [ready]))
        except (CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - this image only
            results.append(_failure(image, exc))
    return results


def _failure(image: LoadedImage, exc: BaseException) -> PredictionFailure:
    log.debug("prediction failed for %s", image.ref.key, exc_info=exc)
    return PredictionFailure(image.ref, failure_reason(exc))
