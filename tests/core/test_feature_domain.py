"""The out-of-distribution score (core.feature_domain): fitting, the per-stage scales and
per-framing thresholds (validation only), the stored layouts, and each refusal."""

import numpy as np
import pytest
import torch

from core.errors import BundleError
from core.feature_domain import (
    MIN_IMAGES_PER_FRAMING,
    FeatureDomain,
    StageGaussians,
    fit_feature_domain,
    fit_gaussians,
)
from core.model import FeatureTap, build_model
from core.texture_statistics import N_FEATURES, TEXTURE


def _gaussian(n, dim, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, (n, dim)).astype(np.float32)


def test_each_stage_is_scaled_by_its_validation_quantile_and_the_mean_is_thresholded():
    fit = {"layer3": _gaussian(400, 8, seed=1), "layer4": 10 * _gaussian(400, 16, seed=2)}
    val = {"layer3": _gaussian(200, 8, seed=3), "layer4": 10 * _gaussian(200, 16, seed=4)}
    domain, distances = fit_feature_domain(fit, np.zeros(400, int), 2, val, keep=0.95)
    assert domain.stage_names == ("layer3", "layer4") and domain.region_threshold is None
    for s, g in domain.stages.items():  # each stage's 95 % validation quantile is its unit
        d = StageGaussians(g.class_means, g.whitener).distances(val[s])
        assert np.isclose(g.scale, np.quantile(d, 0.95, method="higher"))
    np.testing.assert_allclose(
        distances,
        np.mean([domain.stages[s].distances(val[s]) / domain.stages[s].scale for s in fit], 0),
    )
    scores = domain.scores(val)
    assert np.mean(scores <= 1.0) == pytest.approx(0.95, abs=0.006)
    assert np.quantile(scores, 0.95, method="higher") == pytest.approx(1.0)


def test_a_shift_only_the_earlier_stage_sees_is_flagged_by_the_combined_score():
    """Why more than one stage: images whose layer4 features look in-domain but whose layer3
    features (texture) do not. layer4 alone keeps them; the combination flags them."""
    fit = {"layer3": _gaussian(500, 8, seed=1), "layer4": _gaussian(500, 8, seed=2)}
    val = {"layer3": _gaussian(300, 8, seed=3), "layer4": _gaussian(300, 8, seed=4)}
    odd = {"layer3": _gaussian(100, 8, shift=3.0, seed=5), "layer4": _gaussian(100, 8, seed=6)}
    labels = np.zeros(500, int)
    last_only, _ = fit_feature_domain(
        fit["layer4"], labels, 1, torch.from_numpy(val["layer4"]), 0.95
    )
    both, _ = fit_feature_domain(fit, labels, 1, val, 0.95)
    assert np.mean(last_only.scores({"layer4": odd["layer4"]}) > 1) < 0.15
    assert np.mean(both.scores(odd) > 1) > 0.9


def test_region_cropped_images_get_their_own_threshold_when_validation_has_enough():
    n = MIN_IMAGES_PER_FRAMING
    fit = {"layer4": _gaussian(600, 8, seed=1)}
    whole, cropped = _gaussian(n, 8, seed=2), _gaussian(n, 8, shift=1.0, seed=3)
    val = {"layer4": np.concatenate([whole, cropped])}
    flags = np.r_[np.zeros(n, bool), np.ones(n, bool)]
    domain, _ = fit_feature_domain(fit, np.zeros(600, int), 1, val, 0.95, threshold_cropped=flags)
    assert domain.region_threshold > domain.threshold  # cropped images lie further out
    scores = domain.scores(val, flags)
    for part in (~flags, flags):  # each framing keeps 95 % of its own validation images
        assert np.mean(scores[part] <= 1.0) == pytest.approx(0.95, abs=0.011)
    one, _ = fit_feature_domain(fit, np.zeros(600, int), 1, val, 0.95)
    assert np.mean(one.scores(val)[flags] <= 1.0) < 0.93  # one threshold keeps too few of them
    few = flags.copy()
    few[n + 5 :] = False  # 5 cropped images are too few for a threshold of their own
    assert fit_feature_domain(fit, np.zeros(600, int), 1, val, 0.95, few)[0].region_threshold is None  # fmt: skip


