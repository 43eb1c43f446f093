"""python -m core.bundle: seal, verify and sign model bundles (docs/model-bundle.md#the-seal).

    python -m core.bundle seal DIR [--sign-key PRIVATE.pem]   check DIR, then (re-)seal its card
    python -m core.bundle verify DIR [--trusted-keys KEYS.pem] the whole strict load; prints the seal
    python -m core.bundle keygen --private PRIVATE.pem --public PUBLIC.pem

``seal`` rewrites only ``model_card.json`` (the seal block); it refuses a bundle whose files do
not match the hashes its card names, so it never blesses changed weights. Exit codes: 0 done,
1 verification failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from core.errors import CNSightError

log = logging.getLogger("cnsight.bundle")


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.bundle", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("seal", help="check a bundle, then write its seal (and signature)")
    s.add_argument("bundle", type=Path)
    s.add_argument("--sign-key", type=Path, default=None, help="Ed25519 private key (PEM)")
    v = sub.add_parser("verify", help="load a bundle strictly and print its seal")
    v.add_argument("bundle", type=Path)
    v.add_argument(
        "--trusted-keys",
        type=Path,
        default=None,
        help="PEM public keys: require a signature by one of them (default: CNSIGHT_TRUSTED_KEYS)",
    )
    k = sub.add_parser("keygen", help="make an Ed25519 signing key pair for the site")
    k.add_argument("--private", type=Path, required=True, help="private key file to create")
    k.add_argument("--public", type=Path, required=True, help="public key file to create")
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = get_args_parser().parse_args(argv)
    from core.bundle import load_bundle, seal_bundle
    from core.bundle_seal import generate_signing_key, load_signing_key, load_trusted_keys

    try:
        if args.command == "keygen":
            kid = generate_signing_key(args.private, args.public)
            log.info(
                "key %s: private %s (keep it secret), public %s", kid, args.private, args.public
            )
            return 0
        if args.command == "seal":
            key = load_signing_key(args.sign_key) if args.sign_key else None
            card = seal_bundle(args.bundle, key)
            signed = f", signed by key {card.signer}" if card.signer else ", unsigned"
            log.info("%s: sealed, seal sha256 %s%s", args.bundle, card.seal_sha256, signed)
            return 0
        trusted = load_trusted_keys(args.trusted_keys) if args.trusted_keys else None
    except CNSightError as e:
        log.error("%s", e)
        return 2
    try:
        bundle = load_bundle(args.bundle, trusted_keys=trusted)
    except CNSightError as e:
        log.error("%s", e)
        return 1
    card = bundle.card
    print(f"{args.bundle}: ok - {card.name}, classes {', '.join(card.class_names)}")
    print(f"seal sha256 {card.seal_sha256}")
    print(f"signed by key {card.signer}" if card.signer else "not signed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
