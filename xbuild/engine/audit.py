"""`xbuild verify`: gather each arch's facts through the engine's primitives and judge them
(core/checks.py). Every container it starts runs in a sandbox (core/smoke.py)."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from xbuild.core.answers import ListEntry
from xbuild.core.checks import (
    ArchReport,
    Check,
    ImageFacts,
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
from xbuild.core.errors import CommandFailed, NotAList, RegistryError
from xbuild.core.parity import NO_PARITY, ParitySpec, judge_parity
from xbuild.core.platforms import Arch, arch_for_platform, sort_key
from xbuild.core.refs import Reference
from xbuild.core.smoke import PROBE, SmokeTest
from xbuild.engine.engines import Inspector
from xbuild.engine.rootfs import DPKG, binary_candidates, read_rootfs

ARCH_COMMAND = "arch 2>/dev/null || uname -m"
MAX_ROOTFS_BYTES = 8 << 30  # an image's files larger than this are not exported to be read


def expected_arches(entries: Sequence[ListEntry], wanted: Sequence[Arch]) -> list[Arch]:
    if wanted:
        return sorted(set(wanted), key=sort_key)
    found = {arch_for_platform(e.platform) for e in real_entries(entries)}
    return sorted((a for a in found if a is not None), key=sort_key)


def audit(ref: Reference, wanted: Sequence[Arch], smoke: Sequence[SmokeTest],
          docker: Inspector, *, parity: ParitySpec = NO_PARITY) -> Report:
    """Judge every expected arch of the list `ref`, then the arches against each other."""
    try:
        entries = docker.list_entries(ref)
    except CommandFailed as exc:
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
        reports.append(audit_arch(ref.pinned(entry.digest), arch, entry, smoke, docker,
                                  folders=parity.paths))
    return Report(ref=ref, arches=tuple(reports), warnings=tuple(warnings),
                  parity=judge_parity(parity, reports))


def audit_arch(image: Reference, arch: Arch, entry: ListEntry, smoke: Sequence[SmokeTest],
               docker: Inspector, *, folders: Sequence[str] = ()) -> ArchReport:
    """Judge one arch's image, pinned by digest; it is removed afterwards if pulled here."""
    def unreadable(exc: CommandFailed) -> ArchReport:
        check = Check(check="config", status=Verdict.FAIL, expected=str(arch.platform),
                      observed=f"cannot read {image}: {exc}")
        return ArchReport(arch=arch, digest=entry.digest, checks=(check_list(arch, entry), check))

    try:
        pulled_here = docker.pull(image)
    except CommandFailed as exc:
        return unreadable(exc)
    try:
        facts = gather_facts(image, docker, folders)
        checks = _judge(_InImage(docker, image, arch), entry, facts, smoke)
        return ArchReport(arch=arch, digest=entry.digest, checks=checks,
                          inventory=facts.inventory, labels=facts.labels,
                          created=facts.created)
    except CommandFailed as exc:
        return unreadable(exc)
    finally:
        if pulled_here:
            docker.remove_image(image)


def gather_facts(image: Reference, docker: Inspector, folders: Sequence[str] = ()
                 ) -> ImageFacts:
    """The image's config and what its files are (with the entries under `folders`), read
    from one export: nothing runs."""
    config = docker.image_config(image)
    with tempfile.TemporaryDirectory(prefix="xbuild-rootfs-") as tmp:
        archive = Path(tmp) / "rootfs.tar"
        docker.export(image, archive, max_bytes=MAX_ROOTFS_BYTES)
        candidates = binary_candidates(config.entrypoint, config.cmd, config.path)
        fs = read_rootfs(archive, candidates)
    binary, head = fs.first_elf(candidates)
    return ImageFacts(platform=config.platform, labels=config.labels, binary=binary,
                      elf_head=head, has_shell=fs.is_file("/bin/sh"), has_dpkg=fs.is_file(DPKG),
                      inventory=fs.inventory(folders), created=config.created)


def _judge(in_image: _InImage, entry: ListEntry, facts: ImageFacts,
           smoke: Sequence[SmokeTest]) -> tuple[Check, ...]:
    arch = in_image.arch
    elf = check_elf(arch, facts)
    shell = "/bin/sh" if facts.has_shell else None
    dpkg = "/usr/bin/dpkg" if facts.has_dpkg else None
    checks = [check_list(arch, entry), check_config(arch, entry, facts),
              check_label(arch, facts.labels), elf,
              check_run(arch, in_image.answer(shell, ["-c", ARCH_COMMAND]), elf),
              check_dpkg(arch, in_image.answer(dpkg, ["--print-architecture"]))]
    checks += [in_image.smoke(shell, test) for test in smoke]
    return tuple(checks)


class _InImage:
    """Runs programs in one arch's image, pinned by digest, each in its sandbox."""

    def __init__(self, docker: Inspector, image: Reference, arch: Arch) -> None:
        self.docker, self.image, self.arch = docker, image, arch

    def answer(self, program: str | None, args: list[str]) -> str | None:
        """The last line `program args` prints, or None when the image has no `program`."""
        if program is None:
            return None
        result = self.docker.run(self.image, args, platform=self.arch.platform, sandbox=PROBE,
                                 entrypoint=program)
        text = result.output.strip()
        if result.exit_code != 0:
            return f"exit {result.exit_code}: {text[-120:]}"
        return text.splitlines()[-1] if text else ""

    def smoke(self, shell: str | None, test: SmokeTest) -> Check:
        if shell is None:
            return Check(check=f"smoke:{test.name}", status=Verdict.NA, observed="no shell")
        result = self.docker.run(self.image, ["-c", test.command], platform=self.arch.platform,
                                 sandbox=test.sandbox, entrypoint=shell)
        return check_smoke(test.name, result.exit_code, result.output)
