from pathlib import Path

import cv2
import numpy as np
import pytest

from core.bundle import load_bundle
from core.errors import CancelledError
from core.predictor import Predictor
from core.records import ImageRef, LoadedImage
from core.texture_statistics import texture_features
from tests.support.models import make_bundle, random_image


@pytest.fixture(scope="module")
def predictor(tiny_bundle):
    with Predictor(load_bundle(tiny_bundle), device="cpu", batch_size=2) as p:
        yield p


def test_batched_equals_single(predictor):
    images = [random_image(seed=s, name=f"{s}.png") for s in range(5)]
    progress = []
    batched = predictor.predict(images, progress=lambda d, t: progress.append((d, t)))
    assert progress == [(2, 5), (4, 5), (5, 5)]
    for im, p in zip(images, batched, strict=True):
        single = predictor.predict([im])[0]
        assert p.ref == im.ref
        np.testing.assert_allclose(p.probs, single.probs, atol=1e-5)
        np.testing.assert_allclose(p.cams, single.cams, atol=1e-4)
        assert p.probs.shape == (5,) and abs(p.probs.sum() - 1) < 1e-5
        assert p.cams.shape[0] == 5 and p.cams.min() >= 0 and p.cams.max() <= 1


def test_cancel_between_batches(predictor):
    images = [random_image(seed=s) for s in range(6)]
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(CancelledError, match="after 2 of 6"):
        predictor.predict(images, cancelled=cancelled)


def test_temperature_softens(tiny_bundle):
    import dataclasses

    bundle = load_bundle(tiny_bundle)
    hot = dataclasses.replace(bundle, card=dataclasses.replace(bundle.card, temperature=100.0))
    image = random_image(seed=9)
    with Predictor(bundle, device="cpu") as p1, Predictor(hot, device="cpu") as p2:
        sharp, soft = p1.predict([image])[0].probs, p2.predict([image])[0].probs
    assert soft.max() - soft.min() < sharp.max() - sharp.min()
    assert sharp.argmax() == soft.argmax()


def test_unknown_device(tiny_bundle):
    with pytest.raises(ValueError, match="unknown device"):
        Predictor(load_bundle(tiny_bundle), device="tpu")


def _ultrasound_like(seed: int) -> LoadedImage:
    """A grey speckled disc on black: the kind of image the test bundle's domain is fitted on."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:80, :96]
    disc = np.hypot(yy - 40, xx - 48) < 30 + rng.integers(-4, 4)
    grey = (disc * rng.gamma(2.0, 45.0, (80, 96))).clip(0, 255).astype(np.uint8)
    return LoadedImage(ImageRef(Path(f"us{seed}.png")), np.repeat(grey[..., None], 3, axis=2))


@pytest.fixture(scope="module")
def domain_bundle(tmp_path_factory):
    fit = [_ultrasound_like(s) for s in range(60)]
    held_out = [_ultrasound_like(s) for s in range(60, 90)]
    out = tmp_path_factory.mktemp("domain") / "bundle"
    return load_bundle(
        make_bundle(out, planes=("axial", "sagittal"), domain_images=fit, threshold_images=held_out)
    )


def test_plane_and_ood_score_come_from_the_same_forward_pass(domain_bundle):
    with Predictor(domain_bundle, device="cpu") as p:
        inside = p.predict([_ultrasound_like(100 + s) for s in range(6)])
        ramp = np.repeat(np.tile(np.linspace(0, 255, 96, dtype=np.uint8), (80, 1))[..., None], 3, 2)
        checker = ((np.indices((80, 96)).sum(0) // 8) % 2 * 255).astype(np.uint8)
        patterns = [
            LoadedImage(ImageRef(Path("ramp.png")), ramp),
            LoadedImage(ImageRef(Path("checker.png")), np.repeat(checker[..., None], 3, 2)),
        ]
        outside = p.predict(patterns)
    assert all(r.plane in ("axial", "sagittal") and 0.5 <= r.plane_prob <= 1 for r in inside)
    # Unseen images like the fitting set mostly lie within the threshold; test patterns far out.
    assert sum(r.assessable for r in inside) >= 4
    assert max(r.ood_score for r in inside) < min(r.ood_score for r in outside)
    for r in outside:  # far outside; the checkerboard may already fail a model-free check
        assert not r.assessable and r.ood_score > 1
    assert outside[0].check.reason == "out_of_distribution"  # the smooth ramp: only the score


def _fine_grained(image: LoadedImage, seed: int) -> LoadedImage:
    """The same picture with pixel-level noise added: another scanner's grain, same content."""
    noise = np.random.default_rng(seed).normal(0, 25, image.pixels.shape)
    pixels = (image.pixels + noise * (image.pixels > 0)).clip(0, 255).astype(np.uint8)
    return LoadedImage(ImageRef(Path(f"grain{seed}.png")), pixels)


def _smooth(image: LoadedImage) -> LoadedImage:
    """``image`` upsampled from a quarter of its size: smooth at the pixel scale, as exports are."""
    h, w = image.pixels.shape[:2]
    small = cv2.resize(image.pixels, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    return LoadedImage(image.ref, cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))


