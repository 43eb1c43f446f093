"""The browser's results table: one row per study the PACS found (``StudyRecord``)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core.pacs.query import StudyRecord

COLUMNS = (
    "Patient name",
    "Patient ID",
    "Study date",
    "Modalities",
    "Accession",
    "Description",
    "Images",
)


def _date(value: str) -> str:
    """YYYYMMDD as YYYY-MM-DD (anything else as sent)."""
    return (
        f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() else value
    )


def _cells(study: StudyRecord) -> tuple[str, ...]:
    return (
        study.patient_name.replace("^", " ").strip(),
        study.patient_id,
        _date(study.study_date),
        study.modalities,
        study.accession,
        study.description,
        "" if study.n_instances is None else str(study.n_instances),
    )


class StudyTable(QTableWidget):
    def __init__(self):
        super().__init__(0, len(COLUMNS))
        self.setObjectName("studyTable")
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Description"), QHeaderView.ResizeMode.Stretch)
        self.studies: list[StudyRecord] = []

    def show_studies(self, studies: Sequence[StudyRecord]) -> None:
        """The studies newest first (then by patient), the first row selected."""
        self.studies = sorted(studies, key=lambda s: (s.study_date, s.study_time), reverse=True)
        self.setRowCount(len(self.studies))
        for row, study in enumerate(self.studies):
            for col, text in enumerate(_cells(study)):
                item = QTableWidgetItem(text)
                item.setToolTip(f"Study Instance UID {study.study_uid}")
                if col == len(COLUMNS) - 1:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.setItem(row, col, item)
        if self.studies:
            self.selectRow(0)

    def selected_study(self) -> StudyRecord | None:
        rows = self.selectionModel().selectedRows()
        return self.studies[rows[0].row()] if rows else None
