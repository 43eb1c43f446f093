"""Helpers for the DICOM-output tests: predict a phantom folder as cnsight-predict does, run
dciodvfy, read an SR's content items back."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DCIODVFY = shutil.which("dciodvfy")
DSRDUMP = shutil.which("dsrdump")


@dataclass(frozen=True)
class PredictedStudy:
    folder: Path
    predictions: list
    verdict: object
    card: object


def predict_folder(bundle_dir: Path, folder: Path, n_drivers: int = 3) -> PredictedStudy:
    """Discover, read, predict and aggregate one patient's folder, as cnsight-predict does."""
    from core.aggregation import aggregate_patient
    from core.bundle import load_bundle
    from core.discovery import discover
    from core.imaging import read_image
    from core.predictor import Predictor

    bundle = load_bundle(bundle_dir)
    card = bundle.card
    (patient,) = discover([folder], class_names=card.class_names).patients
    with Predictor(bundle, device="cpu") as predictor:
        preds = predictor.predict([read_image(r) for r in patient.images])
    verdict = aggregate_patient(
        patient.patient_id, [p.probs for p in preds], [p.ref.key for p in preds],
        card.class_names, card.aggregation, n_drivers=n_drivers,
        views=[str(p.ref.path) for p in preds], assessable=[p.assessable for p in preds],
    )  # fmt: skip
    return PredictedStudy(folder, preds, verdict, card)


def dciodvfy_errors(path: Path) -> tuple[list[str], list[str]]:
    """(error lines, warning lines) of dciodvfy on ``path``."""
    run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    lines = (run.stdout + run.stderr).splitlines()
    return [x for x in lines if x.startswith("Error")], [
        x for x in lines if x.startswith("Warning")
    ]


# ----- reading an SR back (content items by concept name) -----
def sr_items(node):
    """Every content item under ``node``, depth first."""
    for item in node.get("ContentSequence", []):
        yield item
        yield from sr_items(item)


def sr_meaning(item) -> str:
    return item.ConceptNameCodeSequence[0].CodeMeaning


def sr_groups(sr) -> list:
    return [
        i
        for i in sr_items(sr)
        if i.ValueType == "CONTAINER" and sr_meaning(i) == "Measurement Group"
    ]


def sr_children(group, meaning: str) -> list:
    return [i for i in group.ContentSequence if sr_meaning(i) == meaning]


def sr_code_value(code_item) -> str:
    concept = code_item.ConceptCodeSequence[0]
    return concept.get("CodeValue") or concept.get("LongCodeValue")
