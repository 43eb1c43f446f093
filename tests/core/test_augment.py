"""core.augment: deterministic, same input contract as the evaluation preprocessing."""

import numpy as np
import pytest
import torch

from core.augment import AugmentParams, augment, sample_crop_box
from core.preprocess import PreprocessSpec, prepare
from tests.support.models import random_image

SPEC = PreprocessSpec(resize=72, crop=64, framing="resize_short_centre_crop")
OFF = AugmentParams(
    scale=(1.0, 1.0),
    ratio=(1.0, 1.0),
    hflip=0.0,
    rotation_deg=0.0,
    brightness=0.0,
    contrast=0.0,
    gamma=0.0,
    speckle=0.0,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_same_generator_seed_same_tensor_and_different_seeds_differ():
    image = random_image(90, 110)
    a = augment(image, SPEC, AugmentParams(), gen(3))
    b = augment(image, SPEC, AugmentParams(), gen(3))
    c = augment(image, SPEC, AugmentParams(), gen(4))
    assert a.shape == (3, 64, 64) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_does_not_touch_global_rng():
    torch.manual_seed(0)
    before = torch.get_rng_state()
    augment(random_image(), SPEC, AugmentParams(), gen(1))
    assert torch.equal(before, torch.get_rng_state())


def test_all_steps_off_on_square_image_equals_resized_evaluation_input():
    image = random_image(64, 64)
    spec = PreprocessSpec(resize=64, crop=64)
    expected, _ = prepare(image, spec)
    got = augment(image, spec, OFF, gen(0))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_uses_the_ultrasound_region_like_prepare():
    # Region = left half is bright, the rest black: every crop of the region is bright.
    pixels = np.zeros((60, 120, 3), np.uint8)
    pixels[:, :60] = 200
    image = random_image(60, 120)
    image = type(image)(ref=image.ref, pixels=pixels, region=(0, 0, 60, 60))
    t = augment(image, SPEC, OFF, gen(0))
    mean = torch.tensor(SPEC.mean).view(3, 1, 1)
    std = torch.tensor(SPEC.std).view(3, 1, 1)
    raw = t * std + mean
    assert raw.min() > 0.7  # nothing from the black part outside the region


def test_flip_is_a_mirror():
    image = random_image(64, 64)
    spec = PreprocessSpec(resize=64, crop=64)
    flipped = augment(image, spec, AugmentParams(**{**OFF.to_dict(), "hflip": 1.0}), gen(0))
    plain = augment(image, spec, OFF, gen(0))
    torch.testing.assert_close(flipped, plain.flip(-1))


def test_crop_box_within_image_and_scale_range():
    params = AugmentParams(scale=(0.3, 0.6))
    for seed in range(50):
        top, left, h, w = sample_crop_box(100, 150, params, gen(seed))
        assert top >= 0 and top + h <= 100 and left >= 0 and left + w <= 150
        assert 0.25 <= h * w / (100 * 150) <= 0.65


def test_speckle_and_jitter_change_values_but_stay_in_range():
    image = random_image(64, 64)
    spec = PreprocessSpec(resize=64, crop=64)
    noisy = augment(
        image, spec, AugmentParams(**{**OFF.to_dict(), "speckle": 0.5, "gamma": 0.5}), gen(2)
    )
    plain = augment(image, spec, OFF, gen(2))
    assert not torch.allclose(noisy, plain)
    lo = (0 - torch.tensor(spec.mean)) / torch.tensor(spec.std)
    hi = (1 - torch.tensor(spec.mean)) / torch.tensor(spec.std)
    assert (noisy >= lo.view(3, 1, 1) - 1e-5).all() and (noisy <= hi.view(3, 1, 1) + 1e-5).all()


def test_speckle_is_grey():
    grey = random_image(64, 64)
    pixels = np.repeat(grey.pixels[..., :1], 3, axis=2)
    image = type(grey)(ref=grey.ref, pixels=pixels)
    spec = PreprocessSpec(resize=64, crop=64, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    t = augment(image, spec, AugmentParams(rotation_deg=0.0), gen(5))
    torch.testing.assert_close(t[0], t[1])
    torch.testing.assert_close(t[1], t[2])


@pytest.mark.parametrize(
    "bad",
    [
        {"scale": (0.0, 1.0)},
        {"scale": (0.8, 0.5)},
        {"hflip": 1.5},
        {"brightness": 1.0},
        {"speckle": -0.1},
    ],
)
def test_invalid_params_rejected(bad):
    with pytest.raises(ValueError):
        AugmentParams(**bad)


@pytest.mark.parametrize("shape", [(40, 100), (100, 40), (64, 64)])
def test_all_steps_off_equals_the_padded_evaluation_input(shape):
    """Pad-to-square framing: with every random step off, a training view IS the evaluation
    input (the whole region on a black square), for wide, tall and square images."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    smooth = (60 + 120 * np.sin(yy / h * 3) * np.cos(xx / w * 2) ** 2).astype(np.uint8)
    image = random_image(h, w)
    image = type(image)(ref=image.ref, pixels=np.repeat(smooth[..., None], 3, axis=2))
    spec = PreprocessSpec(resize=64, crop=64)
    expected, _ = prepare(image, spec)
    got = augment(image, spec, OFF, gen(0))
    # Resize-then-pad vs pad-then-resize: the same picture up to interpolation at the borders.
    assert (got - expected).abs().mean() < 0.05
    assert (got - expected).abs()[:, 8:-8, 8:-8].median() < 0.05


def test_padded_square_crop_places_the_window_on_the_black_square():
    from core.augment import padded_square_crop

    pixels = np.full((2, 4, 3), 9, np.uint8)  # square side 4: one black row above, one below
    whole = padded_square_crop(pixels, 0, 0, 4, 4)
    assert whole[:, :, 0].tolist() == [[0] * 4, [9] * 4, [9] * 4, [0] * 4]
    assert padded_square_crop(pixels, 3, 2, 2, 2)[:, :, 0].tolist() == [[0, 0], [0, 0]]
