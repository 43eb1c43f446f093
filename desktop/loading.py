"""Plain, synchronous study/pixel loading steps that the session runs off the GUI thread.

No Qt here: each function is an ordinary core call wrapper, tested without an event loop.
The core readers are imported lazily (they pull in pydicom and friends), so the first
window never waits for them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from core.errors import CNSightError
from core.records import Cohort, FileError, ImageRef, LoadedImage, Patient

from .rendering import thumbnail
from .viewmodels.cohort import PatientPixels
from .viewmodels.groups import group_images

log = logging.getLogger(f"cnsight.{__name__}")

ReadImageFn = Callable[[ImageRef], LoadedImage]
DiscoverFn = Callable[..., Cohort]


def default_read_image(ref: ImageRef) -> LoadedImage:
    from core.imaging import read_image

    return read_image(ref)


def default_discover(inputs: Sequence[Path], class_names: Sequence[str] | None = None) -> Cohort:
    from core.discovery import discover

    return discover(list(inputs), class_names=class_names)


def describe_ref(ref: ImageRef) -> str:
    """The path shown in the error list (with the frame for multi-frame files)."""
    return str(ref.path) if ref.frame is None else f"{ref.path} (frame {ref.frame + 1})"


def _read_one(ref: ImageRef, read_image: ReadImageFn) -> tuple[LoadedImage | None, str | None]:
    try:
        return read_image(ref), None
    except CNSightError as exc:
        return None, getattr(exc, "reason", None) or str(exc)
    except Exception as exc:  # noqa: BLE001 - a reader bug must not take the study down
        log.exception("unexpected error reading %s", ref.key)
        return None, f"unexpected error while reading: {type(exc).__name__}: {exc}"


def load_patient_pixels(
    patient: Patient,
    read_image: ReadImageFn = default_read_image,
    thumb_side: int = 120,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[PatientPixels, list[FileError]]:
    """Decode every image of a patient; one bad file gives one error, the rest still load.

    Returns the pixels (images by ref key, one thumbnail per file) and the files' errors.
    Images out of scope (e.g. a CT) are kept for display and reported as a note.
    """
    pixels = PatientPixels()
    errors: list[FileError] = []
    for group in group_images(patient.images):
        for ref in group.refs:
            if cancelled is not None and cancelled():
                return pixels, errors
            image, reason = _read_one(ref, read_image)
            if image is None:
                pixels.unreadable[ref.key] = reason or "unreadable"
                errors.append(FileError(describe_ref(ref), reason or "unreadable"))
                continue
            pixels.images[ref.key] = image
            if image.warning:
                errors.append(FileError(describe_ref(ref), image.warning))
            if group.key not in pixels.thumbnails:
                pixels.thumbnails[group.key] = thumbnail(image.pixels, thumb_side)
    return pixels, errors


def images_to_predict(
    patient: Patient, pixels: PatientPixels, on_screen: ImageRef | None = None
) -> list[LoadedImage]:
    """The patient's readable images (what the model is given), in reading order; with
    ``on_screen``, the file on screen goes first, from its displayed frame on (then its earlier
    frames): a cine being played gets its heatmaps from the frame the reader is looking at, as
    results arrive batch by batch. Out-of-scope images too: the predictor's domain check marks
    them not assessable and says why, and the patient verdict leaves them out."""
    images = [im for im in (pixels.images.get(r.key) for r in patient.images) if im is not None]
    if on_screen is None:
        return images
    shown = [im for im in images if im.ref.path == on_screen.path]
    if not shown:
        return images
    frame = on_screen.frame or 0
    later = [im for im in shown if (im.ref.frame or 0) >= frame]
    earlier = [im for im in shown if (im.ref.frame or 0) < frame]
    return later + earlier + [im for im in images if im.ref.path != on_screen.path]
