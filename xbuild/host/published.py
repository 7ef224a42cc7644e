"""What a registry serves under a tag now, read without pulling: in process over the registry's
HTTP API when an anonymous read will do (distribution.py), else through skopeo, run by the one
command runner with the Docker CLI's credentials (~/.docker/config.json, credential helpers).

A tag that does not exist is None. Transient faults (5xx, 429, a dropped connection) are
retried; a refusal names the registry and `docker login` and is not retried.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from xbuild.core.answers import Published
from xbuild.core.errors import CommandFailed, RegistryError
from xbuild.core.refs import Reference
from xbuild.engine.retry import RetryPolicy, failed_transiently
from xbuild.host.cmd import Shell
from xbuild.host.registry_http import NeedsCredentials, RegistryHttp, Transient, interpret

_ABSENT = ("manifest unknown", "name unknown", "not found", "no such manifest")
_REFUSED = ("unauthorized", "authentication required", "denied", "requested access")
DAEMON_CONFIG = Path("/etc/docker/daemon.json")


def insecure(registry: str, daemon_config: Path = DAEMON_CONFIG) -> bool:
    """Whether the engine talks plain http to `registry`: loopback (as dockerd does) or one of
    its insecure-registries."""
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    if host == "localhost" or host.startswith("127."):
        return True
    try:
        listed = json.loads(daemon_config.read_text()).get("insecure-registries", [])
    except (OSError, ValueError, AttributeError, RecursionError):
        return False
    return registry in listed


class TagReader(Protocol):
    def read_all(self, refs: Iterable[Reference], jobs: int = 8
                 ) -> tuple[dict[str, Published | None], dict[str, RegistryError]]: ...


class PublishedReader:
    """Reads tags. `shell` runs skopeo; `retry` decides how transient faults are retried;
    `native` (None: always skopeo) makes the anonymous reads."""

    def __init__(self, shell: Shell, retry: RetryPolicy | None = None,
                 native: RegistryHttp | None = None) -> None:
        self.shell, self.retry = shell, retry or RetryPolicy()
        self.native = native if native is not None else RegistryHttp(insecure=insecure,
                                                                     echo=shell.echo)

    def read(self, ref: Reference) -> Published | None:
        try:
            retrying = self.retry.retrying(lambda exc: isinstance(exc, Transient),
                                           lambda _n, _exc: None)
            return retrying(self.native.read, ref)
        except NeedsCredentials:
            return self._read_through_skopeo(ref)

    def _read_through_skopeo(self, ref: Reference) -> Published | None:
        raw = self._skopeo(ref, "--raw")
        if raw is None:
            return None
        body = raw.encode()
        return interpret(ref, body, "sha256:" + hashlib.sha256(body).hexdigest(),
                         lambda _digest: self._config_through_skopeo(ref))

    def _config_through_skopeo(self, ref: Reference) -> bytes | None:
        config = self._skopeo(ref, "--config", "--raw")
        return None if config is None else config.encode()

    def read_all(self, refs: Iterable[Reference],
                 jobs: int = 8) -> tuple[dict[str, Published | None], dict[str, RegistryError]]:
        """Each ref's answer, read in parallel and keyed by str(ref); and the refs that could
        not be read, with why."""
        unique = list(dict.fromkeys(refs))
        if not unique:
            return {}, {}
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="xbuild-read") as pool:
            outcomes = list(pool.map(self._try, unique))
        answers = {str(r): o for r, o in zip(unique, outcomes, strict=True)
                   if not isinstance(o, RegistryError)}
        failures = {str(r): o for r, o in zip(unique, outcomes, strict=True)
                    if isinstance(o, RegistryError)}
        return answers, failures

    def _try(self, ref: Reference) -> Published | RegistryError | None:
        try:
            return self.read(ref)
        except RegistryError as exc:
            return exc

    def _skopeo(self, ref: Reference, *flags: str) -> str | None:
        argv = ["skopeo", "inspect", *flags, "--no-tags"]
        if insecure(ref.registry):
            argv.append("--tls-verify=false")
        argv.append(f"docker://{ref}")

        def attempt() -> str:
            return self.shell.run(argv, timeout=120, reads_only=True).stdout

        retrying = self.retry.retrying(
            failed_transiently,
            lambda _n, _exc: None)
        try:
            return str(retrying(attempt))
        except CommandFailed as exc:
            said = exc.output.lower()
            if any(word in said for word in _ABSENT):
                return None
            if any(word in said for word in _REFUSED):
                raise RegistryError(f"{ref.registry} refused to show {ref}: log in with "
                                    f"`docker login {ref.registry}`") from None
            raise RegistryError(f"cannot read {ref}: {exc}") from None
