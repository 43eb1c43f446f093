"""core.texture_statistics: the pixel grain at full resolution, a feature group of the
out-of-distribution score (no Qt, no network)."""

import cv2
import numpy as np
import pytest

from core.texture_statistics import N_FEATURES, texture_features


def _speckle(h=240, w=320, seed=0, low=60):
    rng = np.random.default_rng(seed)
    return rng.integers(low, 250, size=(h, w), dtype=np.uint8)


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((1, 1, 3), np.uint8),  # one black pixel
        np.full((10, 1), 200, np.uint8),  # one column: no horizontal neighbours
        np.zeros((64, 64, 3), np.uint8),  # blank
        np.full((64, 64, 3), 255, np.uint8),  # saturated
    ],
    ids=["1x1", "one-column", "blank", "white"],
)
def test_degenerate_regions_still_give_finite_numbers(pixels):
    # The model-free checks refuse such images; the score must still be a number, not NaN.
    f = texture_features(pixels)
    assert f.shape == (N_FEATURES,) and f.dtype == np.float32 and np.isfinite(f).all()


def test_pixel_noise_and_the_same_image_smoothed_differ_at_the_fine_scales():
    noisy = _speckle()
    # What a clinical export looks like at the pixel scale: the same content, upsampled smooth.
    smooth = cv2.resize(cv2.resize(noisy, (80, 60), interpolation=cv2.INTER_AREA), (320, 240))
    a, b = texture_features(noisy), texture_features(smooth)
    # Scale 1 Laplacian ratio (feature 0): much larger for pixel noise.
    assert a[0] - b[0] > 1.0
    # The coarsest scale (8) sees both much alike: the descriptor is about grain, not content.
    assert abs(a[6] - b[6]) < abs(a[0] - b[0])


def test_brightness_gain_cancels():
    image = _speckle(low=60)
    darker = (image.astype(np.float32) * 0.5).round().astype(np.uint8)  # all still above the floor
    # (the step features carry a +0.5 floor against log(0), so the cancel is close, not exact)
    np.testing.assert_allclose(texture_features(image), texture_features(darker), atol=0.1)


def test_colour_and_grey_input_agree():
    grey = _speckle()
    rgb = np.repeat(grey[..., None], 3, axis=2)
    np.testing.assert_allclose(texture_features(grey), texture_features(rgb), atol=1e-6)


def test_black_surround_does_not_count():
    # A sector on black: padding the region with more black must not change the grain it reports
    # (only the share of the region with signal, the last number).
    image = _speckle(120, 160)
    padded = np.zeros((240, 320), np.uint8)
    padded[60:180, 80:240] = image
    a, b = texture_features(image), texture_features(padded)
    np.testing.assert_allclose(a[:2], b[:2], atol=0.05)  # scale 1
    assert b[-1] < a[-1]
