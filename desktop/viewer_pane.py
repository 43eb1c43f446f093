"""ViewerPane: the image and everything that belongs to it, one part both windows embed.

The viewer, the cine bar and the heatmap bar under it, the viewer state they share, and the
presenter that decides what the viewer shows (image, heatmap, corner text) from the study
view-model and the pipeline's extra heatmaps. The main window puts the research-use banner on
top of it; the reading window has its own banner above the whole window (its message pages
need it too), so the banner is optional here.
"""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from .pipeline import AnalysisPipeline
from .presenter import ViewerPresenter
from .viewmodels.cohort import CohortViewModel
from .viewmodels.viewer import ViewerState
from .widgets.banner import ResearchBanner
from .widgets.controls import CineBar, DisplayControls, HeatmapControls
from .widgets.viewer import ImageViewer


class ViewerPane(QWidget):
    def __init__(
        self,
        vm: CohortViewModel,
        pipeline: AnalysisPipeline,
        with_banner: bool = True,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.state = ViewerState(self)
        self.banner = ResearchBanner() if with_banner else None
        self.viewer = ImageViewer(self.state)
        self.display_controls = DisplayControls(self.state)
        self.cine_bar = CineBar(vm, self.state)
        self.heatmap_controls = HeatmapControls(vm, self.state)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        if self.banner is not None:
            lay.addWidget(self.banner, 0)
        for widget, stretch in (
            (self.viewer, 1),
            (self.display_controls, 0),
            (self.cine_bar, 0),
            (self.heatmap_controls, 0),
        ):
            lay.addWidget(widget, stretch)
        self.presenter = ViewerPresenter(vm, self.state, pipeline, self.viewer, self)
        self.presenter.note_changed.connect(self.heatmap_controls.set_note)
        # A new model may bring other classes: the heatmap's class list follows it.
        pipeline.model_changed.connect(lambda _info: self.heatmap_controls.rebuild_classes())
