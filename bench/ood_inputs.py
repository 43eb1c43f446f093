"""Write the out-of-domain evaluation set: inputs CNSight must refuse to label (issue 8).

    .venv/bin/python bench/ood_inputs.py OUT_DIR [--seed 8] [--format png|dicom|both]

None of these is a fetal head or spine ultrasound, so every one should come out "not
assessable", from the model-free checks (``core.domain.check_image``) or from the model-based
out-of-distribution score. ``cnsight-eval`` and the benchmarks score them. Four kinds:

- ``pydicom_us``: the ultrasound DICOM files inside pydicom's wheel (an adult cardiac echo cine,
  power-Doppler lymph nodes, an empty obstetric screen, a small colour crop), copied as they are.
- ``pydicom_other``: the wheel's other DICOM images (CT, MR, NM, SEG, RT dose, secondary
  captures: colour bars, a blank page, text, test patterns), copied as they are.
- ``pattern``: generated test patterns: grey ramps, checkerboards, noise, grey and colour bars,
  a 10 x 45 grey step pattern, text on black or grey screens, uniform grey.
- ``photo_like``: generated photograph-like images: smooth colour gradients with shapes, and
  natural-image-like noise with a 1/f amplitude spectrum, in colour and in greyscale.

Only files inside the wheel are used (``get_testdata_file`` for other names would try the
network). A pydicom file is skipped, and logged, when ``core.imaging.read_image`` cannot decode
it (no pixel data, truncated, unsupported) or when it decodes to the same picture as a file
already copied (the wheel holds one image in many transfer syntaxes; copies would only repeat
one input in the rates). Generated images are seeded: the same seed writes the same files.

Writes ``OUT_DIR/<kind>/<name>.png|.dcm`` and ``OUT_DIR/manifest.csv`` with columns
``path,kind,patient_id`` (paths relative to OUT_DIR; each file is its own patient, so the
manifest also opens with ``core.discovery.discover``). Generated DICOM files are Secondary
Capture with Modality OT, which is in scope, so the modality gate does not catch them.
"""

from __future__ import annotations

import argparse
import csv
import logging
import shutil
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from core.errors import ImageReadError
from core.imaging import probe_file, read_image

log = logging.getLogger("cnsight.bench.ood_inputs")

KINDS = ("pydicom_us", "pydicom_other", "pattern", "photo_like")
FORMATS = ("png", "dicom", "both")
DEFAULT_SEED = 8
#: Ultrasound screens are 640 x 480 or 800 x 600; the generated images use these sizes.
SCREEN = (480, 640)
LARGE_SCREEN = (600, 800)
#: Two decoded pydicom images are the same picture when their mean absolute difference is
#: below this (grey levels): lossy re-encodings of one image differ by 1-3 levels.
SAME_PICTURE_MAX_DIFF = 4.0
PYDICOM_TEST_FILES = Path(pydicom.data.__file__).parent / "test_files"


@dataclass(frozen=True)
class Entry:
    """One manifest row."""

    path: str  # relative to OUT_DIR
    kind: str
    patient_id: str


# --- pydicom's files -----------------------------------------------------------------------------


def pydicom_test_files() -> list[Path]:
    """The DICOM files inside pydicom's wheel (never get_testdata_file: it may go online)."""
    return sorted(PYDICOM_TEST_FILES.glob("*.dcm"))


