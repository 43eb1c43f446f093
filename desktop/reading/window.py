"""The reader-study reading window: one case at a time, its images, and the decision.

Layout: research-use banner; the case header ("Case C003 · 2 of 5 · unaided reading · block 1
of 2"); then a page - the case (thumbnails | the viewer pane the main window uses too: viewer,
cine and heatmap bars | AI results and the decision), "preparing", or a message (washout, study
complete, an error). The window shows case ids only: the view-model is de-identified and names
the patient by its case id, the DICOM tag view and the error list (file paths) are not built,
and the title has no path.

Blinding: the AI widgets (results panel, heatmap bar, heatmap action, the thumbnails' AI text)
are shown and enabled only while an aided case is on screen - decided from the case's
treatment, never from whether predictions happen to exist; the controller keeps the model away
from unaided cases.

While a case loads the decision controls (class keys, Submit) are disabled and the page says
so; a key pressed meanwhile is answered on that page, never dropped without a word. A decision
whose class contradicts its confidence asks to be confirmed. Sequential design: the final read
starts from the reader's first read, shown beside the AI; practice cases show the truth after
the decision.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.readerstudy import SessionState
from core.taxonomy import display_name

from ..dialogs import ShortcutsDialog
from ..viewer_pane import ViewerPane
from ..viewmodels.decision import DecisionState
from ..widgets.banner import ResearchBanner
from ..widgets.decision_panel import DecisionPanel
from ..widgets.results_panel import ResultsPanel
from ..widgets.thumbnails import ThumbnailStrip
from ..window_actions import (
    ACTIONS,
    ActionSpec,
    build_actions,
    follow_viewer_state,
    shortcut_rows,
    viewing_handlers,
)
from .controller import ReadingController, contradiction

log = logging.getLogger(f"cnsight.{__name__}")

#: The main window's viewing actions that make sense for one case (no opening, exporting,
#: patient navigation, de-identify toggle, model or device changes), plus Submit and Quit.
_VIEW_ACTIONS = (
    "zoom_in", "zoom_out", "fit", "reset", "rotate", "flip_h", "flip_v", "invert", "brighter",
    "darker", "more_contrast", "less_contrast", "heatmap", "prev_image", "next_image", "cine",
    "prev_frame", "next_frame", "shortcuts",
)  # fmt: skip
READING_ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("submit", "Submit the decision and go to the next case",
               ("Ctrl+Return", "Ctrl+Enter"), "Reading", toolbar="Submit"),
    ActionSpec("quit", "Quit (an undecided case comes again next time)", ("Ctrl+Q",), "Reading"),
    *(a for a in ACTIONS if a.name in _VIEW_ACTIONS),
)  # fmt: skip
READING_MENUS = ("Reading", "View", "Navigate", "Help")


def class_actions(class_names) -> tuple[ActionSpec, ...]:
    """Keys 1-9 choose the class (a focused rating box takes digits itself, so typing a rating
    never changes the class)."""
    return tuple(
        ActionSpec(f"class_{i + 1}", f"Class: {display_name(name)}", (str(i + 1),), "Reading")
        for i, name in enumerate(class_names[:9])
    )


class ReadingWindow(QMainWindow):
    def __init__(self, controller: ReadingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller, self.vm = controller, controller.vm
        self.decision = DecisionState(self)
        self.setObjectName("readingWindow")
        title = controller.protocol.title or f"study {controller.protocol.study_id}"
        self.setWindowTitle(f"CNSight — reader study: {title} — reader {controller.session.reader}")
        self.resize(1440, 900)
        self._build()
        self.specs = READING_ACTIONS + class_actions(controller.protocol.class_names)
        self.actions_by_name = build_actions(self, self._handlers(), self.specs, READING_MENUS)
        self.loading = True  # until the first case is on screen
        self._loading_what = "Preparing…"
        self.confirm_box: QMessageBox | None = None  # the last "check your decision" question
        self._connect()
        self._show_ai(False)
        self._set_loading(True)
        self._update_progress()

    # ----- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = ResearchBanner()  # above every page, the messages too: not the pane's
        self.header = QLabel(f"Reader {self.controller.session.reader}")
        self.header.setObjectName("caseHeader")
        self.header.setStyleSheet("font-size: 16px; font-weight: 700; padding: 6px 10px;")
        self.pages = QStackedWidget()
        self.case_page = self._build_case_page()
        self.loading_page = QLabel("Preparing…")
        self.loading_page.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading_page.setObjectName("loadingPage")
        self.message_page = self._build_message_page()
        for page in (self.case_page, self.loading_page, self.message_page):
            self.pages.addWidget(page)
        self.pages.setCurrentWidget(self.loading_page)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.feedback = QLabel()  # practice cases: the truth, after the decision
        self.feedback.setObjectName("practiceFeedback")
        self.feedback.setWordWrap(True)
        self.feedback.setStyleSheet("padding: 4px 10px; background: #2d4a2d;")
        self.feedback.hide()
        lay.addWidget(self.banner)
        lay.addWidget(self.header)
        lay.addWidget(self.feedback)
        lay.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.progress_label = QLabel()
        self.model_label = QLabel()
        self.statusBar().addWidget(self.progress_label, 1)
        self.statusBar().addPermanentWidget(self.model_label)

    def _build_case_page(self) -> QWidget:
        self.thumbnails = ThumbnailStrip(self.vm)
        self.thumbnails.setMinimumWidth(220)
        self.pane = ViewerPane(self.vm, self.controller.pipeline, with_banner=False)
        self.pane.viewer.set_placeholder("")
        self.state = self.pane.state
        self.results = ResultsPanel(self.vm)
        self.ai_panel = QScrollArea()
        self.ai_panel.setObjectName("aiPanel")
        self.ai_panel.setWidget(self.results)
        self.ai_panel.setWidgetResizable(True)
        self.ai_panel.setFrameShape(QFrame.Shape.NoFrame)
        self.ai_panel.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.decision_panel = DecisionPanel(self.decision)
        self.read_note = QLabel()  # which read this is (sequential design), the first read's answer
        self.read_note.setObjectName("readNote")
        self.read_note.setWordWrap(True)
        self.read_note.setContentsMargins(12, 6, 12, 0)
        self.read_note.hide()
        self.unaided_note = QLabel(
            "Unaided reading: no AI output is computed or shown for the cases of this block."
        )
        self.unaided_note.setObjectName("muted")
        self.unaided_note.setWordWrap(True)
        self.unaided_note.setContentsMargins(12, 10, 12, 10)
        right = QWidget()
        right.setMinimumWidth(340)
        right_lay = QVBoxLayout(right)
        right_lay.setContentsMargins(0, 0, 0, 0)
        right_lay.addWidget(self.ai_panel, 1)
        right_lay.addWidget(self.unaided_note, 0, Qt.AlignmentFlag.AlignTop)
        right_lay.addStretch(0)
        right_lay.addWidget(self.read_note, 0)
        right_lay.addWidget(self.decision_panel, 0)
        split = QSplitter(Qt.Orientation.Horizontal)
        for widget in (self.thumbnails, self.pane, right):
            split.addWidget(widget)
        split.setStretchFactor(1, 1)
        split.setSizes([240, 820, 380])
        return split

    def _build_message_page(self) -> QWidget:
        page = QWidget()
        page.setObjectName("messagePage")
        self.message_title = QLabel()
        self.message_title.setObjectName("messageTitle")
        self.message_title.setStyleSheet("font-size: 20px; font-weight: 700;")
        self.message_text = QLabel()
        self.message_text.setObjectName("messageText")
        self.message_text.setWordWrap(True)
        # A word-wrapped label centred in a layout gets no width of its own: give it one.
        self.message_text.setMinimumWidth(640)
        self.message_text.setMaximumWidth(760)
        self.retry_button = QPushButton("Try again")
        self.retry_button.clicked.connect(self.controller.retry)
        self.close_button = QPushButton("Quit")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.close_button)
        buttons.addStretch(1)
        lay = QVBoxLayout(page)
        lay.addStretch(1)
        for label in (self.message_title, self.message_text):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            row = QHBoxLayout()  # centred by stretches: an aligned wrapped label gets clipped
            row.addStretch(1)
            row.addWidget(label)
            row.addStretch(1)
            lay.addLayout(row)
        lay.addSpacing(12)
        lay.addLayout(buttons)
        lay.addStretch(2)
        return page

    def _handlers(self) -> dict:
        st, vm = self.state, self.vm
        return viewing_handlers(st, vm, self.pane.viewer.fit_scale) | {
            "submit": self.submit, "quit": self.close,
            "heatmap": self._set_heatmap,
            "shortcuts": self.show_shortcuts,
        } | {
            f"class_{i + 1}": (lambda n=name: self._choose_class(n))
            for i, name in enumerate(self.controller.protocol.class_names[:9])
        }  # fmt: skip

    def _connect(self) -> None:
        c, a = self.controller, self.actions_by_name
        c.case_loading.connect(self._on_case_loading)
        c.case_ready.connect(self._on_case_ready)
        c.message.connect(self._on_message)
        c.decided.connect(self._on_decided)
        c.practice_feedback.connect(self._on_practice_feedback)
        c.pipeline.model_changed.connect(lambda _info: self._update_model_label())
        self.decision_panel.submit_requested.connect(self.submit)
        a["submit"].setEnabled(False)
        self.decision.changed.connect(lambda: a["submit"].setEnabled(self.decision.can_submit))
        self.results.driver_clicked.connect(self.vm.select_image)
        follow_viewer_state(a, self.state)

    # ----- AI visibility (blinding) ------------------------------------------------------------
    def _show_ai(self, on: bool) -> None:
        """Everything that shows AI output, on only while an aided case is on screen."""
        if not on:
            self.state.set_heatmap_on(False)
        for widget in (self.ai_panel, self.pane.heatmap_controls):
            widget.setVisible(on)
            widget.setEnabled(on)
        self.unaided_note.setVisible(not on)
        self._update_model_label()
        heatmap = self.actions_by_name["heatmap"]
        heatmap.setEnabled(on)
        heatmap.setVisible(on)
        self.thumbnails.set_show_predictions(on)

    def _update_model_label(self) -> None:
        """The study's model is named in the status bar during aided reads only."""
        info = self.controller.model_service.model
        shown = info is not None and self.controller.ai_allowed
        self.model_label.setText(
            f"AI model: {info.card.name} ({info.card.weights_sha256[:12]}) · {info.device}"
            if shown
            else ""
        )

    def _set_heatmap(self, on: bool) -> None:
        if on and not self.controller.ai_allowed:  # belt and braces: the action is disabled
            on = False
        self.state.set_heatmap_on(on)

    # ----- reactions ---------------------------------------------------------------------------
    def _header_text(self, s: SessionState) -> str:
        reading = {
            "first": "first read, without AI",
            "final": "final read, with AI",
        }.get(s.read, f"{s.treatment} reading")
        practice = "Practice  ·  " if s.practice else ""
        return (
            f"{practice}Case {s.case.case_id}  ·  {s.position} of {s.block_size}  ·  {reading}"
            f"  ·  block {s.block_index + 1} of {s.n_blocks}"
        )

    LOADING_NOTE = "The decision controls open when the case is on screen."

    def _set_loading(self, on: bool) -> None:
        """While a case loads nothing can be decided: the class keys and Submit are disabled,
        and the loading page says so (keys pressed meanwhile are answered in keyPressEvent)."""
        self.loading = on
        self.decision_panel.setEnabled(not on)
        for name, action in self.actions_by_name.items():
            if name.startswith("class_"):
                action.setEnabled(not on)
        if on:
            self.actions_by_name["submit"].setEnabled(False)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, text = event.key(), event.text()
        decision_key = text.isdigit() or key in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if self.loading and decision_key and self.pages.currentWidget() is self.loading_page:
            name = "Ctrl+Enter" if not text.isdigit() else text
            self.loading_page.setText(
                f"{self._loading_what}\n\nStill loading: the key {name} was not taken. "
                f"{self.LOADING_NOTE}"
            )
            event.accept()
            return
        super().keyPressEvent(event)

    def _on_case_loading(self, state: SessionState, what: str) -> None:
        self._show_ai(False)  # until this case is on screen and known to be aided
        self.state.set_cine_playing(False)
        self.decision.reset(self.controller.protocol.class_names)
        self._set_loading(True)
        self.read_note.hide()
        self.header.setText(self._header_text(state))
        self._loading_what = what
        self.loading_page.setText(f"{what}\n\n{self.LOADING_NOTE}")
        self.pages.setCurrentWidget(self.loading_page)

    def _on_case_ready(self, state: SessionState) -> None:
        self.state.reset()  # every case starts fitted, default window, no heatmap
        self.state.set_heatmap_on(False)
        self._show_ai(state.ai_allowed)
        self.header.setText(self._header_text(state))
        self._set_loading(False)
        self._show_read_note(state)
        self.pages.setCurrentWidget(self.case_page)
        self.pane.viewer.setFocus()
        self._update_progress()

    def _show_read_note(self, state: SessionState) -> None:
        """Sequential design: the first read is made without AI; the final read starts from
        the first read's answer, which the reader keeps or changes with the AI on screen."""
        if state.read == "first":
            self.read_note.setText("First read, without AI: the AI output comes after you submit.")
        elif state.read == "final" and state.first_decision:
            first = state.first_decision
            self.decision.set_class(first["class_call"])
            self.decision.set_rating(int(round(first["rating"])))
            self.read_note.setText(
                f"Final read, with AI. Your first read: {display_name(first['class_call'])}, "
                f"confidence {first['rating']:g}. Keep it or change it, then submit."
            )
        self.read_note.setVisible(state.read in ("first", "final"))

    def _on_decided(self, _state: SessionState) -> None:
        self.feedback.hide()  # a practice answer stays up until the next decision
        self._update_progress()

    def _on_practice_feedback(self, state: SessionState, truth: str, called: str) -> None:
        verdict = "right" if truth == called else "not the truth"
        self.feedback.setText(
            f"Practice case {state.case.case_id}: the truth is {display_name(truth)}. You called "
            f"{display_name(called)} ({verdict}). Practice decisions are not analysed."
        )
        self.feedback.show()

    def _on_message(self, kind: str, title: str, text: str) -> None:
        self._show_ai(False)
        self.loading = False  # a message page: nothing is loading (and nothing to decide)
        self.read_note.hide()
        self.decision.reset(())
        self.actions_by_name["submit"].setEnabled(False)
        self.header.setText(f"Reader {self.controller.session.reader}")
        self.message_title.setText(title)
        self.message_text.setText(text)
        self.message_page.setProperty("kind", kind)
        self.retry_button.setVisible(kind == "error")
        self.pages.setCurrentWidget(self.message_page)
        self._update_progress()

    def _update_progress(self) -> None:
        try:
            decided, planned = self.controller.progress()
        except Exception as exc:  # noqa: BLE001 - a status line must never take the window down
            log.warning("progress unavailable: %s", exc)
            return
        self.progress_label.setText(
            f"Reader {self.controller.session.reader}  ·  {decided} of {planned} decisions recorded"
        )

    # ----- actions ---------------------------------------------------------------------------
    def submit(self) -> None:
        """Commit the decision (durable before anything else happens), then the next case."""
        d = self.decision
        if self.pages.currentWidget() is not self.case_page or not d.can_submit:
            return
        problem = contradiction(d.class_call, d.rating, self.controller.protocol.normal_class)
        if problem and not self._confirm(problem):
            return  # the reader corrects the class or the confidence first
        d.set_busy(True)
        error = self.controller.submit(d.class_call, d.rating)
        if error:
            d.set_busy(False, error)  # stay on the case with the reader's answer

    def _confirm(self, problem: str) -> bool:
        """Ask whether a self-contradicting decision is meant (default: No, go back)."""
        box = QMessageBox(
            QMessageBox.Icon.Question, "Check your decision",
            f"{problem}\n\nSubmit it as it is?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self,
        )  # fmt: skip
        box.setDefaultButton(QMessageBox.StandardButton.No)
        self.confirm_box = box
        return box.exec() == QMessageBox.StandardButton.Yes

    def _choose_class(self, name: str) -> None:
        if self.pages.currentWidget() is self.case_page and not self.decision.busy:
            self.decision.set_class(name)

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(shortcut_rows(self.specs), self)
        dialog.show()
        return dialog

    def closeEvent(self, event: QCloseEvent) -> None:
        # No confirmation: every submitted decision is already committed; an undecided case
        # simply comes again next time (the core session resumes at the first undecided case).
        self.controller.shutdown()
        super().closeEvent(event)
