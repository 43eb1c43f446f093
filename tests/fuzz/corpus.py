"""The fuzz corpus: hostile inputs in seven categories plus good control files, written
deterministically (one seed) into one folder per case (docs/security.md, "Input handling").

``build_corpus(root)`` returns the cases; each names its input (a file, a folder, a manifest
or a DICOMDIR) and what must come of it:

- ``error``: refused, with a clear error row (no prediction);
- ``any``: a clear error row or a prediction (a bit flip in the pixels may still decode), but
  never a traceback, a hang or a missing row;
- ``ok``: predicted (the controls, and odd but valid files).
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.uid import JPEGBaseline8Bit, RLELossless

from tests.fuzz import hostile as H

SEED = 15
CATEGORIES = (
    "truncation", "bit-flip", "lying-header", "bomb", "file-system", "manifest", "dicomdir",
    "control",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    input: str  # the path given to discovery / cnsight-predict
    folder: str  # every file of the case lies below this folder
    expect: str  # "error", "any" or "ok"

    def to_dict(self) -> dict:
        return asdict(self)


def _grey(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    return H._image(h, w, seed)


def _save(arr: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def seed_files(tmp: Path) -> dict[str, bytes]:
    """Valid files of every format the reader takes: what the mutations start from."""
    tmp.mkdir(parents=True, exist_ok=True)
    g = _grey()
    rgb = np.dstack([g, np.roll(g, 3, 1), np.roll(g, 7, 0)])
    seeds = {
        "png": _save(g, "PNG"),
        "jpg": _save(g, "JPEG", quality=90),
        "progressive.jpg": _save(rgb, "JPEG", quality=85, progressive=True),
        "bmp": _save(rgb, "BMP"),
        "tif": _save(g, "TIFF", compression="tiff_lzw"),
    }
    H.dicom(tmp / "native.dcm", g)
    H.dicom(tmp / "rle.dcm", g, syntax=RLELossless)
    H.dicom(tmp / "jpeg.dcm", g, syntax=JPEGBaseline8Bit)
    H.dicom(tmp / "cine.dcm", np.stack([g, np.roll(g, 5, 1), np.roll(g, 9, 1)]))
    H.native_dicom(tmp / "minimal.dcm")
    for name in ("native.dcm", "rle.dcm", "jpeg.dcm", "cine.dcm", "minimal.dcm"):
        seeds[name] = (tmp / name).read_bytes()
    return seeds


class _Writer:
    def __init__(self, root: Path):
        self.root, self.cases = root, []

    def folder(self, category: str, name: str) -> Path:
        folder = self.root / category / name
        folder.mkdir(parents=True, exist_ok=False)
        return folder

    def add(self, category, name, input_path: Path, folder: Path, expect: str) -> None:
        self.cases.append(Case(name, category, str(input_path), str(folder), expect))

    def file(self, category, name, filename, data: bytes, expect: str) -> Path:
        folder = self.folder(category, name)
        path = folder / filename
        path.write_bytes(data)
        self.add(category, name, path, folder, expect)
        return path


def _truncations(w: _Writer, seeds: dict[str, bytes]) -> None:
    for seed, data in seeds.items():
        cuts = {"1B": 1, "16B": 16, "131B": 131, "10pc": len(data) // 10, "25pc": len(data) // 4,
                "50pc": len(data) // 2, "90pc": len(data) * 9 // 10, "less1": len(data) - 1}  # fmt: skip
        for label, n in cuts.items():
            name = f"{seed.replace('.', '-')}-{label}"
            w.file("truncation", name, f"cut.{seed.rsplit('.', 1)[-1]}", data[:n], "any")


def _bit_flips(w: _Writer, seeds: dict[str, bytes], rng: np.random.Generator) -> None:
    for seed, data in seeds.items():
        for k in range(6):
            buf = bytearray(data)
            span = min(len(buf), 600) if k < 4 else len(buf)  # headers first, then anywhere
            for pos in rng.integers(0, span, size=1 + k):
                buf[int(pos)] ^= 1 << int(rng.integers(0, 8))
            name = f"{seed.replace('.', '-')}-flip{k}"
            w.file("bit-flip", name, f"flip.{seed.rsplit('.', 1)[-1]}", bytes(buf), "any")


def _dicom_with(folder: Path, name: str, **attrs) -> Path:
    path = folder / name
    H.dicom(path, _grey(48, 64), key=f"{folder.name}/{name}")
    from pydicom import dcmread
    from pydicom.datadict import tag_for_keyword

    ds = dcmread(path)
    for key, value in attrs.items():
        if isinstance(value, str) and key == "NumberOfFrames":  # not an IS: written as LO
            ds.add_new(tag_for_keyword(key), "LO", value)
        else:
            setattr(ds, key, value)
    ds.save_as(path)
    return path


def _lying_headers(w: _Writer) -> None:
    dicom_lies = {
        "rows-too-many": {"Rows": 4000}, "columns-huge": {"Columns": 65535}, "rows-zero": {"Rows": 0},
        "frames-text": {"NumberOfFrames": "abc"}, "frames-million": {"NumberOfFrames": 1_000_000},
        "frames-two": {"NumberOfFrames": 2}, "bits-zero": {"BitsAllocated": 0},
        "bits-three": {"BitsAllocated": 3}, "bits-64": {"BitsAllocated": 64},
        "samples-zero": {"SamplesPerPixel": 0}, "samples-four": {"SamplesPerPixel": 4},
        "photometric-bogus": {"PhotometricInterpretation": "NOT_A_COLOUR"},
        "pixel-repr-two": {"PixelRepresentation": 2},
    }  # fmt: skip
    for name, attrs in dicom_lies.items():
        folder = w.folder("lying-header", name)
        path = _dicom_with(folder, "lie.dcm", **attrs)
        w.add("lying-header", name, path, folder, "error")
    for name, stream in {
        "jpeg-stream-bigger": (30000, 30000),
        "jpeg-stream-smaller": (32, 32),
    }.items():
        folder = w.folder("lying-header", name)
        H.dicom_jpeg_lying_size(folder / "lie.dcm", stream=stream)
        w.add("lying-header", name, folder / "lie.dcm", folder, "error")
    png = _save(_grey(40, 50), "PNG")
    for name, (width, height) in {"png-ihdr-zero": (0, 0), "png-ihdr-huge": (100_000, 100_000),
                                  "png-ihdr-bigger": (500, 400)}.items():  # fmt: skip
        data = png[:16] + struct.pack(">II", width, height) + png[24:]
        w.file("lying-header", name, "lie.png", data, "error")
    bmp = _save(np.dstack([_grey(20, 24)] * 3), "BMP")
    w.file(
        "lying-header",
        "bmp-dims-huge",
        "lie.bmp",
        bmp[:18] + struct.pack("<ii", 90000, -90000) + bmp[26:],
        "error",
    )
    w.file(
        "lying-header",
        "jpeg-sof-zero",
        "lie.jpg",
        H.set_jpeg_size(_save(_grey(30, 40), "JPEG"), 0, 0),
        "error",
    )
    w.file(
        "lying-header", "named-png-is-text", "lie.png", b"path,patient_id\nnot,an image\n", "error"
    )


def _bombs(w: _Writer) -> None:
    for name, build, filename in [
        ("deflate-1gib", lambda p: H.deflate_bomb(p, H.GIB), "bomb.dcm"),
        ("deflate-300mib", lambda p: H.deflate_bomb(p, 300 * H.MIB), "bomb.dcm"),
        ("jpeg-30000", H.jpeg_dimension_bomb, "bomb.jpg"),
        ("dicom-jpeg-30000", H.dicom_jpeg_lying_size, "bomb.dcm"),
        ("progressive-3000-scans", H.progressive_scan_bomb, "bomb.jpg"),
        ("strip-1x20000", H.strip_png, "strip.png"),
        ("strip-20000x1", lambda p: H.strip_png(p, 1, 20000), "strip.png"),
        ("many-private-elements", H.many_private_elements, "bomb.dcm"),
        ("png-text-chunk-bomb", _png_text_bomb, "bomb.png"),
        ("frames-over-limit", _too_many_frames, "bomb.dcm"),
    ]:
        folder = w.folder("bomb", name)
        w.add("bomb", name, build(folder / filename), folder, "error")
    folder = w.folder("bomb", "private-element-2gib")  # refused? no: read without the 2 GiB
    w.add("bomb", "private-element-2gib", H.huge_private_element(folder / "big.dcm"), folder, "ok")


def _png_text_bomb(path: Path) -> Path:
    """A PNG whose zTXt chunk inflates to 16 MiB (Pillow caps text chunks at 1 MiB)."""
    import zlib

    png = _save(_grey(32, 32), "PNG")
    text = b"Comment\x00\x00" + zlib.compress(bytes(16 * H.MIB), 1)
    body = struct.pack(">I", len(text)) + b"zTXt" + text
    body += struct.pack(">I", zlib.crc32(b"zTXt" + text))
    path.write_bytes(png[:33] + body + png[33:])
    return path


def _too_many_frames(path: Path) -> Path:
    """A cine header announcing 10,001 frames of 512 x 512 (the frame limit is 10,000)."""
    from pydicom import dcmread

    H.dicom(path, np.zeros((2, 8, 8), np.uint8))
    ds = dcmread(path)
    ds.NumberOfFrames, ds.Rows, ds.Columns = 10_001, 512, 512
    ds.save_as(path)
    return path


def _file_system(w: _Writer) -> None:
    folder = w.folder("file-system", "name-not-utf8")
    w.add("file-system", "name-not-utf8", H.non_utf8_name(folder).parent, folder, "ok")
    folder = w.folder("file-system", "name-with-csv-breakers")
    H.good_png(folder / 'a,b"c\nd.png')
    w.add("file-system", "name-with-csv-breakers", folder, folder, "ok")
    folder = w.folder("file-system", "name-is-a-formula")
    H.good_png(folder / "=HYPERLINK(1).png")
    w.add("file-system", "name-is-a-formula", folder, folder, "ok")
    folder = w.folder("file-system", "name-255-chars")
    H.good_png(folder / ("n" * 251 + ".png"))
    w.add("file-system", "name-255-chars", folder, folder, "ok")
    folder = w.folder("file-system", "folder-named-dcm")
    (folder / "x.dcm").mkdir()
    w.add("file-system", "folder-named-dcm", folder / "x.dcm", folder, "error")
    folder = w.folder("file-system", "empty-subfolder")
    (folder / "data" / "P1").mkdir(parents=True)
    H.good_png(folder / "data" / "good.png")
    w.add("file-system", "empty-subfolder", folder / "data", folder, "any")
    folder = w.folder("file-system", "symlink-loop")
    os.symlink(folder / "b.png", folder / "a.png")
    os.symlink(folder / "a.png", folder / "b.png")
    H.good_png(folder / "good.png")
    w.add("file-system", "symlink-loop", folder, folder, "any")
    folder = w.folder("file-system", "symlink-dangling")
    os.symlink(folder / "nowhere.png", folder / "gone.png")
    w.add("file-system", "symlink-dangling", folder, folder, "error")
    folder = w.folder("file-system", "symlink-out-of-folder")
    (folder / "data").mkdir()
    os.symlink(w.root / "control", folder / "data" / "P9")
    w.add("file-system", "symlink-out-of-folder", folder / "data", folder, "error")
    folder = w.folder("file-system", "fifo-named-png")
    os.mkfifo(folder / "pipe.png")
    w.add("file-system", "fifo-named-png", folder, folder, "error")
    w.file("file-system", "zero-bytes", "empty.dcm", b"", "error")
    w.file(
        "file-system",
        "random-bytes-dcm",
        "noise.dcm",
        np.random.default_rng(3).bytes(4096),
        "error",
    )


def _manifests(w: _Writer) -> None:
    def manifest(name: str, text: str | bytes, expect: str = "error", good: bool = True) -> None:
        folder = w.folder("manifest", name)
        if good:
            H.good_png(folder / "good.png")
        path = folder / f"m-{name}.csv"  # a name of its own: error rows name the manifest
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
        w.add("manifest", name, path, folder, expect)

    head = "path,patient_id,label,ga_weeks\n"
    ok = "good.png,A,normal,20\n"
    manifest("nul-byte", head + ok + "ba\x00d.png,B,normal,20\n", "any")
    manifest("missing-file", head + ok + "nope.png,B,normal,20\n", "any")
    manifest("listed-twice", head + ok + ok, "any")
    manifest("empty-path", head + ok + ",B,normal,20\n", "any")
    manifest("unknown-label", head + ok + "good.png,B,banana,20\n", "any")
    manifest("ga-not-finite", head + "good.png,A,normal,1e309\n", "error")
    manifest("ga-text", head + "good.png,A,normal,twenty\n", "error")
    manifest("latin1-encoded", (head + "good.png,Müller,normal,20\n").encode("latin-1"), "error")
    manifest("missing-columns", "file,who\ngood.png,A\n", "error")
    manifest("header-only", head, "error")
    manifest("field-too-large", head + "good.png,A," + "x" * 200_000 + ",20\n", "error")
    manifest("path-to-a-folder", head + ".,A,normal,20\n", "error")
    manifest("path-outside", head + "../../../../../../etc/hostname,A,normal,20\n", "error")
    manifest("windows-separators", "path,patient_id\nsub\\good.png,A\n", "ok", good=False)
    (w.root / "manifest" / "windows-separators" / "sub").mkdir()
    H.good_png(w.root / "manifest" / "windows-separators" / "sub" / "good.png")
    folder = w.root / "manifest" / "symlink-loop-row"
    folder.mkdir()
    os.symlink(folder / "y.png", folder / "x.png")
    os.symlink(folder / "x.png", folder / "y.png")
    H.good_png(folder / "good.png")
    manifest_path = folder / "m-symlink-loop-row.csv"
    manifest_path.write_text(head + ok + "x.png,B,normal,20\n", encoding="utf-8")
    w.add("manifest", "symlink-loop-row", manifest_path, folder, "any")


def _dicomdirs(w: _Writer) -> None:
    for how in ("self", "cycle", "lower-self", "dangling"):
        folder = w.folder("dicomdir", f"links-{how}")
        dicomdir = H.relink_dicomdir(H.dicomdir_folder(folder / "media", 2), how)
        w.add("dicomdir", f"links-{how}", dicomdir, folder, "error")
    folder = w.folder("dicomdir", "reference-outside")
    H.native_dicom(folder / "SECRET")
    dicomdir = H.referenced_outside(H.dicomdir_folder(folder / "media", 2), "SECRET")
    w.add("dicomdir", "reference-outside", dicomdir, folder, "error")
    folder = w.folder("dicomdir", "referenced-file-missing")
    dicomdir = H.dicomdir_folder(folder / "media", 2)
    next(
        p for p in sorted((folder / "media").rglob("*")) if p.is_file() and p.name != "DICOMDIR"
    ).unlink()
    w.add("dicomdir", "referenced-file-missing", dicomdir, folder, "any")
    folder = w.folder("dicomdir", "truncated")
    dicomdir = H.dicomdir_folder(folder / "media", 2)
    dicomdir.write_bytes(dicomdir.read_bytes()[:400])
    w.add("dicomdir", "truncated", dicomdir, folder, "error")
    folder = w.folder("dicomdir", "random-bytes")
    (folder / "DICOMDIR").write_bytes(np.random.default_rng(5).bytes(2048))
    w.add("dicomdir", "random-bytes", folder / "DICOMDIR", folder, "error")


def _controls(w: _Writer, seeds: dict[str, bytes]) -> None:
    for seed in ("png", "jpg", "native.dcm", "rle.dcm", "jpeg.dcm"):
        w.file(
            "control", seed.replace(".", "-"), f"good.{seed.rsplit('.', 1)[-1]}", seeds[seed], "ok"
        )


def build_corpus(root: Path, categories: tuple[str, ...] = CATEGORIES) -> list[Case]:
    """Write every case of ``categories`` under ``root`` (which must not exist yet); the same
    files each time."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(SEED)
    seeds = seed_files(root / "_seeds")
    w = _Writer(root)
    steps = {
        "control": lambda: _controls(w, seeds),
        "truncation": lambda: _truncations(w, seeds),
        "bit-flip": lambda: _bit_flips(w, seeds, rng),
        "lying-header": lambda: _lying_headers(w),
        "bomb": lambda: _bombs(w),
        "file-system": lambda: _file_system(w),
        "manifest": lambda: _manifests(w),
        "dicomdir": lambda: _dicomdirs(w),
    }
    for category in CATEGORIES:
        if category in categories:
            steps[category]()
    return w.cases


def counts(cases: list[Case]) -> dict[str, int]:
    return {c: sum(1 for case in cases if case.category == c) for c in CATEGORIES}
