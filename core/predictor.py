"""Batched prediction: from ONE forward pass, per image: the class probabilities, every class's
heatmap, the plane (when the bundle has a plane head), the out-of-distribution score, and
whether the image is assessable at all (``core.domain``: the model-free checks, then the score).

The pass runs on a backend (``core.inference``: torch eager, torch channels_last, ONNX
Runtime, ...); every backend returns the same outputs, and all the arithmetic after the pass
(softmax, maps, distances, plane) is this module's, the same for every backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from .bundle import ModelBundle
from .domain import ASSESSABLE, INVALID_OUTPUT, DomainCheck, check_image, out_of_distribution
from .errors import CancelledError
from .heatmaps import cams_from_features, compute_cam
from .inference import make_backend
from .inference.outputs import ForwardOutputs
from .model import pick_device
from .preprocess import prepare
from .records import Box, ImageRef, LoadedImage
from .texture_statistics import TEXTURE, image_texture

log = logging.getLogger(f"cnsight.{__name__}")

#: The library default stays torch eager until cnsight-predict, cnsight-eval and the app pass
#: ``core.inference.DEFAULT_BACKEND`` (auto) themselves: an ONNX export costs seconds once per
#: new weights, and every test bundle would pay it (docs/performance.md).
LIBRARY_DEFAULT_BACKEND = "torch"

#: progress(done, total) is called after each batch; cancelled() is polled between batches;
#: on_batch(predictions) receives each batch's results as soon as they exist.
ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]
BatchFn = Callable[[list["ImagePrediction"]], None]


@dataclass(frozen=True)
class ImagePrediction:
    """What the model says about one image."""

    ref: ImageRef
    probs: np.ndarray  # (K,) calibrated softmax probabilities, in the bundle's class order
    cams: np.ndarray  # (K, h, w) class-activation maps in [0, 1] (ReLU + min-max), layer4 grid
    input_box: Box  # part of the full image the model input covers (for placing the maps)
    check: DomainCheck = ASSESSABLE  # can the model assess this image at all?
    ood_score: float | None = None  # distance to the training data / threshold (> 1: outside)
    plane: str | None = None  # the plane the plane head sees (None: no plane head)
    plane_prob: float | None = None

    @property
    def pred_index(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def assessable(self) -> bool:
        return self.check.assessable


@dataclass(frozen=True)
class PreparedInput:
    """One image as the network takes it (``core.preprocess.prepare``), made ahead of the pass."""

    tensor: torch.Tensor  # 3 x crop x crop, normalised
    box: Box  # part of the full image the input covers
    texture: np.ndarray | None = None  # core.texture_statistics, when the bundle's score uses it


class Predictor:
    """Runs a bundle's model. Not thread-safe: one thread owns a Predictor (the app's worker)."""

    def __init__(
        self,
        bundle: ModelBundle,
        device: str = "auto",
        batch_size: int = 16,
        backend: str = LIBRARY_DEFAULT_BACKEND,
    ):
        self.bundle = bundle
        self.device = pick_device(device)
        self.batch_size = max(1, int(batch_size))
        self.model = bundle.model.to(self.device).eval()
        self._fc_weight = self.model.fc.weight.detach().clone()
        # After the copy above: a backend may change the network's memory layout in place.
        self.backend = make_backend(backend, bundle, self.device)

    @property
    def backend_name(self) -> str:
        """What ran the network (recorded in images.csv and the app's report)."""
        return self.backend.describe()

    def close(self) -> None:
        """Release the backend (also done by the context manager)."""
        self.backend.close()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.bundle.card.class_names

    def prepare(self, image: LoadedImage) -> PreparedInput:
        """The network's input for ``image`` by the bundle's preprocessing. Safe to call from
        another thread while this Predictor runs a batch (it reads only the card), which is how
        callers overlap preparing the next batch with the current pass."""
        spec = self.bundle.card.preprocessing
        tensor, box = prepare(image, spec)
        domain = self.bundle.feature_domain
        texture = None
        if domain is not None and domain.uses_texture:
            texture = image_texture(image, spec)
        return PreparedInput(tensor, box, texture)

    @torch.inference_mode()
    def predict_batch(
        self,
        images: Sequence[LoadedImage],
        prepared: Sequence[PreparedInput | None] | None = None,
    ) -> list[ImagePrediction]:
        """One forward pass over ``images`` (all at once; callers choose the batch size).
        ``prepared[i]``, when given and not None, is ``self.prepare(images[i])`` made ahead."""
        if not images:
            return []
        if prepared is None:
            prepared = [None] * len(images)
        if len(prepared) != len(images):
            raise ValueError(f"{len(prepared)} prepared inputs for {len(images)} images")
        ready = [
            p if p is not None else self.prepare(im) for im, p in zip(images, prepared, strict=True)
        ]
        batch = torch.stack([p.tensor for p in ready]).to(self.device)
        out: ForwardOutputs = self.backend.forward(batch)
        probs = torch.softmax(out.logits.float() / self.bundle.card.temperature, dim=1)
        probs = probs.cpu().numpy()
        finite = np.isfinite(probs).all(axis=1)
        fc_weight = self._fc_weight.to(out.features.device)
        cams = np.nan_to_num(cams_from_features(out.features, fc_weight), nan=0.0)
        scores = self._ood_scores(
            self._domain_features(out.stages, ready), [im.region is not None for im in images]
        )
        planes = self._planes(out.plane_logits)
        results = []
        for i, im in enumerate(images):
            plane, plane_prob = planes[i] if planes else (None, None)
            results.append(
                ImagePrediction(
                    ref=im.ref, probs=probs[i], cams=cams[i], input_box=ready[i].box,
                    check=self._check(im, None if scores is None else scores[i], finite[i]),
                    ood_score=None if scores is None else float(scores[i]),
                    plane=plane, plane_prob=plane_prob,
                )
            )  # fmt: skip
        return results

    def _domain_features(self, stages: dict, ready: Sequence[PreparedInput]) -> dict:
        """The network's pooled stages, plus the images' pixel texture when the score uses it."""
        domain = self.bundle.feature_domain
        if domain is None or not domain.uses_texture:
            return stages
        return {**stages, TEXTURE: np.stack([p.texture for p in ready])}

    def _ood_scores(self, features: dict, cropped: list[bool]) -> np.ndarray | None:
        """Relative scores; an image cut to its ultrasound region is judged against the
        threshold fitted on such images (core.feature_domain)."""
        domain = self.bundle.feature_domain
        return None if domain is None else domain.scores(features, cropped)

    def _planes(self, plane_logits: torch.Tensor | None) -> list[tuple[str, float]]:
        if plane_logits is None:
            return []
        p = torch.softmax(plane_logits.float(), dim=1).cpu().numpy()
        names = self.bundle.card.planes
        return [(names[int(row.argmax())], float(row.max())) for row in p]

    @staticmethod
    def _check(image: LoadedImage, score: float | None, finite: bool = True) -> DomainCheck:
        """The model-free checks first (they name the plainer reason), then whether the model
        gave a number at all, then the score."""
        check = check_image(image)
        if not check.assessable:
            return check
        if not finite:
            log.warning("%s: the model output is not finite; not assessed", image.ref.name)
            return INVALID_OUTPUT
        if score is not None:
            return out_of_distribution(score, 1.0)  # scores are relative to the threshold
        return check

    def predict(
        self,
        images: Sequence[LoadedImage],
        progress: ProgressFn | None = None,
        cancelled: CancelFn | None = None,
        on_batch: BatchFn | None = None,
    ) -> list[ImagePrediction]:
        """Predict in batches, the next batch prepared on a second thread while the current
        one runs; raises ``CancelledError`` if ``cancelled()`` turns true."""
        results: list[ImagePrediction] = []
        batches = [images[s : s + self.batch_size] for s in range(0, len(images), self.batch_size)]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnsight-prepare") as pool:
            ahead = pool.submit(self._prepare_ahead, batches[0]) if batches else None
            for i, batch in enumerate(batches):
                if cancelled is not None and cancelled():
                    ahead.cancel()
                    raise CancelledError(
                        f"prediction cancelled after {len(results)} of {len(images)} images"
                    )
                prepared = ahead.result()
                if i + 1 < len(batches):
                    ahead = pool.submit(self._prepare_ahead, batches[i + 1])
                done = self.predict_batch(batch, prepared)
                results.extend(done)
                if on_batch is not None:
                    on_batch(done)
                if progress is not None:
                    progress(len(results), len(images))
        return results

    def _prepare_ahead(self, images: Sequence[LoadedImage]) -> list[PreparedInput | None]:
        """Prepared inputs; None where preparing fails: ``predict_batch`` prepares that image
        again and raises its error in the caller's thread (``core.isolation``)."""
        out: list[PreparedInput | None] = []
        for image in images:
            try:
                out.append(self.prepare(image))
            except Exception as exc:  # noqa: BLE001 - raised again by predict_batch
                log.debug("preparing %s ahead failed: %s", image.ref.key, exc)
                out.append(None)
        return out

    def extra_heatmap(
        self, image: LoadedImage, class_index: int, method: str, layer: str = "layer4"
    ) -> np.ndarray:
        """A heatmap by another ``grad-cam`` method (needs gradients; slower), crop x crop."""
        tensor = self.prepare(image).tensor
        return compute_cam(
            self.model, tensor.to(self.device), class_index, method=method, layer=layer
        )
