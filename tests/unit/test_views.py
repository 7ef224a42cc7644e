"""What a person reads: the summary as Markdown and as a grid, rendered rich or plain."""

from __future__ import annotations

import re

import pytest
from rich.console import Console as RichConsole

from tests.unit.fakes import arch
from tests.unit.reports import (
    BASE_ARM64_FAILED,
    FAILED_RUN,
    RUN_DIR,
    WITHHELD,
    listed,
    report,
    result,
)
from xbuild.core.checks import NOT_COMPARED, ArchReport, Check, Difference, Parity, Report, Verdict
from xbuild.core.refs import Reference
from xbuild.core.results import ListStatus, RunReport, Status
from xbuild.output.console import Console, plain_row, rich_table
from xbuild.output.views import summary_grid, summary_markdown, verify_failures, verify_grid

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
    console.print(rich_table(summary_grid(report_)))
    return console.export_text()


def test_summary_grid_renders_every_image_arch_and_list() -> None:
    text = rendered(report())
    assert "xbuild: 61s, 8 pushed; logs in /runs/1" in text
    for word in ("image", "amd64", "arm32v7", "arm64v8", "manifest list", "base", "lone",
                 "child", "pushed 12s", "published"):
        assert word in text


def test_a_run_under_ten_seconds_shows_tenths_not_zero() -> None:
    quick = RunReport(targets=report().targets, lists=(), run_dir=RUN_DIR, seconds=0.78)
    assert "xbuild: 0.8s, 8 pushed" in rendered(quick)


def test_summary_grid_shows_failure_detail_and_log() -> None:
    text = rendered(report(BASE_ARM64_FAILED, WITHHELD))
    assert FAILED_RUN in text
    assert "log: /runs/1/base-arm64v8.log" in text
    assert "parent base x arm64v8 failed" in text
    assert "not published: no arm64v8" in text
    assert "log: /runs/1/child-arm64v8.log" not in text  # skipped: no log to read




def test_off_a_terminal_each_row_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)  # rich would wrap at 80 columns
    console = Console()
    assert not console.is_tty
    console.grid(summary_grid(report(BASE_ARM64_FAILED, WITHHELD)))
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "xbuild: 61s, 6 pushed, 1 failed, 1 skipped; logs in /runs/1"
    assert lines[1] == ("base  amd64: pushed 12s; arm32v7: pushed 12s; arm64v8: failed — "
                        f"{FAILED_RUN} — log: /runs/1/base-arm64v8.log; manifest list: "
                        "withheld — not published: no arm64v8")
    assert len(lines) == 4  # title and one line per image, however long


def test_plain_row_leaves_empty_cells_out() -> None:
    assert plain_row(("image", "amd64", "arm32v7"), ("lone", "pushed", "")) == \
        "lone  amd64: pushed"
    assert plain_row(("image", "amd64"), ("lone", "")) == "lone"


def test_the_timeline_is_a_gantt_chart_with_a_section_per_node() -> None:
    from dataclasses import replace

    from xbuild.output.views import timeline_mermaid

    base = report(BASE_ARM64_FAILED, WITHHELD)
    placed = {"base-amd64": (1000.0, ""), "base-arm64v8": (1002.0, "jetson"),
              "lone-amd64": (1010.5, "")}
    targets = tuple(replace(r, started=placed[r.target.key][0], node=placed[r.target.key][1],
                            seconds=12.0) if r.target.key in placed else r
                    for r in base.targets)
    chart = timeline_mermaid(replace(base, targets=targets), emulated={"base-arm64v8"})
    assert chart.splitlines() == [
        "### xbuild timeline", "", "```mermaid", "gantt",
        "    title xbuild: 3 builds, 61 s", "    dateFormat X", "    axisFormat %M:%S",
        "    section default",
        "    base amd64 :done, t0, 0, 12",
        "    lone amd64 :done, t2, 10, 22",
        "    section jetson",
        "    base arm64v8 (emulated) :crit, t1, 2, 14",
        "```"]


# --- the verify grid -------------------------------------------------------------------


def _differences(count: int) -> tuple[Difference, ...]:
    return tuple(Difference(arch="arm64v8", kind="path", item=f"/srv/p/{n}.so", observed="",
                            others=("amd64",), others_have="present") for n in range(count))


def _verdict(parity: Parity) -> Report:
    arches = tuple(ArchReport(arch=a, digest="sha256:" + "0" * 64, checks=(
        Check(check="list", status=Verdict.PASS, observed=str(a.platform)),))
        for a in (arch("amd64"), arch("arm64v8")))
    return Report(ref=Reference.parse("r.example/ns/img:t"), arches=arches, parity=parity)


def test_parity_is_a_row_of_its_own_under_a_column_of_its_own() -> None:
    parity = Parity(status=Verdict.FAIL, observed="5 differences", arches=("amd64", "arm64v8"),
                    differences=_differences(5))
    grid = verify_grid(_verdict(parity))
    assert grid.title == "r.example/ns/img:t: NOT verified"
    assert grid.headers == ("arch", "list", "parity")
    assert [cells[0] for cells, _ in grid.rows] == ["amd64", "arm64v8", "all arches"]
    assert [cells[-1] for cells, _ in grid.rows[:2]] == ["", ""]
    (cells, style) = grid.rows[-1]
    assert (cells[1], style) == ("", "red")
    assert cells[2].splitlines() == [
        "✗ 5 differences", "arm64v8: lacks /srv/p/0.so (amd64 has it)",
        "arm64v8: lacks /srv/p/1.so (amd64 has it)", "arm64v8: lacks /srv/p/2.so (amd64 has it)",
        "…"]
    assert verify_failures(_verdict(parity))[-1] == \
        "✗ r.example/ns/img:t parity: arm64v8: lacks /srv/p/4.so (amd64 has it)"


def test_parity_lines_below_the_grid_are_capped_and_point_to_json() -> None:
    parity = Parity(status=Verdict.FAIL, observed="30 differences", differences=_differences(30))
    lines = verify_failures(_verdict(parity))
    assert len(lines) == 21
    assert lines[-1] == "✗ r.example/ns/img:t parity: 10 more lines (--json lists them)"


def test_parity_not_checked_is_shown_as_such_never_as_a_pass() -> None:
    grid = verify_grid(_verdict(NOT_COMPARED))
    assert grid.title == "r.example/ns/img:t: verified"
    assert grid.rows[-1] == (("all arches", "", "– not checked"), None)
    assert plain_row(grid.headers, grid.rows[-1][0]) == "all arches  parity: – not checked"


def test_the_timeline_says_first_how_each_node_ran_each_arch() -> None:
    from xbuild.output.views import timeline_mermaid

    nodes = ["node default: amd64 native, arm32v7 emulated (qemu-arm version 7.2.22)",
             "node pi4: arm64v8 native, arm32v7 native (AArch32 at EL0)"]
    chart = timeline_mermaid(report(BASE_ARM64_FAILED, WITHHELD), nodes=nodes)
    assert chart.splitlines() == [
        "### xbuild timeline", "",
        "- node default: amd64 native, arm32v7 emulated (qemu-arm version 7.2.22)",
        "- node pi4: arm64v8 native, arm32v7 native (AArch32 at EL0)", "",
        "Nothing was built."]
