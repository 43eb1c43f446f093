"""cnsight-eval (issue 15): an image that fails in the model costs only itself, and
``--deidentify`` writes no patient id, file name or path in any output."""

from __future__ import annotations

import json
import shutil

import core.predictor
from training.evaluate import main


def _args(bundle, data, out, *extra):
    return ["--model", str(bundle), "--data", str(data), "--out", str(out), "--bootstrap", "20",
            "--no-progress", "--device", "cpu", *extra]  # fmt: skip


def test_an_image_that_fails_in_the_model_costs_only_itself(
    tiny_bundle, tiny_manifest, tmp_path, monkeypatch
):
    """A RuntimeError for one image (e.g. an allocation while preparing it) used to end the
    whole evaluation with a traceback."""
    real = core.predictor.prepare
    victim = tiny_manifest.parent / "nor01" / "1.png"

    def prepare(image, spec):
        if image.ref.path == victim:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory")
        return real(image, spec)

    monkeypatch.setattr(core.predictor, "prepare", prepare)
    out = tmp_path / "out"
    assert main(_args(tiny_bundle, tiny_manifest, out)) == 0
    m = json.loads((out / "metrics.json").read_text())
    (error,) = m["errors"]
    assert error["path"] == str(victim) and "can't allocate memory" in error["message"]
    n_rows = len(tiny_manifest.read_text().splitlines()) - 1
    assert m["image"]["n"] == n_rows - 1  # every image but that one


def test_deidentify_leaves_no_ids_or_paths(tiny_bundle, tiny_manifest, tmp_path):
    data = tmp_path / "Hospital_Share"
    shutil.copytree(tiny_manifest.parent, data)
    (data / "nor02" / "2.png").write_bytes(b"garbage")  # an unreadable file, with its row
    out = tmp_path / "out"
    assert main(_args(tiny_bundle, data / "manifest.csv", out, "--deidentify")) == 0
    ids = {line.split(",")[1] for line in (data / "manifest.csv").read_text().splitlines()[1:]}
    for name in ("metrics.json", "report.html", "images.csv", "patients.csv"):
        text = (out / name).read_text(encoding="utf-8")
        assert str(tmp_path) not in text and "Hospital_Share" not in text, name
        assert not [i for i in ids if i in text], (name, [i for i in ids if i in text])
    m = json.loads((out / "metrics.json").read_text())
    assert m["deidentified"] is True and m["errors"][0]["patient_id"].startswith("case-")
    assert m["patients_with_unreadable_images"] == [m["errors"][0]["patient_id"]]
