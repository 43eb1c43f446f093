"""Batched prediction: per-image probabilities AND every class's heatmap from one forward pass."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .bundle import ModelBundle
from .errors import CancelledError
from .heatmaps import cams_from_features, compute_cam
from .model import pick_device
from .preprocess import prepare
from .records import Box, ImageRef, LoadedImage

log = logging.getLogger(f"cnsight.{__name__}")

#: progress(done, total) is called after each batch; cancelled() is polled between batches.
ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class ImagePrediction:
    """What the model says about one image."""

    ref: ImageRef
    probs: np.ndarray  # (K,) calibrated softmax probabilities, in the bundle's class order
    cams: np.ndarray  # (K, h, w) class-activation maps in [0, 1] (ReLU + min-max), layer4 grid
    input_box: Box  # part of the full image the model input covers (for placing the maps)

    @property
    def pred_index(self) -> int:
        return int(np.argmax(self.probs))


class Predictor:
    """Runs a bundle's model. Not thread-safe: one thread owns a Predictor (the app's worker)."""

    def __init__(self, bundle: ModelBundle, device: str = "auto", batch_size: int = 16):
        self.bundle = bundle
        self.device = pick_device(device)
        self.batch_size = max(1, int(batch_size))
        self.model = bundle.model.to(self.device).eval()
        self._features: torch.Tensor | None = None
        layer = self.model.get_submodule(bundle.card.heatmap_layer)
        # The hook lives as long as the predictor; it only stores a reference (no copies).
        self._hook = layer.register_forward_hook(self._keep_features)
        self._fc_weight = self.model.fc.weight.detach()

    def _keep_features(self, _module, _inputs, output):
        self._features = output

    def close(self) -> None:
        """Remove the feature hook (also done by the context manager)."""
        self._hook.remove()

    def __enter__(self) -> Predictor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.bundle.card.class_names

    @torch.inference_mode()
    def predict_batch(self, images: Sequence[LoadedImage]) -> list[ImagePrediction]:
        """One forward pass over ``images`` (all at once; callers choose the batch size)."""
        if not images:
            return []
        spec = self.bundle.card.preprocessing
        prepared = [prepare(im, spec) for im in images]
        batch = torch.stack([t for t, _ in prepared]).to(self.device)
        logits = self.model(batch)
        probs = torch.softmax(logits.float() / self.bundle.card.temperature, dim=1).cpu().numpy()
        cams = cams_from_features(self._features, self._fc_weight)
        self._features = None
        return [
            ImagePrediction(ref=im.ref, probs=probs[i], cams=cams[i], input_box=prepared[i][1])
            for i, im in enumerate(images)
        ]

    def predict(
        self,
        images: Sequence[LoadedImage],
        progress: ProgressFn | None = None,
        cancelled: CancelFn | None = None,
    ) -> list[ImagePrediction]:
        """Predict in batches; raises ``CancelledError`` if ``cancelled()`` turns true."""
        results: list[ImagePrediction] = []
        for start in range(0, len(images), self.batch_size):
            if cancelled is not None and cancelled():
                raise CancelledError(f"prediction cancelled after {start} of {len(images)} images")
            results.extend(self.predict_batch(images[start : start + self.batch_size]))
            if progress is not None:
                progress(len(results), len(images))
        return results

    def extra_heatmap(
        self, image: LoadedImage, class_index: int, method: str, layer: str = "layer4"
    ) -> np.ndarray:
        """A heatmap by another ``grad-cam`` method (needs gradients; slower), crop x crop."""
        tensor, _ = prepare(image, self.bundle.card.preprocessing)
        return compute_cam(
            self.model, tensor.to(self.device), class_index, method=method, layer=layer
        )
