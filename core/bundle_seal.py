"""The bundle seal: one sha256 over the model card and the files it names, and an optional
Ed25519 signature over the same bytes. torch-free, so the app's reading mode can check a card
before the model thread loads any weights.

The seal lives in the card's own ``seal`` block::

    "seal": {
      "format": "cnsight-bundle-seal-v1",
      "covers": ["model_card.json", "model.safetensors", "domain.safetensors"],
      "sha256": "<hex sha256 of the sealed message>",
      "signature": {"algorithm": "ed25519", "key_id": "<32 hex>", "public_key": "<base64>",
                    "value": "<base64>"}          (only in signed bundles)
    }

The sealed message is ``cnsight-bundle-seal-v1``, the card without its ``seal`` block as
canonical JSON (sorted keys, no spaces, UTF-8), and one ``NAME SHA256`` line per file the card
names (the weights, and the domain statistics when the card has them). The loader checks each
file against its line, so one digest pins the card, the weights and the domain statistics: a
reordered class list, an edited temperature or swapped weights all change it.

What the plain sha256 seal does and does not prove (docs/model-bundle.md#the-seal): it catches
every edit made without re-running the seal tool (a hand-edited card, a tool that rewrites the
JSON, a half-copied bundle), and a reader study pins a model by its seal digest. Anyone with
write access and this code can re-seal a bundle they edited; only a signature from a key the
site holds (``--trusted-keys`` / ``CNSIGHT_TRUSTED_KEYS``) or a digest recorded elsewhere
catches that.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import BundleError

CARD_NAME = "model_card.json"
WEIGHTS_NAME = "model.safetensors"
DOMAIN_NAME = "domain.safetensors"  # FeatureDomain tensors; threshold and sha256 in the card
SEAL_KEY = "seal"
SEAL_FORMAT = "cnsight-bundle-seal-v1"
SIGNATURE_ALGORITHM = "ed25519"
#: The site's trusted signing keys (a file of PEM public keys): when set, every bundle must be
#: signed by one of them.
TRUSTED_KEYS_ENV = "CNSIGHT_TRUSTED_KEYS"
MAX_CARD_BYTES = 4 << 20  # the demo card is 15 kB; a long training history stays far below
MAX_JSON_DEPTH = 32  # the demo card nests 6 levels
RESEAL_HINT = "python -m core.bundle seal DIR"


def _is_hex64(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


# ----- reading the card's JSON, bounded -------------------------------------------------------


def _refuse_constant(name: str):
    raise ValueError(f"non-finite number {name} (JSON has no NaN or Infinity)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} overflows to infinity")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r} (another reader could take the other value)")
        seen[key] = value
    return seen


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (a hostile card must not exhaust the stack here either)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_card_bytes(raw: bytes, source: str) -> dict:
    """The card's JSON object: at most ``MAX_CARD_BYTES``, nested at most ``MAX_JSON_DEPTH``
    levels, every number finite, no duplicate keys. Raises ``BundleError`` naming ``source``."""
    if len(raw) > MAX_CARD_BYTES:
        raise BundleError(
            f"{source}: {len(raw)} bytes; a model card is at most {MAX_CARD_BYTES} bytes"
        )
    try:
        data = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except RecursionError:
        raise BundleError(f"{source}: nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
        raise BundleError(f"{source}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{source}: expected a JSON object")
    if _depth(data) > MAX_JSON_DEPTH:
        raise BundleError(f"{source}: nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def read_card_file(bundle_dir: Path) -> tuple[Path, dict]:
    """(card path, the card's JSON object), bounded as ``parse_card_bytes``."""
    bundle_dir = Path(bundle_dir)
    if not bundle_dir.is_dir():
        raise BundleError(
            f"{bundle_dir}: not a model bundle folder (expected {CARD_NAME} and {WEIGHTS_NAME})"
        )
    card_path = bundle_dir / CARD_NAME
    if not card_path.is_file():
        raise BundleError(f"{bundle_dir}: no {CARD_NAME}; a bundle needs its model card")
    try:
        size = card_path.stat().st_size
        if size > MAX_CARD_BYTES:
            raise BundleError(
                f"{card_path}: {size} bytes; a model card is at most {MAX_CARD_BYTES} bytes"
            )
        raw = card_path.read_bytes()
    except OSError as e:
        raise BundleError(f"{card_path}: cannot be read ({e})") from None
    return card_path, parse_card_bytes(raw, str(card_path))


# ----- the sealed message ---------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def covered_files(card: dict) -> list[tuple[str, str]]:
    """(file name, sha256 the card names) of every file the seal covers besides the card."""
    files = [(WEIGHTS_NAME, card.get("weights_sha256"))]
    domain = card.get("domain")
    if isinstance(domain, dict) and domain:
        files.append((DOMAIN_NAME, domain.get("sha256")))
    return files


def seal_message(card: dict) -> bytes:
    """The bytes the seal digest and the signature cover (see the module docstring)."""
    body = {k: v for k, v in card.items() if k != SEAL_KEY}
    lines = [SEAL_FORMAT.encode(), canonical_json(body)]
    lines += [f"{name} {sha}".encode() for name, sha in covered_files(body)]
    return b"\n".join(lines) + b"\n"


def seal_digest(card: dict) -> str:
    return hashlib.sha256(seal_message(card)).hexdigest()


# ----- keys -----------------------------------------------------------------------------------


def _crypto():
    """The ``cryptography`` package's Ed25519 and serialization modules."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:  # pragma: no cover - a declared dependency
        raise BundleError(
            "signed bundles need the 'cryptography' package (pip install cryptography)"
        ) from None
    return ed25519, serialization


def _raw_public(public_key) -> bytes:
    _, serialization = _crypto()
    return public_key.public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )


def key_id(public_key) -> str:
    """32 hex digits (128 bits) of sha256 over the raw 32-byte public key: how cards, protocols
    and the trusted-key check name a key (a second key with the same id would take 2^128 tries)."""
    return hashlib.sha256(_raw_public(public_key)).hexdigest()[:32]


def generate_signing_key(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 key pair (PEM; the private file readable by its owner only).
    Returns the key id. Refuses to overwrite either file."""
    ed25519, serialization = _crypto()
    private_path, public_path = Path(private_path), Path(public_path)
    for path in (private_path, public_path):
        if path.exists():
            raise BundleError(f"{path} exists: a key file is never overwritten")
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private_pem)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.write_bytes(public_pem)
    return key_id(key.public_key())


