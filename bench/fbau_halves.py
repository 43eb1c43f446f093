"""Split the real FBAU images into two fixed halves by patient: one to choose on, one to test on.

    .venv/bin/python -m training.datasets.fbau --fbau ../shared/data/fbau --out /tmp/fbau/manifest.csv
    .venv/bin/python bench/fbau_halves.py /tmp/fbau/manifest.csv OUT_DIR [--select-images 400] [--seed 0]

A detector's settings (which feature groups, which share of validation kept) are chosen against
half A and reported once on half B, so the reported out-of-domain figure is not one the choice
was tuned on. A patient's half is the parity of the sha256 of its id: fixed for ever, the same
on any machine, and a patient's images never straddle the halves. Half A is sub-sampled
(seeded) to ``--select-images`` so that choosing stays quick; half B is written whole.

Writes OUT_DIR/fbau_A.csv (the selection sample), OUT_DIR/fbau_B.csv (the test half), in the
manifest's own columns, with paths made absolute so the files can live anywhere.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import random
import sys
from pathlib import Path


def half_of(patient_id: str) -> str:
    """'A' when the sha256 of the id is even, else 'B'."""
    return "A" if int(hashlib.sha256(patient_id.encode()).hexdigest(), 16) % 2 == 0 else "B"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path, help="an FBAU manifest (path, patient_id, ...)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--select-images", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with args.manifest.open(newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        rows = list(reader)
    if "path" not in fields or "patient_id" not in fields:
        print(f"{args.manifest}: needs the columns path and patient_id", file=sys.stderr)
        return 2
    base = args.manifest.resolve().parent
    for row in rows:
        row["path"] = str((base / row["path"]).resolve())
    halves = {"A": [r for r in rows if half_of(r["patient_id"]) == "A"]}
    halves["B"] = [r for r in rows if half_of(r["patient_id"]) == "B"]
    sample = random.Random(args.seed).sample(halves["A"], min(args.select_images, len(halves["A"])))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, chosen in (("A", sample), ("B", halves["B"])):
        with (args.out / f"fbau_{name}.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(chosen)
        patients = len({r["patient_id"] for r in chosen})
        print(f"fbau_{name}.csv: {len(chosen)} images of {patients} patients")
    return 0


if __name__ == "__main__":
    sys.exit(main())
