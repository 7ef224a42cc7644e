"""Verification, the same steps whether `xbuild verify` or `build --verify` asks."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from xbuild.core.answers import ListEntry
from xbuild.core.checks import Report, Verdict
from xbuild.core.matrix import Matrix
from xbuild.core.parity import NO_PARITY, ParitySpec, judge_parity
from xbuild.core.plan import ManifestList
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.results import TargetResult
from xbuild.core.smoke import SmokeTest
from xbuild.engine.audit import Inspector, audit, audit_arch
from xbuild.output.console import Console
from xbuild.output.views import verify_failures, verify_grid


def verify(ref: Reference, wanted: Sequence[Arch], smoke: Sequence[SmokeTest],
           docker: Inspector, console: Console, *, parity: ParitySpec = NO_PARITY) -> Report:
    """Audit `ref`'s arches, then show the verdict: warnings, the grid, one line per failure."""
    report = audit(ref, wanted, smoke, docker, parity=parity)
    show(report, console)
    return report


def show(report: Report, console: Console) -> None:
    for warning in report.warnings:
        console.warn(warning)
    console.grid(verify_grid(report))
    for line in verify_failures(report):
        console.say(line, style="red")


class HasInspector(Protocol):
    @property
    def docker(self) -> Inspector: ...


class VerifyGate:
    """Verifies each image this run built before its list is published (runner's Gate): every
    check of `xbuild verify`, smoke tests included. Safe to call from worker threads."""

    def __init__(self, matrix: Matrix, kit: HasInspector, console: Console) -> None:
        self.matrix, self.kit, self.console = matrix, kit, console
        self.reports: list[Report] = []
        self.failed: set[str] = set()  # target keys whose image failed
        self._lock = threading.Lock()

    @property
    def ok(self) -> bool | None:
        """None when nothing was verified."""
        return all(r.ok for r in self.reports) if self.reports else None

    def __call__(self, manifest: ManifestList, built: Sequence[TargetResult]) -> str:
        return self.verify(manifest.image, manifest.ref, built)

    def verify(self, image: str, ref: Reference, built: Sequence[TargetResult]) -> str:
        """Verify `built` (one image's arches, pushed by this run); why they may not be listed,
        or "". `ref` names them in the verdict (the list they are meant for). Nothing built,
        nothing verified: no verdict is shown or counted."""
        if not built:
            return ""
        spec = self.matrix.image(image)
        arches = tuple(
            audit_arch(r.target.ref.pinned(r.digest), r.target.arch,
                       ListEntry(platform=r.target.arch.platform, digest=r.digest), spec.smoke,
                       self.kit.docker, folders=spec.parity.paths) for r in built)
        report = Report(ref=ref, arches=arches, parity=judge_parity(spec.parity, arches))
        unlike = report.parity.status is Verdict.FAIL  # then no arch of it is recorded
        with self._lock:
            self.reports.append(report)
            self.failed |= {r.target.key for r, a in zip(built, arches, strict=True)
                            if unlike or not a.ok}
            show(report, self.console)
        return report.refusal()
