"""What a run killed with SIGKILL leaves behind must never block the next one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from xbuild.core.downloads import LOCK_NAME, read_lock
from xbuild.engine.retry import RetryPolicy
from xbuild.host.downloader import Downloader
from xbuild.host.paths import replace_atomically, write_text_atomically
from xbuild.host.run_folder import OWNER, RunFolder, sweep

DEAD = 2**22 + 12345  # above Linux's pid_max default: no such process


def test_an_interrupted_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    lock = tmp_path / LOCK_NAME
    write_text_atomically(lock, f"{'a' * 64}  https://example.org/a.zip\n")

    def killed_halfway(partial: Path) -> None:
        partial.write_text("b" * 10)  # half a line, then the process dies
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_atomically(lock, killed_halfway)
    assert read_lock(lock) == {"https://example.org/a.zip": "a" * 64}
    assert sorted(p.name for p in tmp_path.iterdir()) == [LOCK_NAME]


def make_run(log_dir: Path, name: str, pid: int | None) -> Path:
    staged = log_dir / name / "downloads" / "img-amd64"
    staged.mkdir(parents=True)
    (staged / "jre.tar.gz").write_text("staged")
    (log_dir / name / "summary.json").write_text("{}")
    if pid is not None:
        (log_dir / name / OWNER).write_text(str(pid))
    return log_dir / name


def test_a_dead_runs_staged_downloads_are_swept_and_its_records_kept(tmp_path: Path) -> None:
    killed = make_run(tmp_path, "20260101-000000", DEAD)
    old = make_run(tmp_path, "20250101-000000", None)
    live = make_run(tmp_path, "20260101-000001", os.getpid())
    assert sorted(sweep(tmp_path)) == [old / "downloads", killed / "downloads"]
    assert (live / "downloads").is_dir()
    assert (killed / "summary.json").is_file() and (old / "summary.json").is_file()


def test_a_new_run_folder_is_owned_by_this_process_and_sweeps_a_killed_one(
        tmp_path: Path) -> None:
    killed = make_run(tmp_path, "20260101-000000", DEAD)
    first = RunFolder.create(tmp_path, cache=tmp_path / "cache")
    second = RunFolder.create(tmp_path, cache=tmp_path / "cache")
    assert first.path.name < second.path.name  # a second run in the same second gets "-2"
    assert (first.path / ".pid").read_text() == str(os.getpid())
    assert not (killed / "downloads").exists()
    assert (killed / "summary.json").is_file()


def test_the_run_folder_names_every_file_the_readme_documents(tmp_path: Path) -> None:
    run = RunFolder(path=tmp_path, cache=tmp_path / "cache")
    assert run.target_log("orthanc-arm64v8") == tmp_path / "orthanc-arm64v8.log"
    assert run.list_log("orthanc") == tmp_path / "orthanc-list.log"
    assert run.base_log("debian", "bookworm-slim", "amd64") == \
        tmp_path / "debian-bookworm-slim-amd64.log"
    assert run.downloads == tmp_path / "downloads"
    run.write_summary({"exit_code": 0})
    run.write_build_record({"version": 1})
    run.write_timeline("gantt\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "build-record.json", "summary.json", "timeline.md"]
    assert (tmp_path / "summary.json").read_text() == '{\n  "exit_code": 0\n}'


def test_partial_downloads_of_a_killed_run_are_swept_once_old(tmp_path: Path) -> None:
    downloader = Downloader(cache=tmp_path, retry=RetryPolicy(attempts=1), deadline=60)
    downloader.store.mkdir(parents=True)
    stale, fresh = downloader.store / ".partial-stale", downloader.store / ".partial-fresh"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    downloader.sweep()
    assert not stale.exists()
    assert fresh.exists()  # may belong to a download still running
