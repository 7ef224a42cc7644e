"""Test doubles for the runner: an engine that builds nothing, a reporter that writes down.

- `FakeEngine` implements `runner.Engine` and `publish.ListEngine`: it records every
  BuildRequest and every create_list call (thread-safe), answers a digest that depends only on
  the tag, and fails the targets (`image-arch` keys) and list refs it is told to, with output
  shaped like buildx's.
- `RecordingReporter` implements `runner.Reporter` and keeps every call in order.
- `run_guarded` runs a plan in a thread and fails the test if the runner does not return.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TextIO

from xbuild.buildspec import BuildRequest
from xbuild.docker import Built, DockerFailure
from xbuild.plan import Plan, Target
from xbuild.platforms import Arch, arch_named
from xbuild.publish import ListEngine
from xbuild.results import ListResult, RunReport, TargetResult
from xbuild.runner import Engine, Reporter, RunOptions, run_plan

RUN_FAILURE = 'ERROR: failed to solve: process "/bin/sh -c false" did not complete ' \
              "successfully: exit code: 1"


def arch(name: str) -> Arch:
    found = arch_named(name)
    assert found is not None, name
    return found


def digest_for(tag: str) -> str:
    """The digest FakeEngine answers for `tag`: the same tag always gets the same digest."""
    return f"sha256:{hashlib.sha256(tag.encode()).hexdigest()}"


def build_failure_output(request: BuildRequest) -> str:
    """What buildx prints, tail end, when a RUN step exits 1."""
    return (f"#5 [2/2] RUN false\n#5 ERROR: process \"/bin/sh -c false\" did not complete "
            f"successfully: exit code: 1\n------\n > [2/2] RUN false:\n------\n"
            f"Dockerfile:2\n--------------------\n   1 |     FROM debian:bookworm-slim\n"
            f"   2 | >>> RUN false\n--------------------\n{RUN_FAILURE}\n")


@dataclass(frozen=True, slots=True)
class ListCall:
    ref: str
    sources: tuple[str, ...]


class FakeEngine:
    """Builds nothing; remembers what it was asked, in order. Safe to call from threads."""

    def __init__(self, *, fail: Collection[str] = (), fail_lists: Collection[str] = (),
                 dry_run: bool = False, delay: float = 0.0,
                 list_error: str = "ERROR: failed to push: 401 Unauthorized") -> None:
        self.dry_run = dry_run
        self.fail = frozenset(fail)  # target keys, `image-arch`
        self.fail_lists = frozenset(fail_lists)  # list refs
        # Seconds each successful build takes, to let parallel builds overlap; failures are
        # immediate, so a failure is not the last thing a parallel run sees.
        self.delay = delay
        self.list_error = list_error
        self.requests: list[BuildRequest] = []
        self.lists: list[ListCall] = []
        self.events: list[tuple[str, str]] = []  # ("start" | "end", key) in the order they happen
        self._lock = threading.Lock()

    def _event(self, what: str, key: str) -> None:
        with self._lock:
            self.events.append((what, key))

    def build(self, request: BuildRequest, log: TextIO,
              on_line: Callable[[str], None]) -> Built:
        with self._lock:
            self.requests.append(request)
            self.events.append(("start", request.key))
        try:
            first = f"#1 building {request.tag} for {request.platform}"
            log.write(first + "\n")
            on_line(first)
            if request.key in self.fail:
                output = build_failure_output(request)
                log.write(output)
                raise DockerFailure(f"docker buildx build --tag {request.tag}", output)
            if self.delay:
                time.sleep(self.delay)
            return Built(digest=digest_for(request.tag))
        finally:
            self._event("end", request.key)

    def create_list(self, ref: str, sources: list[str], log: TextIO | None = None) -> None:
        with self._lock:
            self.lists.append(ListCall(ref=ref, sources=tuple(sources)))
        if log is not None:
            log.write(f"+ docker buildx imagetools create --tag {ref} {' '.join(sources)}\n")
        if ref in self.fail_lists:
            raise DockerFailure(f"docker buildx imagetools create --tag {ref}", self.list_error)

    # --- what was asked ------------------------------------------------------------------
    @property
    def built_keys(self) -> list[str]:
        return [r.key for r in self.requests]

    def request(self, key: str) -> BuildRequest:
        (found,) = [r for r in self.requests if r.key == key]
        return found

    def list_refs(self) -> list[str]:
        return [c.ref for c in self.lists]


class RecordingReporter:
    """Every call the runner makes, in order. Safe to call from threads."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []  # (method, target key or list ref)
        self.started_targets: list[Target] = []
        self.lines: list[tuple[str, str]] = []
        self.results: list[TargetResult] = []
        self.list_results: list[ListResult] = []
        self._lock = threading.Lock()

    def started(self, target: Target) -> None:
        with self._lock:
            self.calls.append(("started", target.key))
            self.started_targets.append(target)

    def line(self, target: Target, text: str) -> None:
        with self._lock:
            self.lines.append((target.key, text))

    def finished(self, result: TargetResult) -> None:
        with self._lock:
            self.calls.append(("finished", result.target.key))
            self.results.append(result)

    def list_finished(self, result: ListResult) -> None:
        with self._lock:
            self.calls.append(("list_finished", result.manifest.ref))
            self.list_results.append(result)

    @property
    def started_keys(self) -> list[str]:
        return [t.key for t in self.started_targets]


def run_guarded(plan: Plan, engine: Engine, reporter: Reporter, options: RunOptions,
                timeout: float = 10.0) -> RunReport:
    """run_plan in a thread; fails, rather than hangs, if the runner does not return."""
    outcome: list[RunReport] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            outcome.append(run_plan(plan, engine, reporter, options))
        except BaseException as exc:  # handed to the test thread below
            errors.append(exc)

    thread = threading.Thread(target=work, name="run-plan", daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"the runner did not finish within {timeout}s"
    if errors:
        raise errors[0]
    (report,) = outcome
    return report


def _conforms(engine: FakeEngine,
              reporter: RecordingReporter) -> tuple[Engine, ListEngine, Reporter]:
    """Never called: mypy checks here that the fakes satisfy the protocols they stand in for."""
    return engine, engine, reporter
