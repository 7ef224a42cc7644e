"""`xbuild build` and `xbuild all`: identities, what is up to date, checks, fetch, build,
verify, publish, and the records."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from xbuild.core import record
from xbuild.core.buildspec import Pairs, image_source
from xbuild.core.downloads import Need, Redirects, needs, unpinned
from xbuild.core.errors import ConfigError, MatrixError, SelectionError
from xbuild.core.matrix import Matrix
from xbuild.core.nodes import DEFAULT, Node, NodeMap, cross_node_problem, emulated
from xbuild.core.plan import Plan, Target
from xbuild.core.platforms import sort_key
from xbuild.core.refs import Reference
from xbuild.core.results import RunReport, Status
from xbuild.engine.runner import RunOptions, run_plan
from xbuild.host import qemu
from xbuild.host.paths import cache_dir
from xbuild.host.prefetch import Prefetched, prefetch
from xbuild.host.vcs import provenance
from xbuild.output.console import Console
from xbuild.output.progress import Progress
from xbuild.output.views import summary_grid, summary_markdown, timeline_mermaid
from xbuild.pipeline.resolve import Resolution, resolve, with_fetched
from xbuild.pipeline.tools import (
    LazyEngine,
    Tools,
    new_run_dir,
    tools,
    write_json,
    write_record,
)
from xbuild.pipeline.verify import VerifyGate


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildSettings:
    push: bool = False
    jobs: int = 2
    dry_run: bool = False
    allow_partial: bool = False
    verify: bool = False  # each image built is verified before its list is published
    log_dir: Path = Path(".xbuild/runs")
    mirror: str | None = None  # fetch downloads from here instead of their own hosts
    rebuild: frozenset[str] = frozenset()  # images to build even if up to date; "*": all
    builders: NodeMap | None = None  # where each arch builds; None: matrix.yml's builders
    locked: bool = False  # every download pinned or locked, or nothing runs (--locked)


def preflight(targets: Sequence[Target], nodes: NodeMap, kit: Tools) -> set[str]:
    """Stop before building anything if a node's engine is down or cannot run an arch it is
    to build; note what a node builds under emulation (returned: those target keys). The
    probes run on the node."""
    slow: set[str] = set()
    wanted = sorted({t.arch for t in targets}, key=sort_key)
    for node in nodes.nodes(wanted):
        arches = nodes.arches_on(node, wanted)
        docker = kit.engine(node.name)
        native = docker.native_platforms()
        kit.console.note(f"node {node}: engine {docker.server_version()}, buildx "
                         f"{docker.buildx_version()}, runs "
                         f"{', '.join(map(str, native)) or 'an unknown arch'}")
        qemu.require(qemu.check_node(node.name, arches, docker, native=native,
                                     cache=cache_dir(), shell=kit.shell), str(node))
        for arch in arches:
            if emulated(arch, native):
                kit.console.note(f"node {node} builds {arch} under emulation")
                slow |= {t.key for t in targets if t.arch == arch}
    return slow


def refuse_cross_node(plan: Plan, nodes: NodeMap) -> None:
    """Without --push, a child builds FROM what its parent's build loaded into its node."""
    for target in plan.targets:
        parent = plan.parent_of(target)
        if parent is not None and (problem := cross_node_problem(
                (parent.key, nodes.node_for(parent.arch)),
                (target.key, nodes.node_for(target.arch)))):
            raise SelectionError(problem)


def base_contexts(matrix: Matrix, plan: Plan, resolution: Resolution,
                  console: Console) -> dict[str, Pairs]:
    """Per arch, the named contexts that pin each external base to the digest its identity
    was computed with. A declared base not bootstrapped yet is pulled as usual, with a note."""
    contexts: dict[str, list[tuple[str, str]]] = {}
    for (name, arch), ref in sorted(resolution.bases.items()):
        contexts.setdefault(arch, []).append((name, image_source(ref)))
        console.note(f"{arch}: FROM {name} -> {ref}")
    declared = {str(b.name) for b in matrix.bases}
    wanted = {(name, t.arch.name) for t in plan.targets
              for name, _ in resolution.inputs[t.key].bases}
    for name, arch in sorted(wanted - set(resolution.bases)):
        if name in declared:
            console.warn(f"{name} for {arch} is not bootstrapped in {plan.namespace} "
                         "(run `xbuild bases`); the build will try to pull it")
    return {arch: tuple(pairs) for arch, pairs in contexts.items()}


def downloads_wanted(matrix: Matrix, plan: Plan, targets: Sequence[Target] | None = None,
                     *, locked: bool = False) -> tuple[Need, ...]:
    """What `targets` (default: the plan's) need fetched; raises MatrixError on conflicting
    pins and, `locked`, naming each download neither pinned nor locked. Pure."""
    chosen = plan.targets if targets is None else targets
    wanted = needs(((t.image, t.key, t.arch) for t in chosen),
                   lambda image: matrix.image(image).downloads)
    if locked and (lines := unpinned(wanted, matrix.path)):
        raise MatrixError("\n".join(lines))
    return wanted


