"""Pooled stage features of images under one bundle's weights and preprocessing, kept on disk.

Re-fitting the out-of-distribution statistics with other stages (``training.refit_domain
--feature-cache DIR``, bench/ood_layers.py) needs the features of the same training and
validation images each time; a ResNet34 forward pass over thousands of images costs tens of
minutes on a CPU, a cached row nothing. One ``.npz`` per (weights sha256, preprocessing):
image keys (``ImageRef.key``), whether each was cut to a DICOM ultrasound region, the
global average of every residual stage and the pixel texture (core.texture_statistics).
The class logits are not stored: ``fc`` is linear in the pooled ``layer4`` features, so
they are recomputed from them exactly.

A cache is only ever read for the weights and preprocessing it was written with (both are in
the file name and checked again inside), so a stale row cannot be mixed in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.feature_domain import FEATURE_GROUPS
from core.preprocess import PreprocessSpec

#: Every feature group is cached (the network's stages and the pixel texture), so any choice
#: of ``--domain-stages`` is a re-fit without a forward pass.
STAGES = FEATURE_GROUPS


@dataclass(frozen=True)
class CachedRow:
    stages: dict[str, np.ndarray]  # stage -> (C_s,) float32
    cropped: bool


def _spec_digest(spec: PreprocessSpec) -> str:
    return hashlib.sha256(json.dumps(spec.to_dict(), sort_keys=True).encode()).hexdigest()


@dataclass
class FeatureCache:
    """Rows by image key for one bundle (``weights_sha256``) and preprocessing."""

    folder: Path
    weights_sha256: str
    spec: PreprocessSpec
    rows: dict[str, CachedRow] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / f"{self.weights_sha256[:16]}-{_spec_digest(self.spec)[:12]}.npz"

    @classmethod
    def open(cls, folder: Path, weights_sha256: str, spec: PreprocessSpec) -> FeatureCache:
        cache = cls(Path(folder), weights_sha256, spec)
        if cache.path.is_file():
            with np.load(cache.path, allow_pickle=False) as saved:
                if str(saved["weights_sha256"]) != weights_sha256 or str(
                    saved["spec_digest"]
                ) != _spec_digest(spec):
                    return cache  # another model's features: ignored (rewritten on save)
                if any(s not in saved.files for s in STAGES):
                    return cache  # written before a feature group existed: rewritten on save
                # Each ``saved[name]`` reads the whole array again: read each once, copy rows
                # out (a row view would keep its whole array alive).
                arrays = {s: saved[s] for s in STAGES}
                cropped = saved["cropped"]
                for i, key in enumerate(saved["keys"].tolist()):
                    stages = {s: arrays[s][i].copy() for s in STAGES}
                    cache.rows[key] = CachedRow(stages, bool(cropped[i]))
        return cache

    def save(self) -> None:
        if not self.rows:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.rows)
        tmp = self.path.with_suffix(".partial.npz")
        np.savez(
            tmp,
            keys=np.array(keys),
            cropped=np.array([self.rows[k].cropped for k in keys]),
            weights_sha256=np.array(self.weights_sha256),
            spec_digest=np.array(_spec_digest(self.spec)),
            **{s: np.stack([self.rows[k].stages[s] for k in keys]) for s in STAGES},
        )
        tmp.replace(self.path)
