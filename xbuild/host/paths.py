"""Where xbuild keeps things on the host."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/xbuild`, else `~/.cache/xbuild`: downloads, probes, the registry."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "xbuild"
