"""The bundle seal (card + weights + domain statistics), its signature and the card's field
checks (issue 15: a model card that cannot lie)."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from core.bundle import (
    CARD_NAME,
    DOMAIN_NAME,
    WEIGHTS_NAME,
    load_bundle,
    read_card,
    save_bundle,
    seal_bundle,
    sha256_file,
)
from core.bundle_seal import (
    MAX_CARD_BYTES,
    SEAL_KEY,
    TRUSTED_KEYS_ENV,
    generate_signing_key,
    load_signing_key,
    load_trusted_keys,
    seal,
)
from core.cli.bundle import main as bundle_main
from core.errors import BundleError
from core.model import build_model
from core.resources import demo_model_dir
from tests.support.models import make_bundle, random_image


@pytest.fixture(scope="module")
def _made(tmp_path_factory):
    return make_bundle(
        tmp_path_factory.mktemp("m") / "b", crop=32, resize=32, architecture="resnet18"
    )


@pytest.fixture()
def bundle_dir(_made, tmp_path):
    """A fresh copy of one small sealed bundle (each test may change it)."""
    return Path(shutil.copytree(_made, tmp_path / "b"))


@pytest.fixture()
def demo_copy(tmp_path):
    """The shipped demo bundle with its own card; the weight files are links (not copied)."""
    out = tmp_path / "demo"
    out.mkdir()
    for f in demo_model_dir().iterdir():
        if f.name == CARD_NAME:
            shutil.copy(f, out / f.name)
        else:
            (out / f.name).symlink_to(f)
    return out


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    generate_signing_key(d / "site.pem", d / "site.pub")
    generate_signing_key(d / "other.pem", d / "other.pub")
    return d


def _card(d):
    return json.loads((d / CARD_NAME).read_text())


def _write(d, card):
    (d / CARD_NAME).write_text(json.dumps(card, indent=2))


# ----- the seal -------------------------------------------------------------------------------


def test_reordered_class_list_of_the_demo_model_is_refused(demo_copy):
    """The audit's attack: swapping two class names turned an anencephaly phantom into
    'normal 1.000' with exit 0. The weights are untouched, so only the seal can see it."""
    card = _card(demo_copy)
    names = card["class_names"]
    names[0], names[1] = names[1], names[0]
    _write(demo_copy, card)
    with pytest.raises(BundleError, match="does not match its seal"):
        load_bundle(demo_copy)
    with pytest.raises(BundleError, match="does not match its seal"):
        read_card(demo_copy)  # the cheap check the app's dialogs and the reading mode use


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c.update(temperature=c["temperature"] * 3),
        lambda c: c["preprocessing"].update(crop=48),
        lambda c: c.update(aggregation="majority_vote"),
        lambda c: c["domain"].update(threshold=1e6),
        lambda c: c.update(planes=list(reversed(c["planes"]))),
        lambda c: c.update(description="validated for clinical use"),
    ],
    ids=["temperature", "crop", "rule", "domain-threshold", "plane-order", "description"],
)
def test_any_edit_of_the_sealed_card_is_refused(demo_copy, edit):
    card = _card(demo_copy)
    edit(card)
    _write(demo_copy, card)
    with pytest.raises(BundleError, match="does not match its seal"):
        read_card(demo_copy)


def test_the_seal_covers_the_domain_statistics_and_the_weights(tmp_path):
    images = [random_image(seed=s) for s in range(8)]
    d = make_bundle(
        tmp_path / "d", crop=32, resize=32, architecture="resnet18", domain_images=images
    )
    card = _card(d)
    assert card[SEAL_KEY]["covers"] == [CARD_NAME, WEIGHTS_NAME, DOMAIN_NAME]
    # Swapping in other statistics and naming their hash in the card breaks the seal.
    stats = load_file(str(d / DOMAIN_NAME))
    first = sorted(stats)[0]
    save_file({**stats, first: stats[first] + 1}, str(d / DOMAIN_NAME))
    card["domain"]["sha256"] = sha256_file(d / DOMAIN_NAME)
    _write(d, card)
    with pytest.raises(BundleError, match="does not match its seal"):
        load_bundle(d)


def test_an_unsealed_card_is_refused_with_the_command_that_seals_it(bundle_dir):
    card = _card(bundle_dir)
    del card[SEAL_KEY]
    _write(bundle_dir, card)
    with pytest.raises(BundleError, match=r"not sealed.*python -m core.bundle seal"):
        load_bundle(bundle_dir)


def test_seal_bundle_reseals_an_old_bundle_and_changes_only_its_card(bundle_dir):
    card = _card(bundle_dir)
    del card[SEAL_KEY]
    _write(bundle_dir, card)
    weights = sha256_file(bundle_dir / WEIGHTS_NAME)
    sealed = seal_bundle(bundle_dir)
    assert sealed.seal_sha256 == _card(bundle_dir)[SEAL_KEY]["sha256"]
    assert sha256_file(bundle_dir / WEIGHTS_NAME) == weights
    assert {k: v for k, v in _card(bundle_dir).items() if k != SEAL_KEY} == card
    assert load_bundle(bundle_dir).card.seal_sha256 == sealed.seal_sha256


def test_seal_bundle_never_blesses_changed_weights(bundle_dir):
    state = load_file(str(bundle_dir / WEIGHTS_NAME))
    save_file({**state, "fc.bias": state["fc.bias"] + 1}, str(bundle_dir / WEIGHTS_NAME))
    before = (bundle_dir / CARD_NAME).read_bytes()
    with pytest.raises(BundleError, match="weights were changed"):
        seal_bundle(bundle_dir)
    assert (bundle_dir / CARD_NAME).read_bytes() == before


def test_seal_bundle_refuses_a_card_that_fails_the_field_checks(bundle_dir):
    card = _card(bundle_dir)
    card["heatmap_layer"] = "layer2"
    _write(bundle_dir, card)
    with pytest.raises(BundleError, match="heatmap_layer"):
        seal_bundle(bundle_dir)


def test_the_cli_seals_and_verifies(bundle_dir, capsys):
    card = _card(bundle_dir)
    del card[SEAL_KEY]
    _write(bundle_dir, card)
    assert bundle_main(["verify", str(bundle_dir)]) == 1
    assert bundle_main(["seal", str(bundle_dir)]) == 0
    assert bundle_main(["verify", str(bundle_dir)]) == 0
    out = capsys.readouterr().out
    assert f"seal sha256 {_card(bundle_dir)[SEAL_KEY]['sha256']}" in out and "not signed" in out
    assert bundle_main(["seal", str(bundle_dir / "nope")]) == 2


# ----- signatures -----------------------------------------------------------------------------


def test_signed_bundle_loads_with_the_sites_key_and_not_with_another(bundle_dir, keys):
    signed = seal_bundle(bundle_dir, load_signing_key(keys / "site.pem"))
    assert signed.signer
    site, other = load_trusted_keys(keys / "site.pub"), load_trusted_keys(keys / "other.pub")
    assert load_bundle(bundle_dir, trusted_keys=site).card.signer == signed.signer
    with pytest.raises(BundleError, match="not among the site's trusted keys"):
        read_card(bundle_dir, trusted_keys=other)
    assert read_card(bundle_dir).signer == signed.signer  # no requirement: still checked


def test_an_unsigned_bundle_is_refused_where_the_site_requires_signatures(
    bundle_dir, keys, monkeypatch
):
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(keys / "site.pub"))
    with pytest.raises(BundleError, match="requires signed model bundles"):
        load_bundle(bundle_dir)
    seal_bundle(bundle_dir, load_signing_key(keys / "site.pem"))
    assert load_bundle(bundle_dir).card.signer


def test_a_resealed_edit_loses_the_signature(bundle_dir, keys):
    """Whoever edits and re-seals without the site's private key cannot keep it signed."""
    seal_bundle(bundle_dir, load_signing_key(keys / "site.pem"))
    card = _card(bundle_dir)
    signature = card[SEAL_KEY]["signature"]
    card["class_names"][0], card["class_names"][1] = card["class_names"][1], card["class_names"][0]
    forged = seal(card)
    forged[SEAL_KEY]["signature"] = signature  # the old signature over the new seal
    _write(bundle_dir, forged)
    with pytest.raises(BundleError, match="signature does not match"):
        read_card(bundle_dir)
    forged[SEAL_KEY].pop("signature")
    _write(bundle_dir, forged)
    with pytest.raises(BundleError, match="requires signed"):
        read_card(bundle_dir, trusted_keys=load_trusted_keys(keys / "site.pub"))


