"""Provenance from a real git checkout: revision, a public source URL (never a credential or a
host path; the URL rules: test_buildspec.py), and a time that is never the wall clock."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from xbuild.core.buildspec import Provenance
from xbuild.host import vcs
from xbuild.host.cmd import Shell

pytestmark = pytest.mark.allow_subprocess
COMMITTED = 1767270605  # 2026-01-01T12:30:05Z


def git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_COMMITTER_DATE": f"@{COMMITTED} +0900",
           "GIT_AUTHOR_DATE": "@1000000000 +0000"}
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True, env=env)
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
    found = vcs.provenance(checkout / ".", Shell())
    assert found == Provenance(created="2026-01-01T12:30:05Z", epoch=COMMITTED,
                               revision=git(checkout, "rev-parse", "HEAD"), source=source)
    assert len(found.revision) == 40


def test_the_time_is_the_commit_time_even_with_newer_files(checkout: Path) -> None:
    (checkout / "new").write_text("changed after the commit")
    assert vcs.provenance(checkout, Shell(), [checkout]).epoch == COMMITTED


def test_outside_git_the_time_is_the_newest_input_file(tmp_path: Path) -> None:
    context = tmp_path / "context"
    (context / "sub").mkdir(parents=True)
    for name, mtime in (("matrix.yml", 1_700_000_000), ("context/a", 1_700_000_100),
                        ("context/sub/b", 1_700_000_200), ("elsewhere", 1_800_000_000)):
        (tmp_path / name).write_text(name)
        os.utime(tmp_path / name, (mtime, mtime))
    found = vcs.provenance(tmp_path, Shell(), [tmp_path / "matrix.yml", context])
    assert found == Provenance(created="2023-11-14T22:16:40Z", epoch=1_700_000_200)


def test_provenance_of_a_checkout_without_a_remote(checkout: Path) -> None:
    assert vcs.provenance(checkout, Shell()).source == ""


def test_provenance_is_read_even_in_a_dry_run(checkout: Path) -> None:
    assert vcs.provenance(checkout, Shell(dry_run=True)).revision == \
        git(checkout, "rev-parse", "HEAD")
