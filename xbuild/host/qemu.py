"""Can this host run containers of each arch? binfmt_misc handlers, and a real run to prove it.

A handler that binfmt tools report as registered is not enough (some report success and
leave nothing working), so every check ends by running `arch` in a container of that arch.
"""

from __future__ import annotations

import platform as host_platform
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from xbuild.core.emulation import ArchStatus, Handler, handler_problem, judge_answer, parse_handler
from xbuild.core.errors import CommandFailed, EnvironmentProblem
from xbuild.core.nodes import DEFAULT
from xbuild.core.platforms import Arch, Platform, arch_for_platform, arch_for_uname, sort_key
from xbuild.core.smoke import PROBE
from xbuild.host.cmd import Shell
from xbuild.host.probe import ensure_probe

if TYPE_CHECKING:
    from xbuild.engine.docker import Docker

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


def read_handler(arch: Arch, root: Path = BINFMT_DIR) -> Handler | None:
    try:
        return parse_handler(arch.qemu, (root / arch.qemu).read_text())
    except OSError:
        return None


def host_arch() -> Arch | None:
    return arch_for_uname(host_platform.machine())


HOST = host_arch()


def check(arches: Iterable[Arch], docker: Docker, cache: Path, shell: Shell,
          root: Path = BINFMT_DIR, *, native: Arch | None = HOST,
          handlers: bool = True) -> list[ArchStatus]:
    """Per arch: native, or a handler with the F flag and a probe container that runs.

    `native`: the arch the engine's CPU runs (this host's by default). `handlers`: read this
    host's binfmt_misc handlers first (only where the engine runs on this host's kernel;
    elsewhere the probe alone proves it).
    """
    def status(arch: Arch) -> ArchStatus:
        handler = read_handler(arch, root) if handlers else None
        if arch == native:  # needs no QEMU, and no probe image to prove it
            return ArchStatus(arch=arch, native=True, handler=handler)
        problem, answer = handler_problem(arch, handler) if handlers else "", ""
        if not problem:
            answer, problem = _probe(arch, docker, cache, shell)
        return ArchStatus(arch=arch, native=False, handler=handler, answer=answer,
                          problem=problem)

    ordered = sorted(set(arches), key=sort_key)
    # The probes wait on container start-up, not on the CPU: run them side by side.
    with ThreadPoolExecutor(max_workers=max(len(ordered), 1),
                            thread_name_prefix="xbuild-probe") as pool:
        return list(pool.map(status, ordered))


def check_node(node: str, arches: Iterable[Arch], docker: Docker, *,
               native: Sequence[Platform], cache: Path, shell: Shell) -> list[ArchStatus]:
    """`check` on a node whose CPU runs `native`: its own arch needs no probe, and this host's
    binfmt handlers are read only for the default node (its engine runs on this kernel)."""
    own = next((a for p in native if (a := arch_for_platform(p))), None)
    return check(arches, docker, cache, shell, native=own, handlers=node == DEFAULT)


def _probe(arch: Arch, docker: Docker, cache: Path, shell: Shell) -> tuple[str, str]:
    """What `arch` answers in a probe container on `docker`'s engine, and what is wrong."""
    probe = docker.run(ensure_probe(arch, docker, cache, shell), ["/bin/busybox", "arch"],
                       platform=arch.platform, sandbox=PROBE)
    answer = probe.output.strip()
    problem = (judge_answer(arch, answer) if probe.exit_code == 0
               else f"a {arch} container does not run: {probe.output or probe.exit_code}")
    return answer, problem


def require(statuses: Sequence[ArchStatus], node: str = "") -> None:
    bad = [s for s in statuses if not s.ok]
    if bad:
        where = f" on node {node}" if node else ""
        raise EnvironmentProblem(f"cannot run{where} "
                                 + "; ".join(f"{s.arch}: {s.problem}" for s in bad)
                                 + " (try `xbuild qemu --install`)")


def install(arches: Iterable[Arch], shell: Shell, root: Path = BINFMT_DIR) -> list[str]:
    """Register the host's qemu-user-static handlers that are missing; returns what it did."""
    done = []
    if not (root / "register").exists():
        _run(shell, ["mount", "-t", "binfmt_misc", "binfmt_misc", str(root)], "mount binfmt_misc")
        done.append(f"mounted binfmt_misc on {root}")
    if shutil.which("update-binfmts") is None:
        raise EnvironmentProblem("update-binfmts is missing: install Debian's qemu-user-static "
                                 "and binfmt-support (ci/host-setup.sh does)")
    native = host_arch()
    for arch in sorted(set(arches) - {native}, key=sort_key):
        if read_handler(arch, root) is None:
            _run(shell, ["update-binfmts", "--import", arch.qemu], f"register {arch.qemu}")
            done.append(f"registered {arch.qemu}")
    return done


def _run(shell: Shell, argv: list[str], what: str) -> None:
    try:
        shell.run(argv, timeout=60)
    except CommandFailed as exc:
        raise EnvironmentProblem(f"cannot {what}: {exc} (run as root)") from None
