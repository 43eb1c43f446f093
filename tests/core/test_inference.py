"""Every inference backend gives what torch eager gives (core.inference): the same classes,
probabilities within FP32_TOLERANCE, the same domain score and assessable decision, the same
plane and the same heatmaps; exports are cached per weights, re-exported when damaged, and the
bundle is never touched. No timings here (python -m bench measures them)."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from core.bundle import ModelCard, load_bundle, save_bundle
from core.feature_domain import fit_feature_domain
from core.inference import BACKENDS, FP32_TOLERANCE, make_backend
from core.inference.base import BackendUnavailable
from core.inference.export_cache import cache_root, is_intact
from core.inference.torch_bf16 import cpu_has_bf16
from core.model import FeatureTap, build_model
from core.predictor import Predictor
from core.preprocess import PreprocessSpec, prepare
from core.records import ImageRef, LoadedImage
from core.resources import demo_model_dir
from core.taxonomy import DEFAULT_TAXONOMY

FP32_BACKENDS = ("torch-channels-last", "onnxruntime")


def ultrasound_like(seed: int, h: int = 80, w: int = 96) -> LoadedImage:
    """A grey speckled disc on black (what the test bundle's domain is fitted on)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    disc = np.hypot(yy - h / 2, xx - w / 2) < min(h, w) * 0.38 + rng.integers(-4, 4)
    grey = (disc * rng.gamma(2.0, 45.0, (h, w))).clip(0, 255).astype(np.uint8)
    return LoadedImage(ImageRef(Path(f"us{seed}.png")), np.repeat(grey[..., None], 3, axis=2))


# The network stages a backend must return; the texture group is measured outside the
# network (core.texture_statistics), so it is no concern of a backend.
NETWORK_STAGES = ("layer2", "layer3", "layer4")


def _stage_features(model, images, spec) -> dict[str, np.ndarray]:
    batch = torch.stack([prepare(im, spec)[0] for im in images])
    with FeatureTap(model, "layer4", NETWORK_STAGES) as tap, torch.inference_mode():
        model(batch)
        return {s: f.numpy() for s, f in tap.stage_features().items()}


@pytest.fixture(scope="module")
def full_bundle(tmp_path_factory):
    """A tiny bundle with everything a backend must reproduce: a plane head and a three-stage
    domain (layer2-layer4, as new bundles have)."""
    torch.manual_seed(3)
    # resnet18: the same code paths as the demo's resnet34 at half the export time.
    model = build_model("resnet18", len(DEFAULT_TAXONOMY), 2).eval()
    spec = PreprocessSpec(resize=72, crop=64)
    fit = _stage_features(model, [ultrasound_like(s) for s in range(40)], spec)
    held = _stage_features(model, [ultrasound_like(s) for s in range(40, 70)], spec)
    domain, _ = fit_feature_domain(fit, np.zeros(40, int), len(DEFAULT_TAXONOMY), held, keep=0.9)
    card = ModelCard(name="full", architecture="resnet18", taxonomy=DEFAULT_TAXONOMY,
                     preprocessing=spec, planes=("axial", "sagittal"), domain={"keep": 0.9})  # fmt: skip
    out = tmp_path_factory.mktemp("full") / "bundle"
    save_bundle(model, card, out, feature_domain=domain)
    return out


def images() -> list[LoadedImage]:
    """In-domain discs, out-of-domain noise, and a wide frame (another framing)."""
    noise = np.random.default_rng(1).integers(0, 256, (70, 90, 3), np.uint8)
    return [
        *(ultrasound_like(100 + s) for s in range(5)),
        LoadedImage(ImageRef(Path("noise.png")), noise),
        ultrasound_like(200, h=60, w=140),
    ]


def predict(bundle_dir: Path, backend: str, imgs=None):
    with Predictor(load_bundle(bundle_dir), device="cpu", batch_size=4, backend=backend) as p:
        return p.predict(imgs or images()), p.backend_name


def assert_agree(got, ref, tol=FP32_TOLERANCE):
    for g, r in zip(got, ref, strict=True):
        assert g.pred_index == r.pred_index
        np.testing.assert_allclose(g.probs, r.probs, atol=tol["probs_atol"])
        assert g.assessable == r.assessable and g.check.reason == r.check.reason
        if r.ood_score is not None:
            assert g.ood_score == pytest.approx(r.ood_score, rel=tol["ood_score_rtol"])
        assert g.plane == r.plane
        assert g.input_box == r.input_box
        for k in range(r.cams.shape[0]):
            a, b = g.cams[k].ravel(), r.cams[k].ravel()
            if b.std() > 0:  # a map that is flat (all zero after ReLU) has no correlation
                assert np.corrcoef(a, b)[0, 1] > tol["cam_correlation"]
            else:
                np.testing.assert_allclose(a, b, atol=1e-3)


def test_torch_eager_is_the_plain_network_with_its_hooks(full_bundle):
    """The reference: MultiOutputNet gives exactly what model(batch) and FeatureTap give."""
    bundle = load_bundle(full_bundle)
    spec = bundle.card.preprocessing
    batch = torch.stack([prepare(im, spec)[0] for im in images()])
    backend = make_backend("torch", bundle, torch.device("cpu"))
    out = backend.forward(batch)
    with FeatureTap(bundle.model, "layer4", NETWORK_STAGES) as tap, torch.inference_mode():
        logits = bundle.model(batch)
        torch.testing.assert_close(out.logits, logits, rtol=0, atol=1e-6)
        torch.testing.assert_close(out.features, tap.output, rtol=0, atol=1e-6)
        for stage, pooled in tap.stage_features().items():
            torch.testing.assert_close(out.stages[stage], pooled, rtol=0, atol=1e-6)
        torch.testing.assert_close(out.plane_logits, bundle.model.plane_head(tap.pooled()))


@pytest.mark.parametrize("backend", FP32_BACKENDS)
def test_fp32_backends_agree_with_torch(full_bundle, backend):
    ref, _ = predict(full_bundle, "torch")
    got, name = predict(full_bundle, backend)
    assert name == backend
    assert_agree(got, ref)
    assert any(r.ood_score is not None and r.ood_score > 1 for r in ref)  # both decisions seen
    assert any(r.assessable for r in ref)


def test_auto_is_onnxruntime_on_the_cpu(full_bundle):
    got, name = predict(full_bundle, "auto")
    assert name == "onnxruntime"
    assert_agree(got, predict(full_bundle, "torch")[0])


def test_bf16_runs_only_where_the_cpu_has_it(full_bundle):
    if cpu_has_bf16():  # agreement within a reduced-precision tolerance
        got, name = predict(full_bundle, "torch-bf16")
        ref, _ = predict(full_bundle, "torch")
        assert name == "torch-bf16 (bf16)"
        assert [g.pred_index for g in got] == [r.pred_index for r in ref]
    else:
        with pytest.raises(BackendUnavailable, match="bf16 instructions"):
            predict(full_bundle, "torch-bf16")


def test_int8_needs_a_calibration_then_runs(full_bundle):
    from core.inference.onnx_int8 import calibrate_int8

    with pytest.raises(BackendUnavailable, match="no int8 graph calibrated"):
        predict(full_bundle, "onnxruntime-int8")
    bundle = load_bundle(full_bundle)
    spec = bundle.card.preprocessing
    calib = [ultrasound_like(300 + s) for s in range(8)]
    calibrate_int8(bundle, [torch.stack([prepare(im, spec)[0] for im in calib])])
    got, name = predict(full_bundle, "onnxruntime-int8")
    assert name == "onnxruntime-int8 (int8)"
    assert all(abs(g.probs.sum() - 1) < 1e-5 and g.cams.shape == (5, 2, 2) for g in got)


def test_unknown_backend_is_refused(full_bundle):
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        Predictor(load_bundle(full_bundle), device="cpu", backend="tensorrt")
    assert "onnxruntime" in BACKENDS


def test_missing_onnxruntime_is_a_clear_message(full_bundle, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an absent package raises
    with pytest.raises(BackendUnavailable, match="needs the onnxruntime package"):
        Predictor(load_bundle(full_bundle), device="cpu", backend="onnxruntime")
    # auto falls back to torch (channels_last) and still predicts
    got, name = predict(full_bundle, "auto")
    assert name == "torch-channels-last"


def test_onnxruntime_refuses_a_gpu_device(full_bundle):
    with pytest.raises(BackendUnavailable, match="CPU only"):
        make_backend("onnxruntime", load_bundle(full_bundle), torch.device("cuda"))


def _tree_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_export_is_cached_per_weights_and_redone_when_damaged(full_bundle, tmp_path, monkeypatch):
    before = _tree_digest(full_bundle)
    ref, _ = predict(full_bundle, "onnxruntime")
    weights = load_bundle(full_bundle).card.weights_sha256
    (graph,) = (cache_root() / "onnx").glob(f"{weights[:16]}-*.onnx")
    assert is_intact(graph)
    assert _tree_digest(full_bundle) == before  # the bundle is never modified

    # A private copy of the cache, so damaging it costs no other test its export.
    monkeypatch.setenv("CNSIGHT_CACHE_DIR", str(tmp_path / "cache"))
    copy = tmp_path / "cache" / "onnx" / graph.name
    copy.parent.mkdir(parents=True)
    shutil.copy(graph, copy)
    shutil.copy(graph.with_suffix(".json"), copy.with_suffix(".json"))
    assert is_intact(copy)
    data = bytearray(copy.read_bytes())  # a damaged cached export ...
    data[len(data) // 2 : len(data) // 2 + 64] = b"\0" * 64
    copy.write_bytes(bytes(data))
    assert not is_intact(copy)
    got, _ = predict(full_bundle, "onnxruntime")  # ... is exported again
    assert is_intact(copy)
    assert_agree(got, ref)
    assert not list(copy.parent.glob(".export-*"))  # no temporary left behind
    copy.with_suffix(".json").unlink()  # a graph without its sidecar is not trusted either
    assert not is_intact(copy)


def test_new_weights_get_their_own_export(full_bundle, tmp_path):
    other = tmp_path / "other"
    torch.manual_seed(11)
    bundle = load_bundle(full_bundle)
    model = build_model("resnet18", 5, 2)
    save_bundle(model, bundle.card, other, feature_domain=bundle.feature_domain)
    predict(full_bundle, "onnxruntime")
    a, _ = predict(other, "onnxruntime")
    sha = [load_bundle(b).card.weights_sha256[:16] for b in (full_bundle, other)]
    assert sha[0] != sha[1]
    for s in sha:
        assert len(list((cache_root() / "onnx").glob(f"{s}-*.onnx"))) == 1
    assert_agree(a, predict(other, "torch")[0])


def test_demo_bundle_agrees_on_onnxruntime():
    """The shipped model at its real size (224 px, three-stage domain, plane head if any)."""
    if not demo_model_dir().is_dir():
        pytest.skip("no demo model in this checkout")
    imgs = [ultrasound_like(s, h=240, w=320) for s in range(3)]
    ref, _ = predict(demo_model_dir(), "torch", imgs)
    got, name = predict(demo_model_dir(), "auto", imgs)
    assert name == "onnxruntime"
    assert_agree(got, ref)
