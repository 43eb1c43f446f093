"""A phantom DICOM study predicted by the tiny bundle, and its DICOM result objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dicom_out import PredictedStudy, predict_folder


@pytest.fixture(scope="session")
def phantom_dicom(tmp_path_factory) -> Path:
    """One phantom patient as DICOM files (stills and one cine), small images."""
    from phantoms.phantom_set import generate_phantom_set

    out = tmp_path_factory.mktemp("dicom-out-phantoms")
    generate_phantom_set(out, n_patients=1, seed=5, fmt="dicom", size=(128, 104))
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


@pytest.fixture(scope="session")
def predicted(tiny_bundle, phantom_dicom) -> PredictedStudy:
    return predict_folder(tiny_bundle, phantom_dicom)


@pytest.fixture(scope="session")
def outputs(predicted, tmp_path_factory) -> list[Path]:
    from core.dicom_out import write_study_outputs

    out = tmp_path_factory.mktemp("dicom-out")
    return write_study_outputs(out, predicted.predictions, predicted.verdict, predicted.card)
