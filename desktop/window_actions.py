"""The main window's actions, menus and toolbar, from one table (which Help > Shortcuts lists).

OHIF-like keys: z zoom, = fit, space reset, arrows previous/next image, PgUp/PgDn patient,
h heatmap, c cine, i invert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar

from core.devices import DEVICES
from core.inference.names import BACKENDS

from .viewmodels.cohort import CohortViewModel
from .viewmodels.viewer import ViewerState


@dataclass(frozen=True)
class ActionSpec:
    name: str  # attribute name on the window's ``actions`` dict
    text: str
    keys: tuple[str, ...]  # first = shown in menus; all are active
    menu: str
    toolbar: str = ""  # short label when the action is on the toolbar
    checkable: bool = False


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_folder", "Open folder…", ("Ctrl+O",), "File", toolbar="Open"),
    ActionSpec("open_files", "Open files, DICOMDIR or manifest CSV…", ("Ctrl+Shift+O",), "File"),
    ActionSpec(
        "export_report", "Export patient report (PDF)…", ("Ctrl+E",), "File", toolbar="Report"
    ),
    ActionSpec("export_csv", "Export predictions (CSV)…", ("Ctrl+Shift+E",), "File"),
    ActionSpec("quit", "Quit", ("Ctrl+Q",), "File"),
    ActionSpec("zoom_in", "Zoom in", ("Z", "+"), "View", toolbar="Zoom"),
    ActionSpec("zoom_out", "Zoom out", ("Shift+Z", "-"), "View"),
    ActionSpec("fit", "Fit to window", ("=",), "View", toolbar="Fit"),
    ActionSpec(
        "reset", "Reset view (zoom, pan, window, orientation)", ("Space",), "View", toolbar="Reset"
    ),
    ActionSpec("rotate", "Rotate 90°", ("R",), "View", toolbar="Rotate"),
    ActionSpec("flip_h", "Flip horizontally", ("F",), "View"),
    ActionSpec("flip_v", "Flip vertically", ("Shift+F",), "View"),
    ActionSpec("invert", "Invert grey levels", ("I",), "View", toolbar="Invert"),
    ActionSpec("brighter", "Brighter", ("B",), "View"),
    ActionSpec("darker", "Darker", ("Shift+B",), "View"),
    ActionSpec("more_contrast", "More contrast", ("K",), "View"),
    ActionSpec("less_contrast", "Less contrast", ("Shift+K",), "View"),
    ActionSpec("heatmap", "Heatmap overlay", ("H",), "View", toolbar="Heatmap", checkable=True),
    ActionSpec(
        "deidentify", "De-identified display", ("D",), "View", toolbar="De-identify", checkable=True
    ),
    ActionSpec("prev_image", "Previous image", ("Left", "Up"), "Navigate"),
    ActionSpec("next_image", "Next image", ("Right", "Down"), "Navigate"),
    ActionSpec("prev_patient", "Previous patient", ("PgUp",), "Navigate"),
    ActionSpec("next_patient", "Next patient", ("PgDown",), "Navigate"),
    ActionSpec("cine", "Play / pause cine", ("C",), "Navigate", checkable=True),
    ActionSpec("prev_frame", "Previous cine frame", (",",), "Navigate"),
    ActionSpec("next_frame", "Next cine frame", (".",), "Navigate"),
    ActionSpec("load_model", "Load model bundle…", ("Ctrl+M",), "Model"),
    ActionSpec("cancel", "Stop analysis", ("Esc",), "Model"),
    ActionSpec("resume", "Resume analysis", ("Ctrl+R",), "Model"),
    ActionSpec("shortcuts", "Keyboard shortcuts", ("F1",), "Help"),
    ActionSpec("about", "About CNSight / model card…", (), "Help"),
)
MENUS = ("File", "View", "Navigate", "Model", "Help")
#: Model > Device entries (a device without a text here is listed by its name).
DEVICE_MENU_TEXT = {"auto": "Auto (GPU if present)", "cpu": "CPU", "cuda": "CUDA GPU"}


def viewing_handlers(
    state: ViewerState, vm: CohortViewModel, fit_scale: Callable[[], float]
) -> dict[str, Callable]:
    """Handlers of the image-viewing actions, shared by the main and the reading window
    (``state``: the viewer state, ``vm``: the study view-model, ``fit_scale``: the viewer's)."""
    return {
        "zoom_in": lambda: state.zoom_in(fit_scale()),
        "zoom_out": lambda: state.zoom_out(fit_scale()),
        "fit": state.fit, "reset": state.reset, "rotate": state.rotate,
        "flip_h": state.flip_horizontal, "flip_v": state.flip_vertical, "invert": state.toggle_invert,
        "brighter": lambda: state.set_brightness(state.brightness + 10),
        "darker": lambda: state.set_brightness(state.brightness - 10),
        "more_contrast": lambda: state.set_contrast(state.contrast + 10),
        "less_contrast": lambda: state.set_contrast(state.contrast - 10),
        "prev_image": lambda: vm.step_image(-1), "next_image": lambda: vm.step_image(1),
        "cine": state.set_cine_playing,
        "prev_frame": lambda: vm.select_frame(vm.frame_index - 1),
        "next_frame": lambda: vm.select_frame(vm.frame_index + 1),
    }  # fmt: skip


def keep_checked(action: QAction, on: bool) -> None:
    """Show ``on`` on a checkable action without running its handler: the state changed
    elsewhere (a control bar, a setting), and the action only follows it."""
    if action.isChecked() != on:
        action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(False)


def follow_viewer_state(actions: dict[str, QAction], state: ViewerState) -> None:
    """The Heatmap and Cine actions show the viewer state (``state``), however it changes."""
    state.heatmap_changed.connect(lambda: keep_checked(actions["heatmap"], state.heatmap_on))
    state.cine_changed.connect(lambda: keep_checked(actions["cine"], state.cine_playing))


def shortcut_rows(
    specs: tuple[ActionSpec, ...] = ACTIONS, menu_order: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """(keys, description) for Help > Shortcuts, in menu order: the order of ``specs``, or,
    when ``menu_order`` names the menus (``menu_names`` of a window whose menus come from more
    than one table, e.g. the PACS menu's), grouped by menu in that order."""
    if menu_order:
        rank = {name: i for i, name in enumerate(menu_order)}
        specs = tuple(sorted(specs, key=lambda s: rank.get(s.menu, len(rank))))  # stable
    return [
        (
            " / ".join(
                QKeySequence(k).toString(QKeySequence.SequenceFormat.NativeText) for k in s.keys
            ),
            s.text,
        )
        for s in specs
        if s.keys
    ]


def menu_names(window: QMainWindow) -> tuple[str, ...]:
    """The window's menus as its menu bar shows them, left to right ("&File" -> "File")."""
    return tuple(a.text().replace("&", "") for a in window.menuBar().actions())


def build_actions(
    window: QMainWindow,
    handlers: dict[str, Callable],
    specs: tuple[ActionSpec, ...] = ACTIONS,
    menu_names: tuple[str, ...] = MENUS,
) -> dict[str, QAction]:
    """Create every action (window-wide shortcuts), connect its handler, fill menus/toolbar.

    ``specs``/``menu_names``: another window's table (the reader-study reading window uses a
    subset); the Device menu is added when there is a ``device`` handler.
    """
    actions: dict[str, QAction] = {}
    menus: dict[str, QMenu] = {name: window.menuBar().addMenu(f"&{name}") for name in menu_names}
    toolbar = QToolBar("Tools", window)
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    window.addToolBar(toolbar)
    for spec in specs:
        action = QAction(spec.text, window)
        action.setObjectName(spec.name)
        action.setShortcuts([QKeySequence(k) for k in spec.keys])
        action.setCheckable(spec.checkable)
        handler = handlers[spec.name]
        if spec.checkable:
            action.toggled.connect(handler)
        else:
            action.triggered.connect(lambda _checked=False, h=handler: h())
        window.addAction(action)  # shortcuts work wherever the focus is in the window
        menus[spec.menu].addAction(action)
        if spec.toolbar:
            action.setIconText(spec.toolbar)
            toolbar.addAction(action)
        actions[spec.name] = action
        if spec.name == "export_csv":
            menus["File"].addSeparator()
            actions["_recent_menu"] = menus["File"].addMenu("Recent studies")
            menus["File"].addSeparator()
    if "device" in handlers:
        _choice_menu(window, menus["Model"].addMenu("Device"), "device",
                     {d: DEVICE_MENU_TEXT.get(d, d) for d in DEVICES},
                     handlers["device"], actions)  # fmt: skip
    if "backend" in handlers:
        _choice_menu(window, menus["Model"].addMenu("Inference backend"), "backend",
                     {name: f"{name}: {what}" for name, what in BACKENDS.items()},
                     handlers["backend"], actions)  # fmt: skip
    return actions


def _choice_menu(
    window: QMainWindow, menu: QMenu, prefix: str, texts: dict[str, str],
    on_choice: Callable[[str], None], actions: dict,
) -> None:  # fmt: skip
    """Exclusive checkable entries, one per key of ``texts``, as ``actions[prefix_key]``."""
    group = QActionGroup(window)
    group.setExclusive(True)
    for key, text in texts.items():
        action = QAction(text, window)
        action.setCheckable(True)
        action.setData(key)
        action.triggered.connect(lambda _checked=False, k=key: on_choice(k))
        group.addAction(action)
        menu.addAction(action)
        actions[f"{prefix}_{key}"] = action
