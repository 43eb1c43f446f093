import numpy as np
import pytest

from core.bundle import load_bundle
from core.errors import CancelledError
from core.predictor import Predictor
from tests.support.models import random_image


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
