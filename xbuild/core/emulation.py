"""Emulation, judged from what the host says: binfmt_misc handlers and `arch` answers. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from xbuild.core.platforms import Arch


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
