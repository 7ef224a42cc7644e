"""`xbuild doctor`: what this host can do, as rows of (check, ok, detail)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

from xbuild.core.errors import XbuildError
from xbuild.core.matrix import Matrix
from xbuild.core.refs import registry_of
from xbuild.host import qemu
from xbuild.host.cmd import Shell
from xbuild.host.paths import cache_dir

Row = tuple[str, bool, str]  # what, ok, detail


class EngineFacts(qemu.ProbeRunner, Protocol):
    def server_version(self) -> str: ...
    def buildx_version(self) -> str: ...
    def builder_driver(self) -> str: ...


def registry_answer(host: str) -> str:
    """Reachability of a registry's /v2/ endpoint (401 means reachable, login needed)."""
    scheme = "http" if host.startswith(("127.", "localhost")) else "https"
    api = "registry-1.docker.io" if host == "docker.io" else host
    try:
        with urllib.request.urlopen(f"{scheme}://{api}/v2/", timeout=5) as response:
            return f"reachable ({response.status})"
    except urllib.error.HTTPError as exc:
        return f"reachable ({exc.code})" if exc.code == 401 else f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"unreachable: {getattr(exc, 'reason', exc)}"


def logged_in_registries(config: Path | None = None) -> list[str]:
    """Registries the Docker CLI holds credentials for (names only, never secrets)."""
    path = config or Path.home() / ".docker" / "config.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return sorted({*data.get("auths", {}), *data.get("credHelpers", {})})


def diagnose(matrix: Matrix, namespace: str, docker: EngineFacts, shell: Shell) -> list[Row]:
    rows: list[Row] = []
    try:
        rows.append(("engine", True, docker.server_version()))
        rows.append(("buildx", True, f"{docker.buildx_version()}, driver "
                                     f"{docker.builder_driver()}"))
    except XbuildError as exc:
        rows.append(("engine", False, str(exc).splitlines()[0]))
        return rows
    try:
        for status in qemu.check(matrix.all_arches, docker, cache_dir(), shell):
            detail = "native" if status.native else f"answers {status.answer!r}"
            rows.append((f"qemu {status.arch}", status.ok, status.problem or detail))
    except XbuildError as exc:
        rows.append(("qemu", False, str(exc)))
    host = registry_of(namespace)
    answer = registry_answer(host)
    rows.append((f"registry {host}", answer.startswith("reachable"), answer))
    logged_in = host in logged_in_registries()
    rows.append((f"login {host}", True, "credentials in the Docker CLI store" if logged_in
                 else "not logged in (`docker login` if pushing needs it)"))
    return rows
