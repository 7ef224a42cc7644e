"""Where xbuild keeps things on the host."""

from __future__ import annotations

import os
import shutil
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


OWNER = ".pid"  # in a run folder: the process that runs it


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's, alive
    return True


def sweep_runs(log_dir: Path, keep: str = "downloads") -> list[Path]:
    """Remove what earlier runs staged (their `downloads` folders) when the run that made it
    is gone, e.g. killed: its logs and records stay. Returns what it removed."""
    removed = []
    for staged in log_dir.glob(f"*/{keep}"):
        owner = staged.parent / OWNER
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            pid = 0
        if pid and alive(pid):
            continue
        shutil.rmtree(staged, ignore_errors=True)
        removed.append(staged)
    return removed
