"""Rich renderings of plans and results: what a person reads, never what a program parses."""

from __future__ import annotations

from rich.table import Table

from xbuild.console import markdown_table
from xbuild.plan import Plan
from xbuild.platforms import sort_key
from xbuild.results import RunReport, Status, TargetResult
from xbuild.verify import Report, Verdict


def plan_table(plan: Plan) -> Table:
    table = Table(title=f"{len(plan.targets)} targets in {len(plan.levels())} levels",
                  title_justify="left")
    table.add_column("level", justify="right")
    table.add_column("tag", no_wrap=True)
    table.add_column("platform", no_wrap=True)
    table.add_column("parent", no_wrap=True)
    for level, targets in enumerate(plan.levels()):
        for t in targets:
            source = t.parent_published or (f"{t.parent} (this run)" if t.parent else "")
            table.add_row(str(level), t.ref, str(t.arch.platform), source)
        table.add_section()
    return table


def manifests_table(plan: Plan) -> Table:
    table = Table(title=f"{len(plan.manifests)} manifest lists", title_justify="left")
    table.add_column("list")
    table.add_column("platforms")
    for m in plan.manifests:
        table.add_row(m.ref, ", ".join(str(a.platform) for a, _ in m.entries))
    return table


def _cells(report: RunReport) -> tuple[list[str], list[str], dict[tuple[str, str], TargetResult]]:
    images = list(dict.fromkeys(r.target.image for r in report.targets))
    arches = sorted({r.target.arch for r in report.targets}, key=sort_key)
    cells = {(r.target.image, r.target.arch.name): r for r in report.targets}
    return images, [a.name for a in arches], cells


def _cell_text(result: TargetResult | None) -> str:
    if result is None:
        return ""
    text = f"{result.status}"
    if result.seconds:
        text += f" {result.seconds:.0f}s"
    if result.detail:
        text += "\n" + result.detail
    if result.status is Status.FAILED and result.log:
        text += f"\nlog: {result.log}"
    return text


def summary_table(report: RunReport) -> Table:
    images, arches, cells = _cells(report)
    lists = {r.manifest.image: r for r in report.lists}
    table = Table(title=f"xbuild: {report.seconds:.0f}s, logs in {report.run_dir}",
                  title_justify="left", show_lines=True)
    table.add_column("image")
    for arch in arches:
        table.add_column(arch, overflow="fold")
    table.add_column("manifest list", overflow="fold")
    for image in images:
        row = [_cell_text(cells.get((image, arch))) for arch in arches]
        listed = lists.get(image)
        row.append(f"{listed.status}" + (f"\n{listed.detail}" if listed and listed.detail else "")
                   if listed else "")
        table.add_row(image, *row)
    return table


def summary_markdown(report: RunReport) -> str:
    images, arches, cells = _cells(report)
    lists = {r.manifest.image: r for r in report.lists}
    rows = []
    for image in images:
        row = [image]
        for arch in arches:
            result = cells.get((image, arch))
            row.append(_cell_text(result).replace("\n", "<br>") if result else "")
        listed = lists.get(image)
        row.append(f"{listed.status} {listed.detail}".strip() if listed else "")
        rows.append(row)
    return "### xbuild\n\n" + markdown_table(["image", *arches, "manifest list"], rows)


_VERDICT_MARK = {Verdict.PASS: "✓", Verdict.FAIL: "✗", Verdict.NA: "n/a"}


def verify_table(report: Report) -> Table:
    names = list(dict.fromkeys(c.check for a in report.arches for c in a.checks))
    verdict = "verified" if report.ok else "NOT verified"
    table = Table(title=f"{report.ref}: {verdict}", title_justify="left", show_lines=True)
    table.add_column("arch")
    for name in names:
        table.add_column(name, overflow="fold")
    for arch in report.arches:
        checks = {c.check: c for c in arch.checks}
        cells = []
        for name in names:
            check = checks.get(name)
            if check is None:
                cells.append("")
                continue
            shown = "" if check.status is Verdict.NA else check.observed
            text = f"{_VERDICT_MARK[check.status]} {shown}".strip()
            if check.status is Verdict.FAIL and check.expected:
                text += f"\n(expected {check.expected})"
            cells.append(text)
        table.add_row(arch.arch.name, *cells, style=None if arch.ok else "red")
    return table


def verify_failures(report: Report) -> list[str]:
    """One line per failed check, naming the arch and the check, whatever the table width."""
    lines = []
    for arch in report.arches:
        for check in arch.checks:
            if check.status is Verdict.FAIL:
                expected = f" (expected {check.expected})" if check.expected else ""
                lines.append(f"✗ {report.ref} {arch.arch.name} {check.check}: "
                             f"{check.observed}{expected}")
    return lines
