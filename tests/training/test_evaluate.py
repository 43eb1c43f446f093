"""cnsight-eval: the documented contract for metrics.json (docs/training.md), the report, and unreadable images."""

import csv
import json
import shutil

import numpy as np
import pytest

from core.bundle import load_bundle
from core.discovery import discover
from core.imaging import read_image
from core.predictor import Predictor
from training.evaluate import main


def eval_args(bundle, data, out, *extra):
    return [
        "--model",
        str(bundle),
        "--data",
        str(data),
        "--out",
        str(out),
        "--bootstrap",
        "50",
        "--no-progress",
        "--device",
        "cpu",
        *extra,
    ]


@pytest.fixture(scope="module")
def evaluated(tiny_run, tiny_manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    assert main(eval_args(tiny_run / "bundle", tiny_manifest, out)) == 0
    return out


def test_metrics_json_has_the_design_keys(evaluated):
    m = json.loads((evaluated / "metrics.json").read_text())
    for level in ("image", "patient"):
        section = m[level]
        assert {"accuracy", "auroc_macro", "per_class", "confusion", "ci95"} <= set(section)
        assert set(section["per_class"]["normal"]) >= {
            "sensitivity",
            "specificity",
            "ppv",
            "npv",
            "auroc",
        }
        assert section["ci95"]["resampled"] == "patients" and section["ci95"]["n_boot"] == 50
        assert "low" in section["ci95"]["accuracy"]
    assert m["image"]["n"] == 36 and m["patient"]["n"] == 12
    assert np.sum(m["patient"]["confusion"]) == 12
    assert "ece" in m["calibration"]["image"] and len(m["calibration"]["image"]["bins"]) == 10
    assert set(m["subgroups"]["site"]["patient"]) == {"A", "B"}
    assert set(m["subgroups"]["ga_bin"]["patient"]) <= {"<20", "20-27", ">=28"}
    assert m["errors"] == [] and m["patients_without_readable_images"] == []


def test_report_is_self_contained_html(evaluated):
    html = (evaluated / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 6  # 2 ROC, 2 confusion, 2 reliability
    assert "Research use only" in html and "<h3>site</h3>" in html
    assert 'src="http' not in html


def test_backend_and_device_are_recorded(evaluated):
    m = json.loads((evaluated / "metrics.json").read_text())
    assert m["model"]["backend"] == "onnxruntime" and m["model"]["device"] == "cpu"  # auto
    assert "backend onnxruntime on cpu" in (evaluated / "report.html").read_text()


def test_backend_choice_and_refusals(tiny_run, tiny_manifest, tmp_path, caplog, capsys):
    bundle = tiny_run / "bundle"
    with pytest.raises(SystemExit) as exc:
        main(eval_args(bundle, tiny_manifest, tmp_path / "x", "--backend", "openvino"))
    assert exc.value.code == 2 and "invalid choice: 'openvino'" in capsys.readouterr().err
    out = tmp_path / "int8"
    assert main(eval_args(bundle, tiny_manifest, out, "--backend", "onnxruntime-int8")) == 2
    assert "no int8 graph calibrated" in caplog.text and not (out / "metrics.json").exists()
    out = tmp_path / "torch"
    assert main(eval_args(bundle, tiny_manifest, out, "--backend", "torch")) == 0
    assert json.loads((out / "metrics.json").read_text())["model"]["backend"] == "torch"


def test_evaluation_runs_exactly_the_predictor(evaluated, tiny_run, tiny_manifest):
    bundle = load_bundle(tiny_run / "bundle")
    refs = discover([tiny_manifest]).images[:5]
    with Predictor(bundle, device="cpu") as predictor:
        direct = predictor.predict([read_image(r) for r in refs])
    with open(evaluated / "images.csv") as f:
        rows = {r["path"]: r for r in csv.DictReader(f)}
    for p in direct:
        row = rows[str(p.ref.path)]
        got = [float(row[f"p_{c}"]) for c in bundle.card.class_names]
        np.testing.assert_allclose(got, p.probs, atol=1e-5)
    with open(evaluated / "patients.csv") as f:
        assert len(list(csv.DictReader(f))) == 12


def test_unreadable_images_are_reported_not_fatal(tiny_run, tiny_manifest, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_manifest.parent, data)
    png = (data / "nor00" / "0.png").read_bytes()
    (data / "nor00" / "0.png").write_bytes(
        png[: len(png) // 2]
    )  # truncated: header fine, pixels not
    (data / "nor01" / "0.png").write_bytes(b"\x89PNG broken")  # refused already at discovery
    for i in range(3):  # every image of enc01
        (data / "enc01" / f"{i}.png").write_bytes(b"garbage")
    out = tmp_path / "out"
    assert main(eval_args(tiny_run / "bundle", data / "manifest.csv", out)) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert len(m["errors"]) == 5
    stages = {e["path"].split("/data/")[1]: (e["stage"], e["patient_id"]) for e in m["errors"]}
    assert stages["nor01/0.png"] == ("discovery", "nor01") and stages["enc01/2.png"] == (
        "discovery",
        "enc01",
    )
    assert m["patients_with_unreadable_images"] == ["nor00", "nor01"]
    assert m["patients_without_readable_images"] == ["enc01"]
    assert m["patient"]["n"] == 11 and m["image"]["n"] == 31
    assert "enc01" in (out / "report.html").read_text()


def test_no_usable_labels_is_exit_2(tiny_run, tmp_path, caplog):
    from tests.support.training_data import write_dataset

    manifest = write_dataset(
        tmp_path / "d", patients_per_class=1, images_per_patient=1, classes=("anencephaly",)
    )
    assert main(eval_args(tiny_run / "bundle", manifest, tmp_path / "out")) == 2
    assert "no image is labelled with one of the model's classes" in caplog.text


def test_missing_bundle_is_exit_2(tiny_manifest, tmp_path, caplog):
    assert main(eval_args(tmp_path / "nope", tiny_manifest, tmp_path / "out")) == 2
    assert "not a model bundle folder" in caplog.text


def test_out_of_domain_inputs_measure_the_detector(tiny_run, tiny_manifest, tmp_path):
    """--ood: the domain section reports each out-of-domain set (share flagged, reasons) and
    the detector's AUROC against the in-domain data; patients use assessable views only."""
    from PIL import Image

    ood = tmp_path / "ood"
    ood.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):  # colour noise (not B-mode) and greyscale checkerboards (model's call)
        Image.fromarray(rng.integers(0, 255, (80, 80, 3), np.uint8)).save(ood / f"colour{i}.png")
        board = ((np.indices((80, 80)).sum(0) // (4 + i)) % 2 * 255).astype(np.uint8)
        Image.fromarray(board).save(ood / f"board{i}.png")
    out = tmp_path / "eval"
    assert main(eval_args(tiny_run / "bundle", tiny_manifest, out, "--ood", str(ood))) == 0
    m = json.loads((out / "metrics.json").read_text())
    domain = m["domain"]
    assert domain["in_domain"]["images"] == m["data"]["images"]
    (source,) = domain["out_of_domain"]
    summary = domain["out_of_domain"][source]
    assert summary["images"] == 12
    # The colour-noise images fail a model-free check (which one depends on the picture).
    assert sum(summary["by_reason"].values()) >= 6
    assert set(summary["by_reason"]) <= {"not_bmode", "blank", "out_of_distribution"}
    detector = summary["detector"]
    assert 0.0 <= detector["auroc_mahalanobis"] <= 1.0 and detector["flagged_out_of_domain"] >= 0.5
    assert "What the model can assess" in (out / "report.html").read_text()
    with open(out / "images.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"assessable", "reason", "ood_score", "plane"} <= set(rows[0])
    assert all(r["ood_score"] for r in rows if not r["error"])
