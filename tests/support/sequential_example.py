"""The worked example of docs/reader-study.md: a sequential (second-read) study run end to end
with the command line, the readers' decisions simulated by a script that stands in for the
reading window (the same core session the window drives):

    .venv/bin/python -m tests.support.sequential_example OUT_DIR

creates OUT_DIR/data (30 labelled patients, 6 per class, one tiny PNG each), then runs
``cnsight-study create`` (sequential, 2 practice cases, 4 readers), simulates every reader,
``verify``, ``status``, ``export`` (CSV, iMRMC, RJafroc), ``analyze`` and ``size``.

The simulated AI is right on about 80 % of the cases; a simulated reader calls the right class
unaided with probability 0.55-0.7 and, when the AI disagrees in the final read, takes the AI's
class with probability 0.6 - right or wrong (automation bias). Deterministic (seeded).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from core.cli.study import main as study_main
from core.readerstudy.protocol import load_coordinator
from core.resources import demo_model_dir
from tests.support.studies import read_study
from tests.support.training_data import write_dataset

CLASSES = ("normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis")
READERS = ("R1", "R2", "R3", "R4")


def _rating(cls: str, rng) -> float:
    return float(np.clip(rng.normal(80 if cls != "normal" else 20, 12), 0, 100).round())


def simulated_ai(study: Path, seed: int = 1) -> dict[str, tuple[str, float]]:
    """case id -> (class, rating) the aided reads show: right on ~80 % of the cases."""
    rng = np.random.default_rng(seed)
    protocol = load_coordinator(study).protocol
    out = {}
    for case in protocol.cases + protocol.practice_cases:
        cls = case.truth if rng.random() < 0.8 else str(rng.choice([c for c in CLASSES if c != case.truth]))  # fmt: skip
        out[case.case_id] = (cls, _rating(cls, rng))
    return out


def simulate_reader(study: Path, reader: str, ai: dict, skill: float, seed: int) -> int:
    rng = np.random.default_rng(seed)
    first_calls: dict[str, str] = {}

    def rating(case):
        # the reader's first class call is drawn here; the rating follows it (call reads it)
        cls = case.truth if rng.random() < skill else str(rng.choice(CLASSES))
        first_calls[case.case_id] = cls
        return _rating(cls, rng)

    def final(case, first, shown):
        if shown[0] != first["class_call"] and rng.random() < 0.6:
            return shown[0], _rating(shown[0], rng)  # took the AI's class
        return first["class_call"], first["rating"]

    def seconds(case, state):
        return float(rng.lognormal(np.log(40 if state.read == "first" else 12), 0.4))

    return read_study(
        study, reader, rating=rating, call=lambda case, _s: first_calls[case.case_id],
        ai=lambda case: ai[case.case_id], final=final, seconds=seconds,
    )  # fmt: skip


def run(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    manifest = write_dataset(out / "data", patients_per_class=6, images_per_patient=1, classes=CLASSES, seed=3)  # fmt: skip
    study = out / "study"
    create = ["create", str(study), "--data", str(manifest), "--readers", ",".join(READERS),
              "--design", "sequential", "--practice", "2", "--model", str(demo_model_dir()),
              "--title", "Worked example: second read"]  # fmt: skip
    assert study_main(create) == 0
    ai = simulated_ai(study)
    for i, reader in enumerate(READERS):
        simulate_reader(study, reader, ai, skill=0.55 + 0.05 * i, seed=10 + i)
    assert study_main(["verify", str(study)]) == 0
    assert study_main(["status", str(study)]) == 0
    reads = out / "reads.csv"
    export = ["export", str(study), "--out", str(reads), "--imrmc", str(out / "reads.imrmc"),
              "--rjafroc", str(out / "reads.xlsx")]  # fmt: skip
    assert study_main(export) == 0
    assert study_main(["analyze", "--reads", str(reads), "--out", str(out / "analysis")]) == 0
    size = ["size", str(out / "analysis" / "analysis.json"), "--effect", "0.05", "--readers", "4,6,8,10"]  # fmt: skip
    assert study_main([*size, "--out", str(out / "size.json")]) == 0
    return out


if __name__ == "__main__":
    run(Path(sys.argv[1]))
