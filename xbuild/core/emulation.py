"""Emulation, judged from what the host says: binfmt_misc handlers, `arch` answers, and whether
a foreign arch ran on the CPU itself or through an emulator. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from xbuild.core.platforms import Arch
from xbuild.core.text import printable


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


class Execution(Enum):
    """How containers of an arch run on a node."""

    NATIVE = "native"  # the node's own arch
    DIRECT = "direct"  # another arch the CPU itself runs (e.g. AArch32 on an arm64 CPU)
    EMULATED = "emulated"  # through a binfmt_misc interpreter (QEMU)
    UNKNOWN = "unknown"  # not probed, or the probe could not tell


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchStatus:
    arch: Arch
    native: bool
    handler: Handler | None
    answer: str = ""  # what `arch` printed in a container of this arch
    problem: str = ""
    execution: Execution = Execution.UNKNOWN  # NATIVE when `native`
    emulator: str = ""  # the emulator's version line when EMULATED

    @property
    def ok(self) -> bool:
        return not self.problem


def handler_problem(arch: Arch, handler: Handler | None) -> str:
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


# --- how a foreign arch runs: directly on the CPU, or through a binfmt_misc interpreter ------

# Arches a CPU may run directly, without QEMU: a 64-bit CPU's 32-bit mode. Whether it does is a
# property of the CPU (AArch32 at EL0 is optional from Armv8: Apple M-series, Graviton 4 and
# Neoverse N2 lack it) and of the kernel (CONFIG_COMPAT, 4K pages), so the probe decides.
DIRECT_RUNS: dict[str, tuple[str, ...]] = {"arm64v8": ("arm32v7", "arm32v6"), "amd64": ("i386",)}
# Set in the probe's environment: QEMU user mode then prints its version and exits instead of
# running the program, while the CPU running the program itself ignores it. Debian's
# `arch-test -n` tells native from emulated the same way.
EMULATOR_MARKER = ("QEMU_VERSION", "xbuild")


def may_run_directly(arch: Arch, cpu: Arch | None) -> bool:
    """Whether a CPU of arch `cpu` might run `arch` without an emulator."""
    return cpu is not None and arch.name in DIRECT_RUNS.get(cpu.name, ())


def judge_execution(arch: Arch, answer: str, marked: str) -> tuple[Execution, str]:
    """How `arch` ran, from the probe's `arch` answer and the output of the same probe run with
    EMULATOR_MARKER set: (verdict, the emulator's own first line when emulated)."""
    first = marked.strip().splitlines()[0] if marked.strip() else ""
    if first.startswith("qemu-") and " version " in first:
        return Execution.EMULATED, printable(" ".join(first.split()[:3]), 80)
    if first and first == answer and not judge_answer(arch, answer):
        return Execution.DIRECT, ""
    return Execution.UNKNOWN, ""


def execution_text(status: ArchStatus) -> str:
    """What a person reads: `native`, `native (AArch32 at EL0)`, `emulated (qemu-arm ...)`."""
    if status.execution is Execution.DIRECT:
        mode = "AArch32 at EL0" if status.arch.elf.machine == 40 else "32-bit mode"
        return f"native ({mode})"
    if status.execution is Execution.EMULATED:
        return f"emulated ({status.emulator})" if status.emulator else "emulated"
    return str(status.execution.value)


def builds_slowly(status: ArchStatus) -> bool:
    """Whether builds of this arch on its node run under emulation (or may: not probed)."""
    return status.execution not in (Execution.NATIVE, Execution.DIRECT)


def node_line(node: str, statuses: Iterable[ArchStatus]) -> str:
    """One line per node for the summary and the timeline."""
    return f"node {node}: " + ", ".join(f"{s.arch} {execution_text(s)}" for s in statuses)
