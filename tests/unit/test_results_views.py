"""RunReport (exit code, JSON), its summaries (rich and Markdown), progress and CI output."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console as RichConsole

from tests.unit.fakes import arch
from xbuild.console import Console
from xbuild.errors import ExitCode
from xbuild.matrix import ImageSpec, Matrix
from xbuild.plan import ManifestList, Plan, make_plan
from xbuild.platforms import Arch
from xbuild.progress import Progress
from xbuild.results import ListResult, ListStatus, RunReport, Status, TargetResult
from xbuild.views import summary_markdown, summary_table

AMD64, ARM32, ARM64 = arch("amd64"), arch("arm32v7"), arch("arm64v8")
RUN_DIR = Path("/runs/1")
DIGEST = "sha256:" + "cd" * 32
FAILED_RUN = 'process "/bin/sh -c false" did not complete successfully: exit code: 1'


def spec(name: str, parent: str | None = None,
         arches: Sequence[Arch] = (AMD64, ARM32, ARM64)) -> ImageSpec:
    context = Path("/ctx") / name
    return ImageSpec(name=name, context=context, dockerfile=context / "Dockerfile", parent=parent,
                     arches=tuple(arches), args=(), arch_args=())


PLAN: Plan = make_plan(Matrix(
    path=Path("/m/matrix.yml"), namespace="ns", tag="t", arches=(AMD64, ARM32, ARM64),
    images=(spec("base"), spec("lone", arches=(AMD64, ARM64)), spec("child", parent="base"))))
MANIFESTS = {m.image: m for m in PLAN.manifests}


def result(key: str, status: Status = Status.PUSHED, detail: str = "",
           seconds: float = 12.0) -> TargetResult:
    target = PLAN.target(key)
    built = status.ok
    return TargetResult(target=target, status=status, seconds=seconds if built else 0.0,
                        digest=DIGEST if built else "", detail=detail,
                        log=RUN_DIR / f"{key}.log" if status is not Status.SKIPPED else None)


def listed(image: str, status: ListStatus = ListStatus.PUBLISHED, detail: str = "") -> ListResult:
    manifest: ManifestList = MANIFESTS[image]
    return ListResult(manifest=manifest, status=status, detail=detail,
                      platforms=tuple(str(a.platform) for a, _ in manifest.entries))


def report(overrides: dict[str, TargetResult] | None = None,
           lists: dict[str, ListResult] | None = None, seconds: float = 61.0) -> RunReport:
    """Every target pushed and every list published, but for `overrides` and `lists`."""
    targets = {t.key: result(t.key) for t in PLAN.targets} | (overrides or {})
    manifests = {m.image: listed(m.image) for m in PLAN.manifests} | (lists or {})
    return RunReport(targets=tuple(targets[t.key] for t in PLAN.targets),
                     lists=tuple(manifests.values()), run_dir=RUN_DIR, seconds=seconds)


BASE_ARM64_FAILED = {
    "base-arm64v8": result("base-arm64v8", Status.FAILED, FAILED_RUN),
    "child-arm64v8": result("child-arm64v8", Status.SKIPPED, "parent base x arm64v8 failed"),
}
WITHHELD = {image: listed(image, ListStatus.WITHHELD, "not published: no arm64v8")
            for image in ("base", "child")}
ALL_FAILED = {t.key: result(t.key, Status.FAILED, "boom") for t in PLAN.targets}

# --- RunReport ---------------------------------------------------------------------------


@pytest.mark.parametrize(("targets", "lists", "code"), [
    pytest.param({}, {}, ExitCode.OK, id="all-ok"),
    pytest.param({t.key: result(t.key, Status.BUILT) for t in PLAN.targets}, {}, ExitCode.OK,
                 id="built-not-pushed"),
    pytest.param({t.key: result(t.key, Status.DRY_RUN) for t in PLAN.targets},
                 {m.image: listed(m.image, ListStatus.DRY_RUN) for m in PLAN.manifests},
                 ExitCode.OK, id="dry-run"),
    pytest.param(BASE_ARM64_FAILED, WITHHELD, ExitCode.PARTIAL, id="one-failed"),
    pytest.param({"lone-amd64": result("lone-amd64", Status.SKIPPED, "why")}, {},
                 ExitCode.PARTIAL, id="one-skipped"),
    pytest.param({}, {"lone": listed("lone", ListStatus.FAILED, "401")}, ExitCode.PARTIAL,
                 id="list-failed"),
    pytest.param({}, {"lone": listed("lone", ListStatus.PARTIAL, "without x")},
                 ExitCode.PARTIAL, id="list-partial"),
    pytest.param({}, {"lone": listed("lone", ListStatus.WITHHELD, "no x")}, ExitCode.PARTIAL,
                 id="list-withheld"),
    pytest.param(ALL_FAILED, {m.image: listed(m.image, ListStatus.WITHHELD)
                              for m in PLAN.manifests}, ExitCode.FAILED, id="all-failed"),
    pytest.param({**ALL_FAILED, "child-amd64": result("child-amd64", Status.SKIPPED)},
                 {}, ExitCode.FAILED, id="all-failed-or-skipped"),
])
def test_exit_code(targets: dict[str, TargetResult], lists: dict[str, ListResult],
                   code: ExitCode) -> None:
    assert report(targets, lists).exit_code == code


def test_exit_code_without_lists() -> None:
    assert RunReport(targets=report().targets, lists=(), run_dir=RUN_DIR,
                     seconds=1.0).exit_code == ExitCode.OK


def strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for value in data.values():
            yield from strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from strings(value)


def test_as_dict_is_json(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    base = report(BASE_ARM64_FAILED, WITHHELD, seconds=61.26)
    logged = RunReport(targets=tuple(
        TargetResult(target=r.target, status=r.status, seconds=r.seconds, digest=r.digest,
                     detail=r.detail, log=run_dir / f"{r.target.key}.log" if r.log else None)
        for r in base.targets), lists=base.lists, run_dir=run_dir, seconds=base.seconds)
    data = logged.as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["exit_code"] == 5
    assert data["seconds"] == 61.3
    assert data["run_dir"] == str(run_dir)
    given = {str(run_dir)} | {str(run_dir / f"{t.key}.log") for t in PLAN.targets}
    absolute = {s for s in strings(data) if s.startswith("/") or str(tmp_path) in s}
    assert absolute <= given
    assert [t["tag"] for t in data["targets"]] == [t.ref for t in PLAN.targets]
    failed = next(t for t in data["targets"] if t["status"] == "failed")
    assert failed == {"image": "base", "arch": "arm64v8", "tag": "ns/base:t-arm64v8",
                      "status": "failed", "seconds": 0.0, "digest": "", "detail": FAILED_RUN,
                      "log": str(run_dir / "base-arm64v8.log")}
    skipped = next(t for t in data["targets"] if t["status"] == "skipped")
    assert skipped["log"] is None
    assert {entry["image"]: entry["status"] for entry in data["lists"]} == {
        "base": "withheld", "lone": "published", "child": "withheld"}
    lone = next(entry for entry in data["lists"] if entry["image"] == "lone")
    assert lone == {"image": "lone", "ref": "ns/lone:t", "status": "published",
                    "platforms": ["linux/amd64", "linux/arm64/v8"], "detail": ""}


# --- the Markdown summary ----------------------------------------------------------------


def markdown_rows(markdown: str) -> list[list[str]]:
    """The table's rows as cells, header first, the separator left out (`\\|` stays inside)."""
    lines = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    assert re.fullmatch(r"\|(---\|)+", lines[1]), lines[1]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", ln)[1:-1]]
            for ln in [lines[0], *lines[2:]]]


