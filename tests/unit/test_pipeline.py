"""The pipeline's steps over a fake engine and shell: what `build --verify` shows, the record
it always leaves, and the exit code `bases` gives."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fakes import FakeDocker, FakeImage, RecordingShell, arch, digest_for, elf_head
from xbuild.core.checks import ListEntry
from xbuild.core.errors import ExitCode, RegistryError, exit_code
from xbuild.core.matrix import load_matrix
from xbuild.core.plan import make_plan
from xbuild.core.results import push_outcomes
from xbuild.output.console import Console
from xbuild.pipeline.bases import publish_bases
from xbuild.pipeline.build import BuildSettings, build
from xbuild.pipeline.tools import Tools

AMD64, ARM64 = arch("amd64"), arch("arm64v8")
NS = "127.0.0.1:5000/ns"


@pytest.fixture
def one_image(write_matrix: Callable[..., Path], matrix_doc: dict[str, Any]) -> Path:
    matrix_doc["architectures"] = ["amd64"]
    matrix_doc["images"] = {"orthanc": {"context": "images/orthanc"}}
    return write_matrix(matrix_doc)


def honest_amd64() -> FakeImage:
    return FakeImage(platform=AMD64.platform, labels={"architecture": "amd64"},
                     files={"/bin/busybox": elf_head(AMD64), "/bin/sh": "busybox"},
                     answers={"arch": (0, "x86_64")})


def kit(docker: FakeDocker, shell: RecordingShell | None = None) -> Tools:
    return Tools(console=Console(), docker=docker, shell=shell or RecordingShell())


def settings(tmp_path: Path, **changes: Any) -> BuildSettings:
    return BuildSettings(**{"push": True, "jobs": 1, "verify": True,
                            "log_dir": tmp_path / "runs", **changes})


def test_build_verify_shows_the_warnings_xbuild_verify_shows(
        one_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    matrix = load_matrix(one_image)
    plan = make_plan(matrix, namespace=NS)
    digest = digest_for(f"{NS}/orthanc:latest-amd64")
    docker = FakeDocker(images={f"{NS}/orthanc@{digest}": honest_amd64()}, lists={
        f"{NS}/orthanc:latest": [ListEntry(platform=AMD64.platform, digest=digest),
                                 ListEntry(platform=ARM64.platform, digest="sha256:" + "e" * 64)]})
    report = build(matrix, plan, settings(tmp_path), Console(), kit=kit(docker))
    assert report.verified is True
    assert "xbuild: warning: unexpected entry linux/arm64/v8 (arm64v8)" in capsys.readouterr().err


def test_the_record_is_written_even_when_verification_fails_to_read_the_list(
        one_image: Path, tmp_path: Path) -> None:
    matrix = load_matrix(one_image)
    docker = FakeDocker()  # lists nothing: reading the list back fails
    with pytest.raises(RegistryError):
        build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path), Console(),
              kit=kit(docker))
    (record,) = (tmp_path / "runs").glob("*/summary.json")
    data = json.loads(record.read_text())
    assert [(t["tag"], t["status"]) for t in data["targets"]] == [
        (f"{NS}/orthanc:latest-amd64", "pushed")]
    assert [(entry["ref"], entry["status"]) for entry in data["lists"]] == [
        (f"{NS}/orthanc:latest", "published")]
    assert data["verified"] is None
    assert not list((tmp_path / "runs").glob("*/*.partial"))


def test_a_build_leaves_its_record_and_no_staged_downloads(one_image: Path,
                                                           tmp_path: Path) -> None:
    matrix = load_matrix(one_image)
    report = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path, verify=False),
                   Console(), kit=kit(FakeDocker()))
    assert json.loads((report.run_dir / "summary.json").read_text())["exit_code"] == 0
    assert not (report.run_dir / "downloads").exists()


@pytest.fixture
def two_bases(write_matrix: Callable[..., Path], matrix_doc: dict[str, Any]) -> Path:
    matrix_doc["bases"] = {
        "debian:bookworm-slim": {"suite": "bookworm", "mirror": "http://deb.debian.org/debian"},
        "debian:trixie-slim": {"suite": "trixie", "mirror": "http://deb.debian.org/debian"}}
    return write_matrix(matrix_doc)


@pytest.mark.parametrize(("failing", "code"), [
    pytest.param(set(), ExitCode.OK, id="all-published"),
    pytest.param({"trixie"}, ExitCode.PARTIAL, id="one-base-failed"),
    pytest.param({"--architectures=armhf"}, ExitCode.PARTIAL, id="one-arch-of-each-failed"),
    pytest.param({"bookworm", "trixie"}, ExitCode.FAILED, id="all-failed"),
    pytest.param({"bookworm", "--architectures=armhf"}, ExitCode.PARTIAL,
                 id="only-trixie-amd64-pushed"),
])
def test_bases_exit_code_says_what_was_published(two_bases: Path, tmp_path: Path,
                                                 failing: set[str], code: ExitCode) -> None:
    shell = RecordingShell(fail=failing)
    results = publish_bases(load_matrix(two_bases), arches=(AMD64, arch("arm32v7")),
                            namespace=NS, jobs=1, dry_run=False, log_dir=tmp_path,
                            console=Console(), kit=kit(FakeDocker(), shell))
    assert exit_code(push_outcomes(results)) == code
