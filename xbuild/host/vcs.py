"""Revision and source URL for OCI labels, read from the matrix's git checkout if any."""

from __future__ import annotations

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


def provenance(root: Path, shell: Shell, now: datetime | None = None) -> Provenance:
    created = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Provenance(created=created, revision=_git(shell, root, "rev-parse", "HEAD"),
                      source=source_url(_git(shell, root, "remote", "get-url", "origin")))
