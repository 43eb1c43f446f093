"""AnalysisPipeline: the load -> predict pipeline, stale answers and cancel (no widgets)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from desktop.background import OpRunner
from desktop.model_worker import ModelService
from desktop.pipeline import AnalysisPipeline
from desktop.viewmodels.cohort import CohortViewModel, PatientStatus
from desktop.viewmodels.groups import patient_key

WAIT_MS = 60_000


def test_study_is_loaded_and_every_patient_predicted(qtbot, session_parts, png_study, tiny_bundle):
    vm, service, session = session_parts
    with qtbot.waitSignal(session.model_changed, timeout=WAIT_MS):
        session.load_model(tiny_bundle, "cpu")
    progress = []
    session.progress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(session.all_predicted, timeout=WAIT_MS):
        session.open([png_study])
    assert [p.patient_id for p in vm.patients] == ["P001", "P002"]
    assert (3, 6) in progress and progress[-1] == (6, 0)  # 0 = idle: the bar hides
    for patient in vm.patients:
        key = patient_key(patient)
        assert vm.status(key) == PatientStatus.DONE
        verdict = vm.verdict(key)
        assert verdict is not None and verdict.n_images == 3
        assert np.isclose(verdict.probs.sum(), 1.0)
    assert any("broken.png" in e.path for e in vm.errors)
    assert vm.current_image is not None and vm.current_prediction is not None


class GatedPredictor:
    """A fake Predictor whose predict() waits for a gate; it may ignore cancellation.

    Each call returns probabilities marked with the call number, so a test can tell
    which request's answer ended up in the view-model.
    """

    def __init__(self, card, honour_cancel=True):
        from types import SimpleNamespace

        self.bundle = SimpleNamespace(card=card)
        self.device = "cpu"
        self.gate = threading.Event()
        self.started = threading.Event()
        self.honour_cancel = honour_cancel
        self.calls: list[list[str]] = []

    def predict(self, images, progress=None, cancelled=None, on_batch=None):
        from core.errors import CancelledError
        from core.predictor import ImagePrediction

        self.calls.append([im.ref.key for im in images])
        call = len(self.calls)
        self.started.set()
        while not self.gate.wait(0.01):
            if self.honour_cancel and cancelled is not None and cancelled():
                raise CancelledError("cancelled")
        k = len(self.bundle.card.class_names)
        probs = np.full(k, 0.5 / (k - 1))
        probs[call % k] = 0.5
        return [
            ImagePrediction(
                ref=im.ref, probs=probs, cams=np.zeros((k, 2, 2)), input_box=(0, 0, 1, 1)
            )
            for im in images
        ]

    def close(self):
        pass


def _gated_session(qtbot, tiny_bundle, honour_cancel):
    from core.bundle import read_card

    fake = GatedPredictor(read_card(tiny_bundle), honour_cancel)
    vm, runner = CohortViewModel(), OpRunner()
    service = ModelService(predictor_factory=lambda path, device, backend: fake)
    session = AnalysisPipeline(vm, service, runner)
    with qtbot.waitSignal(session.model_changed, timeout=WAIT_MS):
        session.load_model(tiny_bundle, "cpu")
    return fake, vm, session


@pytest.mark.parametrize("honour_cancel", [True, False], ids=["cancelled", "answer-arrives-anyway"])
def test_switching_patient_cancels_and_drops_the_stale_answer(
    qtbot, tiny_bundle, png_study, honour_cancel
):
    fake, vm, session = _gated_session(qtbot, tiny_bundle, honour_cancel)
    try:
        session.open([png_study])
        qtbot.waitUntil(fake.started.is_set, timeout=WAIT_MS)
        first_key = session.active_patient
        assert first_key == "P001"
        vm.select_patient(1)  # the user moves on before P001's answer
        assert session.active_patient is None or session.active_patient == "P002"
        fake.gate.set()
        qtbot.waitUntil(vm.all_done, timeout=WAIT_MS) if callable(vm.all_done) else None
        qtbot.waitUntil(lambda: vm.all_done, timeout=WAIT_MS)
        assert session.stale_dropped >= 1
        # P002 went first after the switch; P001 was predicted again afterwards.
        assert [keys[0].split("/")[-2] for keys in fake.calls] == ["P001", "P002", "P001"]
        # P001's stored predictions come from the third call, not from the dropped first one.
        stored = vm.prediction(vm.patients[0].images[0])
        assert np.argmax(stored.probs) == 3 % len(stored.probs)
    finally:
        fake.gate.set()
        session.shutdown()


def test_cancel_stops_the_pipeline_until_resumed(qtbot, tiny_bundle, png_study):
    fake, vm, session = _gated_session(qtbot, tiny_bundle, honour_cancel=True)
    try:
        session.open([png_study])
        qtbot.waitUntil(fake.started.is_set, timeout=WAIT_MS)
        session.cancel()
        assert session.paused and session.active_patient is None
        assert vm.status("P001") == PatientStatus.QUEUED
        qtbot.wait(200)  # the worker sees the token and stops; nothing new starts
        assert len(fake.calls) == 1 and vm.verdict("P001") is None
        fake.gate.set()
        session.resume()
        qtbot.waitUntil(lambda: vm.all_done, timeout=WAIT_MS)
        assert vm.verdict("P001") is not None and vm.verdict("P002") is not None
    finally:
        fake.gate.set()
        session.shutdown()


def test_a_new_study_makes_answers_for_the_old_one_stale(qtbot, tiny_bundle, png_study, tmp_path):
    from tests.support.gui import write_png

    fake, vm, session = _gated_session(qtbot, tiny_bundle, honour_cancel=False)
    other = tmp_path / "other"
    write_png(other / "Q009" / "a.png", seed=99)
    try:
        session.open([png_study])
        qtbot.waitUntil(fake.started.is_set, timeout=WAIT_MS)
        with qtbot.waitSignal(session.study_opened, timeout=WAIT_MS):
            session.open([other])
        fake.gate.set()
        qtbot.waitUntil(lambda: vm.all_done, timeout=WAIT_MS)
        assert [p.patient_id for p in vm.patients] == ["Q009"]
        assert vm.prediction(vm.patients[0].images[0]) is not None
        assert session.stale_dropped >= 1
        assert vm.verdict("P001") is None
    finally:
        fake.gate.set()
        session.shutdown()


def test_cuda_without_a_gpu_is_refused_and_the_cpu_model_kept(qtbot, session_parts, tiny_bundle):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal cannot be shown here")
    _vm, service, session = session_parts
    with qtbot.waitSignal(session.model_changed, timeout=WAIT_MS):
        session.load_model(tiny_bundle, "cpu")
    kept = service.model
    with qtbot.waitSignal(session.model_failed, timeout=WAIT_MS) as blocker:
        session.load_model(tiny_bundle, "cuda")
    assert "CUDA" in blocker.args[0]
    assert service.model is kept and kept.device == "cpu"


def test_the_backend_is_the_one_asked_for_and_a_refused_one_keeps_the_model(
    qtbot, session_parts, tiny_bundle
):
    _vm, service, session = session_parts
    with qtbot.waitSignal(session.model_changed, timeout=WAIT_MS):
        session.load_model(tiny_bundle, "cpu")  # the default: auto
    assert service.model.backend == "onnxruntime"
    with qtbot.waitSignal(session.model_changed, timeout=WAIT_MS):
        session.load_model(tiny_bundle, "cpu", "torch")
    kept = service.model
    assert kept.backend == "torch"
    with qtbot.waitSignal(session.model_failed, timeout=WAIT_MS) as blocker:
        session.load_model(tiny_bundle, "cpu", "onnxruntime-int8")  # never calibrated
    assert "no int8 graph calibrated" in blocker.args[0]
    assert service.model is kept


def test_inference_leaves_a_core_for_the_gui(monkeypatch):
    from desktop.model_worker import inference_threads

    monkeypatch.delenv("CNSIGHT_TORCH_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: {0, 1})
    assert inference_threads() == 1
    monkeypatch.setattr("os.sched_getaffinity", lambda _pid: set(range(16)))
    assert inference_threads() == 15
    monkeypatch.setenv("CNSIGHT_TORCH_THREADS", "4")
    assert inference_threads() == 4


def test_extra_heatmap_on_request_and_a_superseded_request_is_dropped(
    qtbot, session_parts, png_study, tiny_bundle
):
    vm, _service, session = session_parts
    with qtbot.waitSignal(session.model_changed, timeout=WAIT_MS):
        session.load_model(tiny_bundle, "cpu")
    with qtbot.waitSignal(session.all_predicted, timeout=WAIT_MS):
        session.open([png_study])
    first, second = vm.current_groups[0].refs[0], vm.current_groups[1].refs[0]
    assert session.request_extra_heatmap(first, 1, "gradcam++") is False
    dropped = session.stale_dropped
    with qtbot.waitSignal(session.extra_heatmap_ready, timeout=WAIT_MS) as blocker:
        session.request_extra_heatmap(second, 1, "gradcam++")  # the user moved on
    assert blocker.args[0] == (second.key, 1, "gradcam++")
    qtbot.waitUntil(lambda: session.stale_dropped > dropped, timeout=WAIT_MS)
    assert (first.key, 1, "gradcam++") not in session.extra_cams
    cam = session.extra_cams[(second.key, 1, "gradcam++")]
    assert cam.shape == (64, 64) and cam.min() >= 0.0 and cam.max() <= 1.0
    assert session.request_extra_heatmap(second, 1, "gradcam++") is True  # cached now


def test_a_manifest_csv_opens_as_a_study(qtbot, session_parts, phantom_study):
    vm, _service, session = session_parts
    with qtbot.waitSignal(session.study_opened, timeout=WAIT_MS):
        session.open([phantom_study / "manifest.csv"])
    assert len(vm.patients) == 2 and all(p.label for p in vm.patients)


def test_a_study_that_cannot_be_opened_reports_why(qtbot, session_parts, tmp_path):
    vm, _service, session = session_parts
    with qtbot.waitSignal(session.study_failed, timeout=WAIT_MS) as blocker:
        session.open([tmp_path / "does-not-exist"])
    assert "does-not-exist" in blocker.args[0]
    assert vm.cohort is None
