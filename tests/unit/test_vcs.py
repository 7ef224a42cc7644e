"""Provenance from a real git checkout: revision, a public source URL, never a credential or a
host path (the URL rules themselves: test_buildspec.py, source_url)."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from xbuild.core.buildspec import Provenance
from xbuild.host import vcs
from xbuild.host.cmd import Shell

pytestmark = pytest.mark.allow_subprocess
NOW = datetime(2026, 1, 1, 12, 30, 5, 999, tzinfo=UTC)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "matrix.yml").write_text("namespace: x\n")
    git(root, "add", "matrix.yml")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    return root


@pytest.mark.parametrize(("remote", "source"), [
    pytest.param("https://bot:ghp_secret@github.com/o/r.git", "https://github.com/o/r.git",
                 id="token-stripped"),
    pytest.param("git@github.com:o/r.git", "https://github.com/o/r.git", id="scp-like"),
    pytest.param("/srv/git/r.git", "", id="local-path-never-published"),
])
def test_provenance_reads_the_checkout(checkout: Path, remote: str, source: str) -> None:
    git(checkout, "remote", "add", "origin", remote)
    found = vcs.provenance(checkout / ".", Shell(), NOW)
    assert found == Provenance(created="2026-01-01T12:30:05Z",
                               revision=git(checkout, "rev-parse", "HEAD"), source=source)
    assert len(found.revision) == 40


def test_provenance_of_a_checkout_without_a_remote(checkout: Path) -> None:
    assert vcs.provenance(checkout, Shell(), NOW).source == ""


def test_provenance_outside_git_has_only_the_time(tmp_path: Path) -> None:
    assert vcs.provenance(tmp_path, Shell(), NOW) == Provenance(created="2026-01-01T12:30:05Z")


def test_provenance_time_is_utc(tmp_path: Path) -> None:
    local = datetime(2026, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    assert vcs.provenance(tmp_path, Shell(), local).created == "2026-01-01T00:00:00Z"


def test_provenance_is_read_even_in_a_dry_run(checkout: Path) -> None:
    assert vcs.provenance(checkout, Shell(dry_run=True), NOW).revision == \
        git(checkout, "rev-parse", "HEAD")
