"""Repository-relative locations, computed from this file so scripts run from any folder."""
from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = MODELS_DIR.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
PACKAGES_DIR = MODELS_DIR / "packages"
KEYS_DIR = MODELS_DIR / "keys"
DEV_SIGNING_KEY = KEYS_DIR / "dev-signing-key.pem"
DEV_PUBLIC_KEY = KEYS_DIR / "dev-signing-key.pub"


def repo_relative(path: Path) -> str:
    """Path as written into package files: relative to the repository, never absolute."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    except ValueError:
        return Path(path).name
