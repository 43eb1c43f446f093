"""The forward-pass class-activation maps equal pytorch-grad-cam's Grad-CAM (docs/design.md §3)."""

import numpy as np
import pytest
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

from core.bundle import load_bundle
from core.heatmap_overlay import colormap_legend, render_overlay, upsample
from core.predictor import Predictor
from core.preprocess import PreprocessSpec, prepare
from tests.support.models import make_bundle, random_image


@pytest.fixture(scope="module")
def bundle_224(tmp_path_factory):
    # Full 224 input so layer4 is the real 7x7 grid; a few BN statistics randomised so the
    # random network has spatially varied, partly negative maps (a harder equality case).
    d = make_bundle(tmp_path_factory.mktemp("b224") / "b", crop=224, resize=256, seed=3)
    bundle = load_bundle(d)
    g = torch.Generator().manual_seed(1)
    for m in bundle.model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1, generator=g)
            m.running_var.uniform_(0.5, 1.5, generator=g)
    return bundle


def test_forward_cams_equal_gradcam_for_every_class(bundle_224):
    image = random_image(240, 320, seed=7)
    with Predictor(bundle_224, device="cpu") as predictor:
        pred = predictor.predict([image])[0]
    tensor, _ = prepare(image, bundle_224.card.preprocessing)
    model = bundle_224.model
    assert pred.cams.shape == (5, 7, 7)
    with GradCAM(model=model, target_layers=[model.layer4[-1]]) as cam:
        for k in range(5):
            reference = cam(input_tensor=tensor[None], targets=[ClassifierOutputTarget(k)])[0]
            ours = upsample(pred.cams[k], (224, 224))
            assert reference.max() > 0.99  # a real, non-empty map
            np.testing.assert_allclose(ours, reference, atol=2e-4, err_msg=f"class {k}")
    # and the maps of different classes really differ
    assert np.abs(pred.cams[0] - pred.cams[1]).max() > 0.05


def _hooks(model: torch.nn.Module) -> dict[str, int]:
    """Every kind of hook a module can hold, counted over the whole network."""
    kinds = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return {k: sum(len(getattr(m, k)) for m in model.modules()) for k in kinds}


@pytest.mark.parametrize("backend", ["torch", "torch-channels-last", "onnxruntime"])
def test_hooks_released(tiny_bundle, backend):
    """A Predictor leaves no hook on the network, between calls or after it closes: a leaked hook
    keeps every batch's feature map alive and runs on every later forward of the same model
    (the app keeps one model for hours). The maps come from the pass's own outputs
    (core.inference), and Grad-CAM's hooks (extra_heatmap) are removed after each map. A hook
    somebody else put on the model stays where it was."""
    bundle = load_bundle(tiny_bundle)
    theirs = bundle.model.layer4.register_forward_hook(lambda *_: None)
    before = _hooks(bundle.model)
    assert before["_forward_hooks"] == 1
    for _ in range(2):  # a second Predictor on the same network: nothing accumulates
        with Predictor(bundle, device="cpu", backend=backend) as predictor:
            for _ in range(2):
                predictor.predict([random_image(seed=1), random_image(seed=2)])
                assert _hooks(bundle.model) == before
            predictor.extra_heatmap(random_image(seed=3), 1, method="gradcam++", layer="layer4")
            assert _hooks(bundle.model) == before
        assert _hooks(bundle.model) == before
    theirs.remove()
    assert sum(_hooks(bundle.model).values()) == 0


@pytest.mark.parametrize("method", ["gradcam++", "eigencam", "layercam"])
def test_other_methods_on_request(tiny_bundle, method):
    bundle = load_bundle(tiny_bundle)
    image = random_image(seed=4)
    with Predictor(bundle, device="cpu") as predictor:
        cam = predictor.extra_heatmap(image, class_index=2, method=method, layer="layer3")
    assert cam.shape == (64, 64) and cam.min() >= 0 and cam.max() <= 1.0 + 1e-6
    # no hooks left behind by grad-cam's objects
    assert all(len(m._forward_hooks) == 0 for m in bundle.model.layer3.modules())


def test_unknown_method(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    with (
        Predictor(bundle, device="cpu") as predictor,
        pytest.raises(ValueError, match="unknown heatmap method"),
    ):
        predictor.extra_heatmap(random_image(), 0, method="magic")


def test_overlay_only_inside_box_and_legend():
    pixels = np.full((100, 120, 3), 128, np.uint8)
    cam = np.zeros((7, 7), np.float32)
    cam[3, 3] = 1.0
    out = render_overlay(pixels, cam, (20, 10, 90, 80), opacity=0.5)
    assert (out[:10] == 128).all() and (out[:, :20] == 128).all() and (out[:, 90:] == 128).all()
    assert not (out[10:80, 20:90] == 128).all()
    centre = out[45, 55].astype(int)
    assert centre[0] > centre[2]  # hot = red in the jet colormap
    legend = colormap_legend(64, 4)
    assert (
        legend.shape == (4, 64, 3)
        and legend[0, 0, 2] > legend[0, 0, 0]
        and legend[0, -1, 0] > legend[0, -1, 2]
    )


def test_spec_from_bundle_used(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    assert bundle.card.preprocessing == PreprocessSpec(resize=72, crop=64)


def test_every_grad_cam_method_name_is_a_grad_cam_class_and_the_app_offers_known_ones():
    import pytorch_grad_cam

    from core.heatmap_overlay import APP_HEATMAP_METHODS, FORWARD_CAM, GRAD_CAM_METHODS

    for _label, class_name in GRAD_CAM_METHODS.values():
        assert isinstance(getattr(pytorch_grad_cam, class_name), type)
    assert next(iter(APP_HEATMAP_METHODS)) == FORWARD_CAM  # the free map comes first
    assert set(APP_HEATMAP_METHODS) - {FORWARD_CAM} <= set(GRAD_CAM_METHODS)
