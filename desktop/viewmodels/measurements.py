"""MeasurementsViewModel: the open study's measurements, the active tool, the sidecar file.

Rules only (no widgets): the viewer's measuring tool adds and moves points through it, the
measurement panel lists, relabels and deletes through it; every change is saved at once to
the study's sidecar file (``core.measurements.sidecar``). The maths is core's
(``core.measurements``); a measurement is in mm only where the image's calibration allows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.measurements import sidecar
from core.measurements.biometry import KINDS
from core.measurements.measure import Measurement, Result, evaluate
from core.records import ImageRef, LoadedImage

from .cohort import CohortViewModel

log = logging.getLogger(f"cnsight.{__name__}")

#: The tools offered, in button order: kind code -> button text.
TOOLS: dict[str, str] = {
    "distance": "Distance",
    "ellipse": "Ellipse",
    "BPD": "BPD",
    "OFD": "OFD",
    "HC": "HC",
    "TCD": "TCD",
    "CM": "CM",
}


@dataclass(frozen=True)
class Row:
    """One measurement as the panel, the report and the CSV show it."""

    image_key: str  # ref.key
    measurement: Measurement
    result: Result | None  # None: the image is not loaded (its calibration unknown)

    @property
    def name(self) -> str:
        return KINDS[self.measurement.kind].name


class MeasurementsViewModel(QObject):
    changed = Signal(str)  # ref.key of the image whose measurements changed ("" = all)
    tool_changed = Signal(object)  # kind code or None
    selection_changed = Signal(object)  # measurement id or None
    message = Signal(str)  # a save or load problem, said once (status bar / dialog)

    def __init__(self, vm: CohortViewModel, parent: QObject | None = None):
        super().__init__(parent)
        self.vm = vm
        self.tool: str | None = None
        self.selected: str | None = None
        self.path: Path | None = None  # the sidecar file
        self.error = ""  # the last load/save problem ("" when fine)
        self._folder: Path | None = None
        self._unreadable = False  # the file on disk could not be read: moved aside on save
        self._by_key: dict[str, list[Measurement]] = {}  # ref.key -> measurements
        self._sidecar_keys: dict[str, str] = {}  # ref.key -> sidecar key
        self._kept: dict[str, list[Measurement]] = {}  # images of the file not in this study
        vm.study_changed.connect(self.open_study)
        vm.pixels_changed.connect(lambda _key: self.changed.emit(""))

    # ----- study -----------------------------------------------------------------------------
    def open_study(self) -> None:
        self._by_key.clear()
        self._sidecar_keys.clear()
        self.selected, self.error, self._unreadable = None, "", False
        cohort = self.vm.cohort
        refs = cohort.images if cohort else ()
        self._folder = sidecar.sidecar_folder(r.path for r in refs)
        if self._folder is not None and self._folder == Path(self._folder.anchor):
            self._folder = None  # files from all over the disk: no folder is the study's
            self._fail("Measurements are not saved: the study's files share no folder.")
        self.path = self._folder / sidecar.SIDECAR_NAME if self._folder else None
        for ref in refs if self._folder else ():
            self._sidecar_keys[ref.key] = sidecar.image_key(self._folder, ref.path, ref.frame)
        if self.path is not None:
            try:
                stored = sidecar.load(self.path)
            except sidecar.MeasurementFileError as exc:
                self._unreadable = True
                self._fail(f"{exc}. Its measurements are not shown; the file is kept, and "
                           "moved aside (…unreadable-N) when a new measurement is saved.")  # fmt: skip
                stored = {}
            by_sidecar = {v: k for k, v in self._sidecar_keys.items()}
            for key, items in stored.items():
                ref_key = by_sidecar.get(key)
                if ref_key is not None:
                    self._by_key[ref_key] = list(items)
                else:
                    log.info("measurements for %s: image not in this study, kept in the file", key)
            self._kept = {k: v for k, v in stored.items() if k not in by_sidecar}
        else:
            self._kept = {}
        self.changed.emit("")

    # ----- tool ------------------------------------------------------------------------------
    def set_tool(self, kind: str | None) -> None:
        if kind is not None and kind not in KINDS:
            raise ValueError(f"unknown measurement tool {kind!r}")
        if kind != self.tool:
            self.tool = kind
            self.tool_changed.emit(kind)

    def select(self, measurement_id: str | None) -> None:
        if measurement_id != self.selected:
            self.selected = measurement_id
            self.selection_changed.emit(measurement_id)

    # ----- measurements ----------------------------------------------------------------------
    def measurements(self, ref: ImageRef | None) -> list[Measurement]:
        return list(self._by_key.get(ref.key, ())) if ref is not None else []

    def find(self, ref: ImageRef, measurement_id: str) -> Measurement | None:
        return next((m for m in self.measurements(ref) if m.id == measurement_id), None)

    def add(self, ref: ImageRef, measurement: Measurement) -> None:
        self._by_key.setdefault(ref.key, []).append(measurement)
        self.selected = measurement.id
        self._commit(ref.key)
        self.selection_changed.emit(measurement.id)

    def replace(self, ref: ImageRef, measurement: Measurement, save: bool = True) -> None:
        """The same measurement (id) with new points or kind; ``save=False`` while dragging."""
        items = self._by_key.get(ref.key, [])
        for i, m in enumerate(items):
            if m.id == measurement.id:
                items[i] = measurement
                if save:
                    self._commit(ref.key)
                else:
                    self.changed.emit(ref.key)
                return
        raise KeyError(measurement.id)

    def relabel(self, ref: ImageRef, measurement_id: str, kind: str) -> None:
        m = self.find(ref, measurement_id)
        if m is not None and m.kind != kind:
            self.replace(ref, m.relabelled(kind))

    def delete(self, ref: ImageRef, measurement_id: str) -> None:
        items = self._by_key.get(ref.key, [])
        kept = [m for m in items if m.id != measurement_id]
        if len(kept) != len(items):
            self._by_key[ref.key] = kept
            if self.selected == measurement_id:
                self.selected = None
                self.selection_changed.emit(None)
            self._commit(ref.key)

    # ----- results ---------------------------------------------------------------------------
    def _image(self, ref_key: str) -> LoadedImage | None:
        cohort = self.vm.cohort
        ref = next((r for r in cohort.images if r.key == ref_key), None) if cohort else None
        return self.vm.loaded_image(ref) if ref is not None else None

    def result(
        self, ref: ImageRef, m: Measurement, image: LoadedImage | None = None
    ) -> Result | None:
        image = image or self.vm.loaded_image(ref)
        if image is None:
            return None
        return evaluate(m, image.calibration, ref.ga_weeks)

    def rows(self, refs=None) -> list[Row]:
        """Every measurement of ``refs`` (default: the whole study), in study order."""
        cohort = self.vm.cohort
        refs = cohort.images if refs is None and cohort else (refs or ())
        out = []
        for ref in refs:
            for m in self._by_key.get(ref.key, ()):
                out.append(Row(ref.key, m, self.result(ref, m)))
        return out

    # ----- saving ----------------------------------------------------------------------------
    def _commit(self, ref_key: str) -> None:
        self.changed.emit(ref_key)
        self.save()

    def save(self) -> bool:
        if self.path is None:
            return False
        results = {}
        for ref_key, items in self._by_key.items():
            image = self._image(ref_key)
            for m in items:
                if image is not None:
                    results[m.id] = evaluate(m, image.calibration, image.ref.ga_weeks)
        data = dict(self._kept)
        data.update(
            {self._sidecar_keys[k]: v for k, v in self._by_key.items() if k in self._sidecar_keys}
        )
        try:
            if self._unreadable and self.path.exists():
                moved = sidecar.move_aside(self.path)
                self.message.emit(f"The unreadable measurements file was kept as {moved.name}.")
            self._unreadable = False
            sidecar.save(self.path, data, results)
        except (sidecar.MeasurementFileError, OSError) as exc:
            self._fail(f"{exc}. The measurements stay in this window; they are saved again "
                       "with the next change.")  # fmt: skip
            return False
        self.error = ""
        return True

    def _fail(self, text: str) -> None:
        self.error = text
        log.warning("%s", text)
        self.message.emit(text)
