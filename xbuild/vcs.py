"""Revision and source URL for OCI labels, read from the matrix's git checkout if any."""

from __future__ import annotations

import subprocess
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

from xbuild.buildspec import Provenance


def _git(root: Path, *args: str) -> str:
    try:
        result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                                check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def without_credentials(url: str) -> str:
    """Drop `user:token@` from a remote URL so no secret reaches a label or a log."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def provenance(root: Path, now: datetime | None = None) -> Provenance:
    created = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Provenance(created=created, revision=_git(root, "rev-parse", "HEAD"),
                      source=without_credentials(_git(root, "remote", "get-url", "origin")))
