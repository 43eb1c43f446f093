"""``cnsight [PATH] [--model BUNDLE] [--demo] [--screenshot PNG] [--device auto|cpu|cuda]``
``cnsight --study STUDY_DIR --reader READER_ID`` (reader-study reading mode, desktop/reading/)

The window is shown first; torch and the model are loaded afterwards in the model thread
(torch ~2 s, torchvision ~3.7 s to import), so the first window appears in about a second.
No desktop module but the model worker's loader reaches torch (an import-linter contract in
pyproject.toml). Qt and the windows are imported inside the functions that need them, so
``--help`` and usage errors (exit 2, before any window) answer without loading Qt.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sqlite3
import sys
import time
from pathlib import Path

from core.devices import DEVICES
from core.errors import CNSightError
from core.resources import demo_model_dir, demo_study_dir

log = logging.getLogger("cnsight.desktop.app")

EXIT_OK, EXIT_USAGE, EXIT_FAILED, EXIT_TIMEOUT = 0, 2, 3, 4
SCREENSHOT_SIZE = (1440, 900)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cnsight",
        description="CNSight: prenatal ultrasound reading tool with AI classification and heatmaps. "
        "Research use only - not for diagnosis.",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="study to open: a folder, image/DICOM files, a DICOMDIR or a manifest CSV",
    )
    p.add_argument(
        "--model",
        type=Path,
        metavar="BUNDLE",
        help="model bundle folder (default: the last model used, else the demo model)",
    )
    p.add_argument(
        "--demo", action="store_true", help="open the bundled demo study with the demo model"
    )
    p.add_argument(
        "--screenshot",
        type=Path,
        metavar="PNG",
        help="wait until the study is loaded and analysed with heatmaps shown, save the "
        "main window to PNG and exit (works with QT_QPA_PLATFORM=offscreen)",
    )
    p.add_argument(
        "--device",
        choices=DEVICES,
        help="where the model runs (default: saved choice)",
    )
    p.add_argument(
        "--timeout", type=float, default=300.0, help="--screenshot: give up after this many seconds"
    )
    p.add_argument(
        "--deidentified", action="store_true", help="start in de-identified display mode"
    )
    study = p.add_argument_group(
        "reader-study reading mode",
        "Read the cases of a reader study (a folder with protocol.json, see cnsight-study "
        "create) one at a time in the reader's order, and record each decision: the class and "
        "the confidence that the case is abnormal (0-100), Submit or Ctrl+Enter. Unaided cases "
        "show no AI output at all (the model is not run); aided cases show the study's model. "
        "Case ids only, de-identified display. Every decision is committed before the next "
        "case; reopening resumes at the first undecided case. Exit code 2 when the study or the "
        "reader is invalid. Not combinable with PATH, --demo or --model.",
    )
    study.add_argument(
        "--study", type=Path, metavar="STUDY_DIR", help="reader-study folder (with protocol.json)"
    )
    study.add_argument(
        "--reader", metavar="READER_ID", help="the reader's id, as enrolled in the protocol"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    return p


def seconds_since_process_start() -> float | None:
    """Wall time since the process started (Linux /proc; None elsewhere)."""
    try:
        ticks = os.sysconf("SC_CLK_TCK")
        with open("/proc/self/stat") as f:
            start = int(f.read().rsplit(")", 1)[1].split()[19]) / ticks
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start
    except (OSError, ValueError, IndexError):
        return None


def resolve_inputs(args, settings) -> tuple[list[Path], Path | None, str | None]:
    """Study paths, model bundle, and an error message (None when all is well)."""
    paths = [Path(p) for p in args.paths]
    model = args.model
    if args.demo:
        study, demo_model = demo_study_dir(), demo_model_dir()
        needed = (study,) if model is not None else (study, demo_model)
        missing = [str(p) for p in needed if not p.exists()]
        if missing:
            return (
                [],
                None,
                (
                    "--demo: the demo resources are missing: "
                    + ", ".join(missing)
                    + ". They ship in resources/ (see README); or pass PATH and --model."
                ),
            )
        manifest = study / "manifest.csv"
        paths = paths or [manifest if manifest.is_file() else study]
        model = model or demo_model
    if model is None:
        last = settings.last_model
        model = last if last is not None and last.is_dir() else demo_model_dir()
    return paths, model, None


def _settings_for(args):
    """The user's settings; a throwaway file for --screenshot (reproducible pictures)."""
    from PySide6.QtCore import QSettings, QTemporaryDir

    from .settings import AppSettings

    if args.screenshot is None:
        return AppSettings(), None
    tmp = QTemporaryDir()
    return AppSettings(QSettings(tmp.filePath("settings.ini"), QSettings.Format.IniFormat)), tmp


