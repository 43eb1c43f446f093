"""Merge the manifests of several phantom sets (ROOT/*/manifest.csv) into ROOT/manifest.csv,
paths made relative to it. Used by the demo-model training scripts.

    python bench/merge_manifests.py ROOT
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path


def merge(root: Path) -> tuple[int, int]:
    """Write ROOT/manifest.csv; returns (files, patients)."""
    rows, fields = [], None
    for manifest in sorted(root.glob("*/manifest.csv")):
        with manifest.open(newline="") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames
            for row in reader:
                row["path"] = f"{manifest.parent.name}/{row['path']}"
                rows.append(row)
    if fields is None:
        raise SystemExit(f"no */manifest.csv under {root}")
    with (root / "manifest.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows), len({r["patient_id"] for r in rows})


if __name__ == "__main__":
    files, patients = merge(Path(sys.argv[1]))
    print(f"{files} files of {patients} patients")
