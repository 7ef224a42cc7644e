"""`xbuild verify`: gather each arch's facts through the engine and judge them (verify.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from xbuild.docker import Docker, DockerFailure
from xbuild.errors import ExitCode, RegistryError, XbuildError
from xbuild.platforms import Arch, arch_for_platform, sort_key
from xbuild.refs import Reference
from xbuild.verify import (
    ArchReport,
    Check,
    ImageFacts,
    ListEntry,
    Report,
    Verdict,
    check_config,
    check_dpkg,
    check_elf,
    check_label,
    check_list,
    check_run,
    check_smoke,
    match_entries,
    real_entries,
)

ARCH_COMMAND = "arch 2>/dev/null || uname -m"


class NotAList(XbuildError):
    exit_code = ExitCode.VERIFY


def expected_arches(entries: Sequence[ListEntry], wanted: Sequence[Arch]) -> list[Arch]:
    if wanted:
        return sorted(set(wanted), key=sort_key)
    found = {arch_for_platform(e.platform) for e in real_entries(entries)}
    return sorted((a for a in found if a is not None), key=sort_key)


def audit(ref: Reference, wanted: Sequence[Arch], smoke: Mapping[str, str],
          docker: Docker) -> Report:
    try:
        entries = docker.list_entries(str(ref))
    except DockerFailure as exc:
        raise RegistryError(f"cannot read {ref}: {exc}") from exc
    if entries is None:
        raise NotAList(f"{ref} is a single image, not a manifest list over architectures")
    expected = expected_arches(entries, wanted)
    found, warnings = match_entries(expected, entries)
    reports = []
    for arch in expected:
        entry = found[arch.name]
        if entry is None:
            reports.append(ArchReport(arch=arch, digest="", checks=(check_list(arch, None),)))
            continue
        reports.append(_audit_arch(ref, arch, entry, smoke, docker))
    return Report(ref=str(ref), arches=tuple(reports), warnings=tuple(warnings))


def _audit_arch(ref: Reference, arch: Arch, entry: ListEntry, smoke: Mapping[str, str],
                docker: Docker) -> ArchReport:
    image = _PinnedImage(docker, f"{ref.repository}@{entry.digest}", arch)
    try:
        facts = docker.image_facts(image.ref, arch.platform)
    except DockerFailure as exc:
        unreadable = Check(check="config", status=Verdict.FAIL, expected=str(arch.platform),
                           observed=f"cannot pull {image.ref}: {exc}")
        return ArchReport(arch=arch, digest=entry.digest,
                          checks=(check_list(arch, entry), unreadable))
    try:
        return ArchReport(arch=arch, digest=entry.digest,
                          checks=_judge(image, entry, facts, smoke))
    finally:
        if facts.pulled_here:
            docker.remove_image(image.ref)


def _judge(image: _PinnedImage, entry: ListEntry, facts: ImageFacts,
           smoke: Mapping[str, str]) -> tuple[Check, ...]:
    arch = image.arch
    elf = check_elf(arch, facts)
    shell = "/bin/sh" if facts.has_shell else None
    dpkg = "/usr/bin/dpkg" if facts.has_dpkg else None
    checks = [check_list(arch, entry), check_config(arch, entry, facts),
              check_label(arch, facts.labels), elf,
              check_run(arch, image.answer(shell, ["-c", ARCH_COMMAND]), elf),
              check_dpkg(arch, image.answer(dpkg, ["--print-architecture"]))]
    checks += [image.smoke(shell, name, command) for name, command in smoke.items()]
    return tuple(checks)


class _PinnedImage:
    """One arch's image, pinned by digest, run with no network and removed afterwards."""

    def __init__(self, docker: Docker, ref: str, arch: Arch) -> None:
        self.docker, self.ref, self.arch = docker, ref, arch

    def answer(self, program: str | None, args: list[str]) -> str | None:
        """The last line `program args` prints, or None when the image has no `program`."""
        if program is None:
            return None
        result = self.docker.run(self.ref, args, platform=self.arch.platform,
                                 entrypoint=program)
        text = result.output.strip()
        if result.exit_code != 0:
            return f"exit {result.exit_code}: {text[-120:]}"
        return text.splitlines()[-1] if text else ""

    def smoke(self, shell: str | None, name: str, command: str) -> Check:
        if shell is None:
            return Check(check=f"smoke:{name}", status=Verdict.NA, observed="no shell")
        result = self.docker.run(self.ref, ["-c", command], platform=self.arch.platform,
                                 entrypoint=shell)
        return check_smoke(name, result.exit_code, result.output)
