"""`xbuild build` and `xbuild all`: check, fetch, build, publish, verify, record."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from xbuild.core.buildspec import Pairs
from xbuild.core.downloads import Need, needs
from xbuild.core.matrix import Matrix
from xbuild.core.plan import Plan
from xbuild.core.platforms import sort_key
from xbuild.core.results import RunReport
from xbuild.engine.runner import RunOptions, run_plan
from xbuild.host import bases, qemu
from xbuild.host.fetch import Fetcher
from xbuild.host.paths import cache_dir
from xbuild.host.prefetch import Prefetched, prefetch
from xbuild.host.vcs import provenance
from xbuild.output.console import Console
from xbuild.output.progress import Progress
from xbuild.output.views import summary_grid, summary_markdown
from xbuild.pipeline import verify
from xbuild.pipeline.tools import Tools, new_run_dir, tools, write_record


def default_jobs() -> int:
    return max(2, os.cpu_count() or 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildSettings:
    push: bool = False
    jobs: int = 2
    dry_run: bool = False
    allow_partial: bool = False
    verify: bool = False
    log_dir: Path = Path(".xbuild/runs")
    mirror: str | None = None  # fetch downloads from here instead of their own hosts


def preflight(plan: Plan, kit: Tools) -> None:
    """Stop before building anything if the engine is down or an arch cannot run."""
    docker = kit.docker
    kit.console.note(f"engine {docker.server_version()}, buildx {docker.buildx_version()}")
    arches = {t.arch for t in plan.targets}
    qemu.require(qemu.check(arches, docker, cache_dir(), kit.shell))


def _bases_for(matrix: Matrix, plan: Plan, kit: Tools) -> dict[str, Pairs]:
    if not matrix.bases:
        return {}
    if kit.docker.dry_run:
        kit.console.note("dry run: bootstrapped bases are not looked up")
        return {}
    arches = sorted({t.arch for t in plan.targets}, key=sort_key)
    contexts, notes = bases.base_contexts(matrix.bases, arches, plan.namespace, kit.docker)
    for line in bases.describe(contexts):
        kit.console.note(line)
    for note in notes:
        kit.console.warn(note)
    return contexts


def downloads_wanted(matrix: Matrix, plan: Plan) -> tuple[Need, ...]:
    """What the plan's builds need fetched; raises MatrixError on conflicting pins. Pure."""
    return needs(((t.image, t.key, t.arch) for t in plan.targets),
                 lambda image: matrix.image(image).downloads)


def fetch_downloads(wanted: Sequence[Need], *, mirror: str | None, dry_run: bool,
                    staging: Path, console: Console) -> Prefetched:
    """Every download the plan's builds need, fetched once for all arches."""
    if not wanted:
        return Prefetched()
    fetcher = Fetcher(cache=cache_dir(), mirror=mirror,
                      on_retry=lambda line: console.warn(f"retrying {line}"))
    where = f" from mirror {mirror}" if mirror else ""
    with console.group(f"downloads: {len(wanted)} file(s){where}"):
        return prefetch(wanted, fetcher, staging, console.say, dry_run=dry_run)


def build(matrix: Matrix, plan: Plan, settings: BuildSettings, console: Console, *,
          kit: Tools | None = None) -> RunReport:
    """Every step of a build; `kit` replaces the real engine and shell (tests)."""
    wanted = downloads_wanted(matrix, plan)  # invalid input stops here, before any docker call
    kit = kit or tools(console, dry_run=settings.dry_run)
    if not settings.dry_run:
        preflight(plan, kit)
    run_dir = new_run_dir(settings.log_dir)
    fetched = fetch_downloads(wanted, mirror=settings.mirror, dry_run=settings.dry_run,
                              staging=run_dir / "downloads", console=console)
    native = qemu.host_arch()
    options = RunOptions(run_dir=run_dir, provenance=provenance(matrix.path.parent, kit.shell),
                         push=settings.push, jobs=settings.jobs,
                         allow_partial=settings.allow_partial, native=(native,) if native else (),
                         base_contexts=_bases_for(matrix, plan, kit),
                         target_contexts=fetched.contexts, unbuildable=fetched.failed)
    report: RunReport | None = None
    try:
        with Progress(console, len(plan.targets)) as progress:
            report = run_plan(plan, kit.docker, progress, options)
        console.grid(summary_grid(report))
        console.step_summary(summary_markdown(report))
        if settings.verify and settings.push and not settings.dry_run:
            verified = verify_published(matrix, report, kit)
            report = replace(report, verified=verified)
        return report
    finally:
        fetched.cleanup()  # the staged copies; the cache keeps the files
        if report is not None:  # whatever failed after the pushes, the record says what was
            write_record(run_dir, report.as_dict())


def verify_published(matrix: Matrix, report: RunReport, kit: Tools) -> bool:
    """Audit every list this run published; True when all of them hold up."""
    ok = True
    for result in report.lists:
        if not result.status.published:
            continue
        spec = matrix.image(result.manifest.image)
        # A list published with --allow-partial is judged on the arches it says it has.
        published = tuple(a for a, _ in result.manifest.entries
                          if str(a.platform) in result.platforms)
        verdict = verify.verify(result.manifest.ref, published, spec.smoke, kit.docker,
                                kit.console)
        ok &= verdict.ok
    return ok
