"""Test doubles for the runner: an engine that builds nothing, a reporter that writes down.

- `FakeEngine` is a `Builder` and a `Publisher` (engine/engines.py): it records every
  BuildRequest and every create_list call (thread-safe), answers a digest that depends only on
  the tag, and fails the targets (`image-arch` keys) and list refs it is told to, with output
  shaped like buildx's.
- `RecordingReporter` implements `runner.Reporter` and keeps every call in order.
- `run_guarded` runs a plan in a thread and fails the test if the runner does not return.
- `FakeDocker` is engine/docker.py's Docker with every primitive answered from memory (it
  never reaches an engine: the real Docker's set-up is never run).
"""

from __future__ import annotations

import hashlib
import io
import struct
import tarfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from xbuild.core.answers import Built, ImageConfig, ListEntry, Published, RunOutput
from xbuild.core.buildspec import BuildRequest
from xbuild.core.errors import CommandFailed, RegistryError
from xbuild.core.nodes import DEFAULT
from xbuild.core.plan import Plan, Target
from xbuild.core.platforms import Arch, Platform, arch_named
from xbuild.core.refs import Reference
from xbuild.core.results import ListResult, RunReport, TargetResult
from xbuild.core.smoke import Sandbox
from xbuild.engine.docker import Docker
from xbuild.engine.engines import Builder, Engines, Inspector, Publisher, Tagger
from xbuild.engine.runner import Reporter, RunOptions, run_plan
from xbuild.host.cmd import Completed, Shell
from xbuild.host.published import TagReader
from xbuild.host.run_folder import RunFolder
from xbuild.output.console import Console
from xbuild.pipeline.tools import Tools

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
                 delay: float = 0.0,
                 list_error: str = "ERROR: failed to push: 401 Unauthorized") -> None:
        self.fail = frozenset(fail)  # target keys, `image-arch`
        self.fail_lists = frozenset(fail_lists)  # list refs
        # Seconds each successful build takes, to let parallel builds overlap; failures are
        # immediate, so a failure is not the last thing a parallel run sees.
        self.delay = delay
        self.list_error = list_error
        self.requests: list[BuildRequest] = []
        self.lists: list[ListCall] = []
        self.moved: list[tuple[str, str]] = []  # (tag, digest) each put, in order
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
                raise CommandFailed(f"docker buildx build --tag {request.tag}", output)
            if self.delay:
                time.sleep(self.delay)
            return Built(digest=digest_for(str(request.tag)))
        finally:
            self._event("end", request.key)

    def create_list(self, ref: Reference, sources: Sequence[Reference],
                    log: TextIO | None = None) -> None:
        with self._lock:
            self.lists.append(ListCall(ref=str(ref), sources=tuple(str(s) for s in sources)))
        if log is not None:
            log.write(f"+ docker buildx imagetools create --tag {ref} "
                      f"{' '.join(map(str, sources))}\n")
        if str(ref) in self.fail_lists:
            raise CommandFailed(f"docker buildx imagetools create --tag {ref}", self.list_error)

    def put(self, source: Reference, tag: Reference) -> None:
        """A tag moved to a staged image (host/retag.py's Retagger)."""
        with self._lock:
            self.moved.append((str(tag), source.digest))

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
            self.calls.append(("list_finished", str(result.manifest.ref)))
            self.list_results.append(result)

    @property
    def started_keys(self) -> list[str]:
        return [t.key for t in self.started_targets]


def run_folder(tmp_path: Path) -> RunFolder:
    """A run folder at `tmp_path/run`, made (as RunFolder.create makes one)."""
    (tmp_path / "run").mkdir()
    return RunFolder(path=tmp_path / "run", cache=tmp_path / "cache")


def run_guarded(plan: Plan, engine: FakeEngine | Mapping[str, FakeEngine], reporter: Reporter,
                options: RunOptions, timeout: float = 10.0) -> RunReport:
    """run_plan in a thread; fails, rather than hangs, if the runner does not return.
    `engine`: the builder of every node and the publisher, or one per node (the default
    node's publishes)."""
    engines = engine if isinstance(engine, Mapping) else {DEFAULT: engine}
    outcome: list[RunReport] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            outcome.append(run_plan(plan, reporter, options,
                                    builder_on=lambda node: engines.get(node, engines[DEFAULT]),
                                    publisher=lambda: engines[DEFAULT],
                                    tagger=lambda: engines[DEFAULT]))
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
              reporter: RecordingReporter) -> tuple[Builder, Publisher, Tagger, Reporter]:
    """Never called: mypy checks here that the fakes satisfy the protocols they stand in for."""
    return engine, engine, engine, reporter


