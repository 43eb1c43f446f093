"""What the app shows beside the pixels: tag view, ultrasound region, cine timing, scope warning."""

from __future__ import annotations

import logging

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from core.imaging.limits import DEFER_SIZE
from core.records import Box

log = logging.getLogger(f"cnsight.{__name__}")

#: Longest value shown in the tag view (longer values end with "...").
MAX_VALUE_CHARS = 200
#: Modalities the model is made for: US, and OT (secondary-capture screenshots of ultrasound
#: are commonly stored as OT). Same rule as ``LoadedImage.in_scope``.
IN_SCOPE_MODALITIES = frozenset({"US", "OT"})

_BINARY_VRS = frozenset({"OB", "OW", "OF", "OD", "OL", "OV", "UN"})
_SPATIAL_FORMAT_2D = 1
_DATA_TYPE_TISSUE = 1


def modality_warning(modality: str | None) -> str | None:
    """(0008,0060) Modality: a warning when present and neither US nor OT."""
    if not modality or modality in IN_SCOPE_MODALITIES:
        return None
    return f"modality {modality} is out of scope for this model (ultrasound only)"


def display_value(elem) -> str:
    """One element's value as a short string: sequences as "<n items>", binary as "<n bytes>"."""
    try:
        value = elem.value
        if elem.VR == "SQ":
            return f"<{len(value)} items>"
        if elem.VR in _BINARY_VRS or isinstance(value, bytes | bytearray):
            return f"<{len(value or b'')} bytes>"
        if value is None:
            return ""
        text = "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)
    except Exception as exc:  # a malformed value must not break the tag view
        log.debug("unreadable value for %s: %s", elem.tag, exc)
        return "<unreadable>"
    text = text.replace("\x00", "").strip()
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def header_dict(ds: Dataset) -> dict[str, str]:
    """Displayable tags, file meta first: keyword (or "(gggg,eeee)") -> value string.

    Pixel data and private tags are left out; sequences are summarised.
    """
    out: dict[str, str] = {}
    meta = getattr(ds, "file_meta", None)
    for source in (meta, ds):
        if source is None:
            continue
        for tag in list(source.keys()):  # tags first: looking at an element may read it
            if tag.is_private or tag.group == 0x7FE0:
                continue
            raw = source.get_item(tag)
            if getattr(raw, "value", "") is None and getattr(raw, "length", 0) > DEFER_SIZE:
                # a value the header reading deferred (``defer_size``): never read for display
                out[_tag_name(tag)] = f"<{raw.length} bytes, not read>"
                continue
            elem = source[tag]
            out[elem.keyword or _tag_name(tag)] = display_value(elem)
    return out


def _tag_name(tag) -> str:
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(tag) or f"({tag.group:04X},{tag.element:04X})"


def _positive_float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) and number > 0 else None


def frame_time_ms(ds: Dataset) -> float | None:
    """Time between frames in ms, from (0018,1063) Frame Time, else the mean of (0018,1065)
    Frame Time Vector, else 1000 / (0018,0040) Cine Rate, else 1000 / (0008,2144) Recommended
    Display Frame Rate; None when none is usable."""
    frame_time = _positive_float(ds.get("FrameTime"))
    if frame_time is not None:
        return frame_time
    vector = ds.get("FrameTimeVector")
    if vector is not None and not isinstance(vector, str | bytes):
        steps = [t for t in (_positive_float(v) for v in list(vector)[1:]) if t is not None]
        if steps:
            return float(np.mean(steps))
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        rate = _positive_float(ds.get(keyword))
        if rate is not None:
            return 1000.0 / rate
    return None


def _region_box(item: Dataset) -> Box | None:
    """Region Location Min X0 / Min Y0 / Max X1 / Max Y1 (0018,6018-601E), inclusive maxima,
    as an end-exclusive box; None when incomplete or empty."""
    try:
        x0 = int(item.RegionLocationMinX0)
        y0 = int(item.RegionLocationMinY0)
        x1 = int(item.RegionLocationMaxX1) + 1
        y1 = int(item.RegionLocationMaxY1) + 1
    except (AttributeError, TypeError, ValueError):
        return None
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def ultrasound_region(ds: Dataset, width: int, height: int) -> Box | None:
    """The image area from (0018,6011) Sequence of Ultrasound Regions.

    The bounding box of the 2D regions ((0018,6012) Region Spatial Format = 1) holding tissue
    ((0018,6014) Region Data Type = 1) - an item without these attributes counts as such; when
    none qualifies, the largest region. Clipped to the image; None without usable regions.
    """
    items = ds.get("SequenceOfUltrasoundRegions") or []
    found: list[tuple[Box, object, object]] = []
    for item in items:
        box = _region_box(item)
        if box is not None:
            found.append((box, item.get("RegionSpatialFormat"), item.get("RegionDataType")))
    if not found:
        return None
    tissue = [
        box
        for box, spatial, data in found
        if spatial in (None, _SPATIAL_FORMAT_2D) and data in (None, _DATA_TYPE_TISSUE)
    ]
    if tissue:
        box = (
            min(b[0] for b in tissue),
            min(b[1] for b in tissue),
            max(b[2] for b in tissue),
            max(b[3] for b in tissue),
        )
    else:
        box = max((b for b, _, _ in found), key=_area)
    clipped = (max(box[0], 0), max(box[1], 0), min(box[2], width), min(box[3], height))
    if clipped[2] <= clipped[0] or clipped[3] <= clipped[1]:
        log.info("ultrasound region %s lies outside the %dx%d image; ignored", box, width, height)
        return None
    return clipped
