#!/usr/bin/env python3
"""Sign or verify model packages (detached ECDSA P-256 / SHA-256 signature of manifest.json -> manifest.sig).

    /usr/bin/python3 models/sign.py sign   models/packages/cxr-pneumonia         # $MEDVISION_MODEL_SIGNING_KEY or dev key
    /usr/bin/python3 models/sign.py verify models/packages/cxr-pneumonia [--public-key site.pub]

`verify` also checks the ONNX file's SHA-256 against the manifest, i.e. everything the appliance checks
before it trusts a package (except running the graph). Exit status 0 = all packages good.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from factory import signing  # noqa: E402
from factory.paths import DEV_PUBLIC_KEY  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["sign", "verify"])
    ap.add_argument("packages", nargs="+", type=Path)
    ap.add_argument("--public-key", type=Path, default=DEV_PUBLIC_KEY, help="PEM public key for verify (default: dev key)")
    args = ap.parse_args(argv)
    failures = 0
    if args.action == "sign":
        key, desc, _ = signing.signing_key()
        for p in args.packages:
            print(f"{p}: signed with {desc} ({signing.sign_package(p, key)})")
        return 0
    pem = args.public_key.read_bytes()
    for p in args.packages:
        problems = []
        if not (p / signing.SIGNATURE_FILE).is_file():
            problems.append("manifest.sig missing (unsigned)")
        elif not signing.verify_package(p, pem):
            problems.append("signature does not verify with " + args.public_key.name)
        manifest = json.loads((p / "manifest.json").read_text())
        onnx = p / manifest["file"]
        if not onnx.is_file():
            problems.append(f"{manifest['file']} missing")
        elif hashlib.sha256(onnx.read_bytes()).hexdigest() != manifest["sha256"].lower():
            problems.append(f"sha256 of {manifest['file']} differs from the manifest")
        print(f"{p}: " + ("OK" if not problems else "REFUSED: " + "; ".join(problems)))
        failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
