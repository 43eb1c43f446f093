"""Tiny labelled datasets written to disk (PNG + manifest) and cnsight-train arguments for
seconds-long runs, fast enough for CPU tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("normal", "encephalocele", "holoprosencephaly")


def draw(label: str, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A grey image whose bright shape depends on the class (learnable by a tiny network)."""
    img = rng.normal(40, 12, (size, size)).clip(0, 255)
    yy, xx = np.mgrid[:size, :size]
    c = size / 2
    ring = np.abs(np.hypot(yy - c, xx - c) - size * 0.3) < 2
    img[ring] = 220
    if label == "encephalocele":
        img[np.hypot(yy - c, xx - size * 0.88) < size * 0.1] = 200
    elif label == "holoprosencephaly":
        img[np.abs(xx - c) < 3] = 250
    return np.repeat(img.astype(np.uint8)[..., None], 3, axis=2)


def write_dataset(
    root: Path,
    patients_per_class: int = 4,
    images_per_patient: int = 3,
    seed: int = 0,
    classes=CLASSES,
    sites=("A", "B"),
    with_labels: bool = True,
    planes: tuple[str, ...] = ("axial",),
) -> Path:
    """PNG images + manifest.csv (path,patient_id,label,ga_weeks,site,plane); returns the CSV."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for label in classes:
        for p in range(patients_per_class):
            pid = f"{label[:3]}{p:02d}"
            ga = float(16 + 5 * (p % 4))
            site = sites[p % len(sites)]
            for i in range(images_per_patient):
                path = root / pid / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(draw(label, rng)).save(path)
                rows.append(
                    [
                        f"{pid}/{i}.png",
                        pid,
                        label if with_labels else "",
                        ga,
                        site,
                        planes[i % len(planes)],
                    ]
                )
    manifest = root / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "patient_id", "label", "ga_weeks", "site", "plane"])
        w.writerows(rows)
    return manifest


def tiny_args(data: Path, out: Path, *extra: str) -> list[str]:
    """cnsight-train arguments for a seconds-long run: resnet18 at 32 px, workers 0."""
    return [
        "--data",
        str(data),
        "--out",
        str(out),
        "--classes",
        ",".join(CLASSES),
        "--arch",
        "resnet18",
        "--resize",
        "36",
        "--crop",
        "32",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--workers",
        "0",
        "--no-progress",
        "--no-tensorboard",
        *extra,
    ]
