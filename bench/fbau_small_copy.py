"""Write a copy of FBAU with every image resized to a short side of 128 px (JPEG) and a manifest,
small enough to travel to a lent GPU machine with the repository (bench/gpu_fbau_cv.sh).
Labels and patient grouping come from training.datasets.fbau (the one definition).

    python bench/fbau_small_copy.py ../shared/data/fbau .fbau128 [--side 128]
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import cv2

from training.datasets.fbau import convert


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("fbau", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--side", type=int, default=128)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "manifest.csv"
        convert(args.fbau, manifest)
        rows = list(csv.DictReader(manifest.open(newline="")))
        args.out.mkdir(parents=True, exist_ok=True)
        for i, row in enumerate(rows):
            image = cv2.imread(str((manifest.parent / row["path"]).resolve()), cv2.IMREAD_COLOR)
            h, w = image.shape[:2]
            scale = args.side / min(h, w)
            small = cv2.resize(
                image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA
            )
            row["path"] = f"img{i:04d}.jpg"
            cv2.imwrite(str(args.out / row["path"]), small, [cv2.IMWRITE_JPEG_QUALITY, 90])
    with (args.out / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} images -> {args.out}")


if __name__ == "__main__":
    main()
