"""The one thread that owns the model (docs/design.md §3).

``ModelWorker`` lives in its own QThread and is the only code that touches the ``Predictor``
(which is not thread-safe). ``ModelService`` lives in the GUI thread: it numbers every request,
sends it to the worker by a queued signal and re-emits the worker's answers on the GUI thread.
Whoever asked decides whether an answer is stale (its id is no longer the one it waits for).

torch and the model are imported/loaded here, in the worker, after the window is up: this is
the one desktop module allowed to reach torch (the import-linter contract "the app's GUI never
imports torch" in pyproject.toml lets exactly its loader's imports through).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core.devices import DEFAULT_DEVICE
from core.errors import BundleError, CancelledError
from core.inference.names import DEFAULT_BACKEND
from core.records import LoadedImage

from .background import CancelToken

if TYPE_CHECKING:  # types only: importing these modules imports torch
    from core.bundle import ModelCard
    from core.predictor import Predictor

log = logging.getLogger(f"cnsight.{__name__}")


@dataclass(frozen=True)
class ModelInfo:
    """What the GUI needs to know about the loaded model (no tensors)."""

    path: Path
    card: ModelCard
    device: str
    backend: str = ""  # what runs the network (core.inference), as the About box shows it


#: Makes the model thread's Predictor from a bundle folder, a device name and a backend name.
PredictorFactory = Callable[[Path, str, str], "Predictor"]


def inference_threads() -> int:
    """CPU threads for inference: all available cores but one, which stays for the GUI.

    Measured on a loaded 2-core machine (bench/gui_stall.py, docs/desktop.md): 1 torch thread
    predicted 30 images 4-5x faster than 2 threads and with shorter GUI stalls, because 2
    OpenMP threads plus the GUI thread oversubscribe 2 cores. ``CNSIGHT_TORCH_THREADS``
    overrides.
    """
    override = os.environ.get("CNSIGHT_TORCH_THREADS", "")
    if override.isdigit() and int(override) > 0:
        return int(override)
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, available - 1)


def load_predictor(bundle_path: Path, device: str, backend: str = DEFAULT_BACKEND) -> Predictor:
    """Default factory: load a bundle strictly and wrap it in a Predictor (heavy imports here).

    Runs in the model thread, so the thread count set here is the one inference uses
    (OpenMP's setting belongs to the calling thread).
    """
    # Imported here, not at the top, for start-up speed: torch and torchvision take ~3.5 s to
    # import, and this runs in the model thread after the window is shown (docs/desktop.md).
    import torch

    from core.bundle import load_bundle
    from core.memory import release_freed_heap
    from core.predictor import Predictor

    torch.set_num_threads(inference_threads())
    predictor = Predictor(load_bundle(bundle_path), device=device, batch_size=8, backend=backend)
    release_freed_heap()  # what building the backend freed stays resident otherwise (~150 MB)
    return predictor


def verified_predictor_factory(expected_sha256: str) -> PredictorFactory:
    """A model-thread factory that loads only the bundle whose weights have this sha256 (a
    reader study's model, named in its protocol).

    ``core.bundle.load_bundle`` checks the weights file against its card; this checks the card
    against the expected hash, first from the card alone, then on the loaded bundle.
    """

    def factory(bundle_path: Path, device: str, backend: str = DEFAULT_BACKEND) -> Predictor:
        from core.bundle import read_card  # core.bundle imports torch: see load_predictor

        def refuse(found: str) -> BundleError:
            return BundleError(
                f"the model bundle {bundle_path} is not the study's model: weights sha256 "
                f"{found[:12]}..., the protocol names {expected_sha256[:12]}...; refusing to "
                "load it (ask the study coordinator)"
            )

        card = read_card(bundle_path)
        if card.weights_sha256 != expected_sha256:
            raise refuse(card.weights_sha256)
        # Looked up at call time, so a test can count or replace the real loader.
        predictor = load_predictor(bundle_path, device, backend)
        loaded = predictor.bundle.card.weights_sha256
        if loaded != expected_sha256:
            predictor.close()
            raise refuse(loaded)
        return predictor

    return factory


class ModelWorker(QObject):
    """Runs in the model thread. Every slot answers with exactly one signal carrying its id."""

    model_loaded = Signal(int, object)  # request id, ModelInfo
    model_failed = Signal(int, str)
    progress = Signal(int, int, int)  # request id, done, total
    predicted = Signal(int, object)  # request id, list[ImagePrediction]
    # request id, list[ImagePrediction]: each batch as it is done (a cine's frames show their
    # heatmaps while it plays; ``predicted`` still follows with all of them)
    batch_predicted = Signal(int, object)
    predict_failed = Signal(int, str)
    images_failed = Signal(int, object)  # request id, list[PredictionFailure] (before predicted)
    cancelled = Signal(int)
    heatmap_ready = Signal(int, object)  # request id, (h, w) map in [0, 1]
    heatmap_failed = Signal(int, str)

    def __init__(self, predictor_factory: PredictorFactory | None = None):
        super().__init__()
        self._factory = predictor_factory or load_predictor
        self._predictor: Predictor | None = None

    @Slot(int, object, str, str)
    def load_model(self, request_id: int, bundle_path: Path, device: str, backend: str) -> None:
        """Load a bundle; on failure the previous model stays in use."""
        try:
            predictor = self._factory(Path(bundle_path), device, backend)
        except Exception as exc:  # noqa: BLE001 - BundleError, ValueError (device), OSError...
            log.warning("model load failed: %s", exc)
            self.model_failed.emit(request_id, str(exc) or type(exc).__name__)
            return
        if self._predictor is not None:
            self._predictor.close()
        self._predictor = predictor
        info = ModelInfo(
            path=Path(bundle_path), card=predictor.bundle.card, device=str(predictor.device),
            backend=getattr(predictor, "backend_name", ""),
        )  # fmt: skip
        self.model_loaded.emit(request_id, info)

    @Slot(int, object, object)
    def predict(self, request_id: int, images: list[LoadedImage], token: CancelToken) -> None:
        if self._predictor is None:
            self.predict_failed.emit(request_id, "no model loaded")
            return
        if token.is_set():
            self.cancelled.emit(request_id)
            return
        failures: list = []
        try:
            try:
                preds = self._predictor.predict(
                    images,
                    progress=lambda done, total: self.progress.emit(request_id, done, total),
                    cancelled=token.is_set,
                    on_batch=lambda batch: self.batch_predicted.emit(request_id, batch),
                )
            except CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one image must not cost the others
                log.warning(
                    "prediction of %d image(s) failed (%s); predicting them one by one",
                    len(images), exc,
                )  # fmt: skip
                preds, failures = self._one_by_one(request_id, images, token)
        except CancelledError:
            self.cancelled.emit(request_id)
        except Exception as exc:  # noqa: BLE001 - reported in the GUI, the worker keeps running
            log.exception("prediction failed")
            self.predict_failed.emit(request_id, f"{type(exc).__name__}: {exc}")
        else:
            if failures:
                self.images_failed.emit(request_id, failures)
            self.predicted.emit(request_id, preds)

    def _one_by_one(self, request_id: int, images: list[LoadedImage], token: CancelToken):
        """Each image on its own (``core.isolation``): predictions, and the images that fail
        with their reason, so only those get an error."""
        from core.isolation import PredictionFailure, predict_batch_isolated

        preds, failures = [], []
        for done, image in enumerate(images, start=1):
            if token.is_set():
                raise CancelledError(f"prediction cancelled after {done - 1} of {len(images)}")
            for result in predict_batch_isolated(self._predictor, [image]):
                (failures if isinstance(result, PredictionFailure) else preds).append(result)
            self.progress.emit(request_id, done, len(images))
        return preds, failures

    @Slot(int, object, int, str)
    def extra_heatmap(
        self, request_id: int, image: LoadedImage, class_index: int, method: str
    ) -> None:
        """A grad-cam package heatmap (slow; imports grad-cam on first use, here in the worker)."""
        if self._predictor is None:
            self.heatmap_failed.emit(request_id, "no model loaded")
            return
        try:
            cam = self._predictor.extra_heatmap(image, class_index, method)
        except Exception as exc:  # noqa: BLE001
            log.exception("heatmap %s failed", method)
            self.heatmap_failed.emit(request_id, f"{method}: {exc}")
        else:
            self.heatmap_ready.emit(request_id, cam)

    @Slot()
    def shutdown(self) -> None:
        if self._predictor is not None:
            self._predictor.close()
            self._predictor = None


class ModelService(QObject):
    """GUI-side handle on the model thread: numbered requests in, answers out as signals."""

    _load_requested = Signal(int, object, str, str)
    _predict_requested = Signal(int, object, object)
    _heatmap_requested = Signal(int, object, int, str)
    _shutdown_requested = Signal()
    _unload_requested = Signal()

    def __init__(
        self,
        predictor_factory: PredictorFactory | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self.model: ModelInfo | None = None
        self._unloaded_at = 0  # id of the last unload: a load answered for an earlier id is void
        self._thread = QThread()
        self._thread.setObjectName("cnsight-model")
        self.worker = ModelWorker(predictor_factory)
        self.worker.moveToThread(self._thread)
        self._load_requested.connect(self.worker.load_model)
        self._predict_requested.connect(self.worker.predict)
        self._heatmap_requested.connect(self.worker.extra_heatmap)
        self._shutdown_requested.connect(self.worker.shutdown)
        self._unload_requested.connect(self.worker.shutdown)  # releases the model, thread stays
        self.worker.model_loaded.connect(self._remember_model)
        self._thread.start()

    def _next_id(self) -> int:
        return next(self._ids)

    @Slot(int, object)
    def _remember_model(self, request_id: int, info: ModelInfo) -> None:
        if request_id > self._unloaded_at:  # the worker released a model loaded before an unload
            self.model = info

    def load(
        self, bundle_path: Path, device: str = DEFAULT_DEVICE, backend: str = DEFAULT_BACKEND
    ) -> int:
        request_id = self._next_id()
        self._load_requested.emit(request_id, Path(bundle_path), device, backend)
        return request_id

    def predict(self, images: list[LoadedImage]) -> tuple[int, CancelToken]:
        request_id, token = self._next_id(), CancelToken()
        self._predict_requested.emit(request_id, list(images), token)
        return request_id, token

    def extra_heatmap(self, image: LoadedImage, class_index: int, method: str) -> int:
        request_id = self._next_id()
        self._heatmap_requested.emit(request_id, image, class_index, method)
        return request_id

    def unload(self) -> None:
        """Release the model (the thread keeps running); ``model`` is None from now on.

        Reader-study unaided reads use it so that no model is even held while they run. Requests
        are served in order, so a later ``load`` gets a model again.
        """
        self.model = None
        self._unloaded_at = self._next_id()
        self._unload_requested.emit()

    def stop(self, wait_ms: int = 10000) -> None:
        """Release the model and end the thread (callers cancel their requests first)."""
        if not self._thread.isRunning():
            return
        self._shutdown_requested.emit()
        self._thread.quit()
        if not self._thread.wait(wait_ms):
            log.warning("model thread did not stop within %d ms", wait_ms)
