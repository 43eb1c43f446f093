"""Screenshots of the reading tools of issue 12, on phantoms whose true sizes are known:

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/gui_measure_screenshots.py

- docs/img/desktop_measure_hc.png: a head circumference (ellipse), BPD and OFD measured on a
  phantom DICOM's trans-thalamic plane, with the Measurements tab; the errors against the
  phantom's true skull are printed (calipers on the true skull: what the calibration adds);
- docs/img/desktop_tag_tree.png: the DICOM tag browser, the US regions sequence expanded;
- docs/img/desktop_report_pdf.png: page 1 of the PDF report, rendered by pdftoppm (poppler).

Uses the demo model (resources/demo_model).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "img"
SIZE = (640, 512)
SEED = 21


def phantom_truth(study: Path):
    """The trans-thalamic still of a normal phantom patient: file, and its true skull in
    image pixels and mm (object frame of phantoms.head)."""
    from phantoms.geometry import make_sector
    from phantoms.head import head_size
    from phantoms.phantom_set import plan_phantom_set
    from phantoms.render import _object_to_pixel
    from phantoms.sites import get_site
    from phantoms.traits import TRANS_THALAMIC

    for plan in plan_phantom_set(4, SEED, SIZE):
        if plan.label != "normal":
            continue
        for image in plan.images:
            if image.plane == TRANS_THALAMIC and image.cine_frames == 1:
                sector = make_sector(get_site(plan.site), SIZE, image.view.depth_mm)
                size, s = head_size(plan.traits), image.view.scale

                def px(u, v, view=image.view, sector=sector):
                    return _object_to_pixel(view, sector, u, v)

                return plan, study / plan.patient_id / f"img{image.index:02d}.dcm", size, s, px
    raise SystemExit("no normal trans-thalamic still in this phantom set")


def settle(app, ms=300):
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_for(signal, timeout_s=600):
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()


def main() -> None:
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    tmp = Path(tempfile.mkdtemp(prefix="cnsight_measure_"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
    from core.measurements.geometry import ramanujan_circumference
    from core.measurements.measure import Measurement
    from core.resources import demo_model_dir
    from desktop.app import _build
    from desktop.settings import AppSettings
    from desktop.theme import apply_dark_theme
    from phantoms.phantom_set import generate_phantom_set

    study = tmp / "study"
    generate_phantom_set(study, n_patients=4, seed=SEED, fmt="dicom", size=SIZE)
    plan, path, head, s, px = phantom_truth(study)
    apply_dark_theme(app)
    session, win = _build(AppSettings())
    win.resize(1440, 900)
    win.show()
    session.load_model(demo_model_dir(), "cpu")
    wait_for(session.model_changed)
    win.open_paths([study])
    wait_for(session.all_predicted)
    vm = win.vm
    vm.select_patient(next(i for i, p in enumerate(vm.patients) if p.patient_id == plan.patient_id))
    vm.select_image(str(path))
    settle(app, 800)
    ref = vm.current_ref
    a, b, skull = head.a, head.b, head.skull
    # HC on the outer table of the skull, BPD outer to inner, OFD outer to outer.
    out_a, out_b = a + skull / 2, b + skull / 2
    hc = Measurement("HC", (px(-out_a, 0), px(out_a, 0), px(0, out_b)))
    bpd = Measurement("BPD", (px(-0.05 * a, -out_b), px(-0.05 * a, b - skull / 2)))
    ofd = Measurement("OFD", (px(-out_a, 0), px(out_a, 0)))
    for m in (hc, ofd, bpd):
        win.measurements.add(ref, m)
    truth = {
        "HC": ramanujan_circumference(out_a * s, out_b * s),
        "BPD": (out_b + b - skull / 2) * s,
        "OFD": 2 * out_a * s,
    }
    for m in (hc, bpd, ofd):
        r = win.measurements.result(ref, m)
        print(f"{m.kind}: measured {r.value:.2f} {r.unit}, true {truth[m.kind]:.2f} mm, "
              f"error {r.value - truth[m.kind]:+.3f} mm; {'; '.join(r.details())}")  # fmt: skip
    print(f"patient {plan.patient_id}, GA {plan.ga_weeks:.2f} weeks (phantom), file {path.name}")
    win.measurements.select(hc.id)
    win.side_tabs.setCurrentWidget(win.measurement_panel)
    win.state.zoom_by(1.35, win.pane.viewer.fit_scale())
    settle(app, 600)
    OUT.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(OUT / "desktop_measure_hc.png"))
    print(OUT / "desktop_measure_hc.png")
    # The tag tree, its US region sequence open.
    win.state.fit()
    win.resizeDocks([win.results_dock], [620], Qt.Orientation.Horizontal)  # room for values
    win.side_tabs.setCurrentWidget(win.tags)
    tree = win.tags.tree
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        if item.text(1) == "SequenceOfUltrasoundRegions":
            item.setExpanded(True)
            item.child(0).setExpanded(True)
            tree.scrollToItem(item)
            tree.setCurrentItem(item.child(0).child(0))
    settle(app, 500)
    win.grab().save(str(OUT / "desktop_tag_tree.png"))
    print(OUT / "desktop_tag_tree.png")
    # The PDF report, page 1, as poppler renders it.
    pdf = tmp / "report.pdf"
    win.export_report(pdf, impression="Head biometry within the expected range for the "
                      "gestational age; no intracranial anomaly seen.", reader="Dr A. Reader")  # fmt: skip
    wait_for(win.reports.saved, 120)
    if shutil.which("pdftoppm") is None:
        print("pdftoppm not found (apt-get install poppler-utils): no report picture")
    else:
        subprocess.run(["pdftoppm", "-r", "80", "-f", "1", "-l", "1", "-png", "-singlefile",
                        str(pdf), str(OUT / "desktop_report_pdf")], check=True)  # fmt: skip
        print(OUT / "desktop_report_pdf.png")
    win.close()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
