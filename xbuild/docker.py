"""The only module that talks to Docker, always through python-on-whales.

Builds, lists, inspections and runs are first rendered by a recording client (python-on-whales
pointed at a script that writes down its argv), so `-v` echoes and `--dry-run` print exactly
the command that runs. Only the pull/export steps behind `verify` echo a summary line.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from xbuild.buildspec import BuildRequest
from xbuild.errors import EnvironmentProblem
from xbuild.platforms import Platform
from xbuild.retry import RetryPolicy, is_transient
from xbuild.rootfs import DPKG, Rootfs, binary_candidates, first_elf
from xbuild.verify import ImageFacts, ListEntry

_RECORDER = "import shlex, sys; open(sys.argv[1], 'a').write(shlex.join(sys.argv[2:]) + '\\n')"
LineSink = Callable[[str], None]


class DockerFailure(Exception):
    """A docker command failed; `output` holds what it said."""

    def __init__(self, command: str, output: str) -> None:
        super().__init__(output.strip().splitlines()[-1] if output.strip() else command)
        self.command = command
        self.output = output


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    digest: str  # the pushed manifest's digest; the image's config digest when not pushed


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutput:
    exit_code: int
    output: str


def _stderr_of(exc: BaseException) -> str:
    if isinstance(exc, DockerFailure):
        return exc.output
    if isinstance(exc, DockerException):
        return f"{exc.stderr or ''}\n{exc.stdout or ''}"
    return str(exc)


class Docker:
    """Docker and buildx through python-on-whales, with echo, dry-run and registry retries."""

    def __init__(self, *, echo: LineSink | None = None, dry_run: bool = False,
                 retry: RetryPolicy | None = None) -> None:
        self.echo = echo or (lambda _line: None)
        self.dry_run = dry_run
        self.retry = retry or RetryPolicy()
        self._client = DockerClient()

    # --- rendering -----------------------------------------------------------------------
    @contextmanager
    def _recording(self) -> Iterator[tuple[DockerClient, Path]]:
        with tempfile.TemporaryDirectory(prefix="xbuild-cmd-") as tmp:
            record = Path(tmp) / "argv"
            record.touch()
            yield DockerClient(client_call=[sys.executable, "-c", _RECORDER, str(record),
                                            "docker"]), record

    def render(self, call: Callable[[DockerClient], object]) -> str:
        """The exact docker command python-on-whales would run for `call`."""
        with self._recording() as (client, record):
            try:
                result = call(client)
                if isinstance(result, Iterator):
                    for _ in result:
                        pass
            except ValueError:
                pass  # python-on-whales parsing the recorder's empty output; argv is written
            command = record.read_text().strip()
            if not command:
                raise RuntimeError("python-on-whales ran no docker command to record")
            return command

    def _announce(self, call: Callable[[DockerClient], object], log: TextIO | None) -> str:
        command = self.render(call)
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
            lambda exc: isinstance(exc, DockerFailure) and is_transient(exc.output),
            lambda n, exc: self._note_retry(log, on_line, n, exc))
        return retrying(attempt)

    def _build_once(self, request: BuildRequest, log: TextIO, on_line: LineSink) -> Built:
        with tempfile.TemporaryDirectory(prefix="xbuild-meta-") as tmp:
            metadata = Path(tmp) / "metadata.json"

            def call(client: DockerClient) -> object:
                return client.buildx.build(
                    request.context, file=request.dockerfile, platforms=[str(request.platform)],
                    tags=[request.tag], build_args=dict(request.build_args),
                    labels=dict(request.labels), build_contexts=dict(request.contexts),
                    push=request.push, load=not request.push, progress="plain",
                    metadata_file=metadata, stream_logs=True)

            command = self._announce(call, log)
            if self.dry_run:
                return Built(digest=f"<digest of {request.tag}>")
            self._stream(call, command, log, on_line)
            return Built(digest=_digest_from(metadata, request))

    def _stream(self, call: Callable[[DockerClient], object], command: str, log: TextIO,
                on_line: LineSink) -> None:
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
            raise DockerFailure(command, "".join(seen[-40:]) or _stderr_of(exc)) from exc
        finally:
            log.flush()

    @staticmethod
    def _note_retry(log: TextIO, on_line: LineSink, attempt: int, exc: BaseException) -> None:
        message = f"transient registry error, retrying (attempt {attempt + 1}): {exc}"
        log.write(f"xbuild: {message}\n")
        on_line(message)

    # --- manifest lists ------------------------------------------------------------------
    def create_list(self, ref: str, sources: Sequence[str], log: TextIO | None = None) -> None:
        def call(client: DockerClient) -> object:
            return client.buildx.imagetools.create(sources=list(sources), tags=[ref])

        command = self._announce(call, log)
        if self.dry_run:
            return

        def attempt() -> None:
            try:
                call(self._client)
            except DockerException as exc:
                raise DockerFailure(command, _stderr_of(exc)) from exc

        retrying = self.retry.retrying(
            lambda exc: isinstance(exc, DockerFailure) and is_transient(exc.output),
            lambda n, exc: self.echo(f"# transient registry error, retry {n + 1}: {exc}"))
        retrying(attempt)

    def list_entries(self, ref: str) -> list[ListEntry] | None:
        """Every entry of a published manifest list; None when `ref` is a single image."""
        def call(client: DockerClient) -> object:
            return client.buildx.imagetools.inspect(ref)

        command = self._announce(call, None)
        try:
            manifest = self._client.buildx.imagetools.inspect(ref)
        except DockerException as exc:
            raise DockerFailure(command, _stderr_of(exc)) from exc
        if manifest.manifests is None:
            return None
        return [ListEntry(platform=Platform(os=(e.platform.os if e.platform else "") or "",
                                            architecture=(e.platform.architecture
                                                          if e.platform else "") or "",
                                            variant=(e.platform.variant
                                                     if e.platform else "") or ""),
                          digest=e.digest or "") for e in manifest.manifests]

    def image_facts(self, ref: str, platform: Platform) -> ImageFacts:
        """Pull `ref` (pinned by digest) and read its config and files, running nothing."""
        self.echo(f"docker pull --quiet {ref}  # then inspect, create, export, rm")
        try:
            pulled_here = not self._client.image.exists(ref)
            self._client.image.pull(ref, quiet=True)
            image = self._client.image.inspect(ref)
            config = image.config
            # Created only to export its files and never started. No --platform: the engine
            # would refuse an image whose config names another arch, which is what we judge.
            container = self._client.container.create(ref, ["/xbuild-never-runs"],
                                                      networks=["none"])
        except DockerException as exc:
            raise DockerFailure(f"docker pull {ref}", _stderr_of(exc)) from exc
        try:
            with tempfile.TemporaryDirectory(prefix="xbuild-rootfs-") as tmp:
                archive = Path(tmp) / "rootfs.tar"
                self._client.container.export(container, archive)
                with tarfile.open(archive) as tar:
                    fs = Rootfs(tar)
                    env = dict(e.split("=", 1) for e in (config.env or []) if "=" in e)
                    binary, head = first_elf(fs, binary_candidates(
                        config.entrypoint, config.cmd, env.get("PATH", "/usr/bin:/bin")))
                    has_shell, has_dpkg = fs.is_file("/bin/sh"), fs.is_file(DPKG)
        finally:
            self._client.container.remove(container, force=True)
        return ImageFacts(platform=Platform(os=image.os or "", architecture=image.architecture
                                            or "", variant=image.variant or ""),
                          labels=dict(config.labels or {}), binary=binary, elf_head=head,
                          has_shell=has_shell, has_dpkg=has_dpkg, pulled_here=pulled_here)

    def remove_image(self, ref: str) -> None:
        self.echo(f"docker image rm {ref}")
        with contextlib.suppress(DockerException):  # already gone, or in use by another
            self._client.image.remove(ref, force=True)

    # --- containers and host -------------------------------------------------------------
    def run(self, image: str, command: Sequence[str], *, platform: Platform,
            entrypoint: str | None = None) -> RunOutput:
        """Run a throwaway container with no network; it is removed afterwards."""
        def call(client: DockerClient) -> object:
            return client.run(image, list(command), platform=str(platform), remove=True,
                              networks=["none"], pull="never", entrypoint=entrypoint)

        self._announce(call, None)
        try:
            output = call(self._client)
        except DockerException as exc:
            return RunOutput(exit_code=exc.return_code, output=_stderr_of(exc).strip())
        return RunOutput(exit_code=0, output=str(output).strip())

    def remote_exists(self, ref: str) -> bool:
        """Whether the registry has `ref`; False only when it says not found."""
        def call(client: DockerClient) -> object:
            return client.buildx.imagetools.inspect(ref)

        command = self._announce(call, None)
        try:
            call(self._client)
        except DockerException as exc:
            output = _stderr_of(exc)
            if "not found" in output.lower():
                return False
            raise DockerFailure(command, output) from exc
        return True

    def image_exists(self, ref: str) -> bool:
        return bool(self._client.image.exists(ref))

    def server_version(self) -> str:
        try:
            return str(self._client.version().server.version)  # type: ignore[union-attr]
        except DockerException as exc:
            raise EnvironmentProblem(
                "cannot reach the Docker engine: " + _first_line(_stderr_of(exc))
                + " (start it, e.g. `bash ci/host-setup.sh`)") from exc

    def buildx_version(self) -> str:
        try:
            return str(self._client.buildx.version()).split()[1]
        except DockerException as exc:
            raise EnvironmentProblem("docker buildx is missing or broken: "
                                     + _first_line(_stderr_of(exc))) from exc

    def builder_driver(self) -> str:
        try:
            return str(self._client.buildx.inspect().driver)
        except DockerException as exc:
            raise EnvironmentProblem("no buildx builder: " + _first_line(_stderr_of(exc))) from exc

    def logged_in_registries(self) -> list[str]:
        """Registries the Docker CLI holds credentials for (names only, never secrets)."""
        config = Path.home() / ".docker" / "config.json"
        try:
            data: dict[str, Any] = json.loads(config.read_text())
        except (OSError, ValueError):
            return []
        return sorted({*data.get("auths", {}), *data.get("credHelpers", {})})


def _first_line(text: str) -> str:
    return next((ln for ln in text.splitlines() if ln.strip()), text).strip()


def _digest_from(metadata: Path, request: BuildRequest) -> str:
    data = json.loads(metadata.read_text())
    key = "containerimage.digest" if request.push else "containerimage.config.digest"
    return str(data.get(key) or data["containerimage.digest"])


