"""Is every arch of an image what it claims? Pure judgments over gathered facts.

Claims lie: a list entry can point at another arch's image, a config can name the wrong
arch, a label can be copied across, and `uname -m` answers for the kernel, not the userspace.
So each arch is judged on its list entry, its config, its label, a real run, the ELF header
of its binaries (read without running them) and dpkg, each on its own; then the arches are
compared with each other (parity, judged in core/parity.py).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from xbuild.core.answers import ListEntry
from xbuild.core.inventory import Inventory
from xbuild.core.platforms import ARCHES, Arch, Elf, Platform, arch_for_platform
from xbuild.core.refs import Reference
from xbuild.core.text import printable

ELF_MAGIC = b"\x7fELF"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NA = "n/a"
    NOT_CHECKED = "not checked"  # could not be judged here: never a pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    check: str
    status: Verdict
    observed: str = ""  # both may come from the image under judgment: made printable here
    expected: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "observed", printable(self.observed))
        object.__setattr__(self, "expected", printable(self.expected))


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageFacts:
    """What one arch's image says about itself, and what its files are."""

    platform: Platform  # from the image config
    labels: Mapping[str, str]
    binary: str = ""  # the binary whose ELF header was read
    elf_head: bytes = b""
    has_shell: bool = False
    has_dpkg: bool = False
    inventory: Inventory = field(default_factory=Inventory)
    created: datetime | None = None  # the config's build time