def test_cli_keygen_and_signed_seal(tmp_path, bundle_dir):
    private, public = tmp_path / "k.pem", tmp_path / "k.pub"
    assert bundle_main(["keygen", "--private", str(private), "--public", str(public)]) == 0
    assert private.stat().st_mode & 0o077 == 0  # the private key is its owner's only
    assert bundle_main(["keygen", "--private", str(private), "--public", str(public)]) == 2
    assert bundle_main(["seal", str(bundle_dir), "--sign-key", str(private)]) == 0
    assert bundle_main(["verify", str(bundle_dir), "--trusted-keys", str(public)]) == 0
    assert (
        bundle_main(["verify", str(bundle_dir), "--trusted-keys", str(bundle_dir / CARD_NAME)]) == 2
    )


def test_save_bundle_signs_what_it_writes(tmp_path, keys):
    torch.manual_seed(0)
    from core.bundle import ModelCard
    from core.taxonomy import Taxonomy

    card = ModelCard(name="m", architecture="resnet18", taxonomy=Taxonomy(("normal", "other")))
    written = save_bundle(
        build_model("resnet18", 2),
        card,
        tmp_path / "s",
        signing_key=load_signing_key(keys / "site.pem"),
    )
    loaded = load_bundle(tmp_path / "s", trusted_keys=load_trusted_keys(keys / "site.pub"))
    assert loaded.card.seal_sha256 == written.seal_sha256 and loaded.card.signer == written.signer


