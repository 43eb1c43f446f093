"""FBAU ("Fetal Brain Abnormalities Ultrasound", Roboflow export, CC BY 4.0) -> a CNSight manifest.

``python -m training.datasets.fbau --fbau ../shared/data/fbau --out runs/fbau/manifest.csv``

- patient_id = the MANIFEST's ``group``. Images were augmented before publication and copies
  of one source image sit in different official splits; grouping by ``group`` (one or more
  ``source_image``s of one case) keeps every copy of a case on one side of every split.
  The official train/valid/test split is ignored for that reason.
- labels: ``tool_label`` is normal / encephalocele / holoprosencephaly / out_of_scope. Mapping
  ``3class`` (default): normal, encephalocele, other_anomaly (holoprosencephaly and every
  out-of-scope anomaly). Holoprosencephaly has ONE case (12 augmented copies of one source):
  under grouped cross-validation it could never be both trained on and tested, so it joins
  other_anomaly. Mapping ``4class`` keeps it separate (its AUROC is then undefined).
- GA, site and plane are not given by the dataset: left empty. All normals come from
  FETAL_PLANES_DB and the anomalies from other sources, so "normal vs anomaly" is confounded
  with the image source; results prove the pipeline on real images, not clinical accuracy.
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
from collections import Counter
from pathlib import Path

from training.run_files import setup_logging

log = logging.getLogger("cnsight.fbau")

MAPPINGS: dict[str, dict[str, str]] = {
    "3class": {
        "normal": "normal",
        "encephalocele": "encephalocele",
        "holoprosencephaly": "other_anomaly",
        "out_of_scope": "other_anomaly",
    },
    "4class": {
        "normal": "normal",
        "encephalocele": "encephalocele",
        "holoprosencephaly": "holoprosencephaly",
        "out_of_scope": "other_anomaly",
    },
}
CLASSES = {
    "3class": ("normal", "encephalocele", "other_anomaly"),
    "4class": ("normal", "encephalocele", "holoprosencephaly", "other_anomaly"),
}


def convert(fbau_dir: Path, out_csv: Path, mapping: str = "3class") -> Counter:
    """Write the manifest (paths relative to it); returns image counts per class."""
    source = Path(fbau_dir) / "MANIFEST.csv"
    if not source.is_file():
        raise FileNotFoundError(f"{source}: not found (expected the FBAU folder with MANIFEST.csv)")
    table = MAPPINGS[mapping]
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter = Counter()
    with (
        open(source, newline="", encoding="utf-8") as f,
        open(out_csv, "w", newline="", encoding="utf-8") as g,
    ):
        writer = csv.writer(g)
        writer.writerow(["path", "patient_id", "label", "ga_weeks", "site", "plane"])
        for row in csv.DictReader(f):
            label = table[row["tool_label"]]
            image = (Path(fbau_dir) / row["path"]).resolve()
            writer.writerow(
                [os.path.relpath(image, out_csv.parent.resolve()), row["group"], label, "", "", ""]
            )
            counts[label] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m training.datasets.fbau", description=__doc__.splitlines()[0]
    )
    p.add_argument("--fbau", type=Path, required=True, help="the FBAU folder (with MANIFEST.csv)")
    p.add_argument("--out", type=Path, required=True, help="manifest CSV to write")
    p.add_argument("--mapping", choices=sorted(MAPPINGS), default="3class")
    args = p.parse_args(argv)
    setup_logging()
    try:
        counts = convert(args.fbau, args.out, args.mapping)
    except FileNotFoundError as e:
        log.error("%s", e)
        return 2
    log.info(
        "%s: %s; train with --classes %s", args.out, dict(counts), ",".join(CLASSES[args.mapping])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
