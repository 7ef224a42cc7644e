"""engine/audit.py over a fake engine: which facts are gathered, how each container is
sandboxed, what is cleaned up, and which answers from an image reach the report."""

from __future__ import annotations

import re

import pytest

from tests.unit.fakes import FakeDocker, FakeImage, arch, elf_head
from xbuild.core.answers import ListEntry
from xbuild.core.checks import Report, Verdict, check_smoke
from xbuild.core.errors import ExitCode, NotAList, RegistryError
from xbuild.core.parity import ParitySpec
from xbuild.core.refs import Reference
from xbuild.core.smoke import PROBE, SmokeTest
from xbuild.engine.audit import audit

AMD64, ARM64 = arch("amd64"), arch("arm64v8")
LIST = Reference.parse("127.0.0.1:5000/ns/img:latest")
D_AMD64, D_ARM64 = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def image(a: str, *, binary_arch: str | None = None, label: str | None = None,
          answer: str | None = None) -> FakeImage:
    """A busybox image of arch `a`; each fact can be made to lie on its own."""
    truth = arch(a)
    uname = {"amd64": "x86_64", "arm64v8": "aarch64"}[a]
    return FakeImage(platform=truth.platform,
                     labels={"architecture": label or a},
                     files={"/bin/busybox": elf_head(arch(binary_arch or a)),
                            "/bin/sh": "busybox"},
                     answers={"arch": (0, answer or uname), "echo": (0, "ok")})


def docker_with(images: dict[str, FakeImage]) -> FakeDocker:
    entries = [ListEntry(platform=AMD64.platform, digest=D_AMD64),
               ListEntry(platform=ARM64.platform, digest=D_ARM64)]
    return FakeDocker(images={f"127.0.0.1:5000/ns/img@{d}": i for d, i in images.items()},
                      lists={str(LIST): entries})


def verdicts(report_arches: object, arch_name: str) -> dict[str, Verdict]:
    (found,) = [a for a in report_arches if a.arch.name == arch_name]  # type: ignore[attr-defined]
    return {c.check: c.status for c in found.checks}


def test_an_honest_image_passes_every_check() -> None:
    docker = docker_with({D_AMD64: image("amd64"), D_ARM64: image("arm64v8")})
    report = audit(LIST, (AMD64, ARM64), (SmokeTest(name="up", command="echo ok"),), docker)
    assert report.ok
    assert verdicts(report.arches, "arm64v8") == {
        "list": Verdict.PASS, "config": Verdict.PASS, "label": Verdict.PASS,
        "elf": Verdict.PASS, "run": Verdict.PASS, "dpkg": Verdict.NA, "smoke:up": Verdict.PASS}


def test_an_amd64_binary_in_the_arm64_slot_fails_elf() -> None:
    docker = docker_with({D_AMD64: image("amd64"),
                          D_ARM64: image("arm64v8", binary_arch="amd64")})
    report = audit(LIST, (AMD64, ARM64), (), docker)
    assert not report.ok
    checks = verdicts(report.arches, "arm64v8")
    assert checks["elf"] is Verdict.FAIL
    assert verdicts(report.arches, "amd64")["elf"] is Verdict.PASS


def test_every_container_runs_sandboxed_and_smoke_tests_get_their_own_limits() -> None:
    docker = docker_with({D_AMD64: image("amd64"), D_ARM64: image("arm64v8")})
    smoke = SmokeTest(name="up", command="echo ok", timeout=42.0, capabilities=("SETUID",))
    audit(LIST, (AMD64,), (smoke,), docker)
    probes = [r for r in docker.runs if r.command[-1] != "echo ok"]
    (smoked,) = [r for r in docker.runs if r.command[-1] == "echo ok"]
    assert probes and all(r.sandbox == PROBE for r in probes)
    assert PROBE.capabilities == ()
    assert (smoked.sandbox.timeout, smoked.sandbox.capabilities) == (42.0, ("SETUID",))
    assert {r.image for r in docker.runs} == {f"127.0.0.1:5000/ns/img@{D_AMD64}"}


def test_what_an_image_says_is_stripped_of_control_characters() -> None:
    hostile = "arm64v8\n::error::pwned\x1b[31m"
    docker = docker_with({D_AMD64: image("amd64"),
                          D_ARM64: image("arm64v8", label=hostile, answer="aarch64\x1b]0;x\x07")})
    report = audit(LIST, (AMD64, ARM64), (), docker)
    observed = [c.observed for a in report.arches for c in a.checks]
    assert not any(ch in text for text in observed for ch in "\n\r\x1b\x07")
    (label,) = [c for a in report.arches if a.arch == ARM64 for c in a.checks
                if c.check == "label"]
    assert label.observed == "arm64v8 ::error::pwned [31m"
    assert label.status is Verdict.FAIL


