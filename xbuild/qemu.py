"""Can this host run containers of each arch? binfmt_misc handlers, and a real run to prove it.

A handler that binfmt tools report as registered is not enough (some report success and
leave nothing working), so every check ends by running `arch` in a container of that arch.
"""

from __future__ import annotations

import platform as host_platform
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from xbuild.docker import Docker
from xbuild.errors import EnvironmentProblem
from xbuild.platforms import Arch, arch_for_uname, sort_key
from xbuild.probe import ensure_probe

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


@dataclass(frozen=True, slots=True, kw_only=True)
class Handler:
    name: str
    enabled: bool
    interpreter: str
    flags: str

    @property
    def fix_binary(self) -> bool:
        """F: the kernel opens the interpreter at registration, so it works in containers."""
        return "F" in self.flags


def parse_handler(name: str, text: str) -> Handler:
    fields = dict(line.split(" ", 1) for line in text.splitlines() if " " in line)
    return Handler(name=name, enabled=text.startswith("enabled"),
                   interpreter=fields.get("interpreter", ""), flags=fields.get("flags:", ""))


def read_handler(arch: Arch, root: Path = BINFMT_DIR) -> Handler | None:
    try:
        return parse_handler(arch.qemu, (root / arch.qemu).read_text())
    except OSError:
        return None


def host_arch() -> Arch | None:
    return arch_for_uname(host_platform.machine())


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchStatus:
    arch: Arch
    native: bool
    handler: Handler | None
    answer: str = ""  # what `arch` printed in a container of this arch
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def _handler_problem(arch: Arch, handler: Handler | None) -> str:
    if handler is None:
        return f"no binfmt_misc handler {arch.qemu}"
    if not handler.enabled:
        return f"binfmt_misc handler {arch.qemu} is disabled"
    if not handler.fix_binary:
        return f"binfmt_misc handler {arch.qemu} lacks the F flag (flags: {handler.flags!r})"
    return ""


def judge_answer(arch: Arch, answer: str) -> str:
    """Why a probe's `arch` answer does not prove `arch`, or '' when it does."""
    if answer in arch.uname or answer in arch.uname_on_wider_kernel:
        return ""
    return f"a {arch} container answered {answer!r} (expected {' or '.join(arch.uname)})"


def check(arches: Iterable[Arch], docker: Docker, cache: Path) -> list[ArchStatus]:
    native = host_arch()
    statuses = []
    for arch in sorted(set(arches), key=sort_key):
        handler = read_handler(arch)
        if arch == native:  # needs no QEMU, and no probe image to prove it
            statuses.append(ArchStatus(arch=arch, native=True, handler=handler))
            continue
        problem, answer = _handler_problem(arch, handler), ""
        if not problem:
            probe = docker.run(ensure_probe(arch, docker, cache), ["/bin/busybox", "arch"],
                               platform=arch.platform)
            answer = probe.output.strip()
            problem = (judge_answer(arch, answer) if probe.exit_code == 0
                       else f"a {arch} container does not run: {probe.output or probe.exit_code}")
        statuses.append(ArchStatus(arch=arch, native=False, handler=handler, answer=answer,
                                   problem=problem))
    return statuses


def require(statuses: Sequence[ArchStatus]) -> None:
    bad = [s for s in statuses if not s.ok]
    if bad:
        raise EnvironmentProblem("cannot run " + "; ".join(f"{s.arch}: {s.problem}" for s in bad)
                                 + " (try `xbuild qemu --install`)")


def install(arches: Iterable[Arch], root: Path = BINFMT_DIR) -> list[str]:
    """Register the host's qemu-user-static handlers that are missing; returns what it did."""
    done = []
    if not (root / "register").exists():
        _run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(root)], "mount binfmt_misc")
        done.append(f"mounted binfmt_misc on {root}")
    if shutil.which("update-binfmts") is None:
        raise EnvironmentProblem("update-binfmts is missing: install Debian's qemu-user-static "
                                 "and binfmt-support (ci/host-setup.sh does)")
    native = host_arch()
    for arch in sorted(set(arches) - {native}, key=sort_key):
        if read_handler(arch, root) is None:
            _run(["update-binfmts", "--import", arch.qemu], f"register {arch.qemu}")
            done.append(f"registered {arch.qemu}")
    return done


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise EnvironmentProblem(f"cannot {what}: {result.stderr.strip() or result.returncode}"
                                 " (run as root)")
