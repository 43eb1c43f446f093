"""Heatmap overlay PNGs for ``cnsight-predict --heatmaps``: image | overlay, with a caption."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .. import RESEARCH_USE_ONLY
from ..heatmap_overlay import colormap_legend, render_overlay
from ..probability_text import percent
from ..records import LoadedImage

if TYPE_CHECKING:  # the panel is drawn without torch (the app's DICOM export draws it too)
    from ..predictor import ImagePrediction

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: ``--heatmap-format`` -> (file suffix, OpenCV encoder parameters). PNG at zlib level 1 (the
#: fastest; the panels are mostly flat colour, so it compresses nearly as well as level 9);
#: JPEG at quality 90, several times faster to encode and smaller, but lossy.
OVERLAY_FORMATS: dict[str, tuple[str, list[int]]] = {
    "png": (".png", [cv2.IMWRITE_PNG_COMPRESSION, 1]),
    "jpg": (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]),
}


def safe_name(text: str) -> str:
    """A file-name-safe version of an id or name (no separators, no spaces)."""
    return _UNSAFE.sub("_", text).strip("._") or "unnamed"


def overlay_panel(
    image: LoadedImage, pred: ImagePrediction, class_index: int, class_names: Sequence[str]
) -> np.ndarray:
    """Original and heatmap side by side, a caption with the class and probability, a legend."""
    pixels = image.pixels
    over = render_overlay(pixels, pred.cams[class_index], pred.input_box)
    h, w = pixels.shape[:2]
    gap = np.zeros((h, 4, 3), np.uint8)
    body = np.concatenate([pixels, gap, over], axis=1)
    bar_h = 44
    caption = np.zeros((bar_h, body.shape[1], 3), np.uint8)
    top = class_names[pred.pred_index]
    text = f"heatmap: {class_names[class_index]} ({percent(pred.probs[class_index])})   predicted: {top} ({percent(pred.probs[pred.pred_index])})"
    cv2.putText(
        caption, text, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA
    )
    cv2.putText(
        caption,
        RESEARCH_USE_ONLY.replace("\u2014", "-"),
        (6, 36),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.4,
        (255, 200, 0),
        1,
        cv2.LINE_AA,
    )
    legend_w = min(160, body.shape[1] // 3)
    legend = colormap_legend(legend_w, 10)
    caption[28:38, -legend_w - 6 : -6] = legend
    return np.concatenate([caption, body], axis=0)


def write_overlay(
    out_dir: Path,
    patient_id: str,
    image: LoadedImage,
    pred: ImagePrediction,
    class_names: Sequence[str],
    classes: str | list[int] = "pred",
    stem: str | None = None,
    fmt: str = "png",
) -> list[Path]:
    """Write ``out_dir/<patient>/<file>[_f<frame>]_<class>.png`` (``.jpg`` with ``fmt="jpg"``)
    for the classes asked for only; returns the paths written. ``stem``: the name to use
    instead of the file's (a de-identified image label)."""
    suffix, params = OVERLAY_FORMATS[fmt]
    if classes == "pred":
        indices = [pred.pred_index]
    elif classes == "all":
        indices = list(range(len(class_names)))
    else:
        indices = list(classes)
    folder = out_dir / safe_name(patient_id)
    folder.mkdir(parents=True, exist_ok=True)
    stem = safe_name(stem if stem is not None else image.ref.path.stem) + (
        "" if image.ref.frame is None else f"_f{image.ref.frame:03d}"
    )
    written = []
    for k in indices:
        path = folder / f"{stem}_{safe_name(class_names[k])}{suffix}"
        panel = overlay_panel(image, pred, k, class_names)
        if not cv2.imwrite(str(path), panel[..., ::-1], params):
            raise OSError(f"could not write {path}")
        written.append(path)
    return written