# --- a whole docker adapter --------------------------------------------------------------


@dataclass
class FakeImage:
    """An image FakeDocker can inspect, export and run: its config, files and answers."""

    platform: Platform
    labels: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes | str] = field(default_factory=dict)  # str: a symlink's target
    entrypoint: tuple[str, ...] = ()
    env: tuple[str, ...] = ("PATH=/usr/bin:/bin",)
    # What a run prints, by the command line's last word: `arch`, `--print-architecture`, or
    # the smoke command; (exit code, output).
    answers: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunCall:
    image: str
    command: tuple[str, ...]
    entrypoint: str | None
    sandbox: Sandbox


class FakeDocker(FakeEngine, Docker):
    """Every primitive of engine/docker.py's Docker, over images and lists held in memory.
    Docker's own __init__ never runs, so a primitive not answered here fails loudly."""

    def __init__(self, *, images: dict[str, FakeImage] | None = None,
                 lists: dict[str, list[ListEntry] | None] | None = None,
                 **engine: Any) -> None:
        super().__init__(**engine)
        self.images = images or {}  # by pinned ref, repository@digest
        self.published = lists or {}  # list ref -> entries (None: a single image)
        self.runs: list[RunCall] = []
        self.pulled: list[str] = []
        self.exported: list[str] = []
        self.removed: list[str] = []
        self.local: set[str] = set()
        self.native = arch_named("amd64").platform  # type: ignore[union-attr]

    def list_entries(self, ref: Reference) -> list[ListEntry] | None:
        if str(ref) not in self.published:
            raise CommandFailed(f"imagetools inspect {ref}", f"ERROR: {ref}: not found")
        return self.published[str(ref)]

    def pull(self, ref: Reference) -> bool:
        if str(ref) not in self.images:
            raise CommandFailed(f"docker pull {ref}", "Error response from daemon: manifest "
                                                      "unknown")
        self.pulled.append(str(ref))
        return str(ref) not in self.local

    def image_config(self, ref: Reference) -> ImageConfig:
        image = self.images[str(ref)]
        return ImageConfig(platform=image.platform, labels=image.labels,
                           entrypoint=image.entrypoint, env=image.env)

    def export(self, ref: Reference, output: Path, *, max_bytes: int) -> None:
        self.exported.append(str(ref))
        files = self.images[str(ref)].files
        folders = sorted({str(p) for f in files for p in Path(f.lstrip("/")).parents} - {"."})
        members: dict[str, bytes | str | None] = dict.fromkeys(folders)  # folders first,
        members |= {p.lstrip("/"): c for p, c in files.items()}  # as `docker export` does
        write_tar(output, members)

    def remove_image(self, ref: Reference) -> None:
        self.removed.append(str(ref))

    def image_exists(self, ref: Reference) -> bool:
        return str(ref) in self.local

    def run(self, image: Reference, command: Sequence[str], *, platform: Platform,
            sandbox: Sandbox, entrypoint: str | None = None) -> RunOutput:
        self.runs.append(RunCall(image=str(image), command=tuple(command),
                                 entrypoint=entrypoint, sandbox=sandbox))
        answers = self.images[str(image)].answers if str(image) in self.images else {}
        if "QEMU_VERSION=xbuild" in command:  # the probe asking how it runs (qemu.py)
            code, output = answers.get("QEMU_VERSION", self._how_it_runs(image, answers))
            return RunOutput(exit_code=code, output=output)
        code, output = answers.get(command[-1].split()[0] if command else "", (127, "not found"))
        return RunOutput(exit_code=code, output=output)

    def _how_it_runs(self, image: Reference, answers: dict[str, tuple[int, str]]
                     ) -> tuple[int, str]:
        """As on a real engine: the native arch answers again, QEMU announces itself."""
        platform = self.images[str(image)].platform if str(image) in self.images else None
        if platform is None or platform.same_as(self.native):
            return answers.get("arch", (127, "not found"))
        return 0, f"qemu-{platform.architecture} version 7.2.22 (Debian 1:7.2+dfsg-7)\nCopyright"

    def server_version(self) -> str:
        return "26.1.5"

    def buildx_version(self) -> str:
        return "v0.13.1"

    def builder_driver(self) -> str:
        return "docker"

    def native_platforms(self) -> list[Platform]:
        return [self.native]


