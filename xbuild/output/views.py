"""Plans, results, verdicts and host checks as grids: what a person reads, never what a
program parses (that is --json)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from xbuild.core.checks import Check, Report, Verdict
from xbuild.core.emulation import ArchStatus, execution_text
from xbuild.core.inventory import Inventory
from xbuild.core.plan import Plan
from xbuild.core.platforms import sort_key
from xbuild.core.results import RunReport, Status, TargetResult
from xbuild.output.console import Console, Grid, markdown_table


def plan_grid(plan: Plan, identities: Mapping[str, str | None],
              up_to_date: Mapping[str, str] | None = None) -> Grid:
    """With `up_to_date` (plan --resolve), a column says what a build with --push would do."""
    rows: list[tuple[tuple[str, ...], str | None]] = []
    sections = []
    for level, targets in enumerate(plan.levels()):
        for t in targets:
            source = t.parent_published or (f"{t.parent} (this run)" if t.parent else "")
            mine = identities.get(t.key)
            cells = [str(level), str(t.ref), str(t.arch.platform), str(source),
                     mine[7:19] if mine else "unknown"]
            if up_to_date is not None:
                cells.append("up to date" if t.key in up_to_date else "build")
            rows.append((tuple(cells), None))
        sections.append(len(rows) - 1)
    headers = ("level", "tag", "platform", "parent", "identity",
               *(("would",) if up_to_date is not None else ()))
    return Grid(title=f"{len(plan.targets)} targets in {len(plan.levels())} levels",
                headers=headers, rows=tuple(rows), sections=tuple(sections))


def manifests_grid(plan: Plan) -> Grid:
    rows = tuple(((str(m.ref), ", ".join(str(a.platform) for a, _ in m.entries)), None)
                 for m in plan.manifests)
    return Grid(title=f"{len(plan.manifests)} manifest lists", headers=("list", "platforms"),
                rows=rows)


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


def _summary_rows(report: RunReport, list_sep: str) -> tuple[list[str], list[list[str]]]:
    images, arches, cells = _cells(report)
    lists = {r.manifest.image: r for r in report.lists}
    rows = []
    for image in images:
        row = [image, *(_cell_text(cells.get((image, arch))) for arch in arches)]
        listed = lists.get(image)
        row.append(f"{listed.status}" + (f"{list_sep}{listed.detail}" if listed.detail else "")
                   if listed else "")
        rows.append(row)
    return ["image", *arches, "manifest list"], rows


def summary_grid(report: RunReport) -> Grid:
    headers, rows = _summary_rows(report, "\n")
    took = f"{report.seconds:.1f}s" if report.seconds < 10 else f"{report.seconds:.0f}s"
    title = f"xbuild: {took}, {report.tally()}; logs in {report.run_dir}"
    return Grid(title=title,
                headers=tuple(headers), rows=tuple((tuple(r), None) for r in rows),
                lines_between=True)


def summary_markdown(report: RunReport) -> str:
    headers, rows = _summary_rows(report, " ")
    cells = [[cell.replace("\n", "<br>") for cell in row] for row in rows]
    return f"### xbuild\n\n{report.tally()}\n\n" + markdown_table(headers, cells)


_VERDICT_MARK = {Verdict.PASS: "✓", Verdict.FAIL: "✗", Verdict.NA: "n/a",
                 Verdict.NOT_CHECKED: "–"}
PARITY_SHOWN = 3  # differences in the grid's parity row
FAILURES_SHOWN = 20  # parity lines below the grid; --json has them all


def verify_grid(report: Report) -> Grid:
    """A row per arch, a column per check; parity, judged across the arches, is a row of its
    own (under a column of its own)."""
    names = list(dict.fromkeys(c.check for a in report.arches for c in a.checks))
    verdict = "verified" if report.ok else "NOT verified"
    rows = [((arch.arch.name, *_check_cells(arch.checks, names), ""),
             None if arch.ok else "red") for arch in report.arches]
    parity = report.parity
    lines = parity.lines()
    text = "\n".join([f"{_VERDICT_MARK[parity.status]} {parity.observed}",
                      *lines[:PARITY_SHOWN], *(["…"] if len(lines) > PARITY_SHOWN else [])])
    failed = parity.status is Verdict.FAIL or any(c.status is Verdict.FAIL
                                                  for c in report.list_checks)
    rows.append((("all arches", *_check_cells(report.list_checks, names), text),
                 "red" if failed else None))
    return Grid(title=f"{report.ref}: {verdict}", headers=("arch", *names, "parity"),
                rows=tuple(rows), lines_between=True)


def _check_cells(checks: Sequence[Check], names: Sequence[str]) -> list[str]:
    by_name = {c.check: c for c in checks}
    cells = []
    for name in names:
        check = by_name.get(name)
        if check is None:
            cells.append("")
            continue
        shown = "" if check.status is Verdict.NA else check.observed
        text = f"{_VERDICT_MARK[check.status]} {shown}".strip()
        if check.status is Verdict.FAIL and check.expected:
            text += f"\n(expected {check.expected})"
        cells.append(text)
    return cells


def verify_failures(report: Report) -> list[str]:
    """One line per failed check, naming the arch and the check, whatever the table width;
    then one per parity difference."""
    lines = []
    for arch in report.arches:
        for check in arch.checks:
            if check.status is Verdict.FAIL:
                expected = f" (expected {check.expected})" if check.expected else ""
                lines.append(f"✗ {report.ref} {arch.arch.name} {check.check}: "
                             f"{check.observed}{expected}")
    lines += [f"✗ {report.ref} list {c.check}: {c.observed}" for c in report.list_checks
              if c.status is Verdict.FAIL]
    if report.parity.status is Verdict.FAIL:
        found = report.parity.lines()
        lines += [f"✗ {report.ref} parity: {line}" for line in found[:FAILURES_SHOWN]]
        if len(found) > FAILURES_SHOWN:
            lines.append(f"✗ {report.ref} parity: {len(found) - FAILURES_SHOWN} more lines "
                         "(--json lists them)")
    return lines


def show_verdict(report: Report, console: Console) -> None:
    """A verify report as a person reads it: warnings, the grid, one red line per failure."""
    for warning in report.warnings:
        console.warn(warning)
    console.grid(verify_grid(report))
    for line in verify_failures(report):
        console.say(line, style="red")


def doctor_grid(rows: Sequence[tuple[str, bool, str]]) -> Grid:
    return Grid(title="xbuild doctor", headers=("check", "", "detail"),
                rows=tuple(((what, "✓" if ok else "✗", detail), None if ok else "red")
                           for what, ok, detail in rows))


def qemu_grid(statuses: Sequence[ArchStatus], node: str = "default") -> Grid:
    rows = []
    for s in statuses:
        handler = "native" if s.native else (s.handler.interpreter if s.handler else "missing")
        flags = s.handler.flags if s.handler and not s.native else ""
        cells = (s.arch.name, str(s.arch.platform), handler, flags, s.answer,
                 execution_text(s) if s.ok else "", "✓" if s.ok else f"✗ {s.problem}")
        rows.append((cells, None if s.ok else "red"))
    return Grid(title=f"QEMU per architecture on node {node}",
                headers=("arch", "platform", "binfmt handler", "flags", "`arch` answers",
                         "runs", ""),
                rows=tuple(rows))


def timeline_mermaid(report: RunReport, emulated: Collection[str] = (),
                     nodes: Sequence[str] = ()) -> str:
    """The run as a mermaid Gantt chart (GitHub renders it in step summaries): a bar per
    built target on its node, emulated builds marked, failures in red; after the title, how
    each node ran each arch (`nodes`: native, native AArch32, emulated)."""
    built = sorted((r for r in report.targets if r.started), key=lambda r: r.started)
    how = [*(f"- {line}" for line in nodes), ""] if nodes else []
    if not built:
        return "\n".join(["### xbuild timeline", "", *how, "Nothing was built.", ""])
    zero = built[0].started
    lines = ["### xbuild timeline", "", *how, "```mermaid", "gantt",
             f"    title xbuild: {len(built)} builds, {report.seconds:.0f} s",
             "    dateFormat X", "    axisFormat %M:%S"]
    ids = {r.target.key: f"t{n}" for n, r in enumerate(built)}
    for node in dict.fromkeys(r.node for r in built):
        lines.append(f"    section {_mermaid_text(node or 'default')}")
        for r in (x for x in built if x.node == node):
            slow = r.target.key in emulated
            tag = "crit" if not r.status.ok else "active" if slow else "done"
            start = int(r.started - zero)
            end = max(start + 1, int(r.started - zero + r.seconds))
            label = f"{r.target.image} {r.target.arch.name}{' (emulated)' if slow else ''}"
            lines.append(f"    {_mermaid_text(label)} :{tag}, {ids[r.target.key]}, {start}, "
                         f"{end}")
    return "\n".join([*lines, "```", ""])


def _mermaid_text(text: str) -> str:
    return text.replace(":", " ").replace("#", " ").replace(";", " ")


def sbom_grid(ref: str, inventories: Sequence[tuple[str, Inventory]]) -> Grid:
    """A row per arch: what its SBOM lists, and what a cap left out."""
    rows = tuple(((arch, inv.distro or "?", str(len(inv.packages)),
                   str(sum(1 for p in inv.packages if p.licences)),
                   str(len(inv.distributions)), str(len(inv.java)),
                   "; ".join((*inv.incomplete, *inv.unread)) or "-"), None)
                 for arch, inv in inventories)
    return Grid(title=f"SBOM of {ref}", headers=("arch", "release", "Debian packages",
                                                  "with licence", "Python", "Java",
                                                  "left out"), rows=rows)