def test_summary_markdown_one_row_per_image_one_column_per_arch() -> None:
    markdown = summary_markdown(report(BASE_ARM64_FAILED, WITHHELD))
    assert markdown.startswith("### xbuild\n\n")
    header, *rows = markdown_rows(markdown)
    assert header == ["image", "amd64", "arm32v7", "arm64v8", "manifest list"]
    assert [row[0] for row in rows] == ["base", "lone", "child"]
    assert all(len(row) == len(header) for row in rows)
    cells = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert cells["base"]["amd64"] == "pushed 12s"
    assert cells["base"]["arm64v8"] == (f"failed<br>{FAILED_RUN}<br>"
                                        "log: /runs/1/base-arm64v8.log")
    assert cells["child"]["arm64v8"] == "skipped<br>parent base x arm64v8 failed"
    assert cells["lone"]["arm32v7"] == ""  # lone is not built for arm32v7
    assert cells["base"]["manifest list"] == "withheld not published: no arm64v8"
    assert cells["lone"]["manifest list"] == "published"


def test_summary_markdown_escapes_pipes() -> None:
    detail = 'process "/bin/sh -c make | tee log" did not complete successfully'
    markdown = summary_markdown(report(
        {"lone-amd64": result("lone-amd64", Status.FAILED, detail)},
        {"lone": listed("lone", ListStatus.WITHHELD, "a | b")}))
    header, *rows = markdown_rows(markdown)
    (lone,) = [row for row in rows if row[0] == "lone"]
    assert len(lone) == len(header)
    assert "make \\| tee log" in lone[1]
    assert lone[-1] == "withheld a \\| b"


def test_summary_markdown_without_lists() -> None:
    plain = RunReport(targets=report().targets, lists=(), run_dir=RUN_DIR, seconds=1.0)
    header, *rows = markdown_rows(summary_markdown(plain))
    assert header[-1] == "manifest list"
    assert [row[-1] for row in rows] == ["", "", ""]


# --- the rich summary --------------------------------------------------------------------


def rendered(report_: RunReport) -> str:
    console = RichConsole(record=True, width=200, color_system=None)
    console.print(summary_table(report_))
    return console.export_text()


def test_summary_table_renders_every_image_arch_and_list() -> None:
    text = rendered(report())
    assert "xbuild: 61s, logs in /runs/1" in text
    for word in ("image", "amd64", "arm32v7", "arm64v8", "manifest list", "base", "lone",
                 "child", "pushed 12s", "published"):
        assert word in text


def test_summary_table_shows_failure_detail_and_log() -> None:
    text = rendered(report(BASE_ARM64_FAILED, WITHHELD))
    assert FAILED_RUN in text
    assert "log: /runs/1/base-arm64v8.log" in text
    assert "parent base x arm64v8 failed" in text
    assert "not published: no arm64v8" in text
    assert "log: /runs/1/child-arm64v8.log" not in text  # skipped: no log to read


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
