"""The only module that talks to Docker, always through python-on-whales. Primitives only:
build, lists, inspect, pull, export, run, remove. What they mean is decided elsewhere.

`-v` echoes and `--dry-run` print exactly the command python-on-whales runs: the call is first
made on a client whose "docker" is a shell that writes its argv down (NUL-separated, so
quoting is exact) and runs nothing. That render happens only when someone reads it.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO, TypeVar

from python_on_whales import Container, DockerClient
from python_on_whales.components.buildx.imagetools.models import Manifest
from python_on_whales.exceptions import DockerException

from xbuild.core.answers import Built, ImageConfig, ListEntry, RunOutput
from xbuild.core.buildspec import BuildRequest
from xbuild.core.errors import CommandFailed, EnvironmentProblem
from xbuild.core.platforms import Platform, arch_for_uname
from xbuild.core.refs import Reference
from xbuild.core.smoke import Sandbox
from xbuild.engine.retry import RetryPolicy, failed_transiently

LineSink = Callable[[str], None]
T = TypeVar("T")
Call = Callable[[DockerClient], object]
_RECORDER = 'printf "%s\\0" "$@" > "$0"'
TIMED_OUT = 124  # the exit code `timeout` gives, for a container xbuild had to kill


def _said(exc: BaseException) -> str:
    if isinstance(exc, CommandFailed):
        return exc.output
    if isinstance(exc, DockerException):
        return f"{exc.stderr or ''}\n{exc.stdout or ''}"
    return str(exc)


def _first_line(text: str) -> str:
    return next((ln for ln in text.splitlines() if ln.strip()), text).strip()


def _platform(os: str | None, architecture: str | None, variant: str | None) -> Platform:
    return Platform(os=os or "", architecture=architecture or "", variant=variant or "")


class Docker:
    """Docker and buildx through python-on-whales, with echo, dry-run and registry retries.

    `echo` receives each command before it runs; None means nobody reads them, so none is
    rendered (builds still write theirs into their log).
    """

    def __init__(self, *, echo: LineSink | None = None, dry_run: bool = False,
                 retry: RetryPolicy | None = None, context: str | None = None,
                 builder: str | None = None) -> None:
        """`context`: the docker context (engine) every call goes to; `builder`: the buildx
        builder builds go to (the context's default one when None)."""
        self.echo = echo
        self.dry_run = dry_run
        self.retry = retry or RetryPolicy()
        self.context, self.builder = context, builder
        self._client = self._make(["docker"])

    def _make(self, client_call: list[str]) -> DockerClient:
        if self.context:
            return DockerClient(client_call=client_call, context=self.context)
        return DockerClient(client_call=client_call)

    # --- rendering -----------------------------------------------------------------------
    def render(self, call: Call) -> str:
        """The exact docker command python-on-whales would run for `call`."""
        with tempfile.TemporaryDirectory(prefix="xbuild-cmd-") as tmp:
            record = Path(tmp) / "argv"
            recorder = self._make(["sh", "-c", _RECORDER, str(record), "docker"])
            try:
                result = call(recorder)
                if isinstance(result, Iterator):
                    for _ in result:
                        pass
            except ValueError:
                pass  # python-on-whales parsing the recorder's empty output; argv is written
            argv = record.read_bytes().split(b"\0")[:-1] if record.exists() else []
        if not argv:
            raise RuntimeError("python-on-whales ran no docker command to record")
        return shlex.join(arg.decode(errors="replace") for arg in argv)

    def _announce(self, call: Call, log: TextIO | None = None) -> str:
        """Echo and log the command `call` runs; returns it ("" when nobody reads it)."""
        if self.echo is None and log is None and not self.dry_run:
            return ""
        command = self.render(call)
        if self.echo is not None:
            self.echo(command)
        if log is not None:
            log.write(f"+ {command}\n")
            log.flush()
        return command

    # --- builds --------------------------------------------------------------------------
    def build(self, request: BuildRequest, log: TextIO, on_line: LineSink) -> Built:
        """Build one image x arch (and push it when asked), retrying transient push errors."""
        def attempt() -> Built:
            return self._build_once(request, log, on_line)

        if not request.push:
            return attempt()
        retrying = self.retry.retrying(
            failed_transiently,
            lambda n, exc: self._note_retry(log, on_line, n, exc))
        return retrying(attempt)

    def _build_once(self, request: BuildRequest, log: TextIO, on_line: LineSink) -> Built:
        with tempfile.TemporaryDirectory(prefix="xbuild-meta-") as tmp:
            metadata = Path(tmp) / "metadata.json"

            def call(client: DockerClient) -> object:
                return client.buildx.build(
                    request.context, file=request.dockerfile, platforms=[str(request.platform)],
                    tags=[str(request.tag)], build_args=dict(request.build_args),
                    labels=dict(request.labels), build_contexts=dict(request.contexts),
                    push=request.push, load=not request.push, progress="plain",
                    metadata_file=metadata, secrets=list(request.secrets), builder=self.builder,
                    # BuildKit's own attestations are unsigned and would make the per-arch
                    # image an index with an unknown/unknown entry; xbuild attests (Trust)
                    provenance=False, sbom=False, stream_logs=True)

            command = self._announce(call, log)
            if self.dry_run:
                return Built(digest=f"<digest of {request.tag}>")
            self._stream(call, command, log, on_line)
            return Built(digest=_digest_from(metadata, push=request.push))

    def _stream(self, call: Call, command: str, log: TextIO, on_line: LineSink) -> None:
        seen: list[str] = []
        try:
            lines = call(self._client)
            assert isinstance(lines, Iterator)
            for line in lines:
                log.write(line)
                seen.append(line)
                on_line(line.rstrip())
        except DockerException as exc:
            log.flush()
            # The stream already carried stderr; keep its tail, which ends with the error.
            raise CommandFailed(command, "".join(seen[-40:]) or _said(exc)) from exc
        finally:
            log.flush()

    @staticmethod
    def _note_retry(log: TextIO, on_line: LineSink, attempt: int, exc: BaseException) -> None:
        message = f"transient registry error, retrying (attempt {attempt + 1}): {exc}"
        log.write(f"xbuild: {message}\n")
        on_line(message)

    # --- manifest lists and the registry -------------------------------------------------
    def _registry(self, command: str, work: Callable[[], T]) -> T:
        """`work` (a registry operation), retried while it fails transiently."""
        def attempt() -> T:
            try:
                return work()
            except DockerException as exc:
                raise CommandFailed(command, _said(exc)) from exc

        retrying = self.retry.retrying(
            failed_transiently,
            lambda n, exc: self._echo(f"# transient registry error, retry {n + 1}: {exc}"))
        return retrying(attempt)

    def create_list(self, ref: Reference, sources: Sequence[Reference],
                    log: TextIO | None = None) -> None:
        def call(client: DockerClient) -> object:
            return client.buildx.imagetools.create(sources=[str(s) for s in sources],
                                                   tags=[str(ref)], builder=self.builder)

        command = self._announce(call, log)
        if not self.dry_run:
            self._registry(command or f"imagetools create {ref}", lambda: call(self._client))

    def _echo(self, line: str) -> None:
        if self.echo is not None:
            self.echo(line)

    def list_entries(self, ref: Reference) -> list[ListEntry] | None:
        """Every entry of a published manifest list; None when `ref` is a single image."""
        def call(client: DockerClient) -> Manifest:
            return client.buildx.imagetools.inspect(str(ref))

        command = self._announce(call)
        manifest = self._registry(command or f"imagetools inspect {ref}",
                                  lambda: call(self._client))
        if manifest.manifests is None:
            return None
        return [ListEntry(platform=_platform(*(((e.platform.os, e.platform.architecture,
                                                 e.platform.variant)) if e.platform
                                               else (None, None, None))),
                          digest=e.digest or "") for e in manifest.manifests]

    # --- images --------------------------------------------------------------------------
    def pull(self, ref: Reference) -> bool:
        """Pull `ref`, retrying transient registry faults; True when this call brought it here
        (so its caller removes it)."""
        self._echo(f"docker pull --quiet {ref}")
        pulled_here = not self._client.image.exists(str(ref))
        self._registry(f"docker pull {ref}",
                       lambda: self._client.image.pull(str(ref), quiet=True))
        return pulled_here

    def image_config(self, ref: Reference) -> ImageConfig:
        try:
            image = self._client.image.inspect(str(ref))
        except DockerException as exc:
            raise CommandFailed(f"docker image inspect {ref}", _said(exc)) from exc
        config = image.config
        return ImageConfig(platform=_platform(image.os, image.architecture, image.variant),
                           labels=dict(config.labels or {}),
                           entrypoint=tuple(config.entrypoint or ()),
                           cmd=tuple(config.cmd or ()), env=tuple(config.env or ()),
                           created=image.created)

    def export(self, ref: Reference, output: Path, *, max_bytes: int) -> None:
        """Write `ref`'s files to `output` as a tar, from a container that never starts.

        The docker CLI writes under `ulimit -f`, so an image larger than `max_bytes` fails
        with CommandFailed instead of filling the disk.
        """
        self._echo(f"docker container create {ref} && docker export -o {output}")
        blocks = max(1, max_bytes // 512)
        capped = self._make(["sh", "-c", f'ulimit -f {blocks} && exec "$0" "$@"', "docker"])
        try:
            # No --platform: the engine would refuse an image whose config names another
            # arch, which is what verify judges.
            container = self._client.container.create(str(ref), ["/xbuild-never-runs"],
                                                      networks=["none"])
        except DockerException as exc:
            raise CommandFailed(f"docker container create {ref}", _said(exc)) from exc
        try:
            capped.container.export(container, output)
        except DockerException as exc:
            raise CommandFailed(f"docker export {ref}",
                                f"{_said(exc).strip()}\nexport stopped: larger than "
                                f"{max_bytes // 2**20} MiB?") from exc
        finally:
            with contextlib.suppress(DockerException):
                self._client.container.remove(container, force=True)

    def remove_image(self, ref: Reference) -> None:
        self._echo(f"docker image rm {ref}")
        with contextlib.suppress(DockerException):  # already gone, or in use by another
            self._client.image.remove(str(ref), force=True)

    def image_exists(self, ref: Reference) -> bool:
        return bool(self._client.image.exists(str(ref)))

    # --- containers ----------------------------------------------------------------------
    def run(self, image: Reference, command: Sequence[str], *, platform: Platform,
            sandbox: Sandbox, entrypoint: str | None = None) -> RunOutput:
        """Run a throwaway container inside `sandbox`: no network, no capabilities beyond
        those it grants, memory and pids capped, killed at its timeout, then removed."""
        def call(client: DockerClient) -> Container:
            return client.run(str(image), list(command), platform=str(platform), detach=True,
                              networks=["none"], pull="never", entrypoint=entrypoint,
                              cap_drop=["ALL"], cap_add=list(sandbox.capabilities),
                              security_options=["no-new-privileges"], memory=sandbox.memory,
                              pids_limit=sandbox.pids)

        self._announce(call)
        if self.dry_run:
            return RunOutput(exit_code=0, output="")
        try:
            container = call(self._client)
        except DockerException as exc:
            return RunOutput(exit_code=exc.return_code, output=_said(exc).strip())
        try:
            code = self._wait(container, sandbox.timeout)
            output = str(self._client.container.logs(container, tail=sandbox.tail)).strip()
        except DockerException as exc:
            return RunOutput(exit_code=exc.return_code or 1, output=_said(exc).strip())
        finally:
            with contextlib.suppress(DockerException):
                self._client.container.remove(container, force=True)
        if code is None:
            return RunOutput(exit_code=TIMED_OUT,
                             output=f"{output}\ntimed out after {sandbox.timeout:.0f}s")
        return RunOutput(exit_code=code, output=output)

    def _wait(self, container: Container, timeout: float) -> int | None:
        """The container's exit code, or None when it had to be killed at `timeout`."""
        codes: list[int] = []
        waiter = threading.Thread(
            target=lambda: codes.append(self._client.container.wait(container)), daemon=True)
        waiter.start()
        waiter.join(timeout)
        if codes:
            return codes[0]
        with contextlib.suppress(DockerException):
            self._client.container.kill(container)
        waiter.join(10)
        return None

    # --- the engine ----------------------------------------------------------------------
    def server_version(self) -> str:
        try:
            return str(self._client.version().server.version)  # type: ignore[union-attr]
        except DockerException as exc:
            raise EnvironmentProblem(
                "cannot reach the Docker engine: " + _first_line(_said(exc))
                + " (start it, e.g. `bash ci/host-setup.sh`)") from exc

    def buildx_version(self) -> str:
        try:
            return str(self._client.buildx.version()).split()[1]
        except DockerException as exc:
            raise EnvironmentProblem("docker buildx is missing or broken: "
                                     + _first_line(_said(exc))) from exc

    def builder_driver(self) -> str:
        try:
            return str(self._client.buildx.inspect(self.builder).driver)
        except DockerException as exc:
            raise EnvironmentProblem("no buildx builder: " + _first_line(_said(exc))) from exc

    def native_platforms(self) -> list[Platform]:
        """What the node's CPUs run without emulation: its engine's architecture, or for a
        buildx builder each of its nodes' first platform (buildx lists the native one first)."""
        try:
            if self.builder:
                nodes = self._client.buildx.inspect(self.builder).nodes or []
                return [Platform.parse(n.platforms[0]) for n in nodes if n.platforms]
            machine = str(self._client.info().architecture)
        except DockerException as exc:
            raise EnvironmentProblem(f"cannot ask {self.node} what it runs: "
                                     + _first_line(_said(exc))) from exc
        arch = arch_for_uname(machine)
        return [arch.platform] if arch else []

    @property
    def node(self) -> str:
        return self.builder or self.context or "default"


def node_kind(name: str) -> str | None:
    """Whether `name` is a docker "context" or a buildx "builder" here (a context first)."""
    client = DockerClient()
    try:
        if name in {c.name for c in client.context.list()}:
            return "context"
        if name in {b.name for b in client.buildx.list()}:
            return "builder"
    except DockerException as exc:
        raise EnvironmentProblem("cannot list docker contexts and buildx builders: "
                                 + _first_line(_said(exc))) from exc
    return None


def _digest_from(metadata: Path, *, push: bool) -> str:
    data = json.loads(metadata.read_text())
    key = "containerimage.digest" if push else "containerimage.config.digest"
    return str(data.get(key) or data["containerimage.digest"])
