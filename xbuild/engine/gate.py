"""The gate before a list is published: each image this run built is verified as `xbuild
verify` would (core/checks.py, smoke tests included). Nothing unverified is listed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from xbuild.core.answers import ListEntry
from xbuild.core.checks import ArchReport, Report, Verdict
from xbuild.core.parity import NO_PARITY, ParitySpec, judge_parity
from xbuild.core.plan import ManifestList
from xbuild.core.refs import Reference
from xbuild.core.results import TargetResult
from xbuild.core.smoke import SmokeTest
from xbuild.engine.audit import audit_arch
from xbuild.engine.engines import Inspector
from xbuild.engine.signing import Evidence


class VerifyGate:
    """The runner's Gate. Safe to call from worker threads."""

    def __init__(self, *, smoke: Mapping[str, Sequence[SmokeTest]],
                 parity: Mapping[str, ParitySpec], inspector: Callable[[], Inspector],
                 show: Callable[[Report], None],
                 evidence: Callable[[str], Evidence] | None = None,
                 tool_version: str = "") -> None:
        """`smoke`, `parity`: each image's smoke tests and parity declaration; `inspector`:
        asked for on the first image to verify; `show`: hands each report to whoever prints
        it; `evidence`: where each target's SBOM is written, from the files verify read."""
        self.smoke, self.parity, self.inspector, self.show = smoke, parity, inspector, show
        self.evidence, self.tool_version = evidence, tool_version
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
        parity = self.parity.get(image, NO_PARITY)
        arches = tuple(
            audit_arch(r.target.ref.pinned(r.digest), r.target.arch,
                       ListEntry(platform=r.target.arch.platform, digest=r.digest),
                       self.smoke.get(image, ()), self.inspector(), folders=parity.paths)
            for r in built)
        report = Report(ref=ref, arches=arches, parity=judge_parity(parity, arches))
        for result, arch in zip(built, arches, strict=True):
            self._keep_sbom(result, arch)
        unlike = report.parity.status is Verdict.FAIL  # then no arch of it is recorded
        with self._lock:
            self.reports.append(report)
            self.failed |= {r.target.key for r, a in zip(built, arches, strict=True)
                            if unlike or not a.ok}
            self.show(report)
        return report.refusal()

    def _keep_sbom(self, result: TargetResult, arch: ArchReport) -> None:
        if self.evidence is None or arch.inventory is None:
            return
        from xbuild.core.sbom import SbomSubject, make_sbom  # cyclonedx: not for a no-op run

        path = self.evidence(result.target.key).sbom
        path.parent.mkdir(parents=True, exist_ok=True)
        subject = SbomSubject(name=result.target.ref.repository, digest=result.digest,
                              platform=result.target.arch.platform, created=arch.created)
        path.write_text(make_sbom(arch.inventory, subject, tool_version=self.tool_version),
                        encoding="utf-8")
