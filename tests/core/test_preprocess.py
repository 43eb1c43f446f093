import numpy as np
import pytest
import torch
from torchvision import transforms as T

from core.preprocess import IMAGENET_MEAN, IMAGENET_STD, PreprocessSpec, prepare
from tests.support.models import random_image


def test_matches_published_eval_transform():
    """Resize(256) + CenterCrop(224) + ToTensor + Normalize, as the published study evaluates."""
    image = random_image(300, 400, seed=1)
    reference = T.Compose(
        [
            T.ToTensor(),
            T.Resize(256, antialias=True),
            T.CenterCrop(224),
            T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )(image.pixels)
    ours, box = prepare(image, PreprocessSpec(framing="resize_short_centre_crop"))
    assert ours.shape == (3, 224, 224)
    assert torch.allclose(ours, reference, atol=1e-5)
    # 300x400 -> 256x341; crop offsets (top 16, left 58) in resized pixels; x 300/256 back:
    # left 58*1.172=68.0, top 16*1.172=18.75, right 282*1.172=330.5, bottom 240*1.172=281.25
    assert box == (68, 19, 330, 281)


def test_region_crop_used_and_box_in_full_image_coordinates():
    image = random_image(200, 300, seed=2, region=(50, 20, 250, 180))
    spec = PreprocessSpec(resize=100, crop=100, framing="resize_short_centre_crop")
    tensor, box = prepare(image, spec)
    assert tensor.shape == (3, 100, 100)
    x0, y0, x1, y1 = box
    assert 50 <= x0 < x1 <= 250 and 20 <= y0 < y1 <= 180
    assert (y1 - y0) == 160  # short side of the region fills the crop


def test_degenerate_region_falls_back_to_whole_image():
    image = random_image(64, 64, seed=3, region=(10, 10, 12, 12))
    _, box = prepare(image, PreprocessSpec(resize=64, crop=64))
    assert box == (0, 0, 64, 64)


def test_spec_round_trip_and_validation():
    spec = PreprocessSpec(resize=146, crop=128)
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError):
        PreprocessSpec(resize=100, crop=128)


def test_rejects_non_rgb_uint8():
    image = random_image()
    bad = type(image)(ref=image.ref, pixels=image.pixels[..., 0])
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        prepare(bad, PreprocessSpec())
    assert np.asarray(image.pixels).dtype == np.uint8


def test_default_framing_keeps_the_whole_region_and_pads_to_square():
    """Pad-to-square: a mark at the far edge of a wide region is inside the model input."""
    image = random_image(100, 300, seed=4)
    pixels = np.zeros((100, 300, 3), np.uint8)
    pixels[40:60, 290:300] = 255  # at the right edge: a centre crop would cut it away
    image = type(image)(ref=image.ref, pixels=pixels)
    spec = PreprocessSpec(resize=64, crop=64)
    assert spec.framing == "pad_to_square" and spec.sees_whole_region
    tensor, box = prepare(image, spec)
    assert tensor.shape == (3, 64, 64)
    unit = (
        tensor * torch.tensor(IMAGENET_STD)[:, None, None]
        + torch.tensor(IMAGENET_MEAN)[:, None, None]
    )
    assert unit[:, 28:36, 60:64].amax() > 0.5  # the edge mark is seen
    assert unit[:, :8].abs().max() < 1e-5 and unit[:, -8:].abs().max() < 1e-5  # black padding
    # The square covers the whole image: it reaches 100 px above and below the 100 px height.
    assert box == (0, -100, 300, 200)
    centre = PreprocessSpec(resize=64, crop=64, framing="resize_short_centre_crop")
    _, centre_box = prepare(image, centre)
    assert centre_box[2] < 300  # the centre crop does not reach the mark


def test_extreme_aspect_ratio_is_resized_before_padding():
    """A 1 x 20000 strip becomes a 64 x 64 input without allocating a 20000 x 20000 array."""
    image = random_image(1, 20000, seed=5)
    tensor, box = prepare(image, PreprocessSpec(resize=64, crop=64))
    assert tensor.shape == (3, 64, 64)
    assert box[2] - box[0] == 20000


def test_cards_without_a_framing_name_keep_the_centre_crop():
    old = {"resize": 256, "crop": 224, "name": "resize_short_centre_crop"}
    assert PreprocessSpec.from_dict(old).framing == "resize_short_centre_crop"
    assert (
        PreprocessSpec.from_dict({"resize": 256, "crop": 224}).framing == "resize_short_centre_crop"
    )
    with pytest.raises(ValueError, match="unknown framing"):
        PreprocessSpec(framing="stretch")
