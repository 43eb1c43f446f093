"""Write a small synthetic long-format reads CSV (reader,treatment,case,truth,rating):
3 readers x 2 treatments x 40 cases, the second treatment a little better. Used by the
packaging smoke test; deterministic.

    python tests/support/reads.py OUT.csv
"""

import csv
import sys

import numpy as np


def write_reads(path: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    truth = np.array([1] * 16 + [0] * 24)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["reader", "treatment", "case", "truth", "rating"])
        for t, shift in (("unaided", 1.0), ("aided", 1.6)):
            for reader in ("1", "2", "3"):
                latent = rng.normal(size=truth.size) + shift * truth
                ratings = np.digitize(latent, [-0.5, 0.3, 1.0, 1.7]) + 1  # a 1-5 scale
                for case, (y, rating) in enumerate(zip(truth, ratings, strict=True)):
                    w.writerow([reader, t, f"case{case:03d}", int(y), int(rating)])


if __name__ == "__main__":
    write_reads(sys.argv[1])
