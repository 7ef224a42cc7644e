"""The host tools xbuild drives itself: Debian's busybox-static probe binaries and the
`xbuild registry` commands over Debian's docker-registry.

They need apt (with the arm64 and armhf architectures added), docker-registry and the engine.
Nothing is skipped when something is missing: the tests fail, as they must under CI=true.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.integration.conftest import BUSYBOX_NAMES, free_port
from tests.support.run import Cli, docker, xbuild
from xbuild.core.errors import EnvironmentProblem
from xbuild.core.platforms import arch_named
from xbuild.host.cmd import Shell
from xbuild.host.local_registry import LocalRegistry
from xbuild.host.probe import busybox_binary

pytestmark = pytest.mark.integration

# ELF e_machine per xbuild arch: x86-64, AArch64, ARM.
ELF_MACHINES = {"amd64": 62, "arm64v8": 183, "arm32v7": 40}
PT_INTERP = 3  # a program header naming the dynamic loader: only dynamic binaries have it


class ElfFacts(NamedTuple):
    bits: int
    little_endian: bool
    machine: int
    has_interpreter: bool


def elf_facts(binary: Path) -> ElfFacts:
    """The ELF header's class, byte order and e_machine, and whether it asks for a loader."""
    data = binary.read_bytes()
    assert data[:4] == b"\x7fELF", f"{binary} is not an ELF file"
    bits = {1: 32, 2: 64}[data[4]]
    order = {1: "<", 2: ">"}[data[5]]
    (machine,) = struct.unpack_from(f"{order}H", data, 18)
    if bits == 64:
        (phoff,) = struct.unpack_from(f"{order}Q", data, 32)
        phentsize, phnum = struct.unpack_from(f"{order}HH", data, 54)
    else:
        (phoff,) = struct.unpack_from(f"{order}I", data, 28)
        phentsize, phnum = struct.unpack_from(f"{order}HH", data, 42)
    types = [struct.unpack_from(f"{order}I", data, phoff + i * phentsize)[0]
             for i in range(phnum)]
    return ElfFacts(bits=bits, little_endian=order == "<", machine=machine,
                    has_interpreter=PT_INTERP in types)


# -- xbuild.host.probe.busybox_binary -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ELF_MACHINES))
def test_busybox_binary_is_a_static_binary_of_its_arch(busybox: dict[str, Path],
                                                       name: str) -> None:
    arch = arch_named(name)
    assert arch is not None
    suffix = next(s for s, n in BUSYBOX_NAMES.items() if n == name)
    binary = busybox[suffix]
    assert binary.parts[-3:] == ("busybox", arch.debian, "busybox")
    facts = elf_facts(binary)
    assert facts.machine == ELF_MACHINES[name]
    assert (facts.bits, facts.little_endian, facts.machine) == (
        arch.elf.bits, arch.elf.little_endian, arch.elf.machine)
    assert not facts.has_interpreter, f"{binary} is dynamically linked"


def test_busybox_binary_second_call_reuses_the_cache_without_apt(
        busybox: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_subprocess(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"busybox_binary ran {args} although the binary is cached")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    monkeypatch.setenv("PATH", "/nonexistent")  # no apt-get, no dpkg-deb to be found
    for suffix, name in BUSYBOX_NAMES.items():
        arch = arch_named(name)
        assert arch is not None
        cached = busybox[suffix]
        cache = cached.parents[2]  # <cache>/busybox/<debian arch>/busybox
        before = cached.stat().st_mtime_ns
        assert busybox_binary(arch, cache, Shell()) == cached
        assert cached.stat().st_mtime_ns == before


def test_busybox_binary_for_an_arch_apt_does_not_know_names_it(tmp_path: Path) -> None:
    arch = arch_named("s390x")
    assert arch is not None
    foreign = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True,
                             text=True, check=True).stdout.split()
    assert "s390x" not in foreign, "this host has s390x added: pick another arch for this test"
    with pytest.raises(EnvironmentProblem) as raised:
        busybox_binary(arch, tmp_path / "cache", Shell())
    message = str(raised.value)
    assert "no probe for s390x" in message
    assert "busybox-static:s390x" in message
    assert "is the s390x architecture added with dpkg?" in message
    assert not (tmp_path / "cache" / "busybox" / "s390x" / "busybox").exists()


