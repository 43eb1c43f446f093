"""Montage of phantom images (one row per class, one column per plane) and render timing.

    .venv/bin/python bench/phantom_montage.py [--out docs/img/phantoms.png] [--ga 23] [--seed 0]

Each tile is a full 320x256 phantom as written by cnsight-phantoms; the row/column captions sit
in margins outside the tiles. Also reports the mean render time per image (a benchmark, not a
test: rerun it on the machine you care about).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.taxonomy import display_name  # noqa: E402
from phantoms import PHANTOM_CLASSES, PLANES, SITE_NAMES, render_image  # noqa: E402

log = logging.getLogger("phantom_montage")

TILE = (320, 256)
LEFT_MARGIN, TOP_MARGIN, GAP = 150, 24, 4


def _caption(canvas, text, x, y, scale=0.5):
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, 255, 1, cv2.LINE_AA)


def build_montage(ga_weeks: float, seed: int) -> np.ndarray:
    width = LEFT_MARGIN + len(PLANES) * (TILE[0] + GAP)
    height = TOP_MARGIN + len(PHANTOM_CLASSES) * (TILE[1] + GAP)
    canvas = np.zeros((height, width), np.uint8)
    for col, plane in enumerate(PLANES):
        _caption(canvas, plane, LEFT_MARGIN + col * (TILE[0] + GAP) + 90, 17)
    for row, cls in enumerate(PHANTOM_CLASSES):
        y = TOP_MARGIN + row * (TILE[1] + GAP)
        for i, line in enumerate(
            display_name(cls).replace(" / ", " /\n").replace(" (", "\n(").split("\n")
        ):
            _caption(canvas, line, 8, y + TILE[1] // 2 + 18 * i)
        for col, plane in enumerate(PLANES):
            site = SITE_NAMES[(row + col) % len(SITE_NAMES)]
            rng = np.random.default_rng([seed, row, col])
            image, visible = render_image(cls, plane, ga_weeks, site, rng, TILE)
            x = LEFT_MARGIN + col * (TILE[0] + GAP)
            canvas[y : y + TILE[1], x : x + TILE[0]] = image
            _caption(
                canvas, "sign visible" if visible else "", x + TILE[0] - 100, y + TILE[1] - 40, 0.4
            )
    return canvas


def time_renders(n_images: int = 60) -> float:
    """Mean milliseconds per 320x256 image over all classes, planes and sites."""
    started = time.perf_counter()
    for i in range(n_images):
        render_image(
            PHANTOM_CLASSES[i % 5],
            PLANES[i % 4],
            12 + (i * 0.47) % 28,
            SITE_NAMES[i % len(SITE_NAMES)],
            np.random.default_rng(i),
            TILE,
        )
    return (time.perf_counter() - started) / n_images * 1000.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img/phantoms.png"))
    parser.add_argument(
        "--ga", type=float, default=23.0, help="gestational age of every tile (weeks)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(
        ".png", build_montage(args.ga, args.seed), [cv2.IMWRITE_PNG_COMPRESSION, 9]
    )
    if not ok:
        log.error("could not encode the montage")
        return 1
    args.out.write_bytes(encoded.tobytes())
    log.info("montage written to %s", args.out)
    log.info("render time: %.1f ms per %dx%d image", time_renders(), *TILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
