"""What the main window does with files, as small operations (Anki's QueryOp pattern).

Each operation gets what it needs as arguments - the pipeline, the settings, the runner, the
data - and never touches a window. Whatever the user must hear about (a line for the status
bar, the files an export wrote, a failure) goes out through the Qt signals of an ``OpReports``,
which the window connects to its status bar and its non-blocking message boxes. Asking the user
for a path is the window's part (``file_dialogs``), done before an operation starts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from .background import OpRunner
from .export import write_patient_report, write_predictions_csv
from .measurement_export import measurements_csv_path, write_measurements_csv
from .pipeline import AnalysisPipeline
from .report_data import ReportData
from .settings import AppSettings
from .viewmodels.cohort import CohortViewModel
from .viewmodels.measurements import MeasurementsViewModel

log = logging.getLogger(f"cnsight.{__name__}")


class OpReports(QObject):
    """Where the operations report; signals are delivered on the GUI thread."""

    status = Signal(str)  # one line for the status bar
    saved = Signal(list)  # list[Path]: what an export wrote
    failed = Signal(str, str)  # title, text: a warning the user must see


# ----- studies ---------------------------------------------------------------------------------
def open_study(pipeline: AnalysisPipeline, settings: AppSettings, paths: Sequence[Path]) -> None:
    """Open files/folders as one study (off the GUI thread) and remember them as recent."""
    paths = [Path(p) for p in paths]
    pipeline.open(paths)
    settings.add_recent_study(recent_entry(paths))


def recent_entry(paths: Sequence[Path]) -> str:
    """How a study is stored in the recent list: its paths, one a line (QSettings keeps strings)."""
    return "\n".join(str(p) for p in paths)


def recent_paths(entry: str) -> list[Path]:
    return [Path(p) for p in entry.split("\n")]


# ----- model -----------------------------------------------------------------------------------
def load_model(pipeline: AnalysisPipeline, settings: AppSettings, bundle: Path) -> None:
    """Load a bundle on the saved device and backend; a refused bundle leaves the current
    model in use."""
    pipeline.load_model(Path(bundle), settings.device, settings.backend)


def change_device(pipeline: AnalysisPipeline, settings: AppSettings, device: str) -> None:
    """Save the choice and, when a model is loaded, load it again on that device."""
    settings.device = device
    info = pipeline.model.model
    if info is not None:
        pipeline.load_model(info.path, device, settings.backend)


def change_backend(pipeline: AnalysisPipeline, settings: AppSettings, backend: str) -> None:
    """Save the choice and, when a model is loaded, load it again on that backend (a backend
    that cannot run here is refused with its reason and the current model stays)."""
    settings.backend = backend
    info = pipeline.model.model
    if info is not None:
        pipeline.load_model(info.path, settings.device, backend)


# ----- exports ---------------------------------------------------------------------------------
def export_report(runner: OpRunner, reports: OpReports, path: Path, data: ReportData) -> int:
    """Paint the PDF off the GUI thread (``data`` was copied on it); returns the op's id."""
    path = Path(path)
    reports.status.emit(f"Writing {path.name}…")
    return runner.run(
        lambda: write_patient_report(path, data),
        lambda written: reports.saved.emit([Path(written)]),
        lambda exc: _export_failed(reports, path, exc),
    )


def export_csv(
    reports: OpReports,
    path: Path,
    vm: CohortViewModel,
    measurements: MeasurementsViewModel | None = None,
) -> None:
    """Write the predictions CSVs now (and ``<name>_measurements.csv`` when ``measurements``
    is given): rows of numbers, fast enough for the GUI thread."""
    try:
        written = list(write_predictions_csv(Path(path), vm))
        if measurements is not None:
            written.append(
                write_measurements_csv(measurements_csv_path(Path(path)), vm, measurements)
            )
    except OSError as exc:
        _export_failed(reports, Path(path), exc)
        return
    reports.saved.emit([Path(p) for p in written])


def _export_failed(reports: OpReports, path: Path, exc: BaseException) -> None:
    log.error("export to %s failed: %s", path, exc)
    reports.failed.emit("Export failed", f"{path}: {exc}")