def test_stored_tensors_round_trip_and_the_layout_before_stages_still_loads():
    fit = {"layer3": _gaussian(300, 6, seed=1), "layer4": _gaussian(300, 10, seed=2)}
    val = {"layer3": _gaussian(240, 6, seed=3), "layer4": _gaussian(240, 10, seed=4)}
    flags = np.arange(240) % 2 == 0
    domain, _ = fit_feature_domain(fit, np.arange(300) % 3, 3, val, threshold_cropped=flags)
    loaded = FeatureDomain.from_tensors(domain.tensors(), domain.threshold)
    np.testing.assert_allclose(loaded.scores(val, flags), domain.scores(val, flags), rtol=1e-6)
    assert loaded.describe() == domain.describe()
    # Before stages: class_means / whitener of layer4, one threshold, distances unscaled.
    means, whitener = fit_gaussians(fit["layer4"], np.arange(300) % 3, 3)
    old = {"class_means": torch.from_numpy(means), "whitener": torch.from_numpy(whitener)}
    legacy = FeatureDomain.from_tensors(old, 7.5)
    assert legacy.stage_names == ("layer4",) and legacy.region_threshold is None
    z, mu = val["layer4"] @ whitener, means @ whitener
    expected = np.sqrt(((z[:, None] - mu[None]) ** 2).sum(-1)).min(1) / 7.5
    np.testing.assert_allclose(legacy.scores(val, flags), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda t: t.pop("layer3.whitener"), "layer3.whitener"),
        (lambda t: t.__setitem__("layer3.whitener", torch.eye(4)), "do not fit"),
        (lambda t: t.__setitem__("layer3.scale", torch.tensor(-1.0)), "scale"),
        (lambda t: t.__setitem__("layer3.class_means", torch.zeros(2, 6)), "number of classes"),
        (lambda t: t.__setitem__("region_threshold", torch.tensor(float("nan"))), "threshold"),
        (lambda t: [t.pop(k) for k in list(t)], "no stage"),
    ],
)
def test_statistics_that_do_not_fit_are_refused(tamper, message):
    fit = {"layer3": _gaussian(300, 6, seed=1), "layer4": _gaussian(300, 10, seed=2)}
    val = {s: f[:150] for s, f in fit.items()}
    domain, _ = fit_feature_domain(fit, np.arange(300) % 3, 3, val, threshold_cropped=np.arange(150) < 75)  # fmt: skip
    tensors = domain.tensors() | {"region_threshold": torch.tensor(2.0)}
    tamper(tensors)
    with pytest.raises((BundleError, KeyError), match=message):
        FeatureDomain.from_tensors(tensors, domain.threshold)


def test_the_tap_pools_earlier_stages_in_the_same_forward_pass():
    model = build_model("resnet18", 5).eval()
    x = torch.randn(2, 3, 64, 64)
    kept = {}
    hook = model.layer3.register_forward_hook(lambda m, i, out: kept.__setitem__("l3", out))
    with FeatureTap(model, "layer4", ("layer3", "layer4")) as tap, torch.inference_mode():
        model(x)
        features = tap.stage_features()
        tap.clear()
        assert tap.output is None and tap.stage_features.__self__._stage_pooled == {}
    hook.remove()
    assert set(features) == {"layer3", "layer4"}
    torch.testing.assert_close(features["layer3"], kept["l3"].mean(dim=(2, 3)))
    assert features["layer4"].shape == (2, 512)


def _with_texture(texture_dim=N_FEATURES):
    fit = {"layer4": _gaussian(300, 10, seed=2), TEXTURE: _gaussian(300, texture_dim, seed=3)}
    val = {s: f[:150] for s, f in fit.items()}
    return fit_feature_domain(fit, np.arange(300) % 3, 3, val)[0]


def test_the_texture_group_is_not_asked_of_the_network():
    domain = _with_texture()
    assert domain.stage_names == ("layer4", TEXTURE) and domain.uses_texture
    # The backends return only network stages; the class-head statistics are layer4's.
    assert domain.network_stage_names == ("layer4",)
    assert domain.class_means.shape == (3, 10)
    # A grain shift alone (network features in domain) moves the combined score out.
    val = {"layer4": _gaussian(50, 10, seed=4), TEXTURE: _gaussian(50, N_FEATURES, 8.0, seed=5)}
    assert np.mean(domain.scores(val) > 1.0) == 1.0
    val[TEXTURE] = _gaussian(50, N_FEATURES, seed=5)
    assert np.mean(domain.scores(val) > 1.0) < 0.2


@pytest.mark.parametrize(
    "tensors, message",
    [
        (lambda: _with_texture(N_FEATURES + 2).tensors(), "this version measures"),
        (
            lambda: {k: v for k, v in _with_texture().tensors().items() if k.startswith(TEXTURE)},
            "no network stage",
        ),
    ],
    ids=["texture-of-another-version", "texture-only"],
)
def test_texture_statistics_that_do_not_fit_are_refused(tensors, message):
    with pytest.raises(BundleError, match=message):
        FeatureDomain.from_tensors(tensors(), 1.0)
