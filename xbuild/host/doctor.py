"""`xbuild doctor`: what this host can do, as rows of (check, ok, detail)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xbuild.core.emulation import execution_text
from xbuild.core.errors import XbuildError
from xbuild.core.matrix import Matrix
from xbuild.core.nodes import Node, NodeMap, emulated
from xbuild.core.platforms import Arch
from xbuild.core.refs import registry_of
from xbuild.host import qemu
from xbuild.host.cmd import Shell

if TYPE_CHECKING:
    from xbuild.engine.docker import Docker

Row = tuple[str, bool, str]  # what, ok, detail


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


def diagnose(matrix: Matrix, namespace: str, nodes: NodeMap, engine: Callable[[str], Docker],
             shell: Shell, *, cache: Path) -> list[Row]:
    """Per node: its engine, buildx and driver, what it runs natively, what it builds (and
    which of those under emulation), and a probe per arch on that node; then the registry."""
    rows: list[Row] = []
    for node in nodes.nodes(matrix.all_arches):
        rows += node_rows(node, nodes.arches_on(node, matrix.all_arches), engine, shell,
                          cache=cache)
    host = registry_of(namespace)
    answer = registry_answer(host)
    rows.append((f"registry {host}", answer.startswith("reachable"), answer))
    logged_in = host in logged_in_registries()
    rows.append((f"login {host}", True, "credentials in the Docker CLI store" if logged_in
                 else "not logged in (`docker login` if pushing needs it)"))
    return rows


def node_rows(node: Node, arches: tuple[Arch, ...], engine: Callable[[str], Docker],
              shell: Shell, *, cache: Path) -> list[Row]:
    """The node's engine and what it builds, each arch as its probe found it: native, native
    32-bit (AArch32 at EL0 on an arm64 CPU) or emulated; then a row per probe."""
    try:
        docker = engine(node.name)
        facts = (f"engine {docker.server_version()}, buildx {docker.buildx_version()}, "
                 f"driver {docker.builder_driver()}")
        native = docker.native_platforms()
    except XbuildError as exc:
        return [(f"node {node}", False, str(exc).splitlines()[0])]
    probes: list[Row] = []
    how = {a: " (emulated)" if emulated(a, native) else "" for a in arches}  # until probed
    try:
        for status in qemu.check_node(node.name, arches, docker, native=native,
                                      cache=cache, shell=shell):
            detail = ("native" if status.native
                      else f"answers {status.answer!r}; {execution_text(status)}")
            probes.append((f"qemu {status.arch} on {node}", status.ok, status.problem or detail))
            if status.ok and not status.native:
                how[status.arch] = f" {execution_text(status)}"
    except XbuildError as exc:
        probes.append((f"qemu on {node}", False, str(exc)))
    builds = ", ".join(f"{a}{how[a]}" for a in arches)
    return [(f"node {node}", True, f"{facts}; runs {', '.join(map(str, native)) or '?'}; "
                                   f"builds {builds}"), *probes]