def write_tar(path: Path, members: Mapping[str, bytes | str | None], mode: int = 0o755) -> Path:
    """A tar as `docker export` writes one: bytes a file (of `mode`), str a symlink, None a
    folder."""
    with tarfile.open(path, "w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), mode
                tar.addfile(info, io.BytesIO(content))
    return path


def elf_head(a: Arch) -> bytes:
    """The first bytes of an ELF executable for `a`, as its header says them."""
    endian = "<" if a.elf.little_endian else ">"
    ident = b"\x7fELF" + bytes([1 if a.elf.bits == 32 else 2, 1 if a.elf.little_endian else 2,
                                1]) + bytes(9)
    return ident + struct.pack(f"{endian}HH", 2, a.elf.machine) + bytes(44)


def _docker_conforms(docker: FakeDocker) -> tuple[Inspector, Builder, Publisher]:
    """Never called: mypy checks here that FakeDocker stands in for each protocol."""
    return docker, docker, docker


class RecordingShell(Shell):
    """A Shell that runs nothing: it writes each command down and fails the ones whose argv
    contains one of `fail` (exit 1, output `boom`)."""

    def __init__(self, *, fail: Collection[str] = ()) -> None:
        super().__init__()
        self.commands: list[tuple[str, ...]] = []
        self.environments: list[dict[str, str] | None] = []  # each command's env, as given
        self.fail = frozenset(fail)

    def run(self, argv: Sequence[str], *, cwd: Path | None = None, check: bool = True,
            timeout: float = 600.0, output: Path | None = None,
            env: Mapping[str, str] | None = None, reads_only: bool = False) -> Completed:
        self.commands.append(tuple(argv))
        self.environments.append(dict(env) if env is not None else None)
        if self.fail & set(argv):
            if output is not None:
                output.write_text("boom\n")
            raise CommandFailed(" ".join(argv), f"{argv[0]} failed (exit 1); see {output}")
        return Completed(exit_code=0, stdout="", stderr="")


class FakeRegistry:
    """Answers tag reads from a dict; every read is counted. Refs in `broken` fail."""

    def __init__(self, tags: Mapping[str, Published] | None = None,
                 broken: Collection[str] = ()) -> None:
        self.tags = dict(tags or {})
        self.broken = frozenset(broken)
        self.reads: list[str] = []

    def read_all(self, refs: Iterable[Reference], jobs: int = 8
                 ) -> tuple[dict[str, Published | None], dict[str, RegistryError]]:
        answers: dict[str, Published | None] = {}
        failures: dict[str, RegistryError] = {}
        for ref in dict.fromkeys(refs):
            self.reads.append(str(ref))
            if str(ref) in self.broken:
                failures[str(ref)] = RegistryError(f"cannot read {ref}: connection refused")
            else:
                answers[str(ref)] = self.tags.get(str(ref))
        return answers, failures


def fake_tools(docker: FakeDocker | None = None, *, shell: Shell | None = None,
               registry: FakeRegistry | None = None, made: list[str] | None = None) -> Tools:
    """What a command works with, every node's engine `docker`; `made` is told each node
    whose engine was asked for."""
    engine = docker or FakeDocker()

    def make(node: str) -> FakeDocker:
        if made is not None:
            made.append(node)
        return engine

    return Tools(console=Console(), shell=shell or RecordingShell(),
                 registry=registry or FakeRegistry(), engines=Engines(make=make),
                 tagger=engine, cache=Path("/nonexistent/xbuild-cache"))


def _registry_conforms(registry: FakeRegistry) -> TagReader:
    """Never called: mypy checks here that FakeRegistry stands in for TagReader."""
    return registry
