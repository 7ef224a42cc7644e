"""host/bases.py over a fake engine and shell: mmdebstrap's command line, what is pushed and
published, and what a failure of one arch does."""

from __future__ import annotations

from pathlib import Path

from tests.unit.fakes import FakeDocker, RecordingShell, arch
from xbuild.core.buildspec import Provenance
from xbuild.core.matrix import BaseSpec
from xbuild.core.refs import Reference
from xbuild.core.results import ListStatus
from xbuild.host.mmdebstrap import bootstrap_env, mmdebstrap_argv, publish_base
from xbuild.host.run_folder import RunFolder

AMD64, ARM32, ARM64 = arch("amd64"), arch("arm32v7"), arch("arm64v8")
BASE = BaseSpec(name=Reference.parse("debian:bookworm-slim"), suite="bookworm",
                mirror="http://deb.debian.org/debian")
NS = "127.0.0.1:5000/team"
ORIGIN = Provenance(created="2026-01-01T00:00:00Z", revision="abc", source="https://x.org/r")


def test_the_suite_and_mirrors_come_after_the_options_end() -> None:
    argv = mmdebstrap_argv(BASE, ARM64, Path("/tmp/rootfs.tar"))
    end = argv.index("--")
    assert argv[end + 1:] == ["bookworm", "/tmp/rootfs.tar",
                              "deb http://deb.debian.org/debian bookworm main",
                              "deb http://deb.debian.org/debian bookworm-updates main"]
    assert all(a.startswith("--") or a == "mmdebstrap" for a in argv[:end])
    assert "--architectures=arm64" in argv


def test_a_security_archive_adds_its_source() -> None:
    secure = BaseSpec(name=BASE.name, suite="bookworm", mirror=BASE.mirror,
                      security="http://deb.debian.org/debian-security")
    assert mmdebstrap_argv(secure, AMD64, Path("r.tar"))[-1] == \
        "deb http://deb.debian.org/debian-security bookworm-security main"


def test_every_arch_bootstrapped_pushed_and_listed(tmp_path: Path) -> None:
    docker, shell = FakeDocker(), RecordingShell()
    result = publish_base(BASE, [ARM64, AMD64], NS, builder_for=lambda _a: docker,
                          publisher=docker, shell=shell, provenance=ORIGIN,
                          run=RunFolder(path=tmp_path, cache=tmp_path), jobs=2)
    assert result.status is ListStatus.PUBLISHED
    assert sorted(c[0] for c in shell.commands) == ["mmdebstrap", "mmdebstrap"]
    assert sorted(str(r.tag) for r in docker.requests) == [
        f"{NS}/debian:bookworm-slim-amd64", f"{NS}/debian:bookworm-slim-arm64v8"]
    assert all(dict(r.labels)["org.opencontainers.image.revision"] == "abc"
               for r in docker.requests)
    (listed,) = docker.lists
    assert listed.ref == f"{NS}/debian:bookworm-slim"
    assert [s.split("@")[0] for s in listed.sources] == [f"{NS}/debian"] * 2


def test_one_failed_arch_withholds_the_list_and_names_the_arch(tmp_path: Path) -> None:
    docker = FakeDocker()
    shell = RecordingShell(fail={"--architectures=armhf"})
    result = publish_base(BASE, [AMD64, ARM32], NS, builder_for=lambda _a: docker,
                          publisher=docker, shell=shell, provenance=ORIGIN,
                          run=RunFolder(path=tmp_path, cache=tmp_path), jobs=1)
    assert result.status is ListStatus.WITHHELD
    assert "arm32v7" in result.detail and "mmdebstrap failed" in result.detail
    assert docker.lists == []
    assert [str(r.tag) for r in docker.requests] == [f"{NS}/debian:bookworm-slim-amd64"]


def test_a_base_is_bootstrapped_and_built_at_the_commit_time_so_its_digest_holds(
        tmp_path: Path) -> None:
    """SOURCE_DATE_EPOCH for mmdebstrap (a reproducible tarball) and for the build (the
    image's created time): the same packages give the same digest, so the weekly refresh
    rebuilds only what new packages touch. Measured here: two `xbuild bases --arch amd64`
    runs published the same digest; without these, each run published a new one."""
    docker, shell = FakeDocker(), RecordingShell()
    dated = Provenance(created="2026-01-01T00:00:00Z", revision="abc",
                       source="https://x.org/r", epoch=1767225600)
    publish_base(BASE, [AMD64], NS, builder_for=lambda _a: docker, publisher=docker, shell=shell,
                 provenance=dated, run=RunFolder(path=tmp_path, cache=tmp_path), jobs=1)
    (env,) = shell.environments
    assert env is not None and env["SOURCE_DATE_EPOCH"] == "1767225600"
    assert "PATH" in env  # the rest of the environment is kept
    (request,) = docker.requests
    assert request.build_args == (("SOURCE_DATE_EPOCH", "1767225600"),)
    assert bootstrap_env(ORIGIN) is None  # no commit time known: mmdebstrap's own default
