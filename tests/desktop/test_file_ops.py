"""The main window's file operations run without a window: arguments in, signals out."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from PySide6.QtWidgets import QMenu

from desktop import file_ops
from desktop.recent_menu import fill_recent_menu
from desktop.settings import AppSettings
from desktop.viewmodels.cohort import CohortViewModel


class FakePipeline:
    """Records what an operation asks of the pipeline."""

    def __init__(self, model_info=None):
        self.model = SimpleNamespace(model=model_info)
        self.opened: list[list[Path]] = []
        self.loads: list[tuple[Path, str]] = []
        self.backends: list[str] = []

    def open(self, paths):
        self.opened.append(list(paths))

    def load_model(self, path, device, backend):
        self.loads.append((Path(path), device))
        self.backends.append(backend)


def test_opening_a_study_remembers_it_and_the_recent_menu_lists_it(qtbot, tmp_path):
    pipeline, settings = FakePipeline(), AppSettings()
    first, second = tmp_path / "a.dcm", tmp_path / "b.dcm"
    file_ops.open_study(pipeline, settings, [str(first), second])
    assert pipeline.opened == [[first, second]]
    assert [file_ops.recent_paths(e) for e in settings.recent_studies] == [[first, second]]
    menu, opened = QMenu(), []
    fill_recent_menu(menu, settings.recent_studies, opened.append, settings.clear_recent_studies)
    entry = menu.actions()[0]
    assert entry.text() == f"{first}  (+1 more)" and menu.isEnabled()
    entry.trigger()
    assert opened == [[first, second]]
    menu.actions()[-1].trigger()  # Clear list
    assert settings.recent_studies == []


def test_changing_the_device_saves_it_and_reloads_only_a_loaded_model(tmp_path):
    settings = AppSettings()
    idle = FakePipeline()
    file_ops.change_device(idle, settings, "cpu")
    assert settings.device == "cpu" and idle.loads == []
    busy = FakePipeline(SimpleNamespace(path=tmp_path / "bundle"))
    file_ops.change_device(busy, settings, "cuda")
    assert settings.device == "cuda" and busy.loads == [(tmp_path / "bundle", "cuda")]
    file_ops.load_model(busy, settings, tmp_path / "other")
    assert busy.loads[-1] == (tmp_path / "other", "cuda")


def test_changing_the_backend_saves_it_and_reloads_only_a_loaded_model(tmp_path):
    settings = AppSettings()
    assert settings.backend == "auto"  # the measured default (docs/performance.md)
    idle = FakePipeline()
    file_ops.change_backend(idle, settings, "torch")
    assert settings.backend == "torch" and idle.loads == []
    busy = FakePipeline(SimpleNamespace(path=tmp_path / "bundle"))
    file_ops.change_backend(busy, settings, "onnxruntime")
    assert busy.loads == [(tmp_path / "bundle", settings.device)]
    assert busy.backends == ["onnxruntime"]
    file_ops.load_model(busy, settings, tmp_path / "other")
    assert busy.backends[-1] == "onnxruntime"
    settings._s.setValue("model/backend", "tensorrt")  # a name this version does not know
    assert settings.backend == "auto"


def test_a_failed_export_is_reported_through_the_signal(qtbot, tmp_path):
    reports = file_ops.OpReports()
    target = tmp_path / "no such folder" / "preds.csv"
    with qtbot.waitSignal(reports.failed, timeout=1000) as blocker:
        file_ops.export_csv(reports, target, CohortViewModel())
    title, text = blocker.args
    assert title == "Export failed" and str(target) in text


def test_an_export_reports_the_files_it_wrote(qtbot, tmp_path):
    reports = file_ops.OpReports()
    with qtbot.waitSignal(reports.saved, timeout=1000) as blocker:
        file_ops.export_csv(reports, tmp_path / "preds.csv", CohortViewModel())
    assert blocker.args[0] == [tmp_path / "preds.csv", tmp_path / "preds_patients.csv"]
    assert all(p.is_file() for p in blocker.args[0])
