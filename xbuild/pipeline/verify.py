"""`xbuild verify`: audit a published list, check its signatures and attestations, and show
the verdict (`build --verify` shows the verdicts of engine/gate.py the same way)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from xbuild.core import trust as judge
from xbuild.core.checks import ArchReport, Check, Report
from xbuild.core.errors import CommandFailed
from xbuild.core.parity import NO_PARITY, ParitySpec
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.slsa import COSIGN_TYPE as PROVENANCE_TYPE
from xbuild.core.smoke import SmokeTest
from xbuild.engine.audit import audit
from xbuild.engine.engines import Inspector
from xbuild.engine.retry import short_error
from xbuild.engine.signing import SBOM_TYPE
from xbuild.host.cosign import Cosign, Trust
from xbuild.host.published import TagReader
from xbuild.output.console import Console
from xbuild.output.views import show_verdict
from xbuild.pipeline.trust_step import pinned_now


def verify(ref: Reference, wanted: Sequence[Arch], smoke: Sequence[SmokeTest],
           docker: Inspector, console: Console, *, parity: ParitySpec = NO_PARITY,
           signed: tuple[Cosign, Trust, TagReader] | None = None) -> Report:
    """Audit `ref`'s arches, then their signatures and attestations (`signed`: the cosign to
    ask, whom to trust, and the reader that pins the list; None: reported as not checked),
    then show the verdict: warnings, the grid, one line per failure."""
    report = audit(ref, wanted, smoke, docker, parity=parity)
    report = with_trust(report, *signed) if signed else without_trust(report)
    show_verdict(report, console)
    return report


def without_trust(report: Report) -> Report:
    arches = tuple(replace(a, checks=(*a.checks, *judge.not_checked())) if a.digest else a
                   for a in report.arches)
    return replace(report, arches=arches, list_checks=judge.not_checked((judge.SIGNATURE,)))


def with_trust(report: Report, cosign: Cosign, trust: Trust, reader: TagReader) -> Report:
    arches = tuple(replace(a, checks=(*a.checks, *_arch_trust(report.ref, a, cosign, trust)))
                   if a.digest else a for a in report.arches)
    listed = report.ref if report.ref.digest else pinned_now(report.ref, reader)
    problem = _problem(lambda: cosign.verify(listed, trust))
    return replace(report, arches=arches, list_checks=(judge.signature_check(problem),))


def _arch_trust(ref: Reference, arch: ArchReport, cosign: Cosign,
                trust: Trust) -> tuple[Check, ...]:
    image = ref.pinned(arch.digest)
    signature = judge.signature_check(_problem(lambda: cosign.verify(image, trust)))
    sboms, sbom_problem = _statements(lambda: cosign.attestations(image, SBOM_TYPE, trust))
    made, made_problem = _statements(
        lambda: cosign.attestations(image, PROVENANCE_TYPE, trust))
    return (signature,
            judge.sbom_check(judge.naming(sboms, arch.digest), sbom_problem, arch.inventory),
            judge.provenance_check(judge.naming(made, arch.digest), made_problem,
                                   arch.labels))


def _problem(call: Callable[[], object]) -> str:
    try:
        call()
    except CommandFailed as exc:
        return short_error(exc.output)
    return ""


def _statements(call: Callable[[], list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], str]:
    try:
        return call(), ""
    except CommandFailed as exc:
        return [], short_error(exc.output)

