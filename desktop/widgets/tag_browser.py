"""DICOM tag browser: the current image's header as a tree (sequences expandable) with tag
numbers, keywords, VR and values; a search box; copy value (button, Ctrl+C, context menu).
De-identified mode hides every identifying element there too."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import ImageReadError

from ..tag_tree import TagNode, deidentified, filtered, read_tag_tree
from ..viewmodels.cohort import CohortViewModel

VALUE_ROLE = Qt.ItemDataRole.UserRole
COLUMNS = ("Tag", "Keyword", "VR", "Value")
MAX_SHOWN_CHARS = 200


class TagTree(QWidget):
    def __init__(self, vm: CohortViewModel, parent=None):
        super().__init__(parent)
        self.vm = vm
        self.setObjectName("tagView")
        self.search = QLineEdit()
        self.search.setObjectName("tagSearch")
        self.search.setPlaceholderText("Search tag, keyword or value…")
        self.search.setClearButtonEnabled(True)
        self.copy_button = QPushButton("Copy value")
        self.copy_button.setObjectName("copyTagValue")
        self.copy_button.setEnabled(False)
        self.tree = QTreeWidget()
        self.tree.setObjectName("tagTree")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header = self.tree.header()
        header.setStretchLastSection(True)
        # Tag and VR as wide as they need (nested items included); the keyword gets a share
        # and elides in the middle; the value takes the rest.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setIndentation(12)
        self.note = QLabel()
        self.note.setObjectName("muted")
        self.note.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.copy_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(top)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.note)
        self._cache: tuple[str, tuple[TagNode, ...] | str] | None = None  # (path, tree|error)
        self._shown: tuple | None = None
        self.search.textChanged.connect(lambda _t: self.refresh(force=True))
        self.copy_button.clicked.connect(self.copy_value)
        self.tree.currentItemChanged.connect(
            lambda item, _prev: self.copy_button.setEnabled(item is not None)
        )
        self.tree.customContextMenuRequested.connect(self._menu)
        QShortcut(QKeySequence.StandardKey.Copy, self.tree, activated=self.copy_value)
        vm.current_changed.connect(self.refresh)
        vm.pixels_changed.connect(lambda _key: self.refresh())
        vm.deidentified_changed.connect(lambda _on: self.refresh(force=True))
        self.refresh()

    # ----- data ------------------------------------------------------------------------------
    def _header_tree(self) -> tuple[TagNode, ...] | str:
        """The current file's tree, or a sentence saying why there is none."""
        image = self.vm.current_image
        if image is None:
            return ""
        if not image.header:
            return "Not a DICOM file: no tags to show."
        path = str(image.ref.path)
        if self._cache is None or self._cache[0] != path:  # frames of a cine share a header
            try:
                self._cache = (path, read_tag_tree(image.ref.path))
            except ImageReadError as exc:
                self._cache = (path, f"The header cannot be read again: {exc.reason}")
        return self._cache[1]

    def refresh(self, force: bool = False) -> None:
        tree = self._header_tree()
        key = (id(tree), self.vm.deidentified, self.search.text())
        if key == self._shown and not force:
            return
        self._shown = key
        self.tree.clear()
        if isinstance(tree, str):
            self.note.setText(tree)
            return
        shown = deidentified(tree) if self.vm.deidentified else tree
        hidden = _count(tree) - _count(shown)
        shown = filtered(shown, self.search.text())
        for node in shown:
            self.tree.addTopLevelItem(_item(node))
        if self.search.text().strip():
            self.tree.expandAll()
        self._fit_keyword_column()
        notes = []
        if self.vm.deidentified:
            notes.append(f"De-identified: {hidden} identifying or private elements hidden.")
        if self.search.text().strip() and not shown:
            notes.append("No element matches.")
        self.note.setText(" ".join(notes))

    def _fit_keyword_column(self) -> None:
        wanted = self.tree.sizeHintForColumn(1) + 12
        self.tree.setColumnWidth(1, max(80, min(wanted, int(self.width() * 0.36))))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_keyword_column()

    # ----- copy ------------------------------------------------------------------------------
    def copy_value(self) -> str:
        item = self.tree.currentItem()
        if item is None:
            return ""
        value = item.data(3, VALUE_ROLE) or ""
        QGuiApplication.clipboard().setText(value)
        return value

    def _menu(self, pos) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        self.tree.setCurrentItem(item)
        menu = QMenu(self)
        menu.addAction("Copy value", self.copy_value)
        menu.addAction(
            "Copy tag and keyword",
            lambda: QGuiApplication.clipboard().setText(f"{item.text(0)} {item.text(1)}"),
        )
        menu.exec(self.tree.viewport().mapToGlobal(pos))

    # ----- for tests and the old flat view's callers -----------------------------------------
    def tags(self) -> dict[str, str]:
        """Top-level keyword -> value, as shown."""
        return {
            self.tree.topLevelItem(i).text(1): self.tree.topLevelItem(i).data(3, VALUE_ROLE)
            for i in range(self.tree.topLevelItemCount())
        }


def _count(tree: tuple[TagNode, ...]) -> int:
    return sum(1 + _count(n.children) for n in tree if n.tag) + sum(
        _count(n.children) for n in tree if not n.tag
    )


def _item(node: TagNode) -> QTreeWidgetItem:
    shown = node.value if len(node.value) <= MAX_SHOWN_CHARS else node.value[:197] + "..."
    item = QTreeWidgetItem([node.tag, node.keyword if node.tag else node.name, node.vr, shown])
    item.setData(3, VALUE_ROLE, node.value)
    item.setToolTip(1, node.name)
    item.setToolTip(3, node.value[:1000])
    for child in node.children:
        item.addChild(_item(child))
    return item
