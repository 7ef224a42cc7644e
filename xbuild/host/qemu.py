"""Can this host run containers of each arch? binfmt_misc handlers, and a real run to prove it.

A handler that binfmt tools report as registered is not enough (some report success and
leave nothing working), so every check ends by running `arch` in a container of that arch.
"""

from __future__ import annotations

import platform as host_platform
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from xbuild.core.emulation import (
    EMULATOR_MARKER,
    ArchStatus,
    Execution,
    Handler,
    handler_problem,
    judge_answer,
    judge_execution,
    may_run_directly,
    parse_handler,
)
from xbuild.core.errors import CommandFailed, EnvironmentProblem
from xbuild.core.nodes import DEFAULT
from xbuild.core.platforms import Arch, Platform, arch_for_platform, arch_for_uname, sort_key
from xbuild.core.smoke import PROBE
from xbuild.host.cmd import Shell
from xbuild.host.probe import ensure_probe, probe_ref

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
    """Per arch: native, or a probe container that runs (through a handler with the F flag,
    or on the CPU itself), and how it ran: directly or emulated.

    `native`: the arch the engine's CPU runs (this host's by default). `handlers`: read this
    host's binfmt_misc handlers first (only where the engine runs on this host's kernel;
    elsewhere the probe alone proves it).
    """
    def status(arch: Arch) -> ArchStatus:
        handler = read_handler(arch, root) if handlers else None
        if arch == native:  # needs no QEMU, and no probe image to prove it
            return ArchStatus(arch=arch, native=True, handler=handler,
                              execution=Execution.NATIVE)
        return _foreign(arch, handler, docker, cache, shell,
                        handlers=handlers, direct=may_run_directly(arch, native))

    ordered = sorted(set(arches), key=sort_key)
    # The probes wait on container start-up, not on the CPU: run them side by side.
    with ThreadPoolExecutor(max_workers=max(len(ordered), 1),
                            thread_name_prefix="xbuild-probe") as pool:
        return list(pool.map(status, ordered))


def _foreign(arch: Arch, handler: Handler | None, docker: Docker, cache: Path,
             shell: Shell, *, handlers: bool, direct: bool) -> ArchStatus:
    """A foreign arch: its handler (none needed where the CPU may run it itself), a probe, and
    how the probe ran."""
    def verdict(answer: str = "", problem: str = "") -> ArchStatus:
        return ArchStatus(arch=arch, native=False, handler=handler, answer=answer,
                          problem=problem)

    needs_handler = handlers and not (direct and handler is None)
    if needs_handler and (problem := handler_problem(arch, handler)):
        return verdict(problem=problem)
    answer, problem = _probe(arch, docker, cache, shell)
    if problem:
        if direct and handler is None and handlers:
            problem += (f" (this CPU does not run {arch} itself, and no binfmt_misc handler "
                        f"{arch.qemu} is registered)")
        return verdict(answer, problem)
    execution, emulator = _how_it_ran(arch, answer, docker)
    return replace(verdict(answer), execution=execution, emulator=emulator)


def _how_it_ran(arch: Arch, answer: str, docker: Docker) -> tuple[Execution, str]:
    """The probe again, with EMULATOR_MARKER in its environment: QEMU then announces itself
    instead of running it, a CPU that runs it itself answers as before (core/emulation.py)."""
    name, value = EMULATOR_MARKER
    marked = docker.run(probe_ref(arch), ["/bin/busybox", "env", f"{name}={value}",
                                          "/bin/busybox", "arch"],
                        platform=arch.platform, sandbox=PROBE)
    if marked.exit_code != 0:
        return Execution.UNKNOWN, ""
    return judge_execution(arch, answer, marked.output)


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


def install(arches: Iterable[Arch], shell: Shell, root: Path = BINFMT_DIR, *,
            native: Arch | None = HOST) -> list[str]:
    """Register the host's qemu-user-static handlers that are missing; returns what it did.
    An arch this CPU may run itself (arm32v7 on arm64) is left alone: Debian ships no handler
    for it there, and the probe tells whether the CPU does (ci/host-setup.sh registers
    qemu-arm by hand where it does not)."""
    done = []
    if not (root / "register").exists():
        _run(shell, ["mount", "-t", "binfmt_misc", "binfmt_misc", str(root)], "mount binfmt_misc")
        done.append(f"mounted binfmt_misc on {root}")
    if shutil.which("update-binfmts") is None:
        raise EnvironmentProblem("update-binfmts is missing: install Debian's qemu-user-static "
                                 "and binfmt-support (ci/host-setup.sh does)")
    for arch in sorted(set(arches) - {native}, key=sort_key):
        if may_run_directly(arch, native):
            done.append(f"left {arch.qemu} alone: this CPU may run {arch} itself")
        elif read_handler(arch, root) is None:
            _run(shell, ["update-binfmts", "--import", arch.qemu], f"register {arch.qemu}")
            done.append(f"registered {arch.qemu}")
    return done


def _run(shell: Shell, argv: list[str], what: str) -> None:
    try:
        shell.run(argv, timeout=60)
    except CommandFailed as exc:
        raise EnvironmentProblem(f"cannot {what}: {exc} (run as root)") from None
