"""Progress while a plan runs: plain lines, GitHub Actions folds, the step summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.reports import (
    BASE_ARM64_FAILED,
    DIGEST,
    PLAN,
    WITHHELD,
    listed,
    report,
)
from xbuild.core.results import ListStatus, Status, TargetResult
from xbuild.output.console import Console
from xbuild.output.progress import Progress
from xbuild.output.views import summary_markdown

# --- progress and GitHub Actions ---------------------------------------------------------


@pytest.fixture
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "GITHUB_ACTIONS",
                 "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def github(plain_env: None, monkeypatch: pytest.MonkeyPatch) -> Console:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    console = Console()
    assert console.github
    return console


LOG = "+ docker buildx build ...\n#1 [internal] load build definition\n#1 DONE 0.0s\n"


def test_progress_folds_each_finished_log_in_github_actions(
        github: Console, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "base-amd64.log"
    log.write_text(LOG, encoding="utf-8")
    target = PLAN.target("base-amd64")
    with Progress(github, total=2) as progress:
        progress.started(target)
        progress.line(target, "#1 DONE 0.0s")
        progress.finished(TargetResult(target=target, status=Status.PUSHED, seconds=1.5,
                                       digest=DIGEST, log=log))
    out, err = capsys.readouterr()
    assert out == ""
    assert f"::group::✓ base x amd64 pushed 1.5s\n{LOG}::endgroup::\n" in err
    assert "▶ base x amd64  (ns/base:t-amd64)" in err
    assert err.index("▶ base x amd64") < err.index("::group::")


def test_progress_folds_a_failure_with_its_detail(github: Console, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "base-arm64v8.log"
    log.write_text(LOG + "ERROR: failed to solve: boom\n", encoding="utf-8")
    target = PLAN.target("base-arm64v8")
    with Progress(github, total=1) as progress:
        progress.finished(TargetResult(target=target, status=Status.FAILED, seconds=2.0,
                                       detail="boom\nsecond line", log=log))
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert "::group::✗ base x arm64v8 failed 2.0s: boom" in lines
    assert lines.index("::group::✗ base x arm64v8 failed 2.0s: boom") < lines.index(
        "ERROR: failed to solve: boom") < lines.index("::endgroup::")


def test_progress_without_a_log_prints_one_line_in_github_actions(
        github: Console, capsys: pytest.CaptureFixture[str]) -> None:
    skipped = TargetResult(target=PLAN.target("child-arm64v8"), status=Status.SKIPPED,
                           detail="parent base x arm64v8 failed")
    with Progress(github, total=1) as progress:
        progress.finished(skipped)
        progress.list_finished(listed("child", ListStatus.WITHHELD, "not published: no arm64v8"))
    out, err = capsys.readouterr()
    assert out == ""
    assert "::group::" not in err
    assert err.splitlines() == [
        "- child x arm64v8 skipped: parent base x arm64v8 failed",
        "☰ ns/child:t withheld: not published: no arm64v8",
    ]


def test_progress_outside_ci_prints_plain_lines(plain_env: None, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    console = Console()
    assert not console.github and not console.is_tty
    log = tmp_path / "lone-amd64.log"
    log.write_text(LOG, encoding="utf-8")
    target = PLAN.target("lone-amd64")
    with Progress(console, total=1) as progress:
        progress.started(target)
        progress.finished(TargetResult(target=target, status=Status.BUILT, seconds=3.0,
                                       log=log))
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["▶ lone x amd64  (ns/lone:t-amd64)", "✓ lone x amd64 built 3.0s"]
    assert "::group::" not in err
    assert "#1 DONE" not in err  # the log stays in its file


@pytest.mark.parametrize("existing", ["", "## earlier step\n"], ids=["new-file", "appends"])
def test_step_summary_appends(plain_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                              existing: str) -> None:
    summary = tmp_path / "step_summary.md"
    if existing:
        summary.write_text(existing, encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    markdown = summary_markdown(report(BASE_ARM64_FAILED, WITHHELD))
    console = Console()
    console.step_summary(markdown)
    console.step_summary("second\n\n")
    assert summary.read_text(encoding="utf-8") == f"{existing}{markdown}\nsecond\n"


def test_step_summary_outside_github_does_nothing(plain_env: None, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Console().step_summary("### xbuild\n")
    assert list(tmp_path.iterdir()) == []
    assert capsys.readouterr() == ("", "")
