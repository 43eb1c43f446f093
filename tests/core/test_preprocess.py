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
    ours, box = prepare(image, PreprocessSpec())
    assert ours.shape == (3, 224, 224)
    assert torch.allclose(ours, reference, atol=1e-5)
    # 300x400 -> 256x341; crop offsets (top 16, left 58) in resized pixels; x 300/256 back:
    # left 58*1.172=68.0, top 16*1.172=18.75, right 282*1.172=330.5, bottom 240*1.172=281.25
    assert box == (68, 19, 330, 281)


def test_region_crop_used_and_box_in_full_image_coordinates():
    image = random_image(200, 300, seed=2, region=(50, 20, 250, 180))
    spec = PreprocessSpec(resize=100, crop=100)
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
