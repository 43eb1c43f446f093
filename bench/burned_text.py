"""How well each de-identification mask covers burned-in text (docs/deidentification.md).

    .venv/bin/python bench/burned_text.py --patients 6 --seed 301 [--png-dir docs/img]

On phantoms of a fresh seed (their drawn text boxes are known: phantoms/annotate.py
``DrawnText``) it compares, image by image, three masks:

- ``heuristic``: ``core.deidentify.heuristic_text_mask`` (geometry: outside the ultrasound
  region, header and footer text lines);
- ``ocr``: only the lines Tesseract finds (``core.burned_text.find_text_boxes``), with margin;
- ``both``: their union (what the app and ``cnsight-anonymise`` use).

Each is run twice: with the DICOM ultrasound region (the sector's bounding box, what the
phantom DICOM files declare) and without one (PNG input). It prints, per mask, the share of
drawn text boxes fully masked (every pixel of the box; also >= 90 %), split by kind, the share
of the non-text pixels of the region that are masked, and OCR's cost per image (median).
With ``--png-dir`` it also writes the pydicom OB file before and after (``deid_ob_*.png``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.burned_text import boxes_mask, find_text_boxes  # noqa: E402
from core.deidentify import heuristic_text_mask, mask_burned_in_text  # noqa: E402
from phantoms.annotate import IDENTIFYING_KINDS  # noqa: E402
from phantoms.geometry import make_sector  # noqa: E402
from phantoms.phantom_set import iter_rendered, plan_phantom_set  # noqa: E402
from phantoms.sites import get_site  # noqa: E402

METHODS = ("heuristic", "ocr", "both")


def masks(image: np.ndarray, region, ocr_boxes) -> dict[str, np.ndarray]:
    heuristic = heuristic_text_mask(image, region)
    ocr = boxes_mask(image.shape, ocr_boxes)
    return {"heuristic": heuristic, "ocr": ocr, "both": heuristic | ocr}


def run_phantoms(n_patients: int, seed: int) -> None:
    plans = plan_phantom_set(n_patients, seed)
    coverage = defaultdict(list)  # (setting, method, kind) -> coverage of each box
    non_text = defaultdict(list)  # (setting, method) -> (masked, total) of non-text pixels
    ocr_s, heuristic_s, n_images = [], [], 0
    for rendered in iter_rendered(plans):
        image, drawn = rendered.frames[0], rendered.texts[0]
        n_images += 1
        t0 = time.perf_counter()
        found = find_text_boxes(image)
        t1 = time.perf_counter()
        heuristic_text_mask(image, None)
        t2 = time.perf_counter()
        ocr_s.append(t1 - t0)
        heuristic_s.append(t2 - t1)
        site = get_site(rendered.patient.site)
        sector = make_sector(site, image.shape[::-1], rendered.image.view.depth_mm)
        h, w = image.shape
        text = np.zeros((h, w), dtype=bool)
        for d in drawn:
            x0, y0, x1, y1 = d.box
            text[max(0, y0 - 2) : y1 + 2, max(0, x0 - 2) : x1 + 2] = True
        for setting, region in (("region", tuple(sector.bounding_box())), ("no region", None)):
            rx0, ry0, rx1, ry1 = region if region is not None else (0, 0, w, h)
            inside = np.zeros((h, w), dtype=bool)
            inside[max(0, ry0) : ry1, max(0, rx0) : rx1] = True
            for method, mask in masks(image, region, found).items():
                for d in drawn:
                    x0, y0, x1, y1 = d.box
                    coverage[(setting, method, d.kind)].append(float(mask[y0:y1, x0:x1].mean()))
                    where = "in region" if inside[y0:y1, x0:x1].any() else "outside region"
                    coverage[(setting, method, where)].append(float(mask[y0:y1, x0:x1].mean()))
                plain = inside & ~text
                non_text[(setting, method)].append((int((mask & plain).sum()), int(plain.sum())))
    print(f"phantoms: seed {seed}, {n_patients} patients, {n_images} images 320x256\n")
    kinds = (*IDENTIFYING_KINDS, "ga", "parameter", "caliper", "in region", "outside region")
    for setting in ("region", "no region"):
        print(f"## {setting}: share of drawn text boxes fully masked (>= 90 % masked)")
        print("| kind | boxes | " + " | ".join(METHODS) + " |")
        print("|---|---|" + "---|" * len(METHODS))
        for kind in kinds:
            cells = []
            for method in METHODS:
                values = np.array(coverage[(setting, method, kind)])
                if not values.size:
                    continue
                cells.append(f"{np.mean(values >= 1.0):.1%} ({np.mean(values >= 0.9):.1%})")
            if cells:
                print(f"| {kind} | {len(coverage[(setting, 'both', kind)])} | " + " | ".join(cells))
        shares = []
        for method in METHODS:
            masked, total = np.array(non_text[(setting, method)]).sum(axis=0)
            shares.append(f"{masked / total:.1%}")
        print("| non-text pixels of the region masked | | " + " | ".join(shares) + " |\n")
    ratio = statistics.median(ocr_s) / statistics.median(heuristic_s)
    print(
        f"cost per image: OCR median {statistics.median(ocr_s) * 1000:.0f} ms "
        f"(min {min(ocr_s) * 1000:.0f}, max {max(ocr_s) * 1000:.0f}), heuristic median "
        f"{statistics.median(heuristic_s) * 1000:.2f} ms: OCR costs {ratio:.0f}x the heuristic"
    )


def run_ob_file(png_dir: Path | None) -> None:
    from pydicom.data import get_testdata_file

    from core.imaging import probe_file, read_image

    image = read_image(probe_file(get_testdata_file("examples_palette.dcm"))[0])
    found = find_text_boxes(image.pixels)
    print(f"\npydicom examples_palette.dcm (OB, {image.pixels.shape[1]}x{image.pixels.shape[0]}, ")
    print(f"region {image.region}): OCR lines")
    x0, y0, x1, y1 = image.region
    for line in found:
        bx0, by0, bx1, by1 = line.box
        inside = bx0 < x1 and bx1 > x0 and by0 < y1 and by1 > y0
        where = "in region" if inside else "outside"
        print(f"  {line.box} {where:9s} conf {line.confidence:.0f}: {line.text!r}")
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)
        outputs = {
            "deid_ob_before.png": image.pixels,
            "deid_ob_heuristic.png": mask_burned_in_text(image.pixels, image.region),
            "deid_ob_both.png": mask_burned_in_text(image.pixels, image.region, found),
        }
        for name, pixels in outputs.items():
            cv2.imwrite(str(png_dir / name), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
        print(f"  wrote {', '.join(outputs)} to {png_dir}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--seed", type=int, default=301)
    parser.add_argument("--png-dir", type=Path, default=None)
    args = parser.parse_args()
    run_phantoms(args.patients, args.seed)
    run_ob_file(args.png_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