def _build(settings):
    from .background import OpRunner
    from .main_window import MainWindow
    from .model_worker import ModelService
    from .pipeline import AnalysisPipeline
    from .viewmodels.cohort import CohortViewModel

    # Owned by Python (no Qt parent): everything goes when main() returns, so main() can run
    # again in the same process (tests); session.shutdown() stops the threads first.
    session = AnalysisPipeline(CohortViewModel(), ModelService(), OpRunner())
    window = MainWindow(session, settings)
    return session, window


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()  # first: PyInstaller-frozen children must not start the GUI
    args = get_args_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )
    if args.study is not None or args.reader is not None:
        return _run_reading(args)
    from PySide6.QtCore import QTimer

    app = _application()
    settings, _tmp_settings = _settings_for(args)  # the temporary folder lives until main returns
    session, window = _build(settings)
    if args.deidentified:
        window.vm.set_deidentified(True)
    window.show()
    if args.screenshot is not None:
        window.resize(*SCREENSHOT_SIZE)  # same picture whatever the saved geometry
    QTimer.singleShot(
        0,
        lambda: log.info(
            "first window shown %.2f s after process start", seconds_since_process_start() or -1.0
        ),
    )
    paths, model, error = resolve_inputs(args, settings)
    if error:
        return _fail_early(app, window, error, screenshot=args.screenshot is not None)
    if args.screenshot is not None:
        from .screenshot import ScreenshotTaker

        if not paths:
            return _fail_early(app, window, "--screenshot needs a study: pass PATH or --demo", True)
        taker = ScreenshotTaker(window, args.screenshot, args.timeout)
        taker.start()
    device = args.device or settings.device
    QTimer.singleShot(0, lambda: session.load_model(model, device, settings.backend))
    if paths:
        QTimer.singleShot(0, lambda: window.open_paths(paths))
    started = time.perf_counter()
    code = app.exec()
    log.info("event loop ended after %.1f s with code %d", time.perf_counter() - started, code)
    session.shutdown()
    return code


def _application():
    from PySide6.QtWidgets import QApplication

    import core

    from .identity import app_icon
    from .theme import apply_dark_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("CNSight")
    app.setOrganizationName("CNSight")
    app.setApplicationVersion(core.__version__)
    app.setWindowIcon(app_icon())
    apply_dark_theme(app)
    return app


def _usage_error(message: str) -> int:
    """Exit code 2, before any window, with the reason on stderr (no traceback)."""
    print(f"cnsight: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _run_reading(args) -> int:
    """Reader-study reading mode: check the study and the reader first (exit 2), then the
    reading window. The core session decides which case comes; the window keeps no state."""
    if args.paths or args.demo or args.model is not None:
        return _usage_error(
            "--study reads the study's own cases with the study's model: do not pass PATH, "
            "--demo or --model with it"
        )
    from .reading.cases import open_reader_session

    try:
        if args.study is None or not args.reader:
            raise CNSightError("reading mode needs both --study STUDY_DIR and --reader READER_ID")
        session = open_reader_session(args.study, args.reader)
    except (CNSightError, OSError, sqlite3.Error) as exc:
        _usage_error(str(exc))  # stderr for the command line, and a dialog for the reader
        if args.screenshot is not None:
            return EXIT_USAGE
        session = _ask_reader_study(args, str(exc))
        if session is None:
            return EXIT_USAGE
    from PySide6.QtCore import QTimer

    from .reading.start import open_reading_window

    app = _application()
    settings, _tmp_settings = _settings_for(args)  # only the device is read from them
    window = open_reading_window(session, args.device or settings.device)
    controller = window.controller
    window.show()
    if args.screenshot is not None:
        from .screenshot import ReadingScreenshot

        window.resize(*SCREENSHOT_SIZE)
        ReadingScreenshot(window, args.screenshot, args.timeout).start()
    QTimer.singleShot(0, controller.advance)
    code = app.exec()
    if window.isVisible():  # the event loop ended another way: still close the log cleanly
        window.close()
    return code


def _ask_reader_study(args, error: str):
    """The start-up error in the reader-study dialog, folder and reader filled in: corrected
    there, reading goes on (the open session); cancelled, None (exit code 2)."""
    from .reading.start import ReaderStudyDialog

    _application()
    dialog = ReaderStudyDialog(None, args.study, args.reader or "", error)
    dialog.exec()
    return dialog.session


def _fail_early(app, window, message: str, screenshot: bool) -> int:
    log.error("%s", message)
    if screenshot:
        window.close()
        return EXIT_USAGE
    window.show_study_error(message)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