def first_and_last_frame(path: Path):
    """The first and last decoded frames of ``path`` (ImageReadError when one does not decode)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the odd files it is made to test
        refs = probe_file(path)
        return read_image(refs[0]), read_image(refs[-1])


def _same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()) < SAME_PICTURE_MAX_DIFF


def copy_pydicom_files(out: Path) -> list[Entry]:
    """Copy each decodable, distinct pydicom image file to ``out/pydicom_us|pydicom_other``."""
    entries: list[Entry] = []
    kept: list[tuple[str, np.ndarray]] = []
    for path in pydicom_test_files():
        try:
            first, _ = first_and_last_frame(path)
        except ImageReadError as exc:
            log.info("skipped %s: does not decode (%s)", path.name, exc.reason)
            continue
        twin = next((name for name, pixels in kept if _same_picture(pixels, first.pixels)), None)
        if twin is not None:
            log.info("skipped %s: same picture as %s", path.name, twin)
            continue
        kept.append((path.name, first.pixels))
        kind = "pydicom_us" if first.modality == "US" else "pydicom_other"
        target = out / kind / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        entries.append(Entry(f"{kind}/{path.name}", kind, f"ood-{path.stem}"))
    return entries


# --- test patterns ------------------------------------------------------------------------------


def _grey_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def grey_ramp(shape: tuple[int, int], axis: int) -> np.ndarray:
    """Black to white along ``axis`` (1: left to right, 0: top to bottom)."""
    ramp = np.linspace(0, 255, shape[axis])
    return _grey_rgb(np.broadcast_to(ramp[:, None] if axis == 0 else ramp[None, :], shape))


def radial_ramp(shape: tuple[int, int]) -> np.ndarray:
    """White at the centre to black at the corners."""
    yy, xx = np.indices(shape, dtype=np.float64)
    radius = np.hypot(yy - shape[0] / 2, xx - shape[1] / 2)
    return _grey_rgb(255 * (1 - radius / radius.max()))


def checkerboard(shape: tuple[int, int], cell: int) -> np.ndarray:
    yy, xx = np.indices(shape)
    return _grey_rgb(255 * (((yy // cell) + (xx // cell)) % 2))


def uniform_noise(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    return _grey_rgb(rng.integers(0, 256, shape))


def gaussian_noise(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    return _grey_rgb(rng.normal(128, 40, shape))


def grey_bars(shape: tuple[int, int], n_bars: int = 8) -> np.ndarray:
    """Vertical bars stepping from black to white."""
    levels = np.linspace(0, 255, n_bars)[np.arange(shape[1]) * n_bars // shape[1]]
    return _grey_rgb(np.broadcast_to(levels[None, :], shape))


#: White, yellow, cyan, green, magenta, red, blue: the classic colour bars.
COLOUR_BARS = np.array(
    [[235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16], [235, 16, 235],
     [235, 16, 16], [16, 16, 235]],
    np.uint8,
)  # fmt: skip


def colour_bars(shape: tuple[int, int]) -> np.ndarray:
    columns = COLOUR_BARS[np.arange(shape[1]) * len(COLOUR_BARS) // shape[1]]
    return np.ascontiguousarray(np.broadcast_to(columns[None], (*shape, 3)))


def small_grey_pattern() -> np.ndarray:
    """10 x 45 px grey step wedge: like the 10 x 45 JPEG-LS test image the model once labelled."""
    steps = np.linspace(255, 0, 9)[np.arange(45) // 5]
    return _grey_rgb(np.broadcast_to(steps[:, None], (45, 10)))


SCREEN_TEXT = (
    "PATIENT: TEST^PATTERN",
    "ID 0000000   DOB --/--/----",
    "EXAM: OB 2ND TRIMESTER",
    "NO IMAGE ACQUIRED",
    "PRESS FREEZE TO START",
    "MI 0.9  TIS 0.4  GAIN 50",
)


def text_screen(shape: tuple[int, int], background: int, rng: np.random.Generator) -> np.ndarray:
    """Lines of scanner-like text on a plain background (an empty scanner screen)."""
    image = np.full((*shape, 3), background, np.uint8)
    colour = (235, 235, 235) if background < 128 else (20, 20, 20)
    for row, line in enumerate(SCREEN_TEXT):
        x = int(rng.integers(10, shape[1] // 3))
        y = 40 + row * (shape[0] - 60) // len(SCREEN_TEXT)
        cv2.putText(image, line, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 1, cv2.LINE_AA)
    return image


def uniform(shape: tuple[int, int], level: int) -> np.ndarray:
    return np.full((*shape, 3), level, np.uint8)


def pattern_images(rng: np.random.Generator) -> Iterator[tuple[str, np.ndarray]]:
    """(name, H x W x 3 uint8 RGB) of every generated test pattern."""
    yield "grey_ramp_horizontal", grey_ramp(SCREEN, axis=1)
    yield "grey_ramp_vertical", grey_ramp(LARGE_SCREEN, axis=0)
    yield "grey_ramp_radial", radial_ramp(SCREEN)
    yield "checkerboard_8px", checkerboard(SCREEN, 8)
    yield "checkerboard_64px", checkerboard(LARGE_SCREEN, 64)
    yield "noise_uniform", uniform_noise(SCREEN, rng)
    yield "noise_gaussian", gaussian_noise(LARGE_SCREEN, rng)
    yield "bars_grey", grey_bars(SCREEN)
    yield "bars_colour", colour_bars(SCREEN)
    yield "grey_pattern_10x45", small_grey_pattern()
    yield "text_on_black", text_screen(SCREEN, 0, rng)
    yield "text_on_black_large", text_screen(LARGE_SCREEN, 0, rng)
    yield "text_on_grey", text_screen(SCREEN, 128, rng)
    yield "uniform_black", uniform(SCREEN, 0)
    yield "uniform_grey_128", uniform(SCREEN, 128)
    yield "uniform_grey_200", uniform(LARGE_SCREEN, 200)


# --- photograph-like images ------------------------------------------------------------------------


def colour_gradient(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth background: bilinear blend of four random corner colours."""
    corners = rng.uniform(0, 255, (2, 2, 3)).astype(np.float32)
    return cv2.resize(corners, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def gradient_with_shapes(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A colour gradient with filled ellipses, rectangles and polygons, softened like a photo."""
    image = colour_gradient(shape, rng).astype(np.uint8)
    height, width = shape
    for _ in range(int(rng.integers(6, 12))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        size = int(rng.integers(20, min(shape) // 3))
        shape_kind = int(rng.integers(3))
        if shape_kind == 0:
            axes = (size, int(rng.integers(10, size + 1)))
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(image, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
        elif shape_kind == 1:
            corner = (centre[0] + size, centre[1] + int(rng.integers(10, size + 1)))
            cv2.rectangle(image, centre, corner, colour, -1)
        else:
            points = rng.integers(-size, size, (5, 2)) + np.array(centre)
            cv2.fillPoly(image, [points.astype(np.int32)], colour, cv2.LINE_AA)
    image = cv2.GaussianBlur(image, (0, 0), 1.5) + rng.normal(0, 4, image.shape)  # sensor noise
    return np.clip(image, 0, 255).astype(np.uint8)


def pink_noise(shape: tuple[int, int], rng: np.random.Generator, channels: int) -> np.ndarray:
    """Noise with a 1/f amplitude spectrum (the spectrum of natural images), scaled to 0-255.

    Colour images share one luminance field and add weaker per-channel fields, so neighbouring
    colours correlate as they do in photographs.
    """
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    amplitude = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(shape))

    def field() -> np.ndarray:
        phase = rng.uniform(0, 2 * np.pi, amplitude.shape)
        values = np.fft.irfft2(amplitude * np.exp(1j * phase), s=shape)
        return (values - values.mean()) / values.std()

    luminance = field()
    planes = [luminance + 0.35 * field() for _ in range(channels)] if channels == 3 else [luminance]
    stack = np.stack(planes, axis=2)
    scaled = 128 + 45 * stack
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _to_grey(rgb: np.ndarray) -> np.ndarray:
    return _grey_rgb(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def photo_like_images(rng: np.random.Generator) -> Iterator[tuple[str, np.ndarray]]:
    """(name, H x W x 3 uint8 RGB) of every generated photograph-like image."""
    for i in range(3):
        yield f"shapes_colour_{i}", gradient_with_shapes(SCREEN if i % 2 else LARGE_SCREEN, rng)
    for i in range(2):
        yield f"shapes_grey_{i}", _to_grey(gradient_with_shapes(SCREEN, rng))
    for i in range(3):
        yield f"pink_noise_colour_{i}", pink_noise(SCREEN, rng, channels=3)
    for i in range(3):
        yield f"pink_noise_grey_{i}", _grey_rgb(pink_noise(SCREEN, rng, channels=1)[..., 0])


# --- writing ------------------------------------------------------------------------------------


def write_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def _is_grey(rgb: np.ndarray) -> bool:
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def secondary_capture(rgb: np.ndarray, name: str, patient_id: str, seed: int) -> Dataset:
    """A Secondary Capture data set (Modality OT) holding ``rgb``; UIDs derived from the seed."""
    sop_uid = generate_uid(entropy_srcs=["cnsight-ood", str(seed), name])
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["cnsight-ood", str(seed), name, "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["cnsight-ood", str(seed), name, "series"])
    ds.Modality = "OT"
    ds.ConversionType = "SYN"
    ds.PatientID = patient_id
    ds.PatientName = "OOD^" + name
    ds.ImageComments = f"CNSight out-of-domain input: {name}"
    if _is_grey(rgb):
        ds.set_pixel_data(
            np.ascontiguousarray(rgb[..., 0]), "MONOCHROME2", 8, generate_instance_uid=False
        )
    else:
        ds.set_pixel_data(np.ascontiguousarray(rgb), "RGB", 8, generate_instance_uid=False)
    return ds


def write_generated(
    out: Path, kind: str, images: Iterator[tuple[str, np.ndarray]], fmt: str, seed: int
) -> list[Entry]:
    """Write each (name, image) as PNG and/or DICOM under ``out/kind``."""
    folder = out / kind
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, rgb in images:
        patient_id = f"ood-{name}"
        if fmt in ("png", "both"):
            write_png(folder / f"{name}.png", rgb)
            entries.append(Entry(f"{kind}/{name}.png", kind, patient_id))
        if fmt in ("dicom", "both"):
            ds = secondary_capture(rgb, name, patient_id, seed)
            ds.save_as(folder / f"{name}.dcm", enforce_file_format=True)
            entries.append(Entry(f"{kind}/{name}.dcm", kind, f"{patient_id}-dcm"))
    return entries


def write_manifest(out: Path, entries: list[Entry]) -> Path:
    path = out / "manifest.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "kind", "patient_id"])
        writer.writerows((e.path, e.kind, e.patient_id) for e in entries)
    return path


def write_ood_set(out: Path, seed: int = DEFAULT_SEED, fmt: str = "both") -> list[Entry]:
    """Write the whole set under ``out`` (see the module docstring); returns the manifest rows."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    entries = copy_pydicom_files(out)
    entries += write_generated(out, "pattern", pattern_images(rng), fmt, seed)
    entries += write_generated(out, "photo_like", photo_like_images(rng), fmt, seed)
    write_manifest(out, entries)
    return entries


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write (created; files are replaced)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of generated images")
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="both")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    logging.basicConfig(format="%(message)s")  # a no-op where logging is set up already
    log.setLevel(logging.INFO)  # which pydicom files were skipped, and why
    pydicom_log = logging.getLogger("pydicom")
    previous = pydicom_log.level
    pydicom_log.setLevel(logging.CRITICAL)  # not its decoders' tracebacks for every odd file
    try:
        entries = write_ood_set(args.out, args.seed, args.fmt)
    finally:
        pydicom_log.setLevel(previous)
    counts = {kind: sum(e.kind == kind for e in entries) for kind in KINDS}
    log.info("wrote %d files to %s (%s)", len(entries), args.out, counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
