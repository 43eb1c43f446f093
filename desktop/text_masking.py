"""De-identified display with OCR, off the GUI thread (docs/deidentification.md).

``core.deidentify.mask_with_ocr`` costs about half a second per new image (Tesseract). The
viewer asks ``masked_or_request``: the masked pixels when OCR has already run for these
pixels (cached by pixel hash in ``core.burned_text.TEXT_MASKER``), else None, having started
OCR on a worker; ``ocr_done`` fires when it has, and the viewer repaints. Until then the viewer
shows nothing of the image (a privacy officer's rule: never the image with only the geometric
mask, whose text inside the region may be readable). Without Tesseract the answer comes at
once: the geometric mask plus ``OCR_FALLBACK_WARNING``, which the viewer paints on the image.
"""

from __future__ import annotations

import logging

import numpy as np
from PySide6.QtCore import QObject, Signal

from core.deidentify import MaskedPixels, mask_burned_in_text, mask_if_ready, mask_with_ocr
from core.records import Box

from .background import OpRunner

log = logging.getLogger(f"cnsight.{__name__}")


class TextMaskingWorker(QObject):
    """One OCR thread for the whole app (two cores: OCR must not starve the model)."""

    ocr_done = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._runner = OpRunner(max_threads=1, parent=self)
        self._pending: set[int] = set()
        self._failed: dict[int, str] = {}  # pixels whose OCR raised: not retried on repaint

    def masked_or_request(self, pixels: np.ndarray, region: Box | None) -> MaskedPixels | None:
        """The de-identified pixels if they cost nothing now, else None (OCR started)."""
        ready = mask_if_ready(pixels, region)
        if ready is None and id(pixels) in self._failed:
            warning = f"Finding burned-in text failed ({self._failed[id(pixels)]}): only the "
            warning += "header and the area outside the ultrasound region are masked."
            return MaskedPixels(mask_burned_in_text(pixels, region), False, warning)
        key = id(pixels)
        if ready is None and key not in self._pending:
            self._pending.add(key)
            self._runner.run(
                lambda: mask_with_ocr(pixels, region),
                lambda _result: self._done(key),
                lambda exc: self._on_failure(key, exc),
            )
        return ready

    def _done(self, key: int) -> None:
        self._pending.discard(key)
        self.ocr_done.emit()

    def _on_failure(self, key: int, exc: BaseException) -> None:
        self._pending.discard(key)
        self._failed[key] = str(exc) or exc.__class__.__name__
        log.error("finding burned-in text failed: %s", exc)
        self.ocr_done.emit()

    def wait(self, msecs: int = 5000) -> bool:
        return self._runner.wait(msecs)


_WORKER: TextMaskingWorker | None = None


def text_masking() -> TextMaskingWorker:
    """The app's one worker (made on first use, on the GUI thread)."""
    global _WORKER
    if _WORKER is None:
        _WORKER = TextMaskingWorker()
    return _WORKER
