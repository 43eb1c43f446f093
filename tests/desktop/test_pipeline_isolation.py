"""The app's analysis (issue 15): an image that cannot be prepared or predicted costs only
itself; the patient's other images are predicted and its verdict uses them."""

from __future__ import annotations

import pytest

import core.predictor
from desktop.viewmodels.cohort import PatientStatus
from desktop.viewmodels.groups import patient_key

WAIT_MS = 60_000


@pytest.fixture
def parts(session_parts):
    vm, _, pipeline = session_parts
    return vm, pipeline


def test_one_failing_image_costs_only_itself(qtbot, parts, png_study, tiny_bundle, monkeypatch):
    """A RuntimeError inside the batch (e.g. a failed allocation while preparing one image)
    marked the whole patient 'prediction failed'."""
    vm, pipeline = parts
    real = core.predictor.prepare
    victims = []

    def prepare(image, spec):
        if not victims or image.ref.key == victims[0]:
            victims[:] = [image.ref.key]
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory")
        return real(image, spec)

    monkeypatch.setattr(core.predictor, "prepare", prepare)
    with qtbot.waitSignal(pipeline.model_changed, timeout=WAIT_MS):
        pipeline.load_model(tiny_bundle, "cpu")
    with qtbot.waitSignal(pipeline.all_predicted, timeout=WAIT_MS):
        pipeline.open([png_study])
    (victim,) = victims
    statuses = [vm.status(patient_key(p)) for p in vm.patients]
    assert statuses == [PatientStatus.DONE] * len(vm.patients)
    errors = [e for e in vm.errors if e.path == victim]
    assert len(errors) == 1 and "can't allocate memory" in errors[0].message
    owner = next(p for p in vm.patients if any(r.key == victim for r in p.images))
    verdict = vm.verdict(patient_key(owner))
    assert verdict is not None and verdict.n_images == len(owner.images) - 1
