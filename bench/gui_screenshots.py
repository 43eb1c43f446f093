"""Screenshots of the main states of the real main window, for docs/img (offscreen).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_screenshots.py [--model BUNDLE] [--study PATH]

Defaults: the demo model and demo study in resources/. Without them, a phantom DICOM study
and an untrained ResNet34 bundle are made in a temporary folder (the pictures then show an
untrained model's output: fine for layout, not for what the model says).
Writes docs/img/desktop_{study,heatmap,cine,deidentified,report,model_card,shortcuts}.png.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "img"
log = logging.getLogger("gui_screenshots")


def inputs(args, tmp: Path) -> tuple[Path, Path]:
    from bench.gui_stall import default_model
    from core.resources import demo_study_dir

    study = args.study
    if study is None and demo_study_dir().is_dir():
        manifest = demo_study_dir() / "manifest.csv"
        study = manifest if manifest.is_file() else demo_study_dir()
    if study is None:
        from phantoms.phantom_set import generate_phantom_set

        log.warning("no demo study: using a phantom DICOM study")
        study = generate_phantom_set(tmp / "study", n_patients=6, seed=11, fmt="dicom")
    return study, args.model or default_model(tmp)


def settle(app, ms: int = 250) -> None:
    """Let pending paints and queued signals run (a timed nested loop, screenshots only)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal, timeout_s: float = 600) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()


def pick_patient(vm) -> int:
    """The most confident anomaly verdict (the interesting case to show), else patient 1."""
    from desktop.viewmodels.groups import patient_key

    best, best_p = 0, -1.0
    for i, p in enumerate(vm.patients):
        v = vm.verdict(patient_key(p))
        has_cine = any(g.is_cine for g in vm.groups(patient_key(p)))
        if v is not None and v.pred != "normal" and v.probs.max() > best_p and has_cine:
            best, best_p = i, float(v.probs.max())
    return best


def save(widget, name: str) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(path)
    return path


def report_preview(window, name: str) -> None:
    """First page of the current patient's PDF report, rendered by the same painting code."""
    from desktop.export import snapshot_patient
    from desktop.report_pdf import render_report_preview

    data = snapshot_patient(window.vm, window.session.model.model, window.state.opacity)
    image = render_report_preview(data)
    OUT.mkdir(parents=True, exist_ok=True)
    image.save(str(OUT / name))
    print(OUT / name)


def shoot(app, window) -> None:
    vm, st = window.vm, window.state
    from desktop.viewmodels.groups import patient_key

    vm.select_patient(pick_patient(vm))
    drivers = vm.verdict(patient_key(vm.current_patient)).drivers
    vm.select_image(drivers[0][0])
    settle(app)
    save(window, "desktop_study.png")
    st.set_heatmap_on(True)
    settle(app)
    save(window, "desktop_heatmap.png")
    cine = next((i for i, g in enumerate(vm.current_groups) if g.is_cine), None)
    if cine is not None:
        vm.select_group(cine)
        vm.select_frame(vm.current_group.n_frames // 2)
        window.side_tabs.setCurrentIndex(1)  # the DICOM tag view
        settle(app)
        save(window, "desktop_cine.png")
        window.side_tabs.setCurrentIndex(0)
    vm.set_deidentified(True)
    settle(app)
    save(window, "desktop_deidentified.png")
    report_preview(window, "desktop_report.png")  # de-identified, as a report for a reader study
    vm.set_deidentified(False)
    dialog = window.show_about()
    dialog.resize(760, 820)
    settle(app)
    save(dialog, "desktop_model_card.png")
    dialog.close()
    shortcuts = window.show_shortcuts()
    settle(app)
    save(shortcuts, "desktop_shortcuts.png")
    shortcuts.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path)
    p.add_argument("--study", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="cnsight_shots_") as name:
        make_screenshots(app, args, Path(name))


def make_screenshots(app, args, tmp: Path) -> None:
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    study, model = inputs(args, tmp)
    from desktop.app import _build
    from desktop.settings import AppSettings
    from desktop.theme import apply_dark_theme

    apply_dark_theme(app)
    session, window = _build(AppSettings())
    window.resize(1440, 900)
    window.show()
    session.load_model(model, "auto")
    wait_for(session.model_changed)
    window.open_paths([study])
    wait_for(session.all_predicted)
    shoot(app, window)
    window.close()


if __name__ == "__main__":
    main()
