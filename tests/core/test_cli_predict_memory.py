"""cnsight-predict's memory stays flat however many images (issue 10 item 4): no prediction is
kept once its patient's row is written, and the heap the backend's build freed is handed back
once (core.memory)."""

from __future__ import annotations

import ctypes
import gc
import io
import platform
import weakref

import numpy as np
import pytest
from PIL import Image

import core.cli.predict as cli
from core.memory import release_freed_heap

glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)


def _study(root, n_patients: int, per_patient: int):
    rng = np.random.default_rng(0)
    for p in range(n_patients):
        (root / f"p{p:03d}").mkdir(parents=True)
        for i in range(per_patient):
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (48, 64), np.uint8)).save(buf, format="PNG")
            (root / f"p{p:03d}" / f"img{i}.png").write_bytes(buf.getvalue())
    return root


def test_no_prediction_outlives_its_patient_row(tiny_bundle, tmp_path, monkeypatch):
    batch, per_patient = 4, 2
    root = _study(tmp_path / "study", 12, per_patient)
    made: list[weakref.ref] = []
    alive_at_rows: list[int] = []
    real_pred_row, real_patient_row = cli.CsvWriters.prediction_row, cli.CsvWriters.patient_row

    def prediction_row(self, patient_id, pred):
        made.append(weakref.ref(pred))
        return real_pred_row(self, patient_id, pred)

    def patient_row(self, patient_id, verdict, rule):
        alive_at_rows.append(sum(r() is not None for r in made))
        return real_patient_row(self, patient_id, verdict, rule)

    monkeypatch.setattr(cli.CsvWriters, "prediction_row", prediction_row)
    monkeypatch.setattr(cli.CsvWriters, "patient_row", patient_row)
    argv = [str(root), "--model", str(tiny_bundle), "--out", str(tmp_path / "out"),
            "--batch-size", str(batch), "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    assert len(made) == 24 and len(alive_at_rows) == 12
    # At most the batch in hand and the patient being written, not every image so far.
    assert max(alive_at_rows) <= batch + per_patient, alive_at_rows
    gc.collect()
    assert not any(r() is not None for r in made)


def test_the_heap_is_given_back_once_the_backend_is_built(tiny_bundle, tmp_path, monkeypatch):
    calls = []
    real_error_row = cli.CsvWriters.error_row

    def error_row(self, *args):
        calls.append("row")  # the first thing written once the Predictor (backend) is built
        return real_error_row(self, *args)

    monkeypatch.setattr(cli, "release_freed_heap", lambda: calls.append("trim") or True)
    monkeypatch.setattr(cli.CsvWriters, "error_row", error_row)
    root = _study(tmp_path / "study", 2, 2)
    (root / "p000" / "broken.png").write_bytes(b"not a png")
    argv = [str(root), "--model", str(tiny_bundle), "--out", str(tmp_path / "out"), "--no-progress"]
    assert cli.main(argv) == 0
    assert calls[0] == "trim" and calls.count("trim") == 1


def _rss_anon_kb() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))


@glibc
def test_release_freed_heap_returns_freed_pages_to_the_os():
    """64 MB freed below a chunk still in use stays resident until trimmed."""
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    chunks = [libc.malloc(64 * 1024) for _ in range(1024)]
    for c in chunks:
        ctypes.memset(c, 1, 64 * 1024)  # resident
    pin = libc.malloc(64 * 1024)  # keeps the heap's top in use
    for c in chunks:
        libc.free(c)
    before = _rss_anon_kb()
    assert release_freed_heap() is True
    after = _rss_anon_kb()
    libc.free(pin)
    assert before - after > 32 * 1024, (before, after)


def test_release_freed_heap_is_a_no_op_without_glibc(monkeypatch):
    monkeypatch.setattr("sys.platform", "darwin")
    assert release_freed_heap() is False
