"""Detached package signatures: ECDSA P-256 over the exact bytes of manifest.json, SHA-256.

`manifest.sig` holds the DER-encoded (RFC 3279) signature, binary, as
`openssl dgst -sha256 -sign key.pem manifest.json` writes it, so a package can also be checked with

    openssl dgst -sha256 -verify signing-key.pub -signature manifest.sig manifest.json

Why ECDSA P-256 and not Ed25519: .NET 10's System.Security.Cryptography has no stand-alone Ed25519
(only inside composite ML-DSA algorithms), while ECDSA P-256 is built in on every platform
(ECDsa.VerifyData) and needs no native add-on on the appliance.

Key choice when signing: the PEM private key at $MEDVISION_MODEL_SIGNING_KEY (production: it never
enters the repository); without it, the committed DEVELOPMENT key models/keys/dev-signing-key.pem,
with a warning.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .paths import DEV_SIGNING_KEY

ENV_KEY = "MEDVISION_MODEL_SIGNING_KEY"
SIGNATURE_FILE = "manifest.sig"
ALGORITHM = "ECDSA-P256-SHA256"


def load_private_key(path: Path):
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SystemExit(f"{path}: the signing key must be an ECDSA P-256 (secp256r1) private key")
    return key


def signing_key():
    """(key, description, is_dev)."""
    env = os.environ.get(ENV_KEY, "").strip()
    if env:
        path = Path(env)
        if not path.is_file():
            raise SystemExit(f"{ENV_KEY}={env}: no such file")
        return load_private_key(path), f"key from ${ENV_KEY}", False
    print(f"WARNING: ${ENV_KEY} is not set: signing with the DEVELOPMENT key {DEV_SIGNING_KEY.name} "
          "(accepted only by appliances that trust the dev public key; never ship such a package)",
          file=sys.stderr)
    return load_private_key(DEV_SIGNING_KEY), "DEVELOPMENT key models/keys/dev-signing-key.pem", True


def fingerprint(public_key) -> str:
    """SHA-256 of the SubjectPublicKeyInfo DER, first 16 hex digits (the C# loader logs the same)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def sign_package(package_dir: Path, key=None) -> str:
    """Signs package_dir/manifest.json into package_dir/manifest.sig; returns the key fingerprint."""
    if key is None:
        key, _, _ = signing_key()
    manifest = (Path(package_dir) / "manifest.json").read_bytes()
    sig = key.sign(manifest, ec.ECDSA(hashes.SHA256()))
    (Path(package_dir) / SIGNATURE_FILE).write_bytes(sig)
    return fingerprint(key.public_key())


def verify_package(package_dir: Path, public_key_pem: bytes) -> bool:
    pub = serialization.load_pem_public_key(public_key_pem)
    try:
        pub.verify((Path(package_dir) / SIGNATURE_FILE).read_bytes(),
                   (Path(package_dir) / "manifest.json").read_bytes(), ec.ECDSA(hashes.SHA256()))
        return True
    except InvalidSignature:
        return False