@dataclass(frozen=True, slots=True, kw_only=True)
class ArchReport:
    arch: Arch
    digest: str
    checks: tuple[Check, ...]
    # What its files hold, for parity and its SBOM; None when its image could not be read.
    inventory: Inventory | None = field(default=None, compare=False, repr=False)
    labels: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    created: datetime | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return all(c.status is not Verdict.FAIL for c in self.checks)


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    """One way one arch differs from the others: `arch` has `observed` ("" when it lacks
    the item); `others` are the arches it is compared with, and what they have."""

    arch: str
    kind: str  # "package" (Debian), "python" or "path"
    item: str  # a package's or distribution's name, or an absolute path
    observed: str
    others: tuple[str, ...]
    others_have: str  # "" when they lack the item

    def __post_init__(self) -> None:  # names and versions come from the image
        for name in ("item", "observed", "others_have"):
            object.__setattr__(self, name, printable(getattr(self, name), 1024))

    def __str__(self) -> str:
        them = ", ".join(self.others)
        one = len(self.others) == 1
        name = f"python {self.item}" if self.kind == "python" else self.item
        if self.kind == "path":
            theirs = f"{them} {'lacks' if one else 'lack'} it" if self.observed else \
                f"{them} {'has' if one else 'have'} it"
            mine = f"has {name}" if self.observed else f"lacks {name}"
        else:
            theirs = f"{them}: {self.others_have}" if self.others_have else \
                f"{them} {'lacks' if one else 'lack'} it"
            mine = f"{name} {self.observed}" if self.observed else f"lacks {name}"
        return printable(f"{self.arch}: {mine} ({theirs})", 400)

    def as_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "kind": self.kind, "item": self.item,
                "observed": self.observed, "others": list(self.others),
                "others_have": self.others_have, "message": str(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Parity:
    """Whether the arches of an image hold the same packages, distributions and declared
    files. Judged across arches, so it belongs to the Report, not to one ArchReport."""

    status: Verdict
    observed: str  # what was compared, or why nothing was
    arches: tuple[str, ...] = ()  # the arches compared
    differences: tuple[Difference, ...] = ()  # the first MAX_DIFFERENCES of them
    more: int = 0  # differences beyond those kept
    allowed: tuple[Difference, ...] = ()  # excused by matrix.yml's parity.allow
    problems: tuple[str, ...] = ()  # what kept an arch from being compared whole

    def lines(self) -> list[str]:
        """Every problem and difference, one line each."""
        more = [f"and {self.more} more differences"] if self.more else []
        return [*self.problems, *map(str, self.differences), *more]

    def as_dict(self) -> dict[str, Any]:
        return {"status": str(self.status), "observed": self.observed,
                "arches": list(self.arches), "problems": list(self.problems),
                "differences": [d.as_dict() for d in self.differences], "more": self.more,
                "allowed": [d.as_dict() for d in self.allowed]}


NOT_COMPARED = Parity(status=Verdict.NOT_CHECKED, observed="not checked")


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    ref: Reference
    arches: tuple[ArchReport, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)
    parity: Parity = NOT_COMPARED
    list_checks: tuple[Check, ...] = ()  # of the list itself: its signature

    @property
    def ok(self) -> bool:
        """Every arch passed, and they are alike; a report of no arch verified nothing, so
        it is not ok."""
        return bool(self.arches) and all(a.ok for a in self.arches) \
            and self.parity.status is not Verdict.FAIL \
            and all(c.status is not Verdict.FAIL for c in self.list_checks)

    def refusal(self) -> str:
        """Why its images may not be listed, in one line (the gate's); "" when they may."""
        failed = [f"{a.arch.name} " + ", ".join(c.check for c in a.checks
                                                if c.status is Verdict.FAIL)
                  for a in self.arches if not a.ok]
        if self.parity.status is Verdict.FAIL:
            lines = self.parity.lines()
            more = f" and {len(lines) - 3} more" if len(lines) > 3 else ""
            failed.append(f"parity: {'; '.join(lines[:3])}{more}")
        return f"not published: verification failed: {'; '.join(failed)}" if failed else ""

    def as_dict(self) -> dict[str, Any]:
        return {"ref": str(self.ref), "ok": self.ok, "warnings": list(self.warnings),
                "parity": self.parity.as_dict(),
                "list": [_check_dict(c) for c in self.list_checks],
                "arches": [{"arch": a.arch.name, "platform": str(a.arch.platform),
                            "digest": a.digest, "ok": a.ok,
                            "checks": [_check_dict(c) for c in a.checks]}
                           for a in self.arches]}


def _check_dict(check: Check) -> dict[str, str]:
    return {"check": check.check, "status": str(check.status), "observed": check.observed,
            "expected": check.expected}


def _verdict(ok: bool) -> Verdict:
    return Verdict.PASS if ok else Verdict.FAIL


def real_entries(entries: Sequence[ListEntry]) -> list[ListEntry]:
    """Drop attestation manifests, which buildx lists as unknown/unknown."""
    return [e for e in entries if e.platform.os != "unknown"]


def match_entries(expected: Sequence[Arch], entries: Sequence[ListEntry]
                  ) -> tuple[dict[str, ListEntry | None], list[str]]:
    """Each expected arch's list entry (None when missing), and warnings for the extras."""
    found = {a.name: next((e for e in entries if e.platform.same_as(a.platform)), None)
             for a in expected}
    extras = [e for e in real_entries(entries)
              if not any(e.platform.same_as(a.platform) for a in expected)]
    warnings = [printable(f"unexpected entry {e.platform} ({_arch_label(e.platform)}) "
                          f"{e.digest[:19]}") for e in extras]
    return found, warnings


def _arch_label(platform: Platform) -> str:
    arch = arch_for_platform(platform)
    return arch.name if arch else "unknown arch"


def check_list(arch: Arch, entry: ListEntry | None) -> Check:
    if entry is None:
        return Check(check="list", status=Verdict.FAIL, observed="no entry",
                     expected=str(arch.platform))
    return Check(check="list", status=Verdict.PASS, observed=str(entry.platform),
                 expected=str(arch.platform))


def check_config(arch: Arch, entry: ListEntry, facts: ImageFacts) -> Check:
    ok = facts.platform.same_as(entry.platform) and facts.platform.same_as(arch.platform)
    return Check(check="config", status=_verdict(ok), observed=str(facts.platform),
                 expected=str(arch.platform))


def check_label(arch: Arch, labels: Mapping[str, str]) -> Check:
    label = labels.get("architecture")
    if label is None:
        return Check(check="label", status=Verdict.NA, observed="no architecture label")
    return Check(check="label", status=_verdict(label == arch.name), observed=label,
                 expected=arch.name)


def parse_elf(head: bytes) -> Elf | None:
    if len(head) < 20 or not head.startswith(ELF_MAGIC) or head[4] not in (1, 2):
        return None
    little = head[5] == 1
    (machine,) = struct.unpack_from("<H" if little else ">H", head, 18)
    return Elf(bits=32 if head[4] == 1 else 64, little_endian=little, machine=machine)


def _describe_elf(elf: Elf) -> str:
    arch = next((a.name for a in ARCHES if a.elf == elf), "unknown arch")
    endian = "LSB" if elf.little_endian else "MSB"
    return f"{arch} (ELF{elf.bits} {endian}, machine {elf.machine})"


def check_elf(arch: Arch, facts: ImageFacts) -> Check:
    elf = parse_elf(facts.elf_head)
    if elf is None:
        return Check(check="elf", status=Verdict.NA, observed="no ELF binary found")
    return Check(check="elf", status=_verdict(elf == arch.elf),
                 observed=f"{facts.binary}: {_describe_elf(elf)}",
                 expected=_describe_elf(arch.elf))


def check_run(arch: Arch, answer: str | None, elf_check: Check) -> Check:
    """`arch` in a container. A 32-bit userspace on a 64-bit kernel may answer for the
    kernel (armv8l, aarch64); that counts only when the ELF header proves the userspace."""
    expected = " or ".join(arch.uname)
    if answer is None:
        return Check(check="run", status=Verdict.NA, observed="no shell to run `arch` with",
                     expected=expected)
    wider = answer in arch.uname_on_wider_kernel and elf_check.status is Verdict.PASS
    return Check(check="run", status=_verdict(answer in arch.uname or wider), observed=answer,
                 expected=expected)


def check_dpkg(arch: Arch, answer: str | None) -> Check:
    if answer is None:
        return Check(check="dpkg", status=Verdict.NA, observed="no dpkg")
    return Check(check="dpkg", status=_verdict(answer == arch.debian), observed=answer,
                 expected=arch.debian)


def check_smoke(name: str, exit_code: int, output: str) -> Check:
    last = printable((output.strip().splitlines()[-1:] or [""])[0], 120)
    return Check(check=f"smoke:{name}", status=_verdict(exit_code == 0),
                 observed=f"exit {exit_code}: {last}" if last else f"exit {exit_code}",
                 expected="exit 0")

