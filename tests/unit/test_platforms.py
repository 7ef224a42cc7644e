"""The architecture table and OCI platforms."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from xbuild.core.platforms import (
    ARCH_NAMES,
    ARCHES,
    Arch,
    Platform,
    UnknownArch,
    arch_for_platform,
    arch_for_uname,
    arch_named,
    parse_arch,
    sort_key,
)


def arch(name: str) -> Arch:
    found = arch_named(name)
    assert found is not None, name
    return found


class Row(NamedTuple):
    name: str
    platform: str
    uname: tuple[str, ...]  # `uname -m` answers that prove the arch
    wider: tuple[str, ...]  # answers on a wider kernel of the family
    debian: str
    bits: int
    machine: int  # ELF e_machine
    qemu: str


TABLE = [
    Row("amd64", "linux/amd64", ("x86_64",), (), "amd64", 64, 62, "qemu-x86_64"),
    Row("arm64v8", "linux/arm64/v8", ("aarch64",), (), "arm64", 64, 183, "qemu-aarch64"),
    Row("arm32v7", "linux/arm/v7", ("armv7l",), ("armv8l", "aarch64"), "armhf", 32, 40,
        "qemu-arm"),
    Row("i386", "linux/386", ("i686", "i586", "i486", "i386"), ("x86_64",), "i386", 32, 3,
        "qemu-i386"),
    Row("arm32v6", "linux/arm/v6", ("armv6l",), ("armv7l", "armv8l", "aarch64"), "armel", 32,
        40, "qemu-arm"),
    Row("ppc64le", "linux/ppc64le", ("ppc64le",), (), "ppc64el", 64, 21, "qemu-ppc64le"),
    Row("s390x", "linux/s390x", ("s390x",), (), "s390x", 64, 22, "qemu-s390x"),
    Row("riscv64", "linux/riscv64", ("riscv64",), (), "riscv64", 64, 243, "qemu-riscv64"),
]


@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in TABLE])
def test_table(row: Row) -> None:
    entry = arch(row.name)
    assert (entry.name, str(entry), str(entry.platform)) == (row.name, row.name, row.platform)
    assert entry.uname == row.uname
    assert entry.uname_on_wider_kernel == row.wider
    assert entry.debian == row.debian
    assert (entry.elf.bits, entry.elf.machine) == (row.bits, row.machine)
    assert entry.elf.little_endian is (row.name != "s390x")
    assert entry.qemu == row.qemu
    assert arch_named(row.platform) is entry
    assert arch_for_platform(Platform.parse(row.platform)) is entry
    assert arch_for_uname(row.uname[0]) is entry


def test_table_is_complete_and_ordered() -> None:
    assert ARCH_NAMES == ("amd64", "arm32v7", "arm64v8", "i386", "arm32v6", "ppc64le", "s390x",
                          "riscv64")
    assert tuple(a.name for a in ARCHES) == ARCH_NAMES
    assert sorted(ARCHES, key=sort_key) == list(ARCHES)
    assert len({a.platform for a in ARCHES}) == len(ARCHES)


@pytest.mark.parametrize(("machine", "expected"), [
    ("x86_64", "amd64"), ("aarch64", "arm64v8"), ("armv7l", "arm32v7"), ("armv6l", "arm32v6"),
    ("i686", "i386"), ("riscv64", "riscv64"),
])
def test_arch_for_uname(machine: str, expected: str) -> None:
    assert arch_for_uname(machine) is arch(expected)


@pytest.mark.parametrize("machine", ["armv8l", "mips", "", "X86_64"])
def test_uname_that_proves_nothing(machine: str) -> None:
    # armv8l is what a 32-bit ARM userspace sees on a 64-bit kernel: not proof of one arch.
    assert arch_for_uname(machine) is None


@pytest.mark.parametrize(("text", "os", "architecture", "variant"), [
    pytest.param("linux/amd64", "linux", "amd64", "", id="two-parts"),
    pytest.param("linux/arm/v7", "linux", "arm", "v7", id="three-parts"),
    pytest.param(" linux/arm64 \n", "linux", "arm64", "", id="stripped"),
    pytest.param("windows/amd64", "windows", "amd64", "", id="windows"),
])
def test_parse(text: str, os: str, architecture: str, variant: str) -> None:
    platform = Platform.parse(text)
    assert platform == Platform(os=os, architecture=architecture, variant=variant)
    assert str(platform) == text.strip()


@pytest.mark.parametrize("text", [
    pytest.param("", id="empty"),
    pytest.param("linux", id="one-part"),
    pytest.param("linux/", id="empty-arch"),
    pytest.param("/amd64", id="empty-os"),
    pytest.param("linux//v7", id="empty-middle"),
    pytest.param("linux/arm/", id="empty-variant"),
    pytest.param("linux/arm/v7/x", id="four-parts"),
])
def test_parse_errors(text: str) -> None:
    with pytest.raises(ValueError, match=r"not an OCI platform \(os/arch\[/variant\]\)"):
        Platform.parse(text)


@pytest.mark.parametrize(("one", "other", "same"), [
    pytest.param("linux/arm64", "linux/arm64/v8", True, id="arm64-default-variant"),
    pytest.param("linux/arm64/v8", "linux/arm64", True, id="arm64-default-variant-reversed"),
    pytest.param("linux/arm64", "linux/arm64", True, id="arm64-identical"),
    pytest.param("linux/amd64", "linux/amd64", True, id="amd64"),
    pytest.param("linux/arm/v7", "linux/arm/v6", False, id="arm-v7-v6"),
    pytest.param("linux/arm64/v8", "linux/arm64/v9", False, id="arm64-v8-v9"),
    pytest.param("linux/amd64", "linux/386", False, id="amd64-386"),
    pytest.param("linux/amd64", "windows/amd64", False, id="other-os"),
])
def test_same_as(one: str, other: str, same: bool) -> None:
    assert Platform.parse(one).same_as(Platform.parse(other)) is same


def test_normalised_fills_only_arm64s_variant() -> None:
    assert str(Platform.parse("linux/arm64").normalised()) == "linux/arm64/v8"
    assert str(Platform.parse("linux/amd64").normalised()) == "linux/amd64"


@pytest.mark.parametrize(("name", "expected"), [
    pytest.param("amd64", "amd64", id="name-amd64"),
    pytest.param("arm64v8", "arm64v8", id="name-arm64v8"),
    pytest.param("arm32v7", "arm32v7", id="name-arm32v7"),
    pytest.param("linux/amd64", "amd64", id="platform-amd64"),
    pytest.param("linux/arm64", "arm64v8", id="platform-arm64"),
    pytest.param("linux/arm64/v8", "arm64v8", id="platform-arm64-v8"),
    pytest.param("linux/arm/v7", "arm32v7", id="platform-arm-v7"),
    pytest.param("linux/arm/v6", "arm32v6", id="platform-arm-v6"),
    pytest.param("linux/386", "i386", id="platform-386"),
])
def test_arch_named(name: str, expected: str) -> None:
    found = arch_named(name)
    assert found is not None
    assert found.name == expected


@pytest.mark.parametrize("name", ["foo", "", "AMD64", "arm64", "x86_64", "linux/sparc",
                                  "linux/arm/v7/x", "windows/amd64"])
def test_arch_named_unknown(name: str) -> None:
    assert arch_named(name) is None


@pytest.mark.parametrize(("given", "message"), [
    pytest.param("arm64", "unknown architecture 'arm64' (did you mean 'arm64v8'?); known: amd64, "
                          "arm32v7, arm64v8, i386, arm32v6, ppc64le, s390x, riscv64", id="close"),
    pytest.param(7, "unknown architecture '7'; known: amd64, arm32v7, arm64v8, i386, arm32v6, "
                    "ppc64le, s390x, riscv64", id="not-a-string"),
])
def test_one_message_for_an_unknown_arch(given: object, message: str) -> None:
    with pytest.raises(UnknownArch) as caught:
        parse_arch(given)
    assert str(caught.value) == message


def test_parse_arch_takes_a_name_or_a_platform() -> None:
    assert parse_arch("arm64v8").name == parse_arch("linux/arm64/v8").name == "arm64v8"
