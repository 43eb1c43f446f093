"""Model bundles: what the app loads. A folder with ``model.safetensors`` and ``model_card.json``.

Loading is strict: unknown schema, missing card or weights, wrong sha256, class
count that does not match the weights, missing or unexpected keys, domain statistics that are
missing, altered or do not fit - each refused with a clear ``BundleError``. Class names come from the card, so another taxonomy works too.
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
from .feature_domain import METHOD, FeatureDomain
from .model import HEATMAP_LAYER, build_model
from .preprocess import PreprocessSpec
from .taxonomy import Taxonomy

#: Version 2 added the pad-to-square framing, the plane head and the feature-domain statistics.
#: A version-1 reader would silently run a version-2 model with the wrong framing and no
#: out-of-distribution check, so the version changed; version-1 cards still load here.
SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
CARD_NAME = "model_card.json"
WEIGHTS_NAME = "model.safetensors"
DOMAIN_NAME = "domain.safetensors"  # FeatureDomain tensors; threshold and sha256 in the card
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
    planes: tuple[str, ...] = ()  # plane head outputs, in order; () = no plane head
    domain: dict = field(default_factory=dict)  # out-of-distribution statistics (see below)
    patient_temperature: float | None = None  # None: the patient figure is a score

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.taxonomy.class_names

    def patient_temperature_for(self, rule: str) -> float | None:
        """The patient temperature belongs to the bundle's own rule: another rule's pooled
        figure was never calibrated, so it stays a score (None)."""
        return self.patient_temperature if rule == self.aggregation else None

    @property
    def has_domain(self) -> bool:
        """Whether the bundle can tell images unlike its training data (``domain`` section:
        method, threshold, keep, kept_validation, n_fit_images, n_validation_images, sha256)."""
        return bool(self.domain)

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
            "planes": list(self.planes),
            "domain": self.domain,
            "patient_temperature": self.patient_temperature,
        }

    @classmethod
    def from_json(cls, d: dict, source: str = "model card") -> ModelCard:
        version = d.get("schema_version")
        if version not in READABLE_SCHEMAS:
            raise BundleError(
                f"{source}: unknown schema_version {version!r} (this CNSight reads versions "
                f"{', '.join(map(str, READABLE_SCHEMAS))})"
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
            planes = tuple(str(p) for p in d.get("planes") or ())
            domain = dict(d.get("domain") or {})
            patient_t = d.get("patient_temperature")
            patient_t = None if patient_t is None else float(patient_t)
            if domain:
                float(domain["threshold"]), str(domain["sha256"])
        except (TypeError, ValueError, KeyError) as e:
            raise BundleError(f"{source}: invalid field: {e!r}") from None
        for name, value in (("temperature", temperature), ("patient_temperature", patient_t)):
            if value is not None and not value > 0:
                raise BundleError(f"{source}: {name} must be > 0, got {value}")
        if domain and not float(domain["threshold"]) > 0:
            raise BundleError(f"{source}: domain threshold must be > 0")
        if len(set(planes)) != len(planes):
            raise BundleError(f"{source}: plane names must be unique, got {list(planes)}")
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
            planes=planes,
            domain=domain,
            patient_temperature=patient_t,
        )


@dataclass(frozen=True)
class ModelBundle:
    """A loaded bundle: the card and a ready network (eval mode, float32, on CPU)."""

    path: Path
    card: ModelCard
    model: torch.nn.Module
    feature_domain: FeatureDomain | None = None  # None: the bundle has no domain statistics

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
    model: torch.nn.Module,
    card: ModelCard,
    out_dir: Path,
    half: bool = False,
    feature_domain: FeatureDomain | None = None,
) -> ModelCard:
    """Write weights + card (+ the feature-domain statistics) to ``out_dir``; returns the card
    as written (hashes, dates filled in). ``card.domain`` holds the statistics' description
    (method, keep, counts); the threshold and the file's sha256 are filled in here."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    domain = {}
    if feature_domain is not None:
        domain_path = out_dir / DOMAIN_NAME
        save_file(feature_domain.tensors(), str(domain_path), metadata={"method": METHOD})
        domain = card.domain | {
            "method": METHOD,
            "threshold": round(float(feature_domain.threshold), 6),
            "sha256": sha256_file(domain_path),
        }
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
        "domain": domain,
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


def _load_domain(bundle_dir: Path, card: ModelCard) -> FeatureDomain | None:
    if not card.has_domain:
        return None
    path = bundle_dir / DOMAIN_NAME
    if not path.is_file():
        raise BundleError(
            f"{bundle_dir}: the card names domain statistics but {DOMAIN_NAME} is missing"
        )
    if sha256_file(path) != card.domain["sha256"]:
        raise BundleError(
            f"{path}: sha256 does not match the model card: the domain statistics were changed "
            "or corrupted; refusing to load"
        )
    try:
        tensors = load_file(str(path))
        domain = FeatureDomain.from_tensors(tensors, card.domain["threshold"])
    except (SafetensorError, OSError, KeyError) as e:
        raise BundleError(f"{path}: unreadable domain statistics ({e!r})") from None
    k, c = domain.class_means.shape
    if k != len(card.taxonomy) or domain.whitener.shape != (c, c):
        raise BundleError(
            f"{path}: statistics for {k} classes x {c} features do not fit this model "
            f"({len(card.taxonomy)} classes)"
        )
    return domain


def load_bundle(bundle_dir: Path | str) -> ModelBundle:
    """Load a bundle strictly. Raises ``BundleError`` with a clear message on any mismatch."""
    bundle_dir = Path(bundle_dir)
    card = read_card(bundle_dir)
    state = _load_state(bundle_dir / WEIGHTS_NAME, card)
    model = build_model(card.architecture, len(card.taxonomy), len(card.planes))
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
    return ModelBundle(
        path=bundle_dir, card=card, model=model, feature_domain=_load_domain(bundle_dir, card)
    )
