"""Revision, source URL and time for OCI labels, read from the matrix's git checkout if any.

The time is never the wall clock: it is the checkout's last commit, or outside git the newest
file of the build contexts. So a rebuild from cache gives the same image digest.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from xbuild.core.buildspec import Provenance, source_url
from xbuild.core.errors import CommandFailed, EnvironmentProblem
from xbuild.host.cmd import Shell


def _git(shell: Shell, root: Path, *args: str) -> str:
    """What git prints, or "" when there is no git, no checkout or no such thing."""
    try:
        return shell.run(["git", "-C", str(root), *args], timeout=10,
                         reads_only=True).stdout.strip()
    except (CommandFailed, EnvironmentProblem):
        return ""


def newest_file_time(paths: Iterable[Path]) -> int:
    """The newest mtime of `paths` and of every file under those that are folders, in whole
    seconds (0 when there is none)."""
    newest = 0.0
    for path in paths:
        found = [path] if path.is_file() else (
            Path(folder) / name for folder, _, names in os.walk(path) for name in names)
        for file in found:
            try:
                newest = max(newest, file.lstat().st_mtime)
            except OSError:
                continue
    return int(newest)


def provenance(root: Path, shell: Shell, inputs: Iterable[Path] = ()) -> Provenance:
    """`inputs`: the matrix and the contexts, whose newest file dates a build outside git."""
    committed = _git(shell, root, "log", "-1", "--format=%ct")
    epoch = int(committed) if committed.isdigit() else newest_file_time(inputs)
    created = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Provenance(created=created, epoch=epoch,
                      revision=_git(shell, root, "rev-parse", "HEAD"),
                      source=source_url(_git(shell, root, "remote", "get-url", "origin")))


def dirty(root: Path, shell: Shell) -> bool:
    """Uncommitted changes in the checkout at `root` (False outside git)."""
    return bool(_git(shell, root, "status", "--porcelain", "--untracked-files=no"))
