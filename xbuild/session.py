"""One `xbuild build`: preflight checks, the run, the summary. Glue between CLI and engine."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from xbuild import bases, qemu
from xbuild.audit import audit
from xbuild.buildspec import Pairs
from xbuild.console import Console
from xbuild.docker import Docker
from xbuild.downloads import Need, needs
from xbuild.fetch import Fetcher
from xbuild.matrix import Matrix
from xbuild.plan import Plan
from xbuild.platforms import sort_key
from xbuild.prefetch import Prefetched, prefetch
from xbuild.probe import cache_dir
from xbuild.progress import Progress
from xbuild.refs import parse_reference
from xbuild.results import RunReport
from xbuild.retry import RetryPolicy
from xbuild.runner import RunOptions, run_plan
from xbuild.vcs import provenance
from xbuild.views import summary_markdown, summary_table, verify_failures, verify_table


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


def new_run_dir(log_dir: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = log_dir / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = log_dir / f"{stamp}-{suffix}"
    return run_dir


def preflight(plan: Plan, docker: Docker, console: Console) -> None:
    """Stop before building anything if the engine is down or an arch cannot run."""
    version = docker.server_version()
    console.note(f"engine {version}, buildx {docker.buildx_version()}")
    arches = {t.arch for t in plan.targets}
    qemu.require(qemu.check(arches, docker, cache_dir()))


def _bases_for(matrix: Matrix, plan: Plan, docker: Docker,
               console: Console) -> dict[str, Pairs]:
    if not matrix.bases:
        return {}
    if docker.dry_run:
        console.note("dry run: bootstrapped bases are not looked up")
        return {}
    arches = sorted({t.arch for t in plan.targets}, key=sort_key)
    contexts, notes = bases.base_contexts(matrix.bases, arches, plan.namespace, docker)
    for line in bases.describe(contexts):
        console.note(line)
    for note in notes:
        console.warn(note)
    return contexts


def downloads_wanted(matrix: Matrix, plan: Plan) -> tuple[Need, ...]:
    """What the plan's builds need fetched; raises MatrixError on conflicting pins. Pure."""
    return needs(((t.image, t.key, t.arch) for t in plan.targets),
                 lambda image: matrix.image(image).downloads)


def fetch_downloads(wanted: Sequence[Need], settings: BuildSettings, staging: Path,
                    console: Console) -> Prefetched:
    """Every download the plan's builds need, fetched once for all arches."""
    if not wanted:
        return Prefetched()
    fetcher = Fetcher(cache=cache_dir(), mirror=settings.mirror,
                      on_retry=lambda line: console.warn(f"retrying {line}"))
    where = f" from mirror {settings.mirror}" if settings.mirror else ""
    with console.group(f"downloads: {len(wanted)} file(s){where}"):
        return prefetch(wanted, fetcher, staging, console.say, dry_run=settings.dry_run)


def build(matrix: Matrix, plan: Plan, settings: BuildSettings, console: Console) -> RunReport:
    docker = Docker(echo=console.command if not settings.dry_run else console.say,
                    dry_run=settings.dry_run, retry=RetryPolicy())
    wanted = downloads_wanted(matrix, plan)  # invalid input stops here, before any docker call
    if not settings.dry_run:
        preflight(plan, docker, console)
    native = qemu.host_arch()
    run_dir = new_run_dir(settings.log_dir)
    fetched = fetch_downloads(wanted, settings, run_dir / "downloads", console)
    options = RunOptions(run_dir=run_dir,
                         provenance=provenance(matrix.path.parent), push=settings.push,
                         jobs=settings.jobs, allow_partial=settings.allow_partial,
                         native=(native,) if native else (),
                         base_contexts=_bases_for(matrix, plan, docker, console),
                         target_contexts=fetched.contexts, unbuildable=fetched.failed)
    try:
        with Progress(console, len(plan.targets)) as progress:
            report = run_plan(plan, docker, progress, options)
    finally:
        fetched.cleanup()  # the staged copies; the cache keeps the files
    console.table(summary_table(report))
    console.step_summary(summary_markdown(report))
    if settings.verify and settings.push and not settings.dry_run:
        verified = verify_published(matrix, report, docker, console)
        report = replace(report, verified=verified)
    return report


def verify_published(matrix: Matrix, report: RunReport, docker: Docker,
                     console: Console) -> bool:
    """Audit every list this run published; True when all of them hold up."""
    ok = True
    for result in report.lists:
        if not result.status.published:
            continue
        spec = matrix.image(result.manifest.image)
        # A list published with --allow-partial is judged on the arches it says it has.
        published = tuple(a for a, _ in result.manifest.entries
                          if str(a.platform) in result.platforms)
        verdict = audit(parse_reference(result.manifest.ref), published, dict(spec.smoke), docker)
        console.table(verify_table(verdict))
        for line in verify_failures(verdict):
            console.say(line, style="red")
        ok &= verdict.ok
    return ok
