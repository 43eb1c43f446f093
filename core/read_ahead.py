"""Decode and prepare images ahead of the model, on two threads, so that the network's forward
pass never waits for a file: ``cnsight-predict`` and ``cnsight-eval`` read through this.

Each file is decoded once (the image kept for the overlay and the domain checks is the one that
was prepared), at most ``depth`` images ahead of the consumer, in the order given, so memory
stays bounded however long the run. A file that cannot be read is an item with its error (the
caller writes its row); an image whose preparation fails is handed over unprepared, so the
Predictor prepares it again and raises the same error where failure isolation
(``core.isolation``) expects it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .records import ImageRef, LoadedImage

log = logging.getLogger(f"cnsight.{__name__}")

#: Images decoded ahead of the model: two batches' worth keeps the model fed while the decoder
#: threads stay bounded (memory flat).
DEPTH = 32
WORKERS = 2


@dataclass(frozen=True)
class ReadItem:
    """One image on its way to the model."""

    ref: ImageRef
    image: LoadedImage | None = None  # None: could not be read (``error`` says why)
    prepared: Any = None  # the Predictor's PreparedInput, or None: prepare it when predicting
    error: BaseException | None = None


def read_ahead(
    refs: Iterable[ImageRef],
    read: Callable[[ImageRef], LoadedImage],
    prepare: Callable[[LoadedImage], Any] | None = None,
    depth: int = DEPTH,
    workers: int = WORKERS,
) -> Iterator[ReadItem]:
    """Yield a ``ReadItem`` per ref, in order, reading (and preparing) up to ``depth`` ahead."""

    def load(ref: ImageRef) -> ReadItem:
        try:
            image = read(ref)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, who writes the row
            return ReadItem(ref, error=exc)
        if prepare is None:
            return ReadItem(ref, image)
        try:
            return ReadItem(ref, image, prepare(image))
        except Exception as exc:  # noqa: BLE001 - prepared again (and reported) when predicted
            log.debug("preparing %s ahead failed (%s); left to the Predictor", ref.key, exc)
            return ReadItem(ref, image)

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cnsight-read") as pool:
        pending: deque[Future] = deque()
        try:
            for ref in refs:
                pending.append(pool.submit(load, ref))
                if len(pending) >= depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the consumer stopped early (an error, Ctrl+C): drop what is not started
            for future in pending:
                future.cancel()
