"""Model bundles: what the app loads. A folder with ``model.safetensors``, ``model_card.json``
and, when the card has a ``domain`` section, ``domain.safetensors``.

Loading is strict: unknown schema, missing card or weights, a card that does not match its
seal (``core.bundle_seal``: one sha256 over the card and the files it names, optionally
signed), a field out of range, wrong sha256, class count that does not match the weights,
missing or unexpected keys, weights that are not finite, domain statistics that are missing,
altered or do not fit - each refused with a clear ``BundleError``. Class names come from the
card, so another taxonomy works too.

``python -m core.bundle seal DIR`` (re-)seals a bundle, ``verify DIR`` checks one,
``keygen`` makes a site signing key (docs/model-bundle.md).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import platform
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .aggregation import RULES
from .bundle_seal import (
    CARD_NAME,
    DOMAIN_NAME,
    WEIGHTS_NAME,
    check_seal,
    read_card_file,
    seal,
    site_trusted_keys,
)
from .errors import BundleError
from .feature_domain import METHOD, FeatureDomain
from .model import ARCHITECTURES, HEATMAP_LAYER, build_model
from .preprocess import FRAMINGS, PreprocessSpec
from .taxonomy import Taxonomy

#: Version 2 added the pad-to-square framing, the plane head and the feature-domain statistics.
#: A version-1 reader would silently run a version-2 model with the wrong framing and no
#: out-of-distribution check, so the version changed; version-1 cards still load here.
SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
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
    seal_sha256: str = ""  # the seal digest (card + weights + domain); "" until sealed
    signer: str = ""  # key id of the Ed25519 signature, "" when unsigned

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
        """Validate every field the loader interprets; ``BundleError`` names the field."""
        version = d.get("schema_version")
        if version not in READABLE_SCHEMAS or isinstance(version, bool):
            raise BundleError(
                f"{source}: unknown schema_version {version!r} (this CNSight reads versions "
                f"{', '.join(map(str, READABLE_SCHEMAS))})"
            )
        missing = [
            k for k in ("name", "architecture", "class_names", "weights_sha256") if not d.get(k)
        ]
        if missing:
            raise BundleError(f"{source}: required field(s) missing: {', '.join(missing)}")
        check = _FieldCheck(source)
        name = check.text(d, "name", limit=200)
        architecture = check.text(d, "architecture")
        if architecture not in ARCHITECTURES:
            raise BundleError(
                f"{source}: unknown architecture {architecture!r}; supported: {', '.join(ARCHITECTURES)}"
            )
        class_names = check.class_names(d)
        check.display_names(d, len(class_names))
        spec = check.preprocessing(d)
        if "input_size" in d and d["input_size"] != [3, spec.crop, spec.crop]:
            check.fail(
                "input_size",
                f"{d['input_size']!r} is not [3, crop, crop] = [3, {spec.crop}, {spec.crop}]",
            )
        aggregation = d.get("aggregation", "mean_softmax")
        if aggregation not in AGGREGATION_RULES:
            raise BundleError(f"{source}: unknown aggregation rule {aggregation!r}")
        temperature = check.temperature(d, "temperature", default=1.0)
        patient_t = check.temperature(d, "patient_temperature", default=None)
        heatmap_layer = d.get("heatmap_layer", HEATMAP_LAYER)
        if heatmap_layer != HEATMAP_LAYER:
            check.fail(
                "heatmap_layer",
                f"{heatmap_layer!r}: the heatmaps, the plane head and the domain check all read "
                f"the class head's input, {HEATMAP_LAYER!r}",
            )
        planes = check.planes(d)
        weights_sha256 = check.sha256(d.get("weights_sha256"), "weights_sha256")
        weights_dtype = d.get("weights_dtype", "float32")
        if weights_dtype not in WEIGHT_DTYPES:
            check.fail(
                "weights_dtype", f"{weights_dtype!r} is not one of {', '.join(WEIGHT_DTYPES)}"
            )
        domain = check.domain(d)
        info = {k: check.mapping(d, k) for k in INFORMATIVE_SECTIONS}
        return cls(
            name=name,
            architecture=architecture,
            taxonomy=Taxonomy(class_names),
            preprocessing=spec,
            aggregation=aggregation,
            temperature=temperature,
            heatmap_layer=heatmap_layer,
            created=check.text(d, "created", required=False, limit=64),
            weights_sha256=weights_sha256,
            weights_dtype=weights_dtype,
            description=check.text(d, "description", required=False, limit=10_000),
            planes=planes,
            domain=domain,
            patient_temperature=patient_t,
            **info,
        )


WEIGHT_DTYPES = ("float32", "float16")
#: Card sections the loader does not interpret (shown in the model-card dialog and reports).
INFORMATIVE_SECTIONS = ("training_data", "validation_metrics", "training", "software")
_CLASS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
#: Bounds of the preprocessing a card may declare (the model input is crop x crop).
MIN_CROP, MAX_RESIZE = 16, 1024
#: Calibration temperatures outside this range mean a broken fit, not a calibrated model.
TEMPERATURE_RANGE = (1e-3, 1e3)


class _FieldCheck:
    """Field validators of ``ModelCard.from_json``: each refusal names the card and the field."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, field_name: str, reason: str):
        raise BundleError(f"{self.source}: invalid field {field_name}: {reason}")

    def text(self, d: dict, key: str, required: bool = True, limit: int = 64) -> str:
        value = d.get(key, None if required else "")
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail(key, f"expected a non-empty string, got {value!r}")
        if len(value) > limit:
            self.fail(key, f"{len(value)} characters (at most {limit})")
        return value

    def number(self, value, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, f"expected a number, got {value!r}")
        if not math.isfinite(value):
            self.fail(key, f"{value} is not finite")
        return float(value)

    def sha256(self, value, key: str) -> str:
        if not (isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value)):
            self.fail(key, f"expected 64 lowercase hex digits, got {value!r}")
        return value

    def mapping(self, d: dict, key: str) -> dict:
        value = d.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, f"expected an object, got {type(value).__name__}")
        return value

    def class_names(self, d: dict) -> tuple[str, ...]:
        names = d["class_names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            self.fail("class_names", f"expected a list of strings, got {names!r}")
        bad = [n for n in names if not _CLASS_NAME.match(n)]
        if bad:
            self.fail(
                "class_names",
                f"{bad[0]!r}: a class name is a letter, then up to 63 letters, digits, '_' or '-'",
            )
        try:
            return Taxonomy(tuple(names)).class_names
        except ValueError as e:
            self.fail("class_names", str(e))

    def display_names(self, d: dict, n: int) -> None:
        names = d.get("display_names")
        if names is None:
            return
        if (
            not isinstance(names, list)
            or len(names) != n
            or not all(isinstance(x, str) and 0 < len(x) <= 100 for x in names)
        ):
            self.fail("display_names", f"expected {n} names (one per class), got {names!r}")

    def preprocessing(self, d: dict) -> PreprocessSpec:
        p = d.get("preprocessing", {})
        if not isinstance(p, dict):
            self.fail("preprocessing", f"expected an object, got {p!r}")
        unknown = sorted(set(p) - {"resize", "crop", "mean", "std", "crop_to_region", "name"})
        if unknown:
            self.fail("preprocessing", f"unknown key(s) {', '.join(unknown)}")
        for key in ("resize", "crop"):
            value = p.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(f"preprocessing.{key}", f"expected a whole number, got {value!r}")
            if not MIN_CROP <= value <= MAX_RESIZE:
                self.fail(f"preprocessing.{key}", f"{value} is outside {MIN_CROP}..{MAX_RESIZE}")
        for key, low, high in (("mean", 0.0, 1.0), ("std", 1e-3, 10.0)):
            values = p.get(key)
            if values is None:
                continue
            if not isinstance(values, list) or len(values) != 3:
                self.fail(f"preprocessing.{key}", f"expected 3 numbers (R, G, B), got {values!r}")
            for v in values:
                if not low <= self.number(v, f"preprocessing.{key}") <= high:
                    self.fail(f"preprocessing.{key}", f"{v} is outside {low}..{high}")
        if not isinstance(p.get("crop_to_region", True), bool):
            self.fail("preprocessing.crop_to_region", "expected true or false")
        if "name" in p and p["name"] not in FRAMINGS:
            self.fail("preprocessing.name", f"{p['name']!r} is not one of {', '.join(FRAMINGS)}")
        try:
            return PreprocessSpec.from_dict(p)
        except (TypeError, ValueError) as e:
            self.fail("preprocessing", str(e))

    def temperature(self, d: dict, key: str, default: float | None) -> float | None:
        value = d.get(key, default)
        if value is None:
            return None
        t = self.number(value, key)
        low, high = TEMPERATURE_RANGE
        if not t > 0:
            raise BundleError(f"{self.source}: {key} must be > 0, got {t}")
        if not low <= t <= high:
            self.fail(key, f"{t} is outside {low:g}..{high:g}")
        return t

    def planes(self, d: dict) -> tuple[str, ...]:
        planes = d.get("planes") or []
        if not isinstance(planes, list) or not all(
            isinstance(x, str) and 0 < len(x) <= 64 for x in planes
        ):
            self.fail("planes", f"expected a list of names, got {planes!r}")
        if len(set(planes)) != len(planes):
            raise BundleError(f"{self.source}: plane names must be unique, got {list(planes)}")
        return tuple(planes)

    def domain(self, d: dict) -> dict:
        domain = self.mapping(d, "domain")
        if not domain:
            return {}
        if domain.get("method") not in (None, METHOD):
            self.fail("domain.method", f"{domain['method']!r} (this CNSight reads {METHOD})")
        if "threshold" not in domain or "sha256" not in domain:
            self.fail("domain", "needs threshold and sha256")
        if not self.number(domain["threshold"], "domain.threshold") > 0:
            raise BundleError(f"{self.source}: domain threshold must be > 0")
        self.sha256(domain["sha256"], "domain.sha256")
        return dict(domain)


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
    signing_key=None,
) -> ModelCard:
    """Write weights + card (+ the feature-domain statistics) to ``out_dir``, sealed (and signed
    with ``signing_key``, an Ed25519 private key, when given); returns the card as written
    (hashes, dates, seal filled in). ``card.domain`` holds the statistics' description (method,
    keep, counts); the threshold and the file's sha256 are filled in here. Refuses weights or
    statistics that are not finite."""
    out_dir = Path(out_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    _refuse_non_finite(state, f"{out_dir}: the model to save")
    fields = card.__dict__ | {
        "weights_dtype": "float16" if half else "float32",
        "created": card.created or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "software": card.software or software_versions(),
        "domain": {},
        "seal_sha256": "",
        "signer": "",
    }
    placeholder = "0" * 64  # the hashes are known once the files are written
    if feature_domain is not None:
        _refuse_non_finite(feature_domain.tensors(), f"{out_dir}: the domain statistics to save")
        fields["domain"] = card.domain | {
            "method": METHOD,
            "threshold": round(float(feature_domain.threshold), 6),
            "sha256": placeholder,
        }
    _card_json(fields | {"weights_sha256": placeholder}, out_dir)  # refused before any write
    out_dir.mkdir(parents=True, exist_ok=True)
    if feature_domain is not None:
        domain_path = out_dir / DOMAIN_NAME
        save_file(feature_domain.tensors(), str(domain_path), metadata={"method": METHOD})
        fields["domain"] = fields["domain"] | {"sha256": sha256_file(domain_path)}
    weights = out_dir / WEIGHTS_NAME
    save_file(state, str(weights), metadata={"format": "pt", "architecture": card.architecture})
    data = _card_json(fields | {"weights_sha256": sha256_file(weights)}, out_dir)
    return _write_sealed_card(out_dir, data, signing_key)


def _card_json(fields: dict, out_dir: Path) -> dict:
    """The card's JSON as a reader will parse it, checked as the loader checks it. An undefined
    metric (NaN) in an informative section is written as null."""
    from .metrics import json_ready  # here: core.metrics imports scipy and scikit-learn

    unsealed = ModelCard(**fields).to_json()
    for key in INFORMATIVE_SECTIONS:
        unsealed[key] = json_ready(unsealed[key])
    try:
        data = json.loads(json.dumps(unsealed, allow_nan=False))
    except ValueError as e:
        raise BundleError(f"{out_dir}: the card to save holds a non-finite number ({e})") from None
    ModelCard.from_json(data, source=str(out_dir / CARD_NAME))  # never write a card we refuse
    return data


def _write_sealed_card(bundle_dir: Path, data: dict, signing_key=None) -> ModelCard:
    """Seal ``data`` and write it as the bundle's card (atomically); returns the card."""
    sealed = seal(data, signing_key)
    path = Path(bundle_dir) / CARD_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(sealed, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    digest, signer = check_seal(sealed, str(path))
    card = ModelCard.from_json(sealed, source=str(path))
    return ModelCard(**card.__dict__ | {"seal_sha256": digest, "signer": signer})


def _refuse_non_finite(tensors: dict[str, torch.Tensor], what: str) -> None:
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise BundleError(
                f"{what}: tensor {key} holds {bad} value(s) that are not finite (NaN or "
                "infinity): the model would give meaningless probabilities; refusing"
            )


def read_card(bundle_dir: Path, trusted_keys: Sequence | None = None) -> ModelCard:
    """Read and validate the model card alone (no weights): cheap, for dialogs and listings.
    Checks the card against its seal (and its signature, when signed). ``trusted_keys``
    (Ed25519 public keys; default: the site's, ``CNSIGHT_TRUSTED_KEYS``, when set): the card
    must be signed by one of them; an empty list requires no signature."""
    card_path, data = read_card_file(bundle_dir)
    required = site_trusted_keys() if trusted_keys is None else (list(trusted_keys) or None)
    digest, signer = check_seal(data, str(card_path), required)
    card = ModelCard.from_json(data, source=str(card_path))
    return ModelCard(**card.__dict__ | {"seal_sha256": digest, "signer": signer})


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
        state = load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise BundleError(f"{weights}: unreadable safetensors file ({e})") from None
    _refuse_non_finite(state, str(weights))
    return state


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
        _refuse_non_finite(tensors, str(path))
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


def load_bundle(bundle_dir: Path | str, trusted_keys: Sequence | None = None) -> ModelBundle:
    """Load a bundle strictly. Raises ``BundleError`` with a clear message on any mismatch.
    ``trusted_keys``: see ``read_card``."""
    bundle_dir = Path(bundle_dir)
    card = read_card(bundle_dir, trusted_keys)
    state = _load_state(bundle_dir / WEIGHTS_NAME, card)
    model = build_model(card.architecture, len(card.taxonomy), len(card.planes))
    if card.heatmap_layer not in dict(model.named_modules()):
        raise BundleError(f"{bundle_dir}: {card.architecture} has no layer {card.heatmap_layer!r}")
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


def seal_bundle(bundle_dir: Path | str, signing_key=None) -> ModelCard:
    """(Re-)seal an existing bundle (schema 1 or 2, sealed or not) after checking it: the card
    must pass every field check and the files must match the hashes the card names (a seal
    never blesses changed weights). Only ``model_card.json`` is rewritten; its content other
    than the seal block stays as it was. Returns the sealed card."""
    bundle_dir = Path(bundle_dir)
    card_path, data = read_card_file(bundle_dir)
    card = ModelCard.from_json(data, source=str(card_path))
    _load_state(bundle_dir / WEIGHTS_NAME, card)  # the hash the seal will cover, and finite
    _load_domain(bundle_dir, card)
    previous = card_path.read_bytes()
    written = _write_sealed_card(bundle_dir, data, signing_key)
    try:
        load_bundle(bundle_dir, trusted_keys=[])  # the whole strict load, on what was written
    except BundleError:
        card_path.write_bytes(previous)
        raise
    return written


if __name__ == "__main__":  # python -m core.bundle seal|verify|keygen (core/cli/bundle.py)
    from core.cli.bundle import main

    sys.exit(main())
