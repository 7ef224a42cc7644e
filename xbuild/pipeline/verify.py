"""`xbuild verify`: audit a published list and show the verdict (`build --verify` shows the
verdicts of engine/gate.py the same way)."""

from __future__ import annotations

from collections.abc import Sequence

from xbuild.core.checks import Report
from xbuild.core.parity import NO_PARITY, ParitySpec
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.smoke import SmokeTest
from xbuild.engine.audit import audit
from xbuild.engine.engines import Inspector
from xbuild.output.console import Console
from xbuild.output.views import show_verdict


def verify(ref: Reference, wanted: Sequence[Arch], smoke: Sequence[SmokeTest],
           docker: Inspector, console: Console, *, parity: ParitySpec = NO_PARITY) -> Report:
    """Audit `ref`'s arches, then show the verdict: warnings, the grid, one line per failure."""
    report = audit(ref, wanted, smoke, docker, parity=parity)
    show_verdict(report, console)
    return report