def load_signing_key(path: Path):
    """An Ed25519 private key from a PEM file (unencrypted PKCS#8, as ``keygen`` writes)."""
    ed25519, serialization = _crypto()
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise BundleError(f"{path}: not a readable private key ({e})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise BundleError(f"{path}: not an Ed25519 private key")
    return key


def load_trusted_keys(path: Path) -> list:
    """Every Ed25519 public key of a PEM file (one or more ``PUBLIC KEY`` blocks)."""
    ed25519, serialization = _crypto()
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        raise BundleError(f"{path}: the trusted-keys file cannot be read ({e})") from None
    end = "-----END PUBLIC KEY-----"
    blocks = [b + end for b in text.split(end) if "-----BEGIN PUBLIC KEY-----" in b]
    keys = []
    for block in blocks:
        try:
            key = serialization.load_pem_public_key(block.strip().encode())
        except ValueError as e:
            raise BundleError(f"{path}: a public key cannot be read ({e})") from None
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise BundleError(f"{path}: holds a key that is not Ed25519")
        keys.append(key)
    if not keys:
        raise BundleError(f"{path}: no PEM public key in the trusted-keys file")
    return keys


def site_trusted_keys() -> list | None:
    """The keys named by ``CNSIGHT_TRUSTED_KEYS`` (None when the variable is unset or empty)."""
    path = os.environ.get(TRUSTED_KEYS_ENV, "").strip()
    return load_trusted_keys(Path(path)) if path else None


# ----- sealing and checking -------------------------------------------------------------------


def seal(card: dict, signing_key=None) -> dict:
    """``card`` with a fresh seal block (signed when ``signing_key`` is given)."""
    body = {k: v for k, v in card.items() if k != SEAL_KEY}
    message = seal_message(body)
    block: dict[str, Any] = {
        "format": SEAL_FORMAT,
        "covers": [CARD_NAME] + [name for name, _ in covered_files(body)],
        "sha256": hashlib.sha256(message).hexdigest(),
    }
    if signing_key is not None:
        public = signing_key.public_key()
        block["signature"] = {
            "algorithm": SIGNATURE_ALGORITHM,
            "key_id": key_id(public),
            "public_key": base64.b64encode(_raw_public(public)).decode("ascii"),
            "value": base64.b64encode(signing_key.sign(message)).decode("ascii"),
        }
    return body | {SEAL_KEY: block}


def check_seal(card: dict, source: str, trusted_keys: Sequence | None = None) -> tuple[str, str]:
    """Check the card's seal (and its signature, when present); returns (seal sha256, signer
    key id or ""). With ``trusted_keys`` (a list of Ed25519 public keys), the card must be
    signed by one of them. Raises ``BundleError`` naming ``source`` and the reason."""
    block = card.get(SEAL_KEY)
    if block is None:
        raise BundleError(
            f"{source}: the model card is not sealed, so an edit of it (a reordered class list, "
            f"another temperature) could not be detected; check the card, then seal the bundle "
            f"with `{RESEAL_HINT}` (docs/model-bundle.md#the-seal)"
        )
    if not isinstance(block, dict) or block.get("format") != SEAL_FORMAT:
        raise BundleError(
            f"{source}: unknown seal format {block.get('format') if isinstance(block, dict) else block!r} "
            f"(this CNSight reads {SEAL_FORMAT})"
        )
    for name, sha in covered_files(card):
        if not _is_hex64(sha):
            raise BundleError(f"{source}: the sha256 of {name} is not 64 hex digits: {sha!r}")
    message = seal_message(card)
    digest = hashlib.sha256(message).hexdigest()
    if block.get("sha256") != digest:
        raise BundleError(
            f"{source}: the model card does not match its seal: the card was edited after the "
            "bundle was sealed (class list, preprocessing, temperature or the file hashes); "
            "refusing to load"
        )
    signer = _check_signature(block.get("signature"), message, source)
    if trusted_keys is not None:
        trusted = {key_id(k) for k in trusted_keys}
        if not signer:
            raise BundleError(
                f"{source}: this site requires signed model bundles and this one is not signed "
                f"(sign it: `{RESEAL_HINT} --sign-key PRIVATE.pem`)"
            )
        if signer not in trusted:
            raise BundleError(
                f"{source}: signed by key {signer}, which is not among the site's trusted keys "
                f"({', '.join(sorted(trusted))}); refusing to load"
            )
    return digest, signer


def _check_signature(signature: Any, message: bytes, source: str) -> str:
    if signature is None:
        return ""
    ed25519, _ = _crypto()
    from cryptography.exceptions import InvalidSignature

    if not isinstance(signature, dict) or signature.get("algorithm") != SIGNATURE_ALGORITHM:
        raise BundleError(f"{source}: unknown signature algorithm (this CNSight reads ed25519)")
    try:
        raw_key = base64.b64decode(signature["public_key"], validate=True)
        value = base64.b64decode(signature["value"], validate=True)
        public = ed25519.Ed25519PublicKey.from_public_bytes(raw_key)
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"{source}: unreadable signature block ({e})") from None
    try:
        public.verify(value, message)
    except InvalidSignature:
        raise BundleError(
            f"{source}: the signature does not match the sealed card and files; refusing to load"
        ) from None
    found = key_id(public)
    if signature.get("key_id") != found:
        raise BundleError(f"{source}: the signature's key id does not match its public key")
    return found


def trusted_key_ids(keys: Iterable) -> list[str]:
    return sorted(key_id(k) for k in keys)


def check_pinned(bundle_dir: Path, seal_sha256: str, signer: str = "") -> None:
    """The bundle is exactly the one a reader study names: its card matches its seal, the seal
    is ``seal_sha256`` (card + weights + domain, as pinned in the protocol) and, when ``signer``
    is given, it is signed by that key. Cheap (the card only): the loader checks the files."""
    card_path, data = read_card_file(bundle_dir)
    digest, found = check_seal(data, str(card_path))
    if seal_sha256 and digest != seal_sha256:
        raise BundleError(
            f"the model bundle {bundle_dir} is not the study's model: its seal is "
            f"{digest[:12]}..., the protocol names {seal_sha256[:12]}... (the card, the weights "
            "or the domain statistics differ); refusing to load it (ask the study coordinator)"
        )
    if signer and found != signer:
        raise BundleError(
            f"the model bundle {bundle_dir} is not signed by the key the study names "
            f"({signer}; found {found or 'no signature'}); refusing to load it"
        )
