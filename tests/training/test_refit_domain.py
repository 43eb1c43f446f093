"""python -m training.refit_domain: new out-of-distribution statistics for a trained bundle,
the weights byte for byte unchanged, only on the data it was trained on."""

import json

import numpy as np

from core.bundle import load_bundle
from core.discovery import discover
from core.imaging import read_image
from core.predictor import Predictor
from core.texture_statistics import N_FEATURES as N_TEXTURE_FEATURES
from tests.support.training_data import write_dataset
from training.refit_domain import main


def _args(bundle, data, out, *extra):
    return ["--model", str(bundle), "--data", str(data), "--out", str(out), "--workers", "0",
            "--no-progress", *extra]  # fmt: skip


def test_refit_reproduces_training_and_changes_only_the_domain(tiny_run, tiny_manifest, tmp_path):
    before = load_bundle(tiny_run / "bundle")
    same = tmp_path / "same"
    stages = before.card.domain["stages"]
    assert main(_args(tiny_run / "bundle", tiny_manifest, same, "--domain-stages", *stages)) == 0
    again = load_bundle(same)
    # The same stages on the same split: what cnsight-train fitted, to rounding.
    assert np.isclose(again.card.domain["threshold"], before.card.domain["threshold"], rtol=1e-4)
    assert again.card.weights_sha256 == before.card.weights_sha256
    assert (same / "model.safetensors").read_bytes() == (
        tiny_run / "bundle" / "model.safetensors"
    ).read_bytes()

    other = tmp_path / "layer4"
    assert main(_args(tiny_run / "bundle", tiny_manifest, other, "--domain-stages", "layer4")) == 0
    card = json.loads((other / "model_card.json").read_text())
    assert card["domain"]["stages"] == ["layer4"]
    assert card["training"]["domain_refit"]["weights"] == "unchanged"
    assert card["training"]["domain_refit"]["previous_domain"]["sha256"] == before.card.domain["sha256"]  # fmt: skip
    assert {k: card[k] for k in ("class_names", "temperature", "aggregation")} == {
        "class_names": list(before.card.class_names),
        "temperature": before.card.temperature,
        "aggregation": before.card.aggregation,
    }
    # The threshold again keeps its share of the validation images, now with layer4 only.
    val = discover([tiny_run / "splits" / "val.csv"])
    with Predictor(load_bundle(other), device="cpu") as p:
        scores = np.array([r.ood_score for r in p.predict([read_image(i) for i in val.images])])
    assert np.mean(scores <= 1.0 + 1e-3) >= 0.95


def test_refit_on_other_data_is_refused_and_writes_nothing(tiny_run, tmp_path, capsys):
    other = write_dataset(tmp_path / "other", patients_per_class=3, seed=99)
    out = tmp_path / "refit"
    assert main(_args(tiny_run / "bundle", other, out)) == 2
    assert "not the data" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_refit_into_an_existing_folder_is_refused(tiny_run, tiny_manifest, tmp_path, capsys):
    out = tmp_path / "exists"
    out.mkdir()
    assert main(_args(tiny_run / "bundle", tiny_manifest, out)) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_feature_cache_gives_the_same_statistics_without_another_forward_pass(
    tiny_run, tiny_manifest, tmp_path, monkeypatch
):
    cache = tmp_path / "cache"
    first, second, plain = tmp_path / "first", tmp_path / "second", tmp_path / "plain"
    args = ("--domain-stages", "layer2", "layer4")
    assert main(_args(tiny_run / "bundle", tiny_manifest, first, *args, "--feature-cache", str(cache))) == 0  # fmt: skip
    assert len(list(cache.glob("*.npz"))) == 1
    assert main(_args(tiny_run / "bundle", tiny_manifest, plain, *args)) == 0

    import training.data

    def no_reading(ref):
        raise AssertionError(f"{ref.key} was read again although it is cached")

    monkeypatch.setattr(training.data, "read_image", no_reading)
    assert main(_args(tiny_run / "bundle", tiny_manifest, second, *args, "--feature-cache", str(cache))) == 0  # fmt: skip
    cards = [json.loads((d / "model_card.json").read_text())["domain"] for d in (first, second, plain)]  # fmt: skip
    for card in cards[1:]:
        assert np.isclose(card["threshold"], cards[0]["threshold"], rtol=1e-5)
        assert card["stage_scales"].keys() == cards[0]["stage_scales"].keys()


def test_the_texture_group_is_fitted_cached_and_scored_like_a_stage(
    tiny_run, tiny_manifest, tmp_path
):
    cache, out = tmp_path / "cache", tmp_path / "texture"
    args = ("--domain-stages", "layer4", "texture", "--feature-cache", str(cache))
    assert main(_args(tiny_run / "bundle", tiny_manifest, out, *args)) == 0
    bundle = load_bundle(out)
    assert bundle.card.domain["stages"] == ["layer4", "texture"]
    assert "pixel texture" in bundle.card.domain["feature"]
    # The cache holds the texture beside every network stage: later re-fits read no image.
    (saved,) = cache.glob("*.npz")
    with np.load(saved) as rows:
        assert rows["texture"].shape == (len(rows["keys"]), N_TEXTURE_FEATURES)
    # Training measured the texture as the Predictor does: its own validation images are kept.
    val = discover([tiny_run / "splits" / "val.csv"])
    with Predictor(bundle, device="cpu") as p:
        scores = np.array([r.ood_score for r in p.predict([read_image(i) for i in val.images])])
    assert np.mean(scores <= 1.0 + 1e-3) >= 0.95


def test_a_cache_written_before_the_texture_group_is_rewritten(tiny_run, tiny_manifest, tmp_path):
    cache = tmp_path / "cache"
    first = tmp_path / "first"
    assert (
        main(_args(tiny_run / "bundle", tiny_manifest, first, "--feature-cache", str(cache))) == 0
    )
    (saved,) = cache.glob("*.npz")
    with np.load(saved) as rows:
        old = {k: rows[k] for k in rows.files if k != "texture"}
    np.savez(saved, **old)  # what an earlier version wrote
    again = tmp_path / "again"
    args = ("--domain-stages", "layer4", "texture", "--feature-cache", str(cache))
    assert main(_args(tiny_run / "bundle", tiny_manifest, again, *args)) == 0
    with np.load(saved) as rows:
        assert "texture" in rows.files


def test_a_refit_of_a_refit_keeps_the_current_keep_and_sample(tiny_run, tiny_manifest, tmp_path):
    """Options left out follow the bundle's current statistics, not the first training run's."""
    first, second = tmp_path / "first", tmp_path / "second"
    stages = ("--domain-stages", "layer4")
    assert main(_args(tiny_run / "bundle", tiny_manifest, first, *stages, "--domain-keep", "0.8", "--domain-fit-images", "12")) == 0  # fmt: skip
    assert main(_args(first, tiny_manifest, second, *stages)) == 0
    domains = [json.loads((d / "model_card.json").read_text())["domain"] for d in (first, second)]
    assert domains[0]["keep"] == domains[1]["keep"] == 0.8
    assert domains[0]["n_fit_images"] == domains[1]["n_fit_images"] == 12
    assert np.isclose(domains[1]["threshold"], domains[0]["threshold"], rtol=1e-5)