# ----- field checks behind the seal (a card someone re-sealed) -------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"class_names": ["normal", "ba nana", "c", "d", "e"]}, "class_names"),
        ({"class_names": ["normal", "normal", "c", "d", "e"]}, "duplicate class names"),
        ({"class_names": "normal"}, "class_names"),
        ({"display_names": ["Normal"]}, "display_names"),
        ({"heatmap_layer": "layer3"}, "heatmap_layer"),
        ({"heatmap_layer": "no_such_layer"}, "heatmap_layer"),
        ({"preprocessing": {"resize": 100000, "crop": 32}}, "preprocessing.resize"),
        ({"preprocessing": {"resize": 32, "crop": 4}}, "preprocessing.crop"),
        ({"preprocessing": {"resize": 32, "crop": 32.5}}, "preprocessing.crop"),
        ({"preprocessing": {"mean": [0.5, 0.5]}}, "preprocessing.mean"),
        ({"preprocessing": {"std": [0.2, 0.0, 0.2]}}, "preprocessing.std"),
        ({"preprocessing": {"crop": 32, "resize": 32, "evil": 1}}, "unknown key"),
        ({"preprocessing": {"name": "fisheye"}}, "preprocessing.name"),
        ({"temperature": 1e300}, "temperature"),
        ({"temperature": "1.0"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"patient_temperature": -1}, "patient_temperature must be > 0"),
        ({"input_size": [3, 999, 999]}, "input_size"),
        ({"weights_sha256": "abc"}, "model.safetensors is not 64 hex digits"),
        ({"weights_dtype": "int8"}, "weights_dtype"),
        ({"domain": {"threshold": 1.0}}, "domain"),
        ({"domain": {"threshold": 0, "sha256": "0" * 64}}, "domain threshold must be > 0"),
        ({"planes": [1, 2]}, "planes"),
        ({"name": ""}, "required field"),
        ({"training": []}, "training"),
        ({"schema_version": True}, "unknown schema_version"),
    ],
)
def test_every_interpreted_field_is_checked(bundle_dir, changes, match):
    card = _card(bundle_dir)
    card.update(changes)
    _write(bundle_dir, seal(card))
    with pytest.raises(BundleError, match=match):
        load_bundle(bundle_dir)