def fetch_downloads(wanted: Sequence[Need], *, mirror: str | None, dry_run: bool,
                    staging: Path, console: Console, redirects: Redirects = (),
                    updating: bool = False) -> Prefetched:
    """Every download the plan's builds need, fetched once for all arches. A lock that
    changed is a warning, unless `updating` it is what was asked (fetch --update-lock)."""
    if not wanted:
        return Prefetched()
    from xbuild.host.downloader import Fetcher  # only a run with downloads pays for its import

    fetcher = Fetcher(cache=cache_dir(), mirror=mirror, redirects=redirects,
                      on_retry=lambda line: console.warn(f"retrying {line}"))
    where = f" from mirror {mirror}" if mirror else ""
    with console.group(f"downloads: {len(wanted)} file(s){where}"):
        fetched = prefetch(wanted, fetcher, staging, console.say, dry_run=dry_run)
    for lock in fetched.recorded:
        (console.note if updating else console.warn)(
            f"{lock} changed: it now holds the checksums of downloads nothing pinned, as "
            "first fetched; review and commit it (--locked refuses such downloads)")
    return fetched


def check_secrets(targets: Sequence[Target]) -> None:
    """Every secret the builds need is there: an environment variable set, a file readable.
    The message names the image and the secret's source, never a value."""
    for target in targets:
        for secret in target.secrets:
            key = f"images.{target.image}.secrets.{secret.id}"
            if secret.env and secret.env not in os.environ:
                raise ConfigError(f"{key}: the environment variable {secret.env} is not set")
            if secret.file is not None and not os.access(secret.file, os.R_OK):
                raise ConfigError(f"{key}: cannot read {secret.file}")


def verify_unlisted(plan: Plan, report: RunReport, gate: VerifyGate) -> None:
    """Images whose list another run publishes (--arch left some of their arches out) are
    verified here all the same, so the build record names only images that passed."""
    for image in plan.lists_deferred:
        built = [r for r in report.targets if r.target.image == image
                 and r.status is Status.PUSHED]
        if built:
            gate.verify(image, Reference.of(plan.namespace, image, plan.tag), built)


def _inputs(matrix: Matrix, plan: Plan) -> list[Path]:
    return [matrix.path, *(matrix.image(image).context for image in plan.images)]


def build(matrix: Matrix, plan: Plan, settings: BuildSettings, console: Console, *,
          kit: Tools | None = None) -> RunReport:
    """Every step of a build; `kit` replaces the real engine, shell and registry (tests)."""
    started = time.monotonic()
    downloads_wanted(matrix, plan, locked=settings.locked)  # bad input stops here, first
    kit = kit or tools(console, dry_run=settings.dry_run)
    resolution = resolve(matrix, plan, kit.registry, push=settings.push and not settings.dry_run,
                         rebuild=settings.rebuild)
    todo = resolution.to_build(plan)
    check_secrets(todo)
    nodes = settings.builders or matrix.builders
    if not settings.push:
        refuse_cross_node(plan, nodes)
    if resolution.up_to_date:
        console.note(f"{len(resolution.up_to_date)} of {len(plan.targets)} targets up to date "
                     "(published with the identity this checkout gives them)")
    slow = preflight(todo, nodes, kit) if todo and not settings.dry_run else set()
    run_dir = new_run_dir(settings.log_dir)
    fetched = fetch_downloads(downloads_wanted(matrix, plan, todo), mirror=settings.mirror,
                              dry_run=settings.dry_run, staging=run_dir / "downloads",
                              console=console, redirects=matrix.redirects)
    resolution = with_fetched(resolution, plan, fetched.checksums)
    gate = VerifyGate(matrix, kit, console) if settings.verify else None
    options = _run_options(matrix, plan, settings, kit, resolution=resolution, fetched=fetched,
                           run_dir=run_dir, gate=gate, nodes=nodes)
    engines = {node.name: LazyEngine(kit, node.name, dry_run=settings.dry_run)
               for node in {*nodes.nodes(matrix.all_arches), Node(name=DEFAULT)}}
    report: RunReport | None = None
    try:
        with Progress(console, len(plan.targets)) as progress:
            report = run_plan(plan, engines, progress, options)
        if gate is not None and settings.push:
            verify_unlisted(plan, report, gate)
        # the whole command's time: reads, fetches and verification as well as the builds
        report = replace(report, verified=gate.ok if gate else None,
                         seconds=time.monotonic() - started)
        console.grid(summary_grid(report))
        timeline = timeline_mermaid(report, slow)
        (run_dir / "timeline.md").write_text(timeline, encoding="utf-8")
        console.step_summary(summary_markdown(report) + "\n" + timeline)
        return report
    finally:
        fetched.cleanup()  # the staged copies; the cache keeps the files
        if report is not None:  # whatever failed after the pushes, the records say what was
            write_record(run_dir, report.as_dict())
            if settings.push:
                write_json(run_dir / record.RECORD_NAME, record.render(
                    plan.namespace, plan.tag, report, resolution.identities,
                    refused=gate.failed if gate else frozenset()))


def _run_options(matrix: Matrix, plan: Plan, settings: BuildSettings, kit: Tools, *,
                 resolution: Resolution, fetched: Prefetched, run_dir: Path,
                 gate: VerifyGate | None, nodes: NodeMap) -> RunOptions:
    native = qemu.host_arch()
    return RunOptions(
        run_dir=run_dir, provenance=provenance(matrix.path.parent, kit.shell,
                                               _inputs(matrix, plan)),
        push=settings.push, jobs=settings.jobs, allow_partial=settings.allow_partial,
        native=(native,) if native else (),
        base_contexts=base_contexts(matrix, plan, resolution, kit.console),
        target_contexts=fetched.contexts, unbuildable=fetched.unbuildable,
        identities={k: v for k, v in resolution.identities.items() if v},
        up_to_date=resolution.up_to_date, published_lists=resolution.lists, gate=gate,
        nodes={t.key: nodes.node_for(t.arch).name for t in plan.targets},
        node_jobs={n.name: n.jobs or settings.jobs for n in nodes.nodes(matrix.all_arches)})
