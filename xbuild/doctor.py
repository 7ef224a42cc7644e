"""`xbuild doctor` and `xbuild qemu`: what this host can do, as tables."""

from __future__ import annotations

import urllib.error
import urllib.request

from rich.table import Table

from xbuild import qemu
from xbuild.docker import Docker
from xbuild.errors import XbuildError
from xbuild.matrix import Matrix
from xbuild.probe import cache_dir
from xbuild.refs import Reference

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


def diagnose(matrix: Matrix, namespace: str, docker: Docker) -> list[Row]:
    rows: list[Row] = []
    try:
        rows.append(("engine", True, docker.server_version()))
        rows.append(("buildx", True, f"{docker.buildx_version()}, driver "
                                     f"{docker.builder_driver()}"))
    except XbuildError as exc:
        rows.append(("engine", False, str(exc).splitlines()[0]))
        return rows
    arches = matrix.all_arches
    try:
        for status in qemu.check(arches, docker, cache_dir()):
            detail = "native" if status.native else f"answers {status.answer!r}"
            rows.append((f"qemu {status.arch}", status.ok, status.problem or detail))
    except XbuildError as exc:
        rows.append(("qemu", False, str(exc)))
    host = Reference(repository=f"{namespace}/x").registry
    answer = registry_answer(host)
    rows.append((f"registry {host}", answer.startswith("reachable"), answer))
    logged_in = host in docker.logged_in_registries()
    rows.append((f"login {host}", True, "credentials in the Docker CLI store" if logged_in
                 else "not logged in (`docker login` if pushing needs it)"))
    return rows


def doctor_table(rows: list[Row]) -> Table:
    table = Table(title="xbuild doctor", title_justify="left")
    for column in ("check", "", "detail"):
        table.add_column(column)
    for what, ok, detail in rows:
        table.add_row(what, "✓" if ok else "✗", detail, style=None if ok else "red")
    return table


def qemu_table(statuses: list[qemu.ArchStatus]) -> Table:
    table = Table(title="QEMU per architecture", title_justify="left")
    for column in ("arch", "platform", "binfmt handler", "flags", "`arch` answers", ""):
        table.add_column(column)
    for s in statuses:
        handler = "native" if s.native else (s.handler.interpreter if s.handler else "missing")
        flags = s.handler.flags if s.handler and not s.native else ""
        table.add_row(s.arch.name, str(s.arch.platform), handler, flags, s.answer,
                      "✓" if s.ok else f"✗ {s.problem}", style=None if s.ok else "red")
    return table
