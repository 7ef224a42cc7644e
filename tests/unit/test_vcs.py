"""Provenance from git: no credential of a remote URL may reach a label."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from xbuild import vcs
from xbuild.buildspec import Provenance


@pytest.mark.parametrize(("url", "expected"), [
    pytest.param("https://user:ghp_secret@github.com/x/y.git", "https://github.com/x/y.git",
                 id="user-and-token"),
    pytest.param("https://x-access-token:ghs_abc@github.com/x/y", "https://github.com/x/y",
                 id="actions-token"),
    pytest.param("https://ghp_only@github.com/x/y.git", "https://github.com/x/y.git",
                 id="token-only"),
    pytest.param("http://user:p%40ss@gitlab.example:8443/x/y.git",
                 "http://gitlab.example:8443/x/y.git", id="port-kept"),
    pytest.param("https://user:p@ss@github.com/x/y.git", "https://github.com/x/y.git",
                 id="at-sign-in-password"),
])
def test_without_credentials_strips_user_info(url: str, expected: str) -> None:
    stripped = vcs.without_credentials(url)
    assert stripped == expected
    assert "@" not in stripped


@pytest.mark.parametrize("url", [
    pytest.param("git@github.com:x/y.git", id="scp-like-ssh"),
    pytest.param("https://github.com/x/y.git", id="plain-https"),
    pytest.param("https://github.com/x/y@v1", id="at-sign-in-path"),
    pytest.param("/srv/git/y.git", id="local-path"),
    pytest.param("", id="empty"),
])
def test_without_credentials_leaves_others_alone(url: str) -> None:
    assert vcs.without_credentials(url) == url


def test_provenance_reads_git_and_strips_the_remote(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    asked: list[tuple[Path, tuple[str, ...]]] = []
    answers = {("rev-parse", "HEAD"): "0123456789abcdef",
               ("remote", "get-url", "origin"): "https://bot:ghp_secret@github.com/o/r.git"}

    def git(root: Path, *args: str) -> str:
        asked.append((root, args))
        return answers[args]

    monkeypatch.setattr(vcs, "_git", git)
    now = datetime(2026, 1, 1, 12, 30, 5, 999, tzinfo=UTC)
    assert vcs.provenance(tmp_path, now) == Provenance(
        created="2026-01-01T12:30:05Z", revision="0123456789abcdef",
        source="https://github.com/o/r.git")
    assert {root for root, _ in asked} == {tmp_path}


def test_provenance_outside_git_has_only_the_time(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setattr(vcs, "_git", lambda _root, *_args: "")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert vcs.provenance(tmp_path, now) == Provenance(created="2026-01-01T00:00:00Z")


def test_provenance_time_is_utc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(vcs, "_git", lambda _root, *_args: "")
    local = datetime(2026, 1, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    assert vcs.provenance(tmp_path, local).created == "2026-01-01T00:00:00Z"