def test_the_texture_group_is_measured_on_the_region_and_flags_another_grain(tmp_path):
    fit = [_smooth(_ultrasound_like(s)) for s in range(60)]
    held_out = [_smooth(_ultrasound_like(s)) for s in range(60, 90)]
    bundle = load_bundle(
        make_bundle(tmp_path / "b", domain_images=fit, threshold_images=held_out, texture=True)
    )
    assert bundle.feature_domain.stage_names == ("layer4", "texture")
    unseen = [_smooth(_ultrasound_like(100 + s)) for s in range(8)]
    with Predictor(bundle, device="cpu") as p:
        prepared = p.prepare(unseen[0])
        # One definition: what training measured (core.texture_statistics on the region).
        np.testing.assert_array_equal(prepared.texture, texture_features(unseen[0].pixels))
        inside = p.predict(unseen)
        grains = [_fine_grained(im, s) for s, im in enumerate(unseen)]
        grainy = p.predict(grains)
        texture = bundle.feature_domain.stages["texture"]
        grain_distance = texture.distances(np.stack([p.prepare(g).texture for g in grains]))
        own_distance = texture.distances(np.stack([p.prepare(u).texture for u in unseen]))
    # The texture group itself sees the other grain (not only the network's features).
    assert min(grain_distance) / texture.scale > 3 * max(1.0, max(own_distance) / texture.scale)
    assert sum(r.assessable for r in inside) >= 6
    assert all(r.check.reason == "out_of_distribution" for r in grainy)
    assert min(r.ood_score for r in grainy) > max(r.ood_score for r in inside)


def test_a_model_free_reason_wins_over_the_score(domain_bundle):
    tiny = LoadedImage(ImageRef(Path("tiny.png")), np.full((10, 45, 3), 128, np.uint8))
    with Predictor(domain_bundle, device="cpu") as p:
        (r,) = p.predict([tiny])
    assert not r.assessable and r.check.reason == "too_small" and r.ood_score is not None


def test_bundle_without_domain_statistics_gives_no_score(predictor):
    (r,) = predictor.predict([_ultrasound_like(0)])
    assert r.ood_score is None and r.plane is None and r.assessable
    (colour,) = predictor.predict([random_image()])  # RGB noise: the model-free checks still work
    assert colour.check.reason == "not_bmode"


def test_non_finite_output_is_never_a_class(tiny_bundle):
    """A corrupted network (here an infinite class bias) gives NaN probabilities; argmax would
    read them as the first class, "normal". The image is not assessable instead."""
    from core.aggregation import NOT_ASSESSABLE, aggregate_patient

    bundle = load_bundle(tiny_bundle)
    # torch: a network changed in memory is not what the card's weights sha256 names, and
    # exports are cached by that sha256 (core.inference.export_cache).
    bundle.model.fc.bias.data[1] = float("inf")
    with Predictor(bundle, device="cpu", backend="torch") as p:
        results = p.predict([_ultrasound_like(s) for s in range(3)])
    for r in results:
        assert not r.assessable and r.check.reason == "invalid_output"
        assert "not a finite number" in r.check.message
        assert np.isfinite(r.cams).all()  # heatmaps stay drawable (empty), never NaN
    patient = aggregate_patient(
        "p", np.stack([r.probs for r in results]), [r.ref.key for r in results],
        bundle.card.class_names, bundle.card.aggregation, assessable=[r.assessable for r in results],
    )  # fmt: skip
    assert patient.pred == NOT_ASSESSABLE


def test_predict_prepares_each_image_once_and_ahead(tiny_bundle, monkeypatch):
    """predict() prepares the next batch on a second thread while the current one runs; every
    image is prepared exactly once, and the results equal predict_batch's."""
    import threading

    import core.predictor

    threads, counts = set(), {}
    real = core.predictor.prepare

    def counting(image, spec):
        threads.add(threading.current_thread().name)
        counts[image.ref.name] = counts.get(image.ref.name, 0) + 1
        return real(image, spec)

    images = [random_image(seed=s, name=f"{s}.png") for s in range(7)]
    with Predictor(load_bundle(tiny_bundle), device="cpu", batch_size=3) as p:
        reference = [p.predict_batch([im])[0] for im in images]
        counts.clear()
        threads.clear()
        monkeypatch.setattr(core.predictor, "prepare", counting)
        got = p.predict(images)
    assert counts == {f"{s}.png": 1 for s in range(7)}
    assert threads == {n for n in threads if n.startswith("cnsight-prepare")} and threads
    for g, r in zip(got, reference, strict=True):
        assert g.ref == r.ref and g.input_box == r.input_box
        np.testing.assert_allclose(g.probs, r.probs, atol=1e-5)


def test_prepared_inputs_must_match_the_images(predictor):
    images = [random_image(seed=s) for s in range(2)]
    with pytest.raises(ValueError, match="1 prepared inputs for 2 images"):
        predictor.predict_batch(images, [predictor.prepare(images[0])])
