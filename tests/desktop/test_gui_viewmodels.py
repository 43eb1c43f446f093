"""View-models and pure helpers, without widgets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.records import Cohort, FileError, ImageRef, LoadedImage, Patient
from desktop.deid import is_identifying, visible_header
from desktop.settings import MAX_RECENT, AppSettings
from desktop.viewmodels.cohort import CohortViewModel, PatientPixels, PatientStatus
from desktop.viewmodels.groups import group_images, patient_key
from desktop.viewmodels.viewer import ZOOM_MAX, ViewerState, frame_interval_ms
from tests.support.gui import fake_prediction

CLASSES = ("normal", "anencephaly", "encephalocele", "holoprosencephaly", "rachischisis")


def _study() -> Cohort:
    a = (ImageRef(Path("/s/A/1.png"), patient_id="A"), ImageRef(Path("/s/A/2.png"), patient_id="A"))
    cine = tuple(
        ImageRef(Path("/s/B/c.dcm"), frame=i, patient_id="B", study_uid="1.2", n_frames=3)
        for i in (2, 0, 1)
    )
    b = (ImageRef(Path("/s/B/x.dcm"), patient_id="B", study_uid="1.2"), *cine)
    return Cohort(
        source="/s",
        patients=(Patient("A", a), Patient("B", b, study_uid="1.2")),
        errors=(FileError("/s/bad.png", "not an image"),),
    )


def test_frames_of_one_file_form_one_cine_group_in_frame_order():
    groups = group_images(_study().patients[1].images)
    assert [g.path.name for g in groups] == ["x.dcm", "c.dcm"]
    assert [r.frame for r in groups[1].refs] == [0, 1, 2]
    assert groups[1].is_cine and not groups[0].is_cine


def test_navigation_is_clamped_and_frames_wrap_during_cine(qtbot):
    vm = CohortViewModel()
    vm.set_cohort(_study())
    assert vm.current_ref.path.name == "1.png" and vm.errors[0].message == "not an image"
    vm.step_image(-1)
    assert vm.group_index == 0
    vm.step_patient(+5)
    assert vm.patient_index == 1 and vm.group_index == 0
    vm.step_image(+1)
    assert vm.current_group.is_cine and vm.current_ref.frame == 0
    for expected in (1, 2, 0):
        vm.advance_frame()
        assert vm.current_ref.frame == expected
    assert vm.select_image("/s/B/c.dcm#2") and vm.current_ref.frame == 2
    assert not vm.select_image("/s/A/1.png")  # not the current patient's


def test_predictions_make_a_verdict_with_the_models_rule(qtbot):
    vm = CohortViewModel()
    vm.set_cohort(_study())
    vm.set_model_classes(CLASSES, "majority_vote")
    a = vm.patients[0]
    with qtbot.waitSignal(vm.predictions_changed) as blocker:
        vm.set_predictions(
            "A",
            [
                fake_prediction(a.images[0], [0.1, 0.6, 0.1, 0.1, 0.1]),
                fake_prediction(a.images[1], [0.2, 0.5, 0.1, 0.1, 0.1]),
            ],
        )
    assert blocker.args == ["A"]
    verdict = vm.verdict("A")
    assert (
        verdict.pred == "anencephaly" and verdict.rule == "majority_vote" and verdict.n_images == 2
    )
    assert verdict.drivers[0][0] == str(a.images[0].path)
    assert vm.status("A") == PatientStatus.DONE
    # A new model voids every prediction.
    vm.set_model_classes(CLASSES, "mean_softmax")
    assert vm.verdict("A") is None and vm.status("A") == PatientStatus.QUEUED


def test_current_patient_is_predicted_first(qtbot):
    vm = CohortViewModel()
    vm.set_cohort(_study())
    assert vm.patients_needing_prediction() == ["A", "B|1.2"]
    vm.select_patient(1)
    assert vm.patients_needing_prediction() == ["B|1.2", "A"]
    vm.set_predictions("B|1.2", [])
    assert vm.status("B|1.2") == PatientStatus.FAILED
    assert vm.patients_needing_prediction() == ["A"]


def test_deidentified_mode_names_cases_and_images_not_patients_or_files(qtbot):
    vm = CohortViewModel()
    vm.set_cohort(_study())
    assert vm.patient_label(1) == "B"
    with qtbot.waitSignal(vm.deidentified_changed):
        vm.set_deidentified(True)
    assert vm.patient_label(1) == "Case 2"
    cine_ref = vm.patients[1].images[1]
    assert vm.image_label(cine_ref) == "Image 2 [3/3]"
    assert "c.dcm" not in vm.image_label(cine_ref)


def test_pixel_cache_keeps_the_current_patient(qtbot, monkeypatch):
    monkeypatch.setattr("desktop.viewmodels.cohort.PIXEL_CACHE_PATIENTS", 1)
    vm = CohortViewModel()
    vm.set_cohort(_study())
    ref = vm.current_ref
    image = LoadedImage(ref=ref, pixels=np.zeros((4, 4, 3), np.uint8))
    vm.set_pixels("A", PatientPixels(images={ref.key: image}))
    vm.set_pixels("B|1.2", PatientPixels())
    assert vm.current_image is image  # A is current: kept although B came later
    assert vm.pixels("B|1.2") is None


def test_patient_key_separates_two_studies_of_one_patient():
    assert patient_key(Patient("P", (), study_uid="1")) != patient_key(
        Patient("P", (), study_uid="2")
    )


def test_viewer_state_rules(qtbot):
    st = ViewerState()
    with qtbot.waitSignal(st.changed):
        st.zoom_in(fit_scale=2.0)
    assert st.geometry.zoom == pytest.approx(2.5)
    for _ in range(40):
        st.zoom_in()
    assert st.geometry.zoom == ZOOM_MAX
    st.rotate(3)
    st.rotate(2)
    assert st.geometry.quarter_turns == 1
    st.flip_horizontal()
    st.set_brightness(500)
    st.toggle_invert()
    assert st.brightness == 255 and st.invert and not st.window_is_default
    st.reset()
    assert st.geometry.zoom is None and st.geometry.quarter_turns == 0 and not st.geometry.flip_h
    assert st.window_is_default
    st.set_opacity(3)
    assert st.opacity == 1.0
    assert st.heatmap_class_for(2) == 2
    st.set_heatmap_class(4)
    assert st.heatmap_class_for(2) == 4
    with pytest.raises(ValueError):
        st.set_heatmap_method("magic")


@pytest.mark.parametrize(
    ("frame_time", "expected"), [(None, 33), (40.0, 40), (0.001, 33), (1e6, 33)]
)
def test_cine_uses_the_files_frame_time_else_30_fps(frame_time, expected):
    assert frame_interval_ms(frame_time) == expected


def test_deidentified_tag_view_hides_people_places_dates_and_ids():
    header = {
        "PatientName": "DOE^JANE",
        "PatientID": "123",
        "StudyDate": "20240101",
        "InstitutionName": "Kestrel Bay",
        "Modality": "US",
        "Rows": "480",
        "TransferSyntaxUID": "1.2.840.10008.1.2.1",
        "StudyInstanceUID": "1.2.3",
        "(0009,0010)": "x",
    }
    shown = dict(visible_header(header, deidentified=True))
    assert set(shown) == {"Modality", "Rows", "TransferSyntaxUID"}
    assert dict(visible_header(header, deidentified=False)) == header
    assert is_identifying("OperatorsName") and not is_identifying("NumberOfFrames")


def test_settings_round_trip_and_recent_list_is_bounded(isolated_settings):
    s = AppSettings()
    assert str(isolated_settings) in s.file_name  # the test's folder, never the user's
    s.opacity, s.device, s.deidentified = 0.7, "cpu", True
    for i in range(MAX_RECENT + 3):
        s.add_recent_study(f"/study/{i}")
    s.add_recent_study("/study/5")
    s.sync()
    again = AppSettings()
    assert again.opacity == pytest.approx(0.7) and again.device == "cpu" and again.deidentified
    assert again.recent_studies[0] == "/study/5" and len(again.recent_studies) == MAX_RECENT
    assert again.recent_studies.count("/study/5") == 1


def test_model_card_sections_render_as_tables_and_nothing_is_hidden():
    from desktop.card_html import training_data_html, validation_html

    names = ("normal", "encephalocele")
    training = {"source": "m.csv", "train": {"images": 18, "patients": 6, "patients_per_class":
                {"normal": 4, "encephalocele": 2}, "sites": ["A", "B"], "ga_weeks_range": [16.0, 31.0]}}  # fmt: skip
    html = training_data_html(training, names)
    assert "<th" in html and "A, B" in html and "16–31" in html and "m.csv" in html
    metrics = {"split": "validation", "patient": {"n": 3, "accuracy": 2 / 3, "auroc_macro": 0.5,
               "per_class": {"normal": {"sensitivity": 1.0, "ppv": None, "auroc": 0.75}}}}  # fmt: skip
    html = validation_html(metrics, names)
    assert "Patient level" in html and "66.7%" in html and "0.750" in html and "—" in html
    assert "validation" in html
    assert "weird / deep" in validation_html(
        {"weird": {"deep": 1}}, names
    )  # unknown shape: flattened
