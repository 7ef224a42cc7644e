"""Execute a plan: parents first, independent targets in parallel, keep going past failures.

Targets already up to date (their published image carries this run's identity) are recorded
as such, never built; their children pin to the published digest. A push goes to the target's
staging tag, where no consumer looks; a target an earlier run staged with this identity is not
built again. As soon as an image's arches are done, in a worker slot like a build, the gate
verifies what is staged, and only then do its public tags move: each arch's, then the list
(engine/publish.py). A refused or failed arch moves no public tag of its image.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from xbuild.core.buildspec import Pairs, Provenance, build_request
from xbuild.core.errors import CommandFailed
from xbuild.core.identity import Resolution
from xbuild.core.nodes import Node, NodeMap
from xbuild.core.plan import ManifestList, Plan, Target
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.results import ListResult, ListStatus, RunReport, Status, TargetResult
from xbuild.core.schedule import blocked_by, by_priority, critical_path
from xbuild.core.settings import BuildSettings
from xbuild.engine.engines import Builder, Publisher, Tagger
from xbuild.engine.publish import publish_one
from xbuild.engine.retry import short_error
from xbuild.engine.signing import Signing

Job = Target | ManifestList


class Reporter(Protocol):
    def started(self, target: Target) -> None: ...
    def line(self, target: Target, text: str) -> None: ...
    def finished(self, result: TargetResult) -> None: ...
    def list_finished(self, result: ListResult) -> None: ...


class RunLogs(Protocol):
    """Where the run's logs go: host/run_folder.py's RunFolder."""

    @property
    def path(self) -> Path: ...
    def target_log(self, key: str) -> Path: ...
    def list_log(self, image: str) -> Path: ...


class Witness(Protocol):
    def __call__(self, result: TargetResult, parent: Reference | None) -> None:
        """Keep the provenance of a staged image (`parent`: the image it was built FROM)."""
        ...


class Gate(Protocol):
    def __call__(self, manifest: ManifestList, built: Sequence[TargetResult]) -> str:
        """Why these images (built in this run) may not be listed; "" when they may."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """Everything a run is given, each part whole from where it is made: the command's
    settings, the run folder, what the registry holds, the staged downloads, the nodes."""

    settings: BuildSettings
    logs: RunLogs
    provenance: Provenance
    native: tuple[Arch, ...]
    resolution: Resolution = field(default_factory=Resolution)  # identities, up to date, lists
    base_contexts: Mapping[str, Pairs] = field(default_factory=dict)  # per arch name
    target_contexts: Mapping[str, Pairs] = field(default_factory=dict)  # per target key
    unbuildable: Mapping[str, str] = field(default_factory=dict)  # target key -> why not
    nodes: NodeMap = field(default_factory=NodeMap)  # where each arch builds
    gate: Gate | None = None
    witness: Witness | None = None  # keeps each staged image's provenance in the run folder
    signing: Signing | None = None  # signs what the gate passed, before any tag moves

    def node_of(self, target: Target) -> Node:
        return self.nodes.node_for(target.arch)

    def cap(self, node: Node) -> int:
        return max(1, node.jobs or self.settings.jobs)


class Runner:
    def __init__(self, plan: Plan, reporter: Reporter, options: RunOptions, *,
                 builder_on: Callable[[str], Builder], publisher: Callable[[], Publisher],
                 tagger: Callable[[], Tagger]) -> None:
        """`builder_on`: a node's builder; `publisher`: what publishes the lists; `tagger`:
        what moves the public per-arch tags. Each is asked for only when needed."""
        self.plan, self.reporter, self.options = plan, reporter, options
        self.builder_on, self.publisher, self.tagger = builder_on, publisher, tagger
        self.results: dict[str, TargetResult] = {}
        self.lists: dict[str, ListResult] = {}
        self.weights = critical_path(plan, options.native)

    def run(self) -> RunReport:
        start = time.monotonic()
        self._record_known()
        nodes = {self.options.node_of(t) for t in self.plan.targets}
        workers = (1 if self.options.settings.dry_run
                   else sum(self.options.cap(n) for n in nodes) + 1)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="xbuild") as pool:
            running: dict[Future[TargetResult | ListResult], Job] = {}
            while True:
                self._skip_blocked()
                for job in self._ready(running.values())[: workers - len(running)]:
                    running[pool.submit(self._start, job)] = job
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    self._record(future.result())
                    del running[future]
        ordered = tuple(self.results[t.key] for t in self.plan.targets)
        lists = tuple(self.lists[m.image] for m in self.plan.manifests if m.image in self.lists)
        return RunReport(targets=ordered, lists=lists, run_dir=self.options.logs.path,
                         seconds=time.monotonic() - start)

    def _record_known(self) -> None:
        for target in self.plan.targets:
            if reason := self.options.unbuildable.get(target.key):
                self._record(TargetResult(target=target, status=Status.FAILED, detail=reason))
            elif digest := self.options.resolution.up_to_date.get(target.key):
                self._record(TargetResult(target=target, status=Status.UP_TO_DATE, digest=digest))
            elif digest := self.options.resolution.staged.get(target.key):
                staged = TargetResult(target=target, status=Status.STAGED, digest=digest)
                self._witness(staged)
                self._record(staged)

    def _ready(self, busy: Iterable[Job]) -> list[Job]:
        """Lists whose arches are all done first (they free a slot soonest), then builds
        whose node has a free slot, the longest chains first."""
        busy = list(busy)
        running = {id(job) for job in busy}
        lists: list[Job] = [m for m in self.plan.manifests if self.options.settings.push
                            and m.image not in self.lists and id(m) not in running
                            and all(k in self.results for k in m.target_keys())]
        succeeded = {k for k, r in self.results.items() if r.status.ok}
        targets = [t for t in self.plan.targets if t.key not in self.results
                   and id(t) not in running
                   and (t.parent_key is None or t.parent_key in succeeded)]
        load = Counter(self.options.node_of(j) for j in busy if isinstance(j, Target))
        chosen: list[Job] = []
        for target in by_priority(targets, self.weights):
            node = self.options.node_of(target)
            if load[node] < self.options.cap(node):
                load[node] += 1
                chosen.append(target)
        return [*lists, *chosen]

    def _start(self, job: Job) -> TargetResult | ListResult:
        if isinstance(job, ManifestList):
            try:
                return self._publish(job)
            except Exception as exc:  # one list's surprise must not stop the others
                return ListResult(manifest=job, status=ListStatus.FAILED,
                                  detail=f"internal error: {type(exc).__name__}: {exc}")
        self.reporter.started(job)
        return self._build(job)

    def _skip_blocked(self) -> None:
        progress = True
        while progress:
            failed = {k: str(r.status) for k, r in self.results.items() if not r.status.ok}
            progress = False
            for target in self.plan.targets:
                reason = blocked_by(target, failed) if target.key not in self.results else None
                if reason:
                    self._record(TargetResult(target=target, status=Status.SKIPPED,
                                              detail=reason))
                    progress = True

    def _record(self, result: TargetResult | ListResult) -> None:
        if isinstance(result, ListResult):
            self.lists[result.manifest.image] = result
            self.reporter.list_finished(result)
            return
        self.results[result.target.key] = result
        self.reporter.finished(result)

    def _parent_source(self, target: Target) -> Reference | None:
        if target.parent_published:
            return target.parent_published
        parent = self.plan.parent_of(target)
        if parent is None:
            return None
        if self.options.settings.push:
            return parent.ref.pinned(self.results[parent.key].digest)
        return parent.ref  # the image this run just loaded into the local engine

    def _contexts(self, target: Target) -> Pairs:
        return (*self.options.base_contexts.get(target.arch.name, ()),
                *self.options.target_contexts.get(target.key, ()))

    def _build(self, target: Target) -> TargetResult:
        log_path = self.options.logs.target_log(target.key)
        request = build_request(target, parent_source=self._parent_source(target),
                                provenance=self.options.provenance, version=self.plan.tag,
                                push=self.options.settings.push,
                                contexts=self._contexts(target),
                                identity=self.options.resolution.identities.get(target.key)
                                or "")
        start, began = time.monotonic(), time.time()
        node = self.options.node_of(target).name
        done = functools.partial(TargetResult, target=target, log=log_path, started=began,
                                 node=node)
        with log_path.open("w", encoding="utf-8") as log:
            try:
                built = self.builder_on(node).build(request, log,
                                                 lambda text: self.reporter.line(target, text))
            except CommandFailed as exc:
                return done(status=Status.FAILED, detail=short_error(exc.output),
                            seconds=time.monotonic() - start)
            except Exception as exc:  # one target's surprise must not stop the others
                log.write(f"xbuild: internal error: {exc!r}\n")
                return done(status=Status.FAILED,
                            detail=f"internal error: {type(exc).__name__}: {exc}",
                            seconds=time.monotonic() - start)
        status = (Status.DRY_RUN if self.options.settings.dry_run
                  else Status.PUSHED if self.options.settings.push else Status.BUILT)
        result = done(status=status, digest=built.digest, seconds=time.monotonic() - start)
        self._witness(result)
        return result

    def _witness(self, result: TargetResult) -> None:
        if self.options.witness is not None and result.status.staged:
            self.options.witness(result, self._parent_pinned(result.target))

    def _parent_pinned(self, target: Target) -> Reference | None:
        if target.parent_published:
            return target.parent_published
        parent = self.plan.parent_of(target)
        done = self.results.get(parent.key) if parent else None
        return parent.ref.pinned(done.digest) if parent and done and done.digest else None

    def _publish(self, manifest: ManifestList) -> ListResult:
        results = [self.results[k] for k in manifest.target_keys()]
        good = [(r.target.arch, r.target.ref.pinned(r.digest)) for r in results if r.status.ok]
        lacking = [r.target.arch.name for r in results if not r.status.ok]
        if not lacking and self.options.resolution.list_unchanged(
                manifest.ref, [ref.digest for _, ref in good]):
            return ListResult(manifest=manifest, status=ListStatus.UP_TO_DATE,
                              platforms=tuple(str(a.platform) for a, _ in good),
                              available=tuple(str(a.platform) for a, _ in good))
        if self.options.gate is not None and not self.options.settings.dry_run:
            built = [r for r in results if r.status.staged]
            if refused := self.options.gate(manifest, built):
                return ListResult(manifest=manifest, status=ListStatus.REFUSED, detail=refused,
                                  available=tuple(str(a.platform) for a, _ in good))
        log_path = self.options.logs.list_log(manifest.image)
        new = [(r.target.key, r.target.ref.pinned(r.digest)) for r in results
               if r.status.staged]
        with log_path.open("w", encoding="utf-8") as log:
            return publish_one(manifest, good, lacking, self.publisher(), self.tagger(),
                               allow_partial=self.options.settings.allow_partial,
                               dry_run=self.options.settings.dry_run,
                               current=self.options.resolution.current_digests(), log=log,
                               signing=self.options.signing, new=new)


def run_plan(plan: Plan, reporter: Reporter, options: RunOptions, *,
             builder_on: Callable[[str], Builder], publisher: Callable[[], Publisher],
             tagger: Callable[[], Tagger]) -> RunReport:
    """Run `plan`: see Runner."""
    return Runner(plan, reporter, options, builder_on=builder_on, publisher=publisher,
                  tagger=tagger).run()
