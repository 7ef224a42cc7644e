"""`xbuild verify`: audit a published list and show the verdict (`build --verify` shows its
verdicts the same way, through engine/gate.py)."""

from __future__ import annotations

from collections.abc import Sequence

from xbuild.core.checks import Report
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.smoke import SmokeTest
from xbuild.engine.audit import audit
from xbuild.engine.engines import Inspector
from xbuild.output.console import Console
from xbuild.output.views import verify_failures, verify_grid


def verify(ref: Reference, wanted: Sequence[Arch], smoke: Sequence[SmokeTest],
           docker: Inspector, console: Console) -> Report:
    """Audit `ref`'s arches, then show the verdict: warnings, the grid, one line per failure."""
    report = audit(ref, wanted, smoke, docker)
    show(report, console)
    return report


def show(report: Report, console: Console) -> None:
    for warning in report.warnings:
        console.warn(warning)
    console.grid(verify_grid(report))
    for line in verify_failures(report):
        console.say(line, style="red")
