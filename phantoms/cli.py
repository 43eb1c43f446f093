"""cnsight-phantoms: write a synthetic phantom study and its manifest.

    cnsight-phantoms OUT --patients N --seed S [--format png|dicom|both] [--size WxH] [--overwrite]

Research use only - phantoms are for testing and demonstrating the pipeline, not for
claims about clinical accuracy.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from core.taxonomy import DEFAULT_CLASS_NAMES
from phantoms.phantom_set import FORMATS, MANIFEST_COLUMNS, generate_phantom_set
from phantoms.render import DEFAULT_SIZE, MIN_SIZE

log = logging.getLogger("cnsight.phantoms")

MAX_PATIENTS = 100_000


def _size(text: str) -> tuple[int, int]:
    """'320x256' -> (320, 256)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 320x256, got {text!r}") from None
    if width < MIN_SIZE[0] or height < MIN_SIZE[1] or width > 4096 or height > 4096:
        raise argparse.ArgumentTypeError(
            f"size {width}x{height} out of range ({MIN_SIZE[0]}x{MIN_SIZE[1]} to 4096x4096)"
        )
    return width, height


def _patients(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--patients must be a whole number, got {text!r}"
        ) from None
    if not 1 <= value <= MAX_PATIENTS:
        raise argparse.ArgumentTypeError(
            f"--patients must be between 1 and {MAX_PATIENTS}, got {value}"
        )
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"--seed must be >= 0, got {value}")
    return value


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnsight-phantoms",
        description=(
            "Write synthetic prenatal ultrasound studies (B-mode-like fetal head and spine "
            f"phantoms of the classes {', '.join(DEFAULT_CLASS_NAMES)}) and OUT/manifest.csv "
            f"with columns {','.join(MANIFEST_COLUMNS)}. The same seed gives byte-identical "
            "files. Research use only - not for diagnosis."
        ),
    )
    parser.add_argument(
        "out",
        type=Path,
        metavar="OUT",
        help="output folder (created; must be empty unless --overwrite)",
    )
    parser.add_argument(
        "--patients",
        type=_patients,
        required=True,
        metavar="N",
        help="number of patients; classes are balanced round-robin (N >= 5 covers all)",
    )
    parser.add_argument("--seed", type=_seed, required=True, metavar="S", help="random seed (>= 0)")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="png",
        dest="fmt",
        help="png, dicom (US stills + one cine per patient) or both (default: png)",
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=DEFAULT_SIZE,
        metavar="WxH",
        help=f"image size in pixels (default: {DEFAULT_SIZE[0]}x{DEFAULT_SIZE[1]})",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a non-empty OUT (files of the same name are replaced, others kept)",
    )
    parser.add_argument("--quiet", action="store_true", help="only report errors")
    return parser


def _check_out(parser: argparse.ArgumentParser, out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        parser.error(f"OUT {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        parser.error(f"OUT {out} is not empty; choose an empty folder or pass --overwrite")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".cnsight-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        parser.error(f"cannot write to OUT {out}: {exc.strerror or exc}")


def main(argv: list[str] | None = None) -> int:
    parser = get_args_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    _check_out(parser, args.out, args.overwrite)
    started = time.perf_counter()
    try:
        manifest = generate_phantom_set(
            args.out, args.patients, args.seed, fmt=args.fmt, size=args.size
        )
    except OSError as exc:
        log.error("cnsight-phantoms: could not write the study: %s", exc)
        return 1
    log.info(
        "wrote %d patients to %s in %.1f s; manifest: %s",
        args.patients,
        args.out,
        time.perf_counter() - started,
        manifest,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