@pytest.mark.parametrize(
    ("replace", "match"),
    [
        (('"temperature": 1.0', '"temperature": NaN'), "non-finite number NaN"),
        (('"temperature": 1.0', '"temperature": Infinity'), "non-finite number Infinity"),
        (('"temperature": 1.0', '"temperature": 1e999'), "overflows to infinity"),
        (('"temperature": 1.0', '"temperature": 1.0, "temperature": 0.01'), "duplicate key"),
    ],
)
def test_card_json_with_non_finite_numbers_or_duplicate_keys_is_refused(bundle_dir, replace, match):
    text = (bundle_dir / CARD_NAME).read_text()
    assert replace[0] in text
    (bundle_dir / CARD_NAME).write_text(text.replace(*replace))
    with pytest.raises(BundleError, match=match):
        read_card(bundle_dir)


def test_deeply_nested_or_huge_cards_are_refused(bundle_dir):
    card = _card(bundle_dir)
    for depth in (40, 100_000):  # the second would exhaust Python's stack in json.loads
        text = json.dumps(card)[:-1] + ', "nested": ' + "[" * depth + "]" * depth + "}"
        (bundle_dir / CARD_NAME).write_text(text)
        with pytest.raises(BundleError, match="nested deeper than 32 levels"):
            read_card(bundle_dir)
    (bundle_dir / CARD_NAME).write_text(json.dumps(card | {"x": "a" * MAX_CARD_BYTES}))
    with pytest.raises(BundleError, match="a model card is at most"):
        read_card(bundle_dir)


def _rewrite_weights(d, state):
    save_file(state, str(d / WEIGHTS_NAME))
    card = _card(d)
    card["weights_sha256"] = sha256_file(d / WEIGHTS_NAME)
    _write(d, seal(card))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(bundle_dir, value):
    state = load_file(str(bundle_dir / WEIGHTS_NAME))
    state["fc.weight"][0, 0] = value
    _rewrite_weights(bundle_dir, state)
    with pytest.raises(BundleError, match=r"fc.weight holds 1 value\(s\) that are not finite"):
        load_bundle(bundle_dir)


def test_non_finite_domain_statistics_are_refused(tmp_path):
    images = [random_image(seed=s) for s in range(8)]
    d = make_bundle(
        tmp_path / "d", crop=32, resize=32, architecture="resnet18", domain_images=images
    )
    stats = load_file(str(d / DOMAIN_NAME))
    whitener = next(k for k in sorted(stats) if k.endswith("whitener"))
    stats[whitener][0, 0] = float("nan")
    save_file(stats, str(d / DOMAIN_NAME))
    card = _card(d)
    card["domain"]["sha256"] = sha256_file(d / DOMAIN_NAME)
    _write(d, seal(card))
    with pytest.raises(BundleError, match="whitener holds 1 value"):
        load_bundle(d)


def test_save_bundle_refuses_a_model_with_non_finite_weights(tmp_path):
    from core.bundle import ModelCard
    from core.taxonomy import Taxonomy

    model = build_model("resnet18", 2)
    with torch.no_grad():
        model.fc.bias[0] = float("nan")
    card = ModelCard(name="m", architecture="resnet18", taxonomy=Taxonomy(("normal", "other")))
    with pytest.raises(BundleError, match="fc.bias holds 1 value"):
        save_bundle(model, card, tmp_path / "nan")
    assert not (tmp_path / "nan" / CARD_NAME).exists()


def test_the_shipped_demo_model_is_sealed():
    card = read_card(demo_model_dir())
    assert card.seal_sha256 == _card(demo_model_dir())[SEAL_KEY]["sha256"]


def test_save_bundle_writes_an_undefined_metric_as_null_and_refuses_a_nan_temperature(tmp_path):
    from core.bundle import ModelCard
    from core.taxonomy import Taxonomy

    card = ModelCard(
        name="m", architecture="resnet18", taxonomy=Taxonomy(("normal", "other")),
        validation_metrics={"auroc": float("nan")},
    )  # fmt: skip
    save_bundle(build_model("resnet18", 2), card, tmp_path / "a")
    assert load_bundle(tmp_path / "a").card.validation_metrics == {"auroc": None}
    with pytest.raises(BundleError, match="non-finite number"):
        save_bundle(
            build_model("resnet18", 2),
            ModelCard(**card.__dict__ | {"temperature": float("nan")}),
            tmp_path / "b",
        )
    assert not (tmp_path / "b").exists()  # refused before anything was written
