"""The one table of architectures: xbuild name, OCI platform, `uname -m`, Debian, ELF."""

from __future__ import annotations

from dataclasses import dataclass

from xbuild.core.text import quoted, suggest

# OCI leaves the variant optional: buildx omits arm64's (v8), and containerd reads a bare
# arm as v7. Comparisons use these defaults.
_DEFAULT_VARIANTS = {"arm64": "v8", "arm": "v7"}


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"not an OCI platform (os/arch[/variant]): {text!r}")
        return cls(os=parts[0], architecture=parts[1], variant=parts[2] if len(parts) == 3 else "")

    def normalised(self) -> Platform:
        variant = self.variant or _DEFAULT_VARIANTS.get(self.architecture, "")
        return Platform(os=self.os, architecture=self.architecture, variant=variant)

    def same_as(self, other: Platform) -> bool:
        return self.normalised() == other.normalised()

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


@dataclass(frozen=True, slots=True, kw_only=True)
class Elf:
    """What an ELF header says about the machine a binary is built for."""

    bits: int  # EI_CLASS: 32 or 64
    little_endian: bool
    machine: int  # e_machine


@dataclass(frozen=True, slots=True, kw_only=True)
class Arch:
    name: str  # xbuild's name, also the suffix of per-arch tags
    platform: Platform
    uname: tuple[str, ...]  # `uname -m` answers that prove this arch
    # Answers a 32-bit userspace gets from a 64-bit kernel of its family; not proof alone.
    uname_on_wider_kernel: tuple[str, ...]
    debian: str
    elf: Elf
    qemu: str  # binfmt_misc handler name registered by qemu-user-static

    def __str__(self) -> str:
        return self.name


def _arch(name: str, platform: str, uname: tuple[str, ...], debian: str, *, elf: Elf, qemu: str,
          wider: tuple[str, ...] = ()) -> Arch:
    return Arch(name=name, platform=Platform.parse(platform), uname=uname,
                uname_on_wider_kernel=wider, debian=debian, elf=elf, qemu=qemu)


_ELF_X86_64 = Elf(bits=64, little_endian=True, machine=62)
_ELF_I386 = Elf(bits=32, little_endian=True, machine=3)
_ELF_AARCH64 = Elf(bits=64, little_endian=True, machine=183)
_ELF_ARM = Elf(bits=32, little_endian=True, machine=40)

ARCHES: tuple[Arch, ...] = (
    _arch("amd64", "linux/amd64", ("x86_64",), "amd64", elf=_ELF_X86_64, qemu="qemu-x86_64"),
    _arch("arm32v7", "linux/arm/v7", ("armv7l",), "armhf", elf=_ELF_ARM, qemu="qemu-arm",
          wider=("armv8l", "aarch64")),
    _arch("arm64v8", "linux/arm64/v8", ("aarch64",), "arm64", elf=_ELF_AARCH64,
          qemu="qemu-aarch64"),
    _arch("i386", "linux/386", ("i686", "i586", "i486", "i386"), "i386", elf=_ELF_I386,
          qemu="qemu-i386", wider=("x86_64",)),
    # QEMU's default ARM CPU answers armv7l even for a v6 userspace.
    _arch("arm32v6", "linux/arm/v6", ("armv6l",), "armel", elf=_ELF_ARM, qemu="qemu-arm",
          wider=("armv7l", "armv8l", "aarch64")),
    _arch("ppc64le", "linux/ppc64le", ("ppc64le",), "ppc64el",
          elf=Elf(bits=64, little_endian=True, machine=21), qemu="qemu-ppc64le"),
    _arch("s390x", "linux/s390x", ("s390x",), "s390x",
          elf=Elf(bits=64, little_endian=False, machine=22), qemu="qemu-s390x"),
    _arch("riscv64", "linux/riscv64", ("riscv64",), "riscv64",
          elf=Elf(bits=64, little_endian=True, machine=243), qemu="qemu-riscv64"),
)

ARCH_NAMES: tuple[str, ...] = tuple(a.name for a in ARCHES)
_BY_NAME = {a.name: a for a in ARCHES}
_ORDER = {a.name: i for i, a in enumerate(ARCHES)}


def arch_named(name: str) -> Arch | None:
    """The arch for an xbuild name (`arm64v8`) or an OCI platform (`linux/arm64`)."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    try:
        return arch_for_platform(Platform.parse(name))
    except ValueError:
        return None


class UnknownArch(ValueError):
    """A name that is no arch xbuild knows; the message names the ones it knows."""


def parse_arch(name: object) -> Arch:
    """The arch `name` names (see arch_named); else UnknownArch, the one message for it:
    "unknown architecture 'x' (did you mean 'y'?); known: amd64, ...". Each caller says where
    the name came from."""
    arch = arch_named(name) if isinstance(name, str) else None
    if arch is None:
        shown = str(name)
        raise UnknownArch(f"unknown architecture {quoted(shown)}{suggest(shown, ARCH_NAMES)}; "
                          f"known: {', '.join(ARCH_NAMES)}")
    return arch


def arch_for_platform(platform: Platform) -> Arch | None:
    return next((a for a in ARCHES if a.platform.same_as(platform)), None)


def arch_for_uname(machine: str) -> Arch | None:
    return next((a for a in ARCHES if machine in a.uname), None)


def sort_key(arch: Arch) -> int:
    """Table order: amd64, arm32v7, arm64v8, then the rest."""
    return _ORDER[arch.name]
