"""The DICOM header as a tree for the tag browser: every element with its tag number, keyword,
VR and value, sequences as items holding their own elements. Plain data (no Qt).

Read with core's bounded header reader (``core.imaging.dicom_header.read_dicom_header``: no
pixel data, large values deferred and never read here). De-identified, every element that
may name a person, a place, a date or an identifier (``desktop.deid.is_identifying``) is left
out, at any depth, and so are private tags.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pydicom.datadict import dictionary_description
from pydicom.dataset import Dataset

from core.imaging.dicom_header import read_dicom_header
from core.imaging.dicom_info import display_value
from core.imaging.limits import DEFER_SIZE

from .deid import is_identifying

log = logging.getLogger(f"cnsight.{__name__}")

#: Longest value kept for copying (the tree shows it on one line, elided).
MAX_COPY_CHARS = 4096


@dataclass(frozen=True)
class TagNode:
    tag: str  # "(0018,6011)"; "" for a sequence item
    keyword: str  # "SequenceOfUltrasoundRegions"; "(0019,1001)" when the tag has none
    name: str  # "Sequence of Ultrasound Regions", "Item 1", "Private tag"
    vr: str
    value: str
    children: tuple[TagNode, ...] = ()
    private: bool = False

    def matches(self, text: str) -> bool:
        t = text.casefold()
        return any(t in s.casefold() for s in (self.tag, self.keyword, self.name, self.value))

    def find(self, keyword: str) -> TagNode | None:
        """The first node with ``keyword`` in this subtree (depth first)."""
        if self.keyword == keyword:
            return self
        for child in self.children:
            found = child.find(keyword)
            if found is not None:
                return found
        return None


def _tag_text(tag) -> str:
    return f"({tag.group:04X},{tag.element:04X})"


def _value_text(elem) -> str:
    """The value for copying: ``display_value`` without its 200-character cut."""
    try:
        value = elem.value
        if elem.VR != "SQ" and isinstance(value, str) and len(value) <= MAX_COPY_CHARS:
            return value.replace("\x00", "").strip()
    except Exception:  # noqa: BLE001 - display_value says "<unreadable>" for these
        pass
    return display_value(elem)


def _node(ds: Dataset, tag) -> TagNode:
    raw = ds.get_item(tag)
    private = tag.is_private
    vr = str(getattr(raw, "VR", "") or "")
    if getattr(raw, "value", "") is None and getattr(raw, "length", 0) > DEFER_SIZE:
        return TagNode(_tag_text(tag), _keyword(ds, tag), _name(tag), vr,
                       f"<{raw.length} bytes, not read>", private=private)  # fmt: skip
    elem = ds[tag]
    vr = str(elem.VR)
    children: tuple[TagNode, ...] = ()
    if vr == "SQ":
        items = elem.value or []
        children = tuple(
            TagNode("", "", f"Item {i + 1}", "", f"{len(item)} elements", nodes(item))
            for i, item in enumerate(items)
        )
    return TagNode(
        _tag_text(tag), elem.keyword or _tag_text(tag), _name(tag), vr, _value_text(elem),
        children, private,
    )  # fmt: skip


def _keyword(ds: Dataset, tag) -> str:
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(tag) or _tag_text(tag)


def _name(tag) -> str:
    if tag.is_private:
        return "Private tag"
    try:
        return dictionary_description(tag)
    except KeyError:
        return "Unknown tag"


def nodes(ds: Dataset) -> tuple[TagNode, ...]:
    out = []
    for tag in list(ds.keys()):  # tags first: looking at an element may read it
        if tag.group == 0x7FE0:
            continue  # pixel data
        try:
            out.append(_node(ds, tag))
        except Exception as exc:  # noqa: BLE001 - one malformed element must not hide the rest
            log.debug("unreadable element %s: %s", tag, exc)
            out.append(TagNode(_tag_text(tag), _tag_text(tag), _name(tag), "", "<unreadable>"))
    return tuple(out)


def tree_of(ds: Dataset) -> tuple[TagNode, ...]:
    """File meta information (group 0002) first, then the data set."""
    meta = getattr(ds, "file_meta", None)
    return (nodes(meta) if meta is not None else ()) + nodes(ds)


def read_tag_tree(path: Path) -> tuple[TagNode, ...]:
    """The header of the DICOM file at ``path`` (ImageReadError when it cannot be read)."""
    return tree_of(read_dicom_header(Path(path)).ds)


def deidentified(tree: tuple[TagNode, ...]) -> tuple[TagNode, ...]:
    """The tree without identifying and private elements, at every depth."""
    out = []
    for node in tree:
        if node.tag and (node.private or is_identifying(node.keyword)):
            continue
        out.append(
            TagNode(
                node.tag,
                node.keyword,
                node.name,
                node.vr,
                node.value,
                deidentified(node.children),
                node.private,
            )  # fmt: skip
        )
    return tuple(out)


def filtered(tree: tuple[TagNode, ...], text: str) -> tuple[TagNode, ...]:
    """Nodes matching ``text`` (tag, keyword, name or value), with the sequences and items
    that lead to them; a matching sequence keeps all its items."""
    if not text.strip():
        return tree
    out = []
    for node in tree:
        if node.matches(text):
            out.append(node)
            continue
        kids = filtered(node.children, text)
        if kids:
            out.append(TagNode(node.tag, node.keyword, node.name, node.vr, node.value, kids,
                               node.private))  # fmt: skip
    return tuple(out)
