"""ViewerPresenter: decides what the viewer shows (image, heatmap, corner text) from the
study view-model, the viewer state and the session's extra heatmaps. No painting here."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from core.heatmap_overlay import APP_HEATMAP_METHODS, FORWARD_CAM
from core.taxonomy import display_name

from .pipeline import AnalysisPipeline
from .verdict_text import NOT_ASSESSABLE_TEXT, heatmap_weight, outside_badge, percent, plane_text
from .viewmodels.cohort import CohortViewModel
from .viewmodels.viewer import ViewerState
from .widgets.viewer import ImageViewer


def scale_corner(image) -> str:
    """The image's physical scale in a corner line ("0.213 mm/px (US region)", "no mm scale")."""
    cal = image.calibration
    mm = [r.mm_per_px for r in cal.regions if r.mm_per_px] if cal is not None else []
    if mm:
        x, y = mm[0]
        return f"{x:.3f} mm/px (US region)" if abs(x - y) < 1e-9 else f"{x:.3f}×{y:.3f} mm/px"
    if cal is not None and cal.pixel_spacing is not None:
        row, col = cal.pixel_spacing
        return f"{col:.3f}×{row:.3f} mm/px ({cal.spacing_source})"
    return "no mm scale: px"


class ViewerPresenter(QObject):
    note_changed = Signal(str)  # e.g. "computing Grad-CAM++…"

    def __init__(
        self,
        vm: CohortViewModel,
        state: ViewerState,
        session: AnalysisPipeline,
        viewer: ImageViewer,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.vm, self.state, self.session, self.viewer = vm, state, session, viewer
        for signal in (vm.current_changed, vm.study_changed, state.heatmap_changed, state.changed):
            signal.connect(self.update)
        for signal in (vm.pixels_changed, vm.predictions_changed):
            signal.connect(lambda _key: self.update())
        vm.deidentified_changed.connect(lambda _on: self.update())
        viewer.resized.connect(self.update)  # the fit zoom shown in a corner depends on the size
        session.extra_heatmap_ready.connect(lambda _key: self.update())
        session.extra_heatmap_failed.connect(self.note_changed.emit)

    def heatmap_class(self) -> int | None:
        pred = self.vm.current_prediction
        return self.state.heatmap_class_for(pred.pred_index if pred is not None else None)

    def update(self) -> None:
        vm, st = self.vm, self.state
        self.viewer.set_image(vm.current_image, vm.deidentified)
        cam, box, note, identity = None, None, "", None
        pred = vm.current_prediction
        k = self.heatmap_class()
        visible = vm.output_visible(vm.current_ref)
        if st.heatmap_on and visible and k is not None and k < len(pred.probs):
            box = pred.input_box
            identity = (vm.current_ref.key, k, st.heatmap_method, id(pred))
            if st.heatmap_method == FORWARD_CAM:
                cam = pred.cams[k]
            else:
                cached = self.session.request_extra_heatmap(vm.current_ref, k, st.heatmap_method)
                cam = (
                    self.session.extra_cams.get((vm.current_ref.key, k, st.heatmap_method))
                    if cached
                    else None
                )
                note = "" if cached else f"computing {APP_HEATMAP_METHODS[st.heatmap_method]}…"
            if cam is not None:  # drawn as strongly as its class is likely (vs the top class)
                weight = heatmap_weight(pred.probs, k)
                cam, identity = cam * weight, (*identity, round(weight, 3))
        elif st.heatmap_on and vm.current_ref is not None and pred is None:
            note = "heatmap available once the image is analysed"
        elif st.heatmap_on and pred is not None and not visible:
            note = "no heatmap: the image is outside what the model was validated for"
        self.viewer.set_heatmap(cam, box, identity if cam is not None else None)
        self.viewer.set_corner_text(self.corner_text(k))
        self.note_changed.emit(note)

    def corner_text(self, heat_class: int | None) -> dict[str, list[str]]:
        vm, st = self.vm, self.state
        ref = vm.current_ref
        if ref is None:
            return {}
        patient = vm.current_patient
        top_left = [vm.patient_label(vm.patient_index) if patient else "", vm.image_label(ref)]
        if vm.deidentified:
            top_left.append("DE-IDENTIFIED")
        elif patient is not None and patient.ga_weeks is not None:
            top_left.append(f"GA {patient.ga_weeks:.1f} w")
        top_right = []
        pred = vm.current_prediction
        visible = vm.output_visible(ref)
        if pred is not None and not pred.assessable:
            top_right.append(f"AI: {NOT_ASSESSABLE_TEXT} ({outside_badge(pred.check)})")
        if visible:
            name = vm.class_names[pred.pred_index]
            shown = "" if pred.assessable else "shown on request: "
            top_right.append(f"AI: {shown}{display_name(name)} {percent(float(pred.probs.max()))}")
            if pred.plane:
                top_right.append(plane_text(pred))
        if (
            st.heatmap_on
            and visible
            and heat_class is not None
            and heat_class < len(vm.class_names)
        ):
            method = APP_HEATMAP_METHODS[st.heatmap_method].split(" (")[0]
            p = percent(float(pred.probs[heat_class]))
            top_right.append(f"Heatmap: {display_name(vm.class_names[heat_class])} {p} ({method})")
        g = st.geometry
        zoom = g.zoom if g.zoom is not None else self.viewer.fit_scale()
        bottom_left = [f"Zoom {zoom:.0%}" + (" (fit)" if g.zoom is None else "")]
        if not st.window_is_default:
            width, level = st.window
            preset = st.window_preset
            bottom_left.append(
                f"W {width}  L {level}"
                + (f" ({preset})" if preset else "")
                + ("  inverted" if st.invert else "")
            )
        orientation = [f"rot {90 * g.quarter_turns}°"] if g.quarter_turns else []
        orientation += ["flip H"] if g.flip_h else []
        orientation += ["flip V"] if g.flip_v else []
        if orientation:
            bottom_left.append("  ".join(orientation))
        image = vm.current_image
        if image is not None:
            h, w = image.pixels.shape[:2]
            bottom_left.append(f"{w} × {h}" + (f"  {image.modality}" if image.modality else ""))
            bottom_left.append(scale_corner(image))
        return {"tl": top_left, "tr": top_right, "bl": bottom_left}
