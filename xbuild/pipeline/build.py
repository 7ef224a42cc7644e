"""`xbuild build` and `xbuild all`: identities, what is up to date, checks, downloads, build,
verify, publish, and the records."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import xbuild
from xbuild.core import record
from xbuild.core.buildspec import Pairs, image_source
from xbuild.core.emulation import builds_slowly, execution_text, node_line
from xbuild.core.errors import ConfigError, SelectionError
from xbuild.core.identity import Resolution
from xbuild.core.matrix import Matrix
from xbuild.core.nodes import NodeMap, cross_node_problem
from xbuild.core.plan import Plan, Target
from xbuild.core.platforms import sort_key
from xbuild.core.refs import Reference
from xbuild.core.results import RunReport
from xbuild.core.settings import BuildSettings, SigningSettings
from xbuild.engine.gate import VerifyGate
from xbuild.engine.runner import RunOptions, run_plan
from xbuild.engine.signing import Evidence
from xbuild.host import qemu
from xbuild.host.cosign import Cosign
from xbuild.host.run_folder import RunFolder
from xbuild.host.staging import Staged
from xbuild.host.vcs import provenance
from xbuild.output.console import Console
from xbuild.output.progress import Progress
from xbuild.output.views import show_verdict, summary_grid, summary_markdown, timeline_mermaid
from xbuild.pipeline.download_step import download, downloads_wanted
from xbuild.pipeline.provenance_step import ProvenanceWitness
from xbuild.pipeline.resolve import resolve, with_downloads
from xbuild.pipeline.tools import Tools, tools
from xbuild.pipeline.trust_step import (
    chosen,
    cosign_for,
    require_key_opens,
    show_verify_commands,
    signing_with,
)


def preflight(targets: Sequence[Target], nodes: NodeMap,
              kit: Tools) -> tuple[set[str], list[str]]:
    """Stop before building anything if a node's engine is down or cannot run an arch it is
    to build; note what a node builds under emulation (returned: those target keys, and a
    line per node saying how each arch runs there). The probes run on the node."""
    slow: set[str] = set()
    how: list[str] = []  # issue 21: native, native AArch32 or emulated, per node (probed)
    wanted = sorted({t.arch for t in targets}, key=sort_key)
    for node in nodes.nodes(wanted):
        arches = nodes.arches_on(node, wanted)
        docker = kit.engines.on(node.name)
        native = docker.native_platforms()
        kit.console.note(f"node {node}: engine {docker.server_version()}, buildx "
                         f"{docker.buildx_version()}, runs "
                         f"{', '.join(map(str, native)) or 'an unknown arch'}")
        statuses = qemu.check_node(node.name, arches, docker, native=native,
                                   cache=kit.cache, shell=kit.shell)
        qemu.require(statuses, str(node))
        how.append(node_line(str(node), statuses))  # issue 21: what the probe found
        for status in filter(builds_slowly, statuses):
            kit.console.note(f"node {node} builds {status.arch} {execution_text(status)}")
            slow |= {t.key for t in targets if t.arch == status.arch}
    return slow, how


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
                 and r.status.staged]
        if built:
            gate.verify(image, Reference.of(plan.namespace, image, plan.tag), built)


def _inputs(matrix: Matrix, plan: Plan) -> list[Path]:
    return [matrix.path, *(matrix.image(image).context for image in plan.images)]


def build(matrix: Matrix, plan: Plan, settings: BuildSettings, console: Console, *,
          kit: Tools | None = None) -> RunReport:
    """Every step of a build; `kit` replaces the real engine, shell and registry (tests)."""
    started = time.monotonic()
    downloads_wanted(matrix, plan, locked=settings.locked)  # bad input stops here, first
    if settings.signing.on and not settings.push:
        raise SelectionError("--sign-key and --sign-keyless sign what --push publishes: "
                             "add --push")
    signed = chosen(settings.signing, matrix) if settings.push else SigningSettings()
    kit = kit or tools(console, dry_run=settings.dry_run)
    cosign = cosign_for(signed, kit)
    resolution = _resolve(matrix, plan, settings, kit)
    todo = resolution.to_build(plan)
    if todo or resolution.staged:  # something will be signed
        require_key_opens(cosign)
    check_secrets(todo)
    nodes = settings.builders or matrix.builders
    if not settings.push:
        refuse_cross_node(plan, nodes)
    slow, how = preflight(todo, nodes, kit) if todo and not settings.dry_run else (set(), [])
    run = RunFolder.create(settings.log_dir, cache=kit.cache)
    staged = download(downloads_wanted(matrix, plan, todo), mirror=settings.mirror,
                      dry_run=settings.dry_run, cache=run.cache, staging=run.downloads,
                      console=console, redirects=matrix.redirects)
    resolution = with_downloads(resolution, plan, staged.checksums)
    options = run_options(matrix, plan, settings, kit, run=run, resolution=resolution,
                          staged=staged, nodes=nodes, cosign=cosign)
    try:
        report = _run(plan, options, kit, run=run, slow=slow, how=how, started=started)
    finally:
        staged.cleanup()  # the staged copies; the cache keeps the files
    if cosign is not None:
        show_verify_commands(report.lists, signed, kit.console)
        if plan.lists_deferred:
            console.note(f"{', '.join(plan.lists_deferred)}: not signed here, as --arch leaves "
                         "some of their arches out; `xbuild manifest --from` their build "
                         "records signs them")
    return report


def run_options(matrix: Matrix, plan: Plan, settings: BuildSettings, kit: Tools, *,
                run: RunFolder, resolution: Resolution, staged: Staged, nodes: NodeMap,
                cosign: Cosign | None) -> RunOptions:
    """Everything the runner is given, made once: signing brings the gate along, as only a
    verified image has an SBOM to attest."""
    gate = (verify_gate(matrix, kit, evidence=run.evidence if settings.push else None)
            if settings.verify or cosign is not None else None)
    facts = provenance(matrix.path.parent, kit.shell, _inputs(matrix, plan))
    witness = (ProvenanceWitness(matrix, resolution, run, facts, kit)
               if settings.push and not settings.dry_run else None)
    native = qemu.host_arch()
    return RunOptions(
        settings=settings, logs=run, native=(native,) if native else (), provenance=facts,
        resolution=resolution, base_contexts=base_contexts(matrix, plan, resolution,
                                                           kit.console),
        target_contexts=staged.contexts, unbuildable=staged.unbuildable, nodes=nodes,
        gate=gate, witness=witness,
        signing=signing_with(cosign, kit, run.evidence) if cosign is not None else None)


def _run(plan: Plan, options: RunOptions, kit: Tools, *, run: RunFolder, slow: set[str],
         how: list[str], started: float) -> RunReport:
    """Run the plan, verify what no list of this run verified, show the summary; whatever
    fails after the pushes, the records say what was done."""
    report: RunReport | None = None
    gate = options.gate if isinstance(options.gate, VerifyGate) else None
    try:
        with Progress(kit.console, len(plan.targets)) as progress:
            report = run_plan(plan, progress, options, builder_on=kit.engines.on,
                              publisher=kit.engines.on, tagger=lambda: kit.tagger)
        if gate is not None and options.settings.push:
            verify_unlisted(plan, report, gate)
        # the whole command's time: reads, downloads and verification as well as the builds
        report = replace(report, verified=gate.ok if gate else None,
                         seconds=time.monotonic() - started)
        _summarise(report, slow, how, run, kit.console)
        return report
    finally:
        if report is not None:
            _write_records(run, plan, report, options.resolution, gate,
                           push=options.settings.push)


def _resolve(matrix: Matrix, plan: Plan, settings: BuildSettings, kit: Tools) -> Resolution:
    resolution = resolve(matrix, plan, kit.registry, push=settings.push and not settings.dry_run,
                         rebuild=settings.rebuild)
    if resolution.up_to_date:
        kit.console.note(f"{len(resolution.up_to_date)} of {len(plan.targets)} targets up to "
                         "date (published with the identity this checkout gives them)")
    return resolution


def verify_gate(matrix: Matrix, kit: Tools,
                evidence: Callable[[str], Evidence] | None = None) -> VerifyGate:
    """The gate `--verify` puts before each list: it shows each verdict on the console, and
    keeps each verified image's SBOM where `evidence` says."""
    return VerifyGate(smoke={spec.name: spec.smoke for spec in matrix.images},
                      parity={spec.name: spec.parity for spec in matrix.images},
                      inspector=kit.engines.on,
                      show=functools.partial(show_verdict, console=kit.console),
                      evidence=evidence, tool_version=xbuild.__version__)


def _summarise(report: RunReport, slow: set[str], how: list[str], run: RunFolder,
               console: Console) -> None:
    console.grid(summary_grid(report))
    timeline = timeline_mermaid(report, slow, how)
    run.write_timeline(timeline)
    console.step_summary(summary_markdown(report) + "\n" + timeline)


def _write_records(run: RunFolder, plan: Plan, report: RunReport, resolution: Resolution,
                   gate: VerifyGate | None, *, push: bool) -> None:
    run.write_summary(report.as_dict())
    if push:
        run.write_build_record(record.render(
            plan.namespace, plan.tag, report, resolution.identities,
            refused=gate.failed if gate else frozenset()))
