"""DecisionState: the reader's decision on the case on screen (reader-study reading mode).

Rules only, no widgets: a decision is the class and the confidence that the case is abnormal
(0-100). The confidence starts *unset* - not pre-set to 50 - so every rating is one the reader
gave (a pre-set value that is submitted unchanged would anchor ratings at 50 and could not be
told apart from a deliberate 50). Submit is possible once both are given and no submit is in
progress.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class DecisionState(QObject):
    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.class_names: tuple[str, ...] = ()
        self.class_call: str | None = None
        self.rating: int | None = None  # None = not given yet
        self.busy = False  # a submit is being recorded
        self.error = ""  # why the last submit was refused (shown until the next change)

    def reset(self, class_names) -> None:
        """A new case: nothing chosen."""
        self.class_names = tuple(class_names)
        self.class_call, self.rating, self.busy, self.error = None, None, False, ""
        self.changed.emit()

    def set_class(self, name: str | None) -> None:
        if name is not None and name not in self.class_names:
            raise ValueError(f"unknown class {name!r}")
        if name != self.class_call:
            self.class_call, self.error = name, ""
            self.changed.emit()

    def set_rating(self, value: int | None) -> None:
        value = None if value is None else max(0, min(100, int(value)))
        if value != self.rating:
            self.rating, self.error = value, ""
            self.changed.emit()

    def set_busy(self, busy: bool, error: str = "") -> None:
        self.busy, self.error = busy, error
        self.changed.emit()

    CHOOSE_CLASS = "Choose a class."
    SET_RATING = "Set your confidence that the case is abnormal (move the slider or type it)."

    def missing(self) -> str:
        """What still has to be given before Submit ("" when ready)."""
        if self.class_call is None:
            return self.CHOOSE_CLASS
        if self.rating is None:
            return self.SET_RATING
        return ""

    @classmethod
    def hints(cls) -> tuple[str, ...]:
        """Every text ``missing`` can give (the panel keeps room for the longest)."""
        return (cls.CHOOSE_CLASS, cls.SET_RATING)

    @property
    def can_submit(self) -> bool:
        return not self.busy and not self.missing()
