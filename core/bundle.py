"""Model bundles: what the app loads. A folder with ``model.safetensors`` and ``model_card.json``.

Loading is strict (DESIGN §3): unknown schema, missing card or weights, wrong sha256, class
count that does not match the weights, missing or unexpected keys - each refused with a
clear ``BundleError``. Class names come from the card, so another taxonomy works too.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .aggregation import RULES
from .errors import BundleError
from .model import HEATMAP_LAYER, build_model
from .preprocess import PreprocessSpec
from .taxonomy import Taxonomy

SCHEMA_VERSION = 1
CARD_NAME = "model_card.json"
WEIGHTS_NAME = "model.safetensors"
AGGREGATION_RULES = tuple(RULES)  # one list: core.aggregation


@dataclass(frozen=True)
class ModelCard:
    """The JSON model card. ``extra`` keeps sections this version does not interpret."""

    name: str
    architecture: str
    taxonomy: Taxonomy
    preprocessing: PreprocessSpec = field(default_factory=PreprocessSpec)
    aggregation: str = "mean_softmax"
    temperature: float = 1.0
    heatmap_layer: str = HEATMAP_LAYER
    training_data: dict = field(default_factory=dict)
    validation_metrics: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # command, args, split
    created: str = ""
    software: dict = field(default_factory=dict)
    weights_sha256: str = ""
    weights_dtype: str = "float32"
    description: str = ""

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.taxonomy.class_names

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "name": self.name,
            "description": self.description,
            "architecture": self.architecture,
            "class_names": list(self.taxonomy.class_names),
            "display_names": list(self.taxonomy.display_names),
            "input_size": [3, self.preprocessing.crop, self.preprocessing.crop],
            "preprocessing": self.preprocessing.to_dict(),
            "aggregation": self.aggregation,
            "temperature": self.temperature,
            "heatmap_layer": self.heatmap_layer,
            "training_data": self.training_data,
            "validation_metrics": self.validation_metrics,
            "training": self.training,
            "created": self.created,
            "software": self.software,
            "weights_sha256": self.weights_sha256,
            "weights_dtype": self.weights_dtype,
        }

    @classmethod
    def from_json(cls, d: dict, source: str = "model card") -> ModelCard:
        version = d.get("schema_version")
        if version != SCHEMA_VERSION:
            raise BundleError(
                f"{source}: unknown schema_version {version!r} (this CNSight reads version {SCHEMA_VERSION})"
            )
        missing = [
            k for k in ("name", "architecture", "class_names", "weights_sha256") if not d.get(k)
        ]
        if missing:
            raise BundleError(f"{source}: required field(s) missing: {', '.join(missing)}")
        try:
            taxonomy = Taxonomy(tuple(d["class_names"]))
            spec = PreprocessSpec.from_dict(d.get("preprocessing", {}))
            temperature = float(d.get("temperature", 1.0))
        except (TypeError, ValueError) as e:
            raise BundleError(f"{source}: invalid field: {e}") from None
        if not temperature > 0:
            raise BundleError(f"{source}: temperature must be > 0, got {temperature}")
        if d.get("aggregation", "mean_softmax") not in AGGREGATION_RULES:
            raise BundleError(f"{source}: unknown aggregation rule {d.get('aggregation')!r}")
        return cls(
            name=d["name"],
            architecture=d["architecture"],
            taxonomy=taxonomy,
            preprocessing=spec,
            aggregation=d.get("aggregation", "mean_softmax"),
            temperature=temperature,
            heatmap_layer=d.get("heatmap_layer", HEATMAP_LAYER),
            training_data=d.get("training_data", {}),
            validation_metrics=d.get("validation_metrics", {}),
            training=d.get("training", {}),
            created=d.get("created", ""),
            software=d.get("software", {}),
            weights_sha256=d["weights_sha256"],
            weights_dtype=d.get("weights_dtype", "float32"),
            description=d.get("description", ""),
        )


@dataclass(frozen=True)
class ModelBundle:
    """A loaded bundle: the card and a ready network (eval mode, float32, on CPU)."""

    path: Path
    card: ModelCard
    model: torch.nn.Module

    @property
    def taxonomy(self) -> Taxonomy:
        return self.card.taxonomy


def software_versions() -> dict[str, str]:
    import torchvision

    return {
        "cnsight": __version__,
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
    }


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(
    model: torch.nn.Module, card: ModelCard, out_dir: Path, half: bool = False
) -> ModelCard:
    """Write weights + card to ``out_dir``; returns the card as written (hash, dates filled in)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    weights = out_dir / WEIGHTS_NAME
    save_file(state, str(weights), metadata={"format": "pt", "architecture": card.architecture})
    fields = card.__dict__ | {
        "weights_sha256": sha256_file(weights),
        "weights_dtype": "float16" if half else "float32",
        "created": card.created or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "software": card.software or software_versions(),
    }
    written = ModelCard(**fields)
    (out_dir / CARD_NAME).write_text(
        json.dumps(written.to_json(), indent=2) + "\n", encoding="utf-8"
    )
    return written


def read_card(bundle_dir: Path) -> ModelCard:
    """Read and validate the model card alone (no weights): cheap, for dialogs and listings."""
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise BundleError(
            f"{bundle_dir}: not a model bundle folder (expected {CARD_NAME} and {WEIGHTS_NAME})"
        )
    card_path = bundle_dir / CARD_NAME
    if not card_path.is_file():
        raise BundleError(f"{bundle_dir}: no {CARD_NAME}; a bundle needs its model card")
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"{card_path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{card_path}: expected a JSON object")
    return ModelCard.from_json(data, source=str(card_path))


def _load_state(weights: Path, card: ModelCard) -> dict[str, torch.Tensor]:
    if not weights.is_file():
        raise BundleError(f"{weights.parent}: no {WEIGHTS_NAME}")
    digest = sha256_file(weights)
    if digest != card.weights_sha256:
        raise BundleError(
            f"{weights}: sha256 {digest[:12]}... does not match the model card "
            f"({card.weights_sha256[:12]}...): the weights were changed or corrupted; refusing to load"
        )
    try:
        return load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise BundleError(f"{weights}: unreadable safetensors file ({e})") from None


def load_bundle(bundle_dir: Path | str) -> ModelBundle:
    """Load a bundle strictly. Raises ``BundleError`` with a clear message on any mismatch."""
    bundle_dir = Path(bundle_dir)
    card = read_card(bundle_dir)
    state = _load_state(bundle_dir / WEIGHTS_NAME, card)
    model = build_model(card.architecture, len(card.taxonomy))
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise BundleError(
            f"{bundle_dir}: weights do not match {card.architecture}: "
            f"missing keys {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected keys {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    n_out = state["fc.weight"].shape[0]
    if n_out != len(card.taxonomy):
        raise BundleError(
            f"{bundle_dir}: the card lists {len(card.taxonomy)} classes, the weights have {n_out} outputs"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise BundleError(
                f"{bundle_dir}: tensor {key} has shape {tuple(tensor.shape)}, expected {tuple(expected[key].shape)}"
            )
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    model.load_state_dict(state, strict=True)
    model.eval()
    return ModelBundle(path=bundle_dir, card=card, model=model)