# -- `xbuild registry` -----------------------------------------------------------------------


class RegistryCli(NamedTuple):
    port: int
    cache: Path  # XDG_CACHE_HOME of every command

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def home(self) -> Path:
        return self.cache / "xbuild" / "registry"

    def run(self, command: str) -> Cli:
        return xbuild("registry", command, "--port", str(self.port),
                      env={"XDG_CACHE_HOME": str(self.cache)})


@pytest.fixture
def registry_cli(tmp_path: Path) -> Iterator[RegistryCli]:
    """`xbuild registry` on a free port with its data in a temp folder; stopped at the end."""
    cli = RegistryCli(port=free_port(), cache=tmp_path / "cache")
    try:
        yield cli
    finally:
        stop_own_registry(cli)


def stop_own_registry(cli: RegistryCli) -> None:
    """Stop the registry this test started, and only it: a pid file may be stale."""
    local = LocalRegistry(port=cli.port, home=cli.home)
    pid = local.pid()
    if pid is None:
        return
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if command[-2:] == [str(cli.home / f"config-{cli.port}.yml").encode(), b""]:
        local.stop()


def said(run: Cli) -> str:
    return run.stdout + run.stderr


def test_registry_start_status_stop(registry_cli: RegistryCli) -> None:
    address = registry_cli.address
    started = registry_cli.run("start")
    assert started.exit_code == 0, said(started)
    assert f"registry started on {address}" in said(started)
    assert str(registry_cli.home / "data") in said(started)

    up = registry_cli.run("status")
    assert up.exit_code == 0, said(up)
    assert f"registry {address}: up" in said(up)

    again = registry_cli.run("start")
    assert again.exit_code == 0, said(again)
    assert f"a registry already answers on {address}" in said(again)

    stopped = registry_cli.run("stop")
    assert stopped.exit_code == 0, said(stopped)
    assert f"registry on {address} stopped" in said(stopped)

    down = registry_cli.run("status")
    assert down.exit_code == 4, said(down)
    assert f"registry {address}: down" in said(down)


def test_docker_push_to_a_started_registry_lands_in_its_data_folder(
        registry_cli: RegistryCli, tmp_path: Path) -> None:
    started = registry_cli.run("start")
    assert started.exit_code == 0, said(started)
    context = tmp_path / "tiny"
    context.mkdir()
    (context / "hello").write_text(f"hello {uuid.uuid4()}\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello /hello\n")
    ref = f"{registry_cli.address}/xbuild-support/direct:t"
    try:
        built = docker("build", "--quiet", "--tag", ref, str(context))
        assert built.returncode == 0, built.stderr
        pushed = docker("push", ref)
        assert pushed.returncode == 0, pushed.stderr
    finally:
        docker("image", "rm", "--force", ref)
    stored = registry_cli.cache / "xbuild" / "registry" / "data" / "docker" / "registry" / "v2"
    assert (stored / "repositories" / "xbuild-support" / "direct" / "_manifests" / "tags"
            / "t").is_dir()


def test_registry_that_cannot_start_is_one_error_line(registry_cli: RegistryCli) -> None:
    with socket.socket() as squatter:  # a plain listener that never answers HTTP
        squatter.bind(("127.0.0.1", registry_cli.port))
        squatter.listen(16)
        started = registry_cli.run("start")
    assert started.exit_code == 4, said(started)
    assert "Traceback" not in said(started)
    assert started.stdout == ""
    lines = started.stderr.strip().splitlines()
    assert len(lines) == 1, started.stderr
    assert lines[0].startswith("xbuild: error: "), lines[0]
    assert registry_cli.address in lines[0]


def test_registry_that_cannot_start_leaves_no_pid_file(registry_cli: RegistryCli) -> None:
    """`stop` SIGTERMs whatever pid the pid file names, so a failed start must not leave one:
    once the dead registry's pid is reused, `xbuild registry stop` would kill a stranger."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", registry_cli.port))
        squatter.listen(16)
        started = registry_cli.run("start")
    assert started.exit_code == 4, said(started)
    pid_file = registry_cli.home / f"registry-{registry_cli.port}.pid"
    assert not pid_file.exists(), (
        f"failed start left {pid_file} naming dead pid {pid_file.read_text().strip()}")
