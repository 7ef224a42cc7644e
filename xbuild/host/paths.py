"""Where xbuild keeps things on the host (the cache), and files written whole or not at all.
The run folder is host/run_folder.py's."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/xbuild`, else `~/.cache/xbuild`: downloads, probes, the registry."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "xbuild"


def replace_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """`write` a sibling temporary file, then rename it over `path`: a run killed halfway
    leaves the old file or the new one, never half of one."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write(partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    return replace_atomically(path, lambda partial: partial.write_text(text, encoding="utf-8"))
