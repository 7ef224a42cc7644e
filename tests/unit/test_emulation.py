"""Emulation: binfmt_misc handlers, probe answers, and the verdict (core/emulation.py)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

from tests.unit.fakes import FakeDocker, FakeImage, RecordingShell, arch
from xbuild.core.emulation import (
    ArchStatus,
    Execution,
    Handler,
    builds_slowly,
    execution_text,
    handler_problem,
    judge_answer,
    judge_execution,
    node_line,
    parse_handler,
)
from xbuild.core.errors import EnvironmentProblem, ExitCode
from xbuild.core.platforms import ARCHES, Arch
from xbuild.engine.docker import Docker
from xbuild.host import qemu
from xbuild.host.cmd import Shell
from xbuild.host.probe import probe_ref
from xbuild.host.qemu import read_handler, require

AMD64, ARM32, ARM64, I386, ARM32V6 = (arch(n) for n in
                                      ("amd64", "arm32v7", "arm64v8", "i386", "arm32v6"))

AARCH64_HANDLER = (
    "enabled\n"
    "interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n"
    "flags: PF\n"
    "offset 0\n"
    "magic 7f454c460201010000000000000000000200b700\n"
    "mask ffffffffffffff00fffffffffffffffffeffffff\n"
)


def handler_text(*, enabled: bool = True, flags: str = "PF",
                 interpreter: str = "/usr/libexec/qemu-binfmt/aarch64-binfmt-P") -> str:
    return AARCH64_HANDLER.replace("enabled", "enabled" if enabled else "disabled").replace(
        "flags: PF", f"flags: {flags}").replace(
        "/usr/libexec/qemu-binfmt/aarch64-binfmt-P", interpreter)


def test_parse_a_real_handler() -> None:
    handler = parse_handler("qemu-aarch64", AARCH64_HANDLER)
    assert handler == Handler(name="qemu-aarch64", enabled=True,
                              interpreter="/usr/libexec/qemu-binfmt/aarch64-binfmt-P", flags="PF")
    assert handler.fix_binary


@pytest.mark.parametrize(("text", "enabled", "flags", "fix_binary"), [
    pytest.param(AARCH64_HANDLER, True, "PF", True, id="enabled-PF"),
    pytest.param(handler_text(enabled=False), False, "PF", True, id="disabled"),
    pytest.param(handler_text(flags="P"), True, "P", False, id="no-F"),
    pytest.param(handler_text(flags="OCF"), True, "OCF", True, id="OCF"),
    pytest.param(handler_text(flags=""), True, "", False, id="no-flags"),
    pytest.param("enabled\ninterpreter /usr/bin/qemu-aarch64-static\noffset 0\n", True, "",
                 False, id="flags-line-missing"),
])
def test_parse_handler(text: str, enabled: bool, flags: str, fix_binary: bool) -> None:
    handler = parse_handler("qemu-aarch64", text)
    assert (handler.enabled, handler.flags, handler.fix_binary) == (enabled, flags, fix_binary)


def test_parse_handler_static_interpreter() -> None:
    handler = parse_handler("qemu-arm", handler_text(interpreter="/usr/bin/qemu-arm-static",
                                                     flags="F"))
    assert handler.interpreter == "/usr/bin/qemu-arm-static"
    assert handler.name == "qemu-arm"


@pytest.mark.parametrize(("handler", "problem"), [
    pytest.param(parse_handler("qemu-aarch64", AARCH64_HANDLER), "", id="ok"),
    pytest.param(None, "no binfmt_misc handler qemu-aarch64", id="missing"),
    pytest.param(parse_handler("qemu-aarch64", handler_text(enabled=False)),
                 "binfmt_misc handler qemu-aarch64 is disabled", id="disabled"),
    pytest.param(parse_handler("qemu-aarch64", handler_text(flags="P")),
                 "binfmt_misc handler qemu-aarch64 lacks the F flag (flags: 'P')", id="no-F"),
])
def testhandler_problem(handler: Handler | None, problem: str) -> None:
    assert handler_problem(ARM64, handler) == problem


def test_a_disabled_handler_is_reported_as_disabled_even_without_F() -> None:
    handler = parse_handler("qemu-aarch64", handler_text(enabled=False, flags="P"))
    assert handler_problem(ARM64, handler) == "binfmt_misc handler qemu-aarch64 is disabled"


# --- reading handlers from a directory ---------------------------------------------------


def test_read_handler_from_a_root(tmp_path: Path) -> None:
    (tmp_path / "qemu-aarch64").write_text(AARCH64_HANDLER)
    (tmp_path / "qemu-arm").write_text(handler_text(enabled=False, flags="F"))
    aarch64 = read_handler(ARM64, tmp_path)
    assert aarch64 is not None and aarch64.enabled and aarch64.fix_binary
    arm = read_handler(ARM32, tmp_path)
    assert arm is not None and not arm.enabled and arm.name == "qemu-arm"
    assert read_handler(ARM32V6, tmp_path) == arm  # arm/v6 and arm/v7 share qemu-arm
    assert read_handler(arch("riscv64"), tmp_path) is None


def test_read_handler_of_a_missing_root(tmp_path: Path) -> None:
    assert read_handler(ARM64, tmp_path / "not-mounted") is None


def test_read_handler_of_an_unreadable_entry(tmp_path: Path) -> None:
    (tmp_path / "qemu-aarch64").mkdir()  # reading a directory is an OSError
    assert read_handler(ARM64, tmp_path) is None


# --- judging a probe's answer ------------------------------------------------------------


@pytest.mark.parametrize(("target_arch", "answer"), [
    pytest.param(AMD64, "x86_64", id="amd64-x86_64"),
    pytest.param(ARM64, "aarch64", id="arm64v8-aarch64"),
    pytest.param(ARM32, "armv7l", id="arm32v7-armv7l"),
    # A 32-bit arm userspace on a 64-bit kernel (platforms.py: uname_on_wider_kernel).
    pytest.param(ARM32, "armv8l", id="arm32v7-armv8l"),
    pytest.param(ARM32, "aarch64", id="arm32v7-aarch64"),
    pytest.param(ARM32V6, "armv7l", id="arm32v6-armv7l-qemu-default-cpu"),
    pytest.param(I386, "i686", id="i386-i686"),
    pytest.param(I386, "x86_64", id="i386-on-x86_64-kernel"),
    pytest.param(arch("s390x"), "s390x", id="s390x"),
])
def test_judge_answer_accepts(target_arch: Arch, answer: str) -> None:
    assert judge_answer(target_arch, answer) == ""


@pytest.mark.parametrize(("target_arch", "answer", "expected"), [
    pytest.param(AMD64, "aarch64", "a amd64 container answered 'aarch64' (expected x86_64)",
                 id="amd64-aarch64"),
    pytest.param(ARM64, "armv7l", "a arm64v8 container answered 'armv7l' (expected aarch64)",
                 id="arm64v8-armv7l"),
    pytest.param(ARM32, "x86_64", "a arm32v7 container answered 'x86_64' (expected armv7l)",
                 id="arm32v7-x86_64"),
    pytest.param(I386, "aarch64",
                 "a i386 container answered 'aarch64' (expected i686 or i586 or i486 or i386)",
                 id="i386-aarch64"),
    pytest.param(ARM64, "", "a arm64v8 container answered '' (expected aarch64)", id="empty"),
    pytest.param(ARM64, "aarch64\n", "a arm64v8 container answered 'aarch64\\n' "
                 "(expected aarch64)", id="unstripped"),
])
def test_judge_answer_rejects(target_arch: Arch, answer: str, expected: str) -> None:
    assert judge_answer(target_arch, answer) == expected


@pytest.mark.parametrize("target_arch", ARCHES, ids=lambda a: a.name)
def test_every_arch_accepts_its_own_uname(target_arch: Arch) -> None:
    for answer in (*target_arch.uname, *target_arch.uname_on_wider_kernel):
        assert judge_answer(target_arch, answer) == ""


# --- the verdict -------------------------------------------------------------------------


def status(a: Arch, problem: str = "", native: bool = False) -> ArchStatus:
    return ArchStatus(arch=a, native=native, handler=None, problem=problem)


def test_require_passes_when_every_arch_runs() -> None:
    require([status(AMD64, native=True), status(ARM64), status(ARM32)])
    require([])


def test_require_names_every_bad_arch() -> None:
    statuses = [status(AMD64, native=True),
                status(ARM64, "no binfmt_misc handler qemu-aarch64"),
                status(ARM32, "a arm32v7 container answered 'x86_64' (expected armv7l)")]
    with pytest.raises(EnvironmentProblem) as caught:
        require(statuses)
    message = str(caught.value)
    assert message == ("cannot run arm64v8: no binfmt_misc handler qemu-aarch64; "
                       "arm32v7: a arm32v7 container answered 'x86_64' (expected armv7l) "
                       "(try `xbuild qemu --install`)")
    assert "amd64" not in message
    assert caught.value.exit_code == ExitCode.ENVIRONMENT


@pytest.mark.parametrize(("problem", "ok"), [("", True), ("broken", False)],
                         ids=["no-problem", "problem"])
def test_arch_status_ok(problem: str, ok: bool) -> None:
    assert status(ARM64, problem).ok is ok


def test_native_arch_needs_no_probe_and_no_engine(tmp_path: Path) -> None:
    """Native builds must work on hosts that cannot make a probe image (no apt, no QEMU)."""
    native = qemu.host_arch()
    assert native is not None
    engine_that_must_not_be_used = cast(Docker, object())
    (status,) = qemu.check([native], engine_that_must_not_be_used, tmp_path, Shell())
    assert status.native
    assert status.ok
    assert status.answer == ""


# --- qemu.check over a fake engine --------------------------------------------------------


def probe_docker(answer: tuple[int, str]) -> FakeDocker:
    """An engine whose probe images already exist and answer `arch` with `answer`."""
    docker = FakeDocker()
    for a in (ARM32, ARM64):
        ref = str(probe_ref(a))
        docker.local.add(ref)
        docker.images[ref] = FakeImage(platform=a.platform, answers={"arch": answer})
    return docker


def binfmt_root(tmp_path: Path, **handlers: str) -> Path:
    for name, text in handlers.items():
        (tmp_path / name.replace("_", "-")).write_text(text)
    return tmp_path


def test_check_proves_a_foreign_arch_by_running_its_probe(tmp_path: Path) -> None:
    docker = probe_docker((0, "aarch64"))
    root = binfmt_root(tmp_path, qemu_aarch64=handler_text())
    (status,) = qemu.check([ARM64], docker, tmp_path, Shell(), root)
    assert (status.ok, status.native, status.answer) == (True, False, "aarch64")
    assert (status.execution, status.emulator) == (Execution.EMULATED,
                                                   "qemu-arm64 version 7.2.22")
    probe, marked = docker.runs
    assert (probe.image, probe.command) == ("xbuild-probe:busybox-arm64v8",
                                            ("/bin/busybox", "arch"))
    assert (marked.image, marked.command) == (
        "xbuild-probe:busybox-arm64v8",
        ("/bin/busybox", "env", "QEMU_VERSION=xbuild", "/bin/busybox", "arch"))
    assert probe.sandbox.capabilities == marked.sandbox.capabilities == ()


def test_check_without_a_handler_runs_nothing(tmp_path: Path) -> None:
    docker = probe_docker((0, "aarch64"))
    (status,) = qemu.check([ARM64], docker, tmp_path, Shell(), tmp_path)
    assert status.problem == "no binfmt_misc handler qemu-aarch64"
    assert docker.runs == []


@pytest.mark.parametrize(("answer", "problem"), [
    pytest.param((0, "x86_64"), "a arm64v8 container answered 'x86_64' (expected aarch64)",
                 id="wrong-arch"),
    pytest.param((126, "exec format error"),
                 "a arm64v8 container does not run: exec format error", id="does-not-run"),
])
def test_check_judges_the_probe_answer(tmp_path: Path, answer: tuple[int, str],
                                       problem: str) -> None:
    root = binfmt_root(tmp_path, qemu_aarch64=handler_text())
    (status,) = qemu.check([ARM64], probe_docker(answer), tmp_path, Shell(), root)
    assert status.problem == problem


def test_check_builds_a_missing_probe_from_the_cached_busybox(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    binary = cache / "busybox" / "arm64" / "busybox"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\x7fELF")
    docker = FakeDocker(images={"xbuild-probe:busybox-arm64v8": FakeImage(
        platform=ARM64.platform, answers={"arch": (0, "aarch64")})})
    root = binfmt_root(tmp_path, qemu_aarch64=handler_text())
    (status,) = qemu.check([ARM64], docker, cache, Shell(), root)
    assert status.ok
    (request,) = docker.requests
    assert (str(request.tag), request.push, request.platform) == (
        "xbuild-probe:busybox-arm64v8", False, ARM64.platform)


# --- how a foreign arch runs: on the CPU itself (AArch32), or emulated ----------------------

QEMU_ARM_BANNER = ("qemu-arm version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n"
                   "Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n")


@pytest.mark.parametrize(("target", "answer", "marked", "verdict"), [
    # What this amd64 host's qemu-arm printed for the armhf busybox with QEMU_VERSION set.
    pytest.param(ARM32, "armv7l", QEMU_ARM_BANNER,
                 (Execution.EMULATED, "qemu-arm version 7.2.22"), id="qemu-announces-itself"),
    # A CPU with AArch32 runs the busybox itself, which ignores QEMU_VERSION: the same answer.
    pytest.param(ARM32, "armv8l", "armv8l\n", (Execution.DIRECT, ""), id="aarch32-at-el0"),
    pytest.param(I386, "i686", "i686", (Execution.DIRECT, ""), id="i386-on-amd64"),
    pytest.param(ARM32, "armv8l", "", (Execution.UNKNOWN, ""), id="no-output"),
    pytest.param(ARM32, "armv8l", "armv7l", (Execution.UNKNOWN, ""), id="another-answer"),
    pytest.param(ARM32, "x86_64", "x86_64", (Execution.UNKNOWN, ""), id="not-this-arch"),
    pytest.param(ARM32, "armv7l", "qemu-arm 7.2", (Execution.UNKNOWN, ""), id="no-version"),
    pytest.param(ARM32, "armv7l", "qemu-arm version 7\x1b[2J.2 (x)",
                 (Execution.EMULATED, "qemu-arm version 7 [2J.2"), id="control-stripped"),
])
def test_judge_execution(target: Arch, answer: str, marked: str,
                         verdict: tuple[Execution, str]) -> None:
    assert judge_execution(target, answer, marked) == verdict


def ran(a: Arch, execution: Execution, emulator: str = "") -> ArchStatus:
    return ArchStatus(arch=a, native=execution is Execution.NATIVE, handler=None,
                      execution=execution, emulator=emulator)


def test_execution_text_slow_and_the_node_line() -> None:
    statuses = [ran(ARM64, Execution.NATIVE), ran(ARM32, Execution.DIRECT),
                ran(I386, Execution.DIRECT), ran(AMD64, Execution.EMULATED, "qemu-x86_64 x"),
                ran(ARM32V6, Execution.UNKNOWN)]
    assert [execution_text(s) for s in statuses] == [
        "native", "native (AArch32 at EL0)", "native (32-bit mode)",
        "emulated (qemu-x86_64 x)", "unknown"]
    assert [builds_slowly(s) for s in statuses] == [False, False, False, True, True]
    assert node_line("pi4", statuses[:2]) == ("node pi4: arm64v8 native, "
                                              "arm32v7 native (AArch32 at EL0)")


def arm64_node_docker(marked: tuple[int, str] | None) -> FakeDocker:
    """An arm64 engine whose arm32v7 probe answers armv8l (a 32-bit userspace on an arm64
    kernel) and, asked how it runs, `marked`."""
    docker = FakeDocker()
    docker.native = ARM64.platform
    ref = str(probe_ref(ARM32))
    docker.local.add(ref)
    answers = {"arch": (0, "armv8l")} if marked is None else {"arch": (0, "armv8l"),
                                                               "QEMU_VERSION": marked}
    docker.images[ref] = FakeImage(platform=ARM32.platform, answers=answers)
    return docker


def test_an_arm64_cpu_with_aarch32_needs_no_handler(tmp_path: Path) -> None:
    """Debian registers no qemu-arm handler on arm64 hosts: a missing one is no problem where
    the CPU runs arm32v7 itself, and the probe says it does."""
    docker = arm64_node_docker((0, "armv8l"))
    (status,) = qemu.check([ARM32], docker, tmp_path, Shell(), tmp_path, native=ARM64)
    assert (status.ok, status.execution, execution_text(status)) == (
        True, Execution.DIRECT, "native (AArch32 at EL0)")


def test_an_arm64_cpu_with_a_qemu_arm_handler_runs_arm32v7_emulated(tmp_path: Path) -> None:
    docker = arm64_node_docker((0, QEMU_ARM_BANNER))
    root = binfmt_root(tmp_path, qemu_arm=handler_text(
        interpreter="/usr/bin/qemu-arm-static", flags="F"))
    (status,) = qemu.check([ARM32], docker, tmp_path, Shell(), root, native=ARM64)
    assert (status.ok, status.execution, status.emulator) == (
        True, Execution.EMULATED, "qemu-arm version 7.2.22")


def test_an_arm64_cpu_without_aarch32_or_a_handler_cannot_run_arm32v7(tmp_path: Path) -> None:
    docker = arm64_node_docker(None)
    ref = str(probe_ref(ARM32))
    docker.images[ref] = FakeImage(platform=ARM32.platform,
                                   answers={"arch": (126, "exec format error")})
    (status,) = qemu.check([ARM32], docker, tmp_path, Shell(), tmp_path, native=ARM64)
    assert status.problem == (
        "a arm32v7 container does not run: exec format error (this CPU does not run arm32v7 "
        "itself, and no binfmt_misc handler qemu-arm is registered)")
    assert len(docker.runs) == 1  # no second run for what does not run at all


def test_install_leaves_alone_what_the_cpu_may_run_itself(tmp_path: Path) -> None:
    """On an arm64 host, Debian ships no qemu-arm handler; install does not try to import
    one (it would fail), it registers only what the CPU cannot run."""
    shell = RecordingShell()
    (tmp_path / "register").write_text("")
    done = qemu.install([ARM32, AMD64, ARM64], shell, tmp_path, native=ARM64)
    assert done == ["registered qemu-x86_64",
                    "left qemu-arm alone: this CPU may run arm32v7 itself"]
    assert shell.commands == [("update-binfmts", "--import", "qemu-x86_64")]


def test_the_qemu_grid_says_how_each_arch_runs() -> None:
    from xbuild.output.views import qemu_grid

    grid = qemu_grid([ran(ARM64, Execution.NATIVE), ran(ARM32, Execution.DIRECT)], "pi4")
    assert grid.headers[-2:] == ("runs", "")
    assert [row[0][-2:] for row in grid.rows] == [("native", "✓"),
                                                   ("native (AArch32 at EL0)", "✓")]