def test_images_pulled_for_verify_are_removed_and_those_already_here_kept() -> None:
    docker = docker_with({D_AMD64: image("amd64"), D_ARM64: image("arm64v8")})
    docker.local.add(f"127.0.0.1:5000/ns/img@{D_AMD64}")
    audit(LIST, (AMD64, ARM64), (), docker)
    assert docker.removed == [f"127.0.0.1:5000/ns/img@{D_ARM64}"]


def test_a_missing_arch_fails_its_list_check_and_runs_nothing_for_it() -> None:
    docker = docker_with({D_AMD64: image("amd64")})
    docker.published[str(LIST)] = [ListEntry(platform=AMD64.platform, digest=D_AMD64)]
    report = audit(LIST, (AMD64, ARM64), (), docker)
    assert verdicts(report.arches, "arm64v8") == {"list": Verdict.FAIL}
    assert all(D_ARM64 not in r.image for r in docker.runs)


def test_an_image_that_cannot_be_pulled_fails_config_in_one_line() -> None:
    docker = docker_with({D_AMD64: image("amd64")})  # the arm64 digest is unknown upstream
    report = audit(LIST, (AMD64, ARM64), (), docker)
    (arm64,) = [a for a in report.arches if a.arch == ARM64]
    config = next(c for c in arm64.checks if c.check == "config")
    assert config.status is Verdict.FAIL
    assert "manifest unknown" in config.observed


def test_a_single_image_is_not_a_list() -> None:
    docker = FakeDocker(lists={str(LIST): None})
    with pytest.raises(NotAList) as caught:
        audit(LIST, (), (), docker)
    assert caught.value.exit_code == ExitCode.VERIFY


def test_an_unreadable_list_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match=re.escape("cannot read 127.0.0.1:5000/ns/img:latest")):
        audit(LIST, (), (), FakeDocker())


def test_extra_entries_are_warned_about_not_judged() -> None:
    docker = docker_with({D_AMD64: image("amd64"), D_ARM64: image("arm64v8")})
    report = audit(LIST, (AMD64,), (), docker)
    assert [a.arch for a in report.arches] == [AMD64]
    assert report.warnings == (f"unexpected entry linux/arm64/v8 (arm64v8) {D_ARM64[:19]}",)


def test_a_report_of_no_arch_verified_nothing_and_is_not_ok() -> None:
    assert not Report(ref=Reference.parse("r.example/ns/img:t"), arches=()).ok


def test_a_smoke_test_shows_its_last_line_or_only_its_exit_code() -> None:
    assert check_smoke("up", 0, "").observed == "exit 0"
    assert check_smoke("up", 1, "starting\n\x1b[31mrefused\x1b[0m\n").observed == \
        "exit 1: [31mrefused [0m"  # no ESC reaches a terminal or a workflow log


def dpkg_status(*packages: tuple[str, str]) -> bytes:
    return "".join(f"Package: {name}\nStatus: install ok installed\nVersion: {version}\n\n"
                   for name, version in packages).encode()


def test_parity_is_judged_from_the_same_export_and_pull_as_every_other_fact() -> None:
    amd64, arm64 = image("amd64"), image("arm64v8")
    amd64.files |= {"/var/lib/dpkg/status": dpkg_status(("libc6", "2.36-9"), ("curl", "7.88")),
                    "/srv/plugins/a.so": b"", "/srv/plugins/b.so": b""}
    arm64.files |= {"/var/lib/dpkg/status": dpkg_status(("libc6", "2.36-9")),
                    "/srv/plugins/a.so": b""}
    docker = docker_with({D_AMD64: amd64, D_ARM64: arm64})
    report = audit(LIST, (AMD64, ARM64), (), docker,
                   parity=ParitySpec(paths=("/srv/plugins",)))
    assert report.parity.status is Verdict.FAIL
    assert report.parity.lines() == ["arm64v8: lacks curl (amd64: 7.88)",
                                     "arm64v8: lacks /srv/plugins/b.so (amd64 has it)"]
    assert not report.ok
    assert all(a.ok for a in report.arches)  # each arch alone is what it claims
    pinned = [f"127.0.0.1:5000/ns/img@{d}" for d in (D_AMD64, D_ARM64)]
    assert (docker.pulled, docker.exported) == (pinned, pinned)  # once each, nothing more


def test_parity_of_one_arch_verified_is_not_checked() -> None:
    docker = docker_with({D_AMD64: image("amd64"), D_ARM64: image("arm64v8")})
    report = audit(LIST, (AMD64,), (), docker)
    assert report.parity.status is Verdict.NOT_CHECKED
    assert report.ok
