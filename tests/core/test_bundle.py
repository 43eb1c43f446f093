import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from core.bundle import CARD_NAME, DOMAIN_NAME, WEIGHTS_NAME, load_bundle, read_card, sha256_file
from core.bundle_seal import seal
from core.errors import BundleError
from core.taxonomy import Taxonomy
from tests.support.models import make_bundle, random_image


@pytest.fixture()
def bundle_dir(tmp_path):
    return make_bundle(tmp_path / "b", crop=32, resize=32, architecture="resnet18")


def _edit_card(bundle_dir, **changes):
    """Edit the card and re-seal it (as someone with the seal tool could): what the field
    checks behind the seal refuse. tests/core/test_bundle_seal.py edits without re-sealing."""
    path = bundle_dir / CARD_NAME
    card = json.loads(path.read_text())
    card.update(changes)
    path.write_text(json.dumps(seal(card)))


def test_round_trip(bundle_dir):
    bundle = load_bundle(bundle_dir)
    assert bundle.card.class_names[0] == "normal" and len(bundle.taxonomy) == 5
    assert bundle.card.weights_sha256 == sha256_file(bundle_dir / WEIGHTS_NAME)
    assert bundle.card.software["torch"] == torch.__version__
    assert not bundle.model.training


def test_fp16_bundle_loads_as_float32(tmp_path):
    d = make_bundle(tmp_path / "h", crop=32, resize=32, architecture="resnet18", half=True)
    bundle = load_bundle(d)
    assert bundle.card.weights_dtype == "float16"
    assert bundle.model.fc.weight.dtype == torch.float32


def test_other_taxonomy(tmp_path):
    tax = Taxonomy(("normal", "other"))
    d = make_bundle(tmp_path / "t", crop=32, resize=32, architecture="resnet18", taxonomy=tax)
    assert load_bundle(d).card.class_names == ("normal", "other")


def test_missing_card(bundle_dir):
    (bundle_dir / CARD_NAME).unlink()
    with pytest.raises(BundleError, match="no model_card.json"):
        load_bundle(bundle_dir)


def test_not_a_folder(tmp_path):
    with pytest.raises(BundleError, match="not a model bundle folder"):
        load_bundle(tmp_path / "nope")


def test_invalid_json(bundle_dir):
    (bundle_dir / CARD_NAME).write_text("{not json")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_card(bundle_dir)


def test_tampered_weights(bundle_dir):
    weights = bundle_dir / WEIGHTS_NAME
    state = load_file(str(weights))
    state["fc.bias"] = state["fc.bias"] + 1.0
    save_file(state, str(weights))
    with pytest.raises(BundleError, match="does not match the model card"):
        load_bundle(bundle_dir)


def test_unknown_schema(bundle_dir):
    _edit_card(bundle_dir, schema_version=99)
    with pytest.raises(BundleError, match="unknown schema_version 99"):
        load_bundle(bundle_dir)


def test_wrong_class_count(bundle_dir):
    _edit_card(bundle_dir, class_names=["a", "b", "c"], display_names=["A", "B", "C"])
    with pytest.raises(BundleError, match="the card lists 3 classes, the weights have 5"):
        load_bundle(bundle_dir)


def _rewrite_weights(bundle_dir, state):
    weights = bundle_dir / WEIGHTS_NAME
    save_file(state, str(weights))
    _edit_card(bundle_dir, weights_sha256=sha256_file(weights))


def test_missing_keys(bundle_dir):
    state = load_file(str(bundle_dir / WEIGHTS_NAME))
    del state["layer1.0.conv1.weight"]
    _rewrite_weights(bundle_dir, state)
    with pytest.raises(BundleError, match=r"missing keys \['layer1.0.conv1.weight'\]"):
        load_bundle(bundle_dir)


def test_unexpected_keys(bundle_dir):
    state = load_file(str(bundle_dir / WEIGHTS_NAME))
    state["head.extra"] = torch.zeros(3)
    _rewrite_weights(bundle_dir, state)
    with pytest.raises(BundleError, match=r"unexpected keys \['head.extra'\]"):
        load_bundle(bundle_dir)


def test_unknown_architecture(bundle_dir):
    _edit_card(bundle_dir, architecture="vit_h_14")
    with pytest.raises(BundleError, match="unknown architecture 'vit_h_14'"):
        load_bundle(bundle_dir)


def test_missing_weights(bundle_dir):
    (bundle_dir / WEIGHTS_NAME).unlink()
    with pytest.raises(BundleError, match="no model.safetensors"):
        load_bundle(bundle_dir)


def test_bad_temperature(bundle_dir):
    _edit_card(bundle_dir, temperature=0)
    with pytest.raises(BundleError, match="temperature must be > 0"):
        read_card(bundle_dir)


@pytest.fixture()
def domain_bundle_dir(tmp_path):
    images = [random_image(seed=s) for s in range(12)]
    return make_bundle(
        tmp_path / "d", crop=32, resize=32, architecture="resnet18", planes=("a", "b"),
        domain_images=images,
    )  # fmt: skip


def test_plane_head_and_domain_statistics_round_trip(domain_bundle_dir):
    bundle = load_bundle(domain_bundle_dir)
    assert bundle.card.planes == ("a", "b") and bundle.model.plane_head.out_features == 2
    assert bundle.card.has_domain and bundle.card.domain["threshold"] > 0
    assert bundle.feature_domain.class_means.shape == (5, 512)
    assert json.loads((domain_bundle_dir / CARD_NAME).read_text())["schema_version"] == 2


def test_missing_or_altered_domain_statistics_are_refused(domain_bundle_dir):
    stats = domain_bundle_dir / DOMAIN_NAME
    tensors = load_file(str(stats))
    first = sorted(tensors)[0]
    save_file({**tensors, first: tensors[first] * 0}, str(stats))
    with pytest.raises(BundleError, match="domain statistics were changed"):
        load_bundle(domain_bundle_dir)
    stats.unlink()
    with pytest.raises(BundleError, match="domain.safetensors is missing"):
        load_bundle(domain_bundle_dir)


def test_plane_head_weights_without_planes_in_the_card_are_refused(domain_bundle_dir):
    _edit_card(domain_bundle_dir, planes=[], domain={})
    with pytest.raises(BundleError, match="unexpected keys.*plane_head"):
        load_bundle(domain_bundle_dir)


def test_version_1_cards_still_load_with_the_centre_crop_they_were_validated_with(bundle_dir):
    card = json.loads((bundle_dir / CARD_NAME).read_text())
    for key in ("planes", "domain", "patient_temperature"):
        card.pop(key)
    card["schema_version"] = 1
    card["preprocessing"]["name"] = "resize_short_centre_crop"
    (bundle_dir / CARD_NAME).write_text(json.dumps(seal(card)))
    bundle = load_bundle(bundle_dir)
    assert bundle.card.preprocessing.framing == "resize_short_centre_crop"
    assert not bundle.card.has_domain and bundle.feature_domain is None
    assert bundle.card.patient_temperature is None
