"""A cosign key pair made in a test, its password given to cosign the way xbuild's users give
it: in COSIGN_PASSWORD."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def key_pair(folder: Path, password: str) -> tuple[Path, Path]:
    """(private, public): folder/cosign.key and folder/cosign.pub."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["cosign", "generate-key-pair"], cwd=folder, capture_output=True,
                          env={**os.environ, "COSIGN_PASSWORD": password}, check=False)
    assert done.returncode == 0, done.stderr
    return folder / "cosign.key", folder / "cosign.pub"
