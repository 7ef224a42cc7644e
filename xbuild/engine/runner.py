"""Execute a plan: parents first, independent targets in parallel, keep going past failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO

from xbuild.core.buildspec import BuildRequest, Pairs, Provenance, build_request
from xbuild.core.errors import CommandFailed
from xbuild.core.plan import ManifestList, Plan, Target
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.results import ListResult, RunReport, Status, TargetResult
from xbuild.core.schedule import blocked_by, by_priority, critical_path
from xbuild.engine.docker import Built
from xbuild.engine.publish import ListEngine, publish_one
from xbuild.engine.retry import short_error


class Engine(ListEngine, Protocol):
    def build(self, request: BuildRequest, log: TextIO,
              on_line: Callable[[str], None]) -> Built: ...


class Reporter(Protocol):
    def started(self, target: Target) -> None: ...
    def line(self, target: Target, text: str) -> None: ...
    def finished(self, result: TargetResult) -> None: ...
    def list_finished(self, result: ListResult) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    run_dir: Path
    provenance: Provenance
    native: tuple[Arch, ...]
    push: bool = False
    jobs: int = 2
    allow_partial: bool = False
    base_contexts: Mapping[str, Pairs] = field(default_factory=dict)  # per arch name
    target_contexts: Mapping[str, Pairs] = field(default_factory=dict)  # per target key
    unbuildable: Mapping[str, str] = field(default_factory=dict)  # image -> why, e.g. download


class Runner:
    def __init__(self, plan: Plan, engine: Engine, reporter: Reporter,
                 options: RunOptions) -> None:
        self.plan, self.engine, self.reporter, self.options = plan, engine, reporter, options
        self.results: dict[str, TargetResult] = {}
        self.weights = critical_path(plan, options.native)

    def run(self) -> RunReport:
        start = time.monotonic()
        self.options.run_dir.mkdir(parents=True, exist_ok=True)
        lists: list[ListResult] = []
        self._fail_unbuildable()
        jobs = 1 if self.engine.dry_run else max(1, self.options.jobs)
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="xbuild") as pool:
            running: dict[Future[TargetResult], Target] = {}
            while len(self.results) < len(self.plan.targets):
                self._skip_blocked()
                busy = {t.key for t in running.values()}
                for target in self._ready(busy)[: jobs - len(running)]:
                    self.reporter.started(target)
                    running[pool.submit(self._build, target)] = target
                # Lists are published while the freed slots already build again.
                lists += self._publish_finished_images(lists)
                if not running:
                    continue
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    self._record(future.result())
                    del running[future]
            # Targets finished or skipped on the last pass complete the images still open.
            lists += self._publish_finished_images(lists)
        ordered = tuple(self.results[t.key] for t in self.plan.targets)
        return RunReport(targets=ordered, lists=tuple(lists), run_dir=self.options.run_dir,
                         seconds=time.monotonic() - start)

    def _fail_unbuildable(self) -> None:
        for target in self.plan.targets:
            if reason := self.options.unbuildable.get(target.image):
                self._record(TargetResult(target=target, status=Status.FAILED, detail=reason))

    def _ready(self, busy: set[str]) -> list[Target]:
        ready = [t for t in self.plan.targets
                 if t.key not in self.results and t.key not in busy
                 and (t.parent_key is None or t.parent_key in self._succeeded())]
        return by_priority(ready, self.weights)

    def _succeeded(self) -> set[str]:
        return {k for k, r in self.results.items() if r.status.ok}

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

    def _record(self, result: TargetResult) -> None:
        self.results[result.target.key] = result
        self.reporter.finished(result)

    def _parent_source(self, target: Target) -> Reference | None:
        if target.parent_published:
            return target.parent_published
        parent = self.plan.parent_of(target)
        if parent is None:
            return None
        if self.options.push:
            return parent.ref.pinned(self.results[parent.key].digest)
        return parent.ref  # the image this run just loaded into the local engine

    def _contexts(self, target: Target) -> Pairs:
        return (*self.options.base_contexts.get(target.arch.name, ()),
                *self.options.target_contexts.get(target.key, ()))

    def _build(self, target: Target) -> TargetResult:
        log_path = self.options.run_dir / f"{target.key}.log"
        request = build_request(target, parent_source=self._parent_source(target),
                                provenance=self.options.provenance, version=self.plan.tag,
                                push=self.options.push,
                                contexts=self._contexts(target))
        start = time.monotonic()
        with log_path.open("w", encoding="utf-8") as log:
            try:
                built = self.engine.build(request, log, lambda text: self.reporter.line(target,
                                                                                        text))
            except CommandFailed as exc:
                detail = short_error(exc.output)
                return TargetResult(target=target, status=Status.FAILED, detail=detail,
                                    seconds=time.monotonic() - start, log=log_path)
            except Exception as exc:  # one target's surprise must not stop the others
                log.write(f"xbuild: internal error: {exc!r}\n")
                return TargetResult(target=target, status=Status.FAILED,
                                    detail=f"internal error: {type(exc).__name__}: {exc}",
                                    seconds=time.monotonic() - start, log=log_path)
        status = (Status.DRY_RUN if self.engine.dry_run
                  else Status.PUSHED if self.options.push else Status.BUILT)
        return TargetResult(target=target, status=status, digest=built.digest,
                            seconds=time.monotonic() - start, log=log_path)

    def _publish_finished_images(self, done_lists: list[ListResult]) -> list[ListResult]:
        if not self.options.push:
            return []
        published = {r.manifest.image for r in done_lists}
        new = []
        for manifest in self.plan.manifests:
            keys = manifest.keys()
            if manifest.image in published or not all(k in self.results for k in keys):
                continue
            result = self._publish(manifest, [self.results[k] for k in keys])
            self.reporter.list_finished(result)
            new.append(result)
        return new

    def _publish(self, manifest: ManifestList, results: list[TargetResult]) -> ListResult:
        good = [(r.target.arch, r.target.ref.pinned(r.digest)) for r in results if r.status.ok]
        lacking = [r.target.arch.name for r in results if not r.status.ok]
        log_path = self.options.run_dir / f"{manifest.image}-list.log"
        with log_path.open("w", encoding="utf-8") as log:
            return publish_one(manifest, good, lacking, self.engine,
                               allow_partial=self.options.allow_partial, log=log)


def run_plan(plan: Plan, engine: Engine, reporter: Reporter, options: RunOptions) -> RunReport:
    return Runner(plan, engine, reporter, options).run()
