"""The pipeline's steps over a fake engine, shell and registry: what is up to date, what
`build --verify` refuses and says, the records it always leaves, and `bases`' exit code."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fakes import (
    FakeDocker,
    FakeImage,
    FakeRegistry,
    RecordingShell,
    arch,
    digest_for,
    elf_head,
    fake_tools,
)
from xbuild.core.answers import Published
from xbuild.core.buildspec import IDENTITY_LABEL
from xbuild.core.errors import ExitCode, exit_code
from xbuild.core.matrix import Matrix, load_matrix
from xbuild.core.plan import make_plan
from xbuild.core.platforms import Arch
from xbuild.core.refs import Reference
from xbuild.core.results import ListStatus, Status, TargetResult, push_outcomes
from xbuild.core.settings import BuildSettings
from xbuild.output.console import Console
from xbuild.pipeline.bases import publish_bases
from xbuild.pipeline.build import build, verify_gate
from xbuild.pipeline.tools import Tools

AMD64, ARM64 = arch("amd64"), arch("arm64v8")
NS = "127.0.0.1:5000/ns"
REF = f"{NS}/orthanc:latest-amd64"
STAGED = f"{NS}/orthanc:staging-latest-amd64"
DIGEST = digest_for(STAGED)  # what FakeDocker answers for a build pushed to STAGED


@pytest.fixture
def one_image(write_matrix: Callable[..., Path], matrix_doc: dict[str, Any]) -> Path:
    matrix_doc["architectures"] = ["amd64"]
    matrix_doc["images"] = {"orthanc": {"context": "images/orthanc"}}
    return write_matrix(matrix_doc, dockerfiles={"orthanc": "FROM scratch\nCOPY . /\n"})


def honest_amd64() -> FakeImage:
    return FakeImage(platform=AMD64.platform, labels={"architecture": "amd64"},
                     files={"/bin/busybox": elf_head(AMD64), "/bin/sh": "busybox"},
                     answers={"arch": (0, "x86_64")})


def kit(docker: FakeDocker, shell: RecordingShell | None = None,
        registry: FakeRegistry | None = None) -> Tools:
    return fake_tools(docker, shell=shell, registry=registry)


def settings(tmp_path: Path, **changes: Any) -> BuildSettings:
    return BuildSettings(**{"push": True, "jobs": 1, "verify": True,
                            "log_dir": tmp_path / "runs", **changes})


def test_build_verify_refuses_the_list_of_a_lying_image_and_says_why(
        one_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    matrix = load_matrix(one_image)
    lying = honest_amd64()
    lying.files["/bin/busybox"] = elf_head(ARM64)
    docker = FakeDocker(images={f"{NS}/orthanc@{DIGEST}": lying})
    report = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path), Console(),
                   kit=kit(docker))
    assert report.exit_code == ExitCode.VERIFY
    (listed,) = report.lists
    assert listed.status is ListStatus.REFUSED
    assert listed.detail == "not published: verification failed: amd64 elf"
    assert (docker.lists, docker.moved) == ([], [])  # no public tag moved, the per-arch one
    assert [str(r.tag) for r in docker.requests] == [STAGED]  # neither: it went to staging
    err = capsys.readouterr().err
    assert f"✗ {NS}/orthanc:latest amd64 elf: /bin/sh: arm64v8" in err  # as xbuild verify says


def test_build_verify_publishes_what_passes(one_image: Path, tmp_path: Path) -> None:
    matrix = load_matrix(one_image)
    docker = FakeDocker(images={f"{NS}/orthanc@{DIGEST}": honest_amd64()})
    report = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path), Console(),
                   kit=kit(docker))
    assert (report.exit_code, report.verified) == (ExitCode.OK, True)
    assert docker.moved == [(REF, DIGEST)]  # verified in staging, then its tag moved
    assert [c.ref for c in docker.lists] == [f"{NS}/orthanc:latest"]


def test_an_image_an_earlier_run_staged_is_verified_and_published_not_built_again(
        one_image: Path, tmp_path: Path) -> None:
    """A release refused or cut short leaves its images staged: the next run with the same
    identity verifies and publishes them without building them again."""
    matrix = load_matrix(one_image)
    label = published_as_built(tmp_path, one_image).tags[REF].labels[IDENTITY_LABEL]
    registry = FakeRegistry({STAGED: Published(digest=DIGEST, labels={IDENTITY_LABEL: label})})
    docker = FakeDocker(images={f"{NS}/orthanc@{DIGEST}": honest_amd64()})
    report = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path), Console(),
                   kit=kit(docker, registry=registry))
    assert [(r.status, r.digest) for r in report.targets] == [(Status.STAGED, DIGEST)]
    assert (report.exit_code, report.verified) == (ExitCode.OK, True)
    assert docker.requests == []
    assert docker.exported == [f"{NS}/orthanc@{DIGEST}"]  # verified all the same
    assert docker.moved == [(REF, DIGEST)]
    assert [c.ref for c in docker.lists] == [f"{NS}/orthanc:latest"]


def test_build_verify_says_nothing_of_an_image_none_of_whose_arches_built(
        one_image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    matrix = load_matrix(one_image)
    docker = FakeDocker(fail={"orthanc-amd64"})
    report = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path), Console(),
                   kit=kit(docker))
    assert (report.exit_code, report.verified) == (ExitCode.FAILED, None)
    err = capsys.readouterr().err
    assert "verified" not in err  # neither "verified" nor "NOT verified": nothing was
    assert docker.runs == []


@pytest.fixture
def two_arches(write_matrix: Callable[..., Path], matrix_doc: dict[str, Any]) -> Path:
    matrix_doc["architectures"] = ["amd64", "arm64v8"]
    matrix_doc["images"] = {"orthanc": {"context": "images/orthanc",
                                        "parity": {"paths": ["/srv/plugins"]}}}
    return write_matrix(matrix_doc, dockerfiles={"orthanc": "FROM scratch\nCOPY . /\n"})


def plugin_image(a: str, uname: str, plugins: tuple[str, ...]) -> FakeImage:
    files: dict[str, bytes | str] = {"/bin/busybox": elf_head(arch(a)), "/bin/sh": "busybox"}
    files |= {f"/srv/plugins/{p}": b"" for p in plugins}
    return FakeImage(platform=arch(a).platform, labels={"architecture": a}, files=files,
                     answers={"arch": (0, uname)})


def pushed(matrix: Matrix, *arches: Arch) -> list[TargetResult]:
    """This run's results for orthanc's `arches`, pushed as FakeEngine would have."""
    plan = make_plan(matrix, namespace=NS, arches=arches)
    return [TargetResult(target=t, status=Status.PUSHED, digest=digest_for(str(t.ref)))
            for t in plan.targets]


def plugins_docker(arm64_plugins: tuple[str, ...]) -> FakeDocker:
    return FakeDocker(images={
        f"{NS}/orthanc@{digest_for(f'{NS}/orthanc:latest-amd64')}":
            plugin_image("amd64", "x86_64", ("a.so", "b.so")),
        f"{NS}/orthanc@{digest_for(f'{NS}/orthanc:latest-arm64v8')}":
            plugin_image("arm64v8", "aarch64", arm64_plugins)})


LIST_REF = Reference.parse(f"{NS}/orthanc:latest")


def test_the_gate_refuses_arches_that_differ_naming_the_file_and_records_neither(
        two_arches: Path, capsys: pytest.CaptureFixture[str]) -> None:
    matrix = load_matrix(two_arches)
    docker = plugins_docker(("a.so",))
    gate = verify_gate(matrix, kit(docker))
    refused = gate.verify("orthanc", LIST_REF, pushed(matrix, AMD64, ARM64))
    assert refused == ("not published: verification failed: parity: arm64v8: lacks "
                       "/srv/plugins/b.so (amd64 has it)")
    assert (gate.ok, gate.failed) == (False, {"orthanc-amd64", "orthanc-arm64v8"})
    assert len(docker.exported) == 2  # parity read the exports the other checks read
    err = capsys.readouterr().err
    assert f"✗ {NS}/orthanc:latest parity: arm64v8: lacks /srv/plugins/b.so (amd64 has it)" \
        in err


def test_the_gate_passes_alike_arches_and_does_not_check_parity_of_one(
        two_arches: Path, capsys: pytest.CaptureFixture[str]) -> None:
    matrix = load_matrix(two_arches)
    gate = verify_gate(matrix, kit(plugins_docker(("a.so", "b.so"))))
    assert gate.verify("orthanc", LIST_REF, pushed(matrix, AMD64, ARM64)) == ""
    assert "all arches  parity: ✓ 2 arches alike: 0 Debian packages, 0 Python " \
           "distributions, 3 paths" in capsys.readouterr().err
    assert gate.verify("orthanc", LIST_REF, pushed(matrix, ARM64)) == ""
    assert "all arches  parity: – not checked: only arm64v8 verified here" in \
        capsys.readouterr().err
    assert (gate.ok, gate.failed) == (True, set())


def explode(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("the registry went away")


def test_a_surprise_while_publishing_fails_the_list_and_the_records_say_what_was_pushed(
        one_image: Path, tmp_path: Path) -> None:
    matrix = load_matrix(one_image)
    docker = FakeDocker()
    docker.create_list = explode  # type: ignore[method-assign]
    report = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path, verify=False),
                   Console(), kit=kit(docker))
    assert report.exit_code == ExitCode.PARTIAL
    (summary,) = (tmp_path / "runs").glob("*/summary.json")
    data = json.loads(summary.read_text())
    assert [(t["tag"], t["status"]) for t in data["targets"]] == [(REF, "pushed")]
    assert [(entry["status"], entry["detail"]) for entry in data["lists"]] == [
        ("failed", "internal error: RuntimeError: the registry went away")]
    built = json.loads(summary.with_name("build-record.json").read_text())
    assert [(t["target"], t["digest"]) for t in built["targets"]] == [("orthanc-amd64", DIGEST)]
    assert not list((tmp_path / "runs").glob("*/*.partial"))


def test_a_build_leaves_its_record_and_no_staged_downloads(one_image: Path,
                                                           tmp_path: Path) -> None:
    matrix = load_matrix(one_image)
    report = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path, verify=False),
                   Console(), kit=kit(FakeDocker()))
    assert json.loads((report.run_dir / "summary.json").read_text())["exit_code"] == 0
    assert not (report.run_dir / "downloads").exists()


def published_as_built(tmp_path: Path, matrix_path: Path) -> FakeRegistry:
    """A registry holding what a first build pushed: the image with its identity, the list."""
    matrix = load_matrix(matrix_path)
    first = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path, verify=False),
                  Console(), kit=kit(FakeDocker()))
    record = json.loads(first.run_dir.joinpath("build-record.json").read_text())
    label = record["targets"][0]["identity"]
    assert label.startswith("sha256:")
    return FakeRegistry({REF: Published(digest=DIGEST, labels={IDENTITY_LABEL: label}),
                         f"{NS}/orthanc:latest": Published(digest="sha256:" + "1" * 64,
                                                           entries=frozenset({DIGEST}))})


def test_a_no_op_rerun_builds_nothing_pushes_nothing_and_runs_no_container(
        one_image: Path, tmp_path: Path) -> None:
    registry = published_as_built(tmp_path, one_image)
    matrix = load_matrix(one_image)
    docker, made = FakeDocker(), list[str]()
    again = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path), Console(),
                  kit=fake_tools(docker, registry=registry, made=made))
    assert [(r.status, r.digest) for r in again.targets] == [(Status.UP_TO_DATE, DIGEST)]
    assert [r.status for r in again.lists] == [ListStatus.UP_TO_DATE]
    assert (docker.requests, docker.lists, docker.runs, docker.moved) == ([], [], [], [])
    assert made == []  # no engine adapter made: the real one would load python-on-whales
    assert not any("staging-" in read for read in registry.reads)  # nothing more to read
    assert again.exit_code == ExitCode.OK


@pytest.mark.parametrize("rebuild", [frozenset({"*"}), frozenset({"orthanc"})],
                         ids=["everything", "the-image"])
def test_rebuild_builds_what_is_up_to_date(one_image: Path, tmp_path: Path,
                                           rebuild: frozenset[str]) -> None:
    registry = published_as_built(tmp_path, one_image)
    matrix = load_matrix(one_image)
    docker = FakeDocker()
    report = build(matrix, make_plan(matrix, namespace=NS),
                   settings(tmp_path, verify=False, rebuild=rebuild), Console(),
                   kit=kit(docker, registry=registry))
    assert [r.status for r in report.targets] == [Status.PUSHED]
    # rebuilt from cache to the same digest: the list already holds it, nothing to push
    assert [r.status for r in report.lists] == [ListStatus.UP_TO_DATE]


def test_a_changed_context_file_is_not_up_to_date(one_image: Path, tmp_path: Path) -> None:
    registry = published_as_built(tmp_path, one_image)
    (one_image.parent / "images" / "orthanc" / "config.json").write_text("{}")
    matrix = load_matrix(one_image)
    report = build(matrix, make_plan(matrix, namespace=NS), settings(tmp_path, verify=False),
                   Console(), kit=kit(FakeDocker(), registry=registry))
    assert [r.status for r in report.targets] == [Status.PUSHED]


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


def test_with_arch_the_images_are_verified_and_a_lying_one_stays_out_of_the_record(
        write_matrix: Callable[..., Path], matrix_doc: dict[str, Any], tmp_path: Path) -> None:
    matrix_doc["architectures"] = ["amd64", "arm64v8"]
    matrix_doc["images"] = {"orthanc": {"context": "images/orthanc"}}
    matrix = load_matrix(write_matrix(matrix_doc, dockerfiles={"orthanc": "FROM scratch\n"}))
    lying = honest_amd64()
    lying.files["/bin/busybox"] = elf_head(ARM64)
    docker = FakeDocker(images={f"{NS}/orthanc@{DIGEST}": lying})
    plan = make_plan(matrix, namespace=NS, arches=(AMD64,))  # a per-arch CI job
    assert plan.lists_deferred == ("orthanc",)
    report = build(matrix, plan, settings(tmp_path), Console(), kit=kit(docker))
    assert report.exit_code == ExitCode.VERIFY
    assert report.lists == ()
    record = json.loads(report.run_dir.joinpath("build-record.json").read_text())
    assert record["targets"] == []  # the merge step will never list it


def test_bases_without_arch_bootstrap_and_name_every_matrix_arch(
        two_bases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shell = RecordingShell()
    publish_bases(load_matrix(two_bases), arches=(), namespace=NS, jobs=1, dry_run=False,
                  log_dir=tmp_path, console=Console(), kit=kit(FakeDocker(), shell))
    err = capsys.readouterr().err
    assert "bootstrapping debian:bookworm-slim for amd64, arm32v7, arm64v8 " in err
    assert sum(c[0] == "mmdebstrap" for c in shell.commands) == 6
