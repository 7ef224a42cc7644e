"""Parity across arches on real builds: `build --push --verify` refuses an image whose arches
differ, naming the file or package and the arch, and publishes one whose difference
matrix.yml allows; `xbuild verify` shows parity as a row and in --json.

One Dockerfile (FROM scratch, busybox) makes every image: a plugin folder that lacks b.so on
the arch LACKS_FILE names, and a dpkg status file (written by hand; there is no dpkg) that
lacks libfoo on the arch LACKS_PACKAGE names. Lists are read with skopeo, not with xbuild.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.run import Cli, FixtureMatrix, xbuild
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.integration

PLUGINS = "/usr/share/xbuild/plugins"
DOCKERFILE = f"""\
FROM scratch
ARG TARGETARCH
ARG TARGETVARIANT
COPY busybox-${{TARGETARCH}}${{TARGETVARIANT}} /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG LACKS_FILE=none
ARG LACKS_PACKAGE=none
RUN mkdir -p {PLUGINS}/sub /var/lib/dpkg && cd {PLUGINS} && touch a.so sub/c.so \\
 && {{ [ "$TARGETARCH" = "$LACKS_FILE" ] || touch b.so; }} \\
 && {{ printf 'Package: busybox-static\\nStatus: install ok installed\\nArchitecture: %s\\n' \\
        "$TARGETARCH" && printf 'Version: 1:1.35.0-4+b3\\n\\n' \\
    && {{ [ "$TARGETARCH" = "$LACKS_PACKAGE" ] \\
          || printf 'Package: libfoo\\nStatus: install ok installed\\nVersion: 1.2-3\\n\\n'; }} \\
    ; }} > /var/lib/dpkg/status
"""
ALLOWED = {"paths": [PLUGINS], "allow": {"arm64v8": [f"{PLUGINS}/b.so"]}}


def matrix(parity: dict[str, Any]) -> dict[str, Any]:
    return {"namespace": "x", "tag": "latest", "architectures": ["amd64", "arm32v7", "arm64v8"],
            "images": {
                "lacking": {"context": "plugins", "args": {"LACKS_FILE": "arm64"},
                            "parity": {"paths": [PLUGINS]}},
                "allowed": {"context": "plugins", "args": {"LACKS_FILE": "arm64"},
                            "parity": parity},
                "unpackaged": {"context": "plugins", "args": {"LACKS_PACKAGE": "arm64"}}}}


@pytest.fixture(scope="module")
def project(fixture_matrix: FixtureMatrix, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """matrix.yml (b.so allowed on arm64v8 for `allowed`) and strict.yml (nothing allowed)."""
    root = tmp_path_factory.mktemp("parity")
    (root / "plugins").mkdir()
    for busybox in (fixture_matrix.path.parent / "base").glob("busybox-*"):
        shutil.copy2(busybox, root / "plugins" / busybox.name)
    (root / "plugins" / "Dockerfile").write_text(DOCKERFILE)
    (root / "matrix.yml").write_text(yaml.safe_dump(matrix(ALLOWED)))
    (root / "strict.yml").write_text(yaml.safe_dump(matrix({"paths": [PLUGINS]})))
    return root


def listed(ref: str) -> bool:
    """Whether the registry serves `ref`, read by skopeo."""
    return subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                          capture_output=True, check=False).returncode == 0


def build(project: Path, namespace: str, *images: str) -> Cli:
    return xbuild("build", *images, "--push", "--verify", "--json", "-f",
                  project / "matrix.yml", "--namespace", namespace, "--log-dir",
                  project / "logs", cwd=project)


def lists_of(run: Cli) -> dict[str, dict[str, str]]:
    entries: list[dict[str, str]] = run.json()["lists"]  # type: ignore[assignment]
    return {entry["image"]: entry for entry in entries}


def test_arches_that_differ_are_refused_naming_the_file_or_package_and_the_arch(
        project: Path, registry: LocalRegistry) -> None:
    namespace = f"{registry.address}/parity-refused"
    run = build(project, namespace, "lacking", "unpackaged")
    assert run.exit_code == 7, run.stderr
    lists = lists_of(run)
    assert {image: entry["status"] for image, entry in lists.items()} == {
        "lacking": "refused", "unpackaged": "refused"}
    assert lists["lacking"]["detail"] == (
        "not published: verification failed: parity: arm64v8: lacks "
        f"{PLUGINS}/b.so (amd64, arm32v7 have it)")
    assert lists["unpackaged"]["detail"] == (
        "not published: verification failed: parity: arm64v8: lacks libfoo (amd64, arm32v7: "
        "1.2-3)")
    assert f"✗ {namespace}/lacking:latest parity: arm64v8: lacks {PLUGINS}/b.so (amd64, " \
           "arm32v7 have it)" in run.stderr
    assert run.json()["verified"] is False
    for image in ("lacking", "unpackaged"):  # no public tag moved: neither list nor arch
        for tag in ("latest", "latest-amd64", "latest-arm32v7", "latest-arm64v8"):
            assert not listed(f"{namespace}/{image}:{tag}"), (image, tag)
        assert listed(f"{namespace}/{image}:staging-latest-arm64v8"), image


@pytest.fixture(scope="module")
def published(project: Path, registry: LocalRegistry) -> tuple[str, Cli]:
    """`allowed` built, verified and published: its list, and the run."""
    namespace = f"{registry.address}/parity-allowed"
    return f"{namespace}/allowed:latest", build(project, namespace, "allowed")


def test_a_difference_parity_allow_declares_is_published(published: tuple[str, Cli]) -> None:
    ref, run = published
    assert run.exit_code == 0, run.stderr
    assert lists_of(run)["allowed"]["status"] == "published"
    assert run.json()["verified"] is True
    assert listed(ref)


def all_arches_row(stderr: str) -> str:
    """The verdict's row for the list and all arches (off a terminal, one line)."""
    (row,) = [line for line in stderr.splitlines() if line.startswith("all arches  ")]
    return row


def test_verify_shows_parity_as_a_row_and_in_json(published: tuple[str, Cli],
                                                  project: Path) -> None:
    run = xbuild("verify", published[0], "-f", project / "matrix.yml", "--json", cwd=project)
    assert run.exit_code == 0, run.stderr
    parity: dict[str, Any] = run.json()["parity"]  # type: ignore[assignment]
    assert (parity["status"], parity["arches"]) == ("pass", ["amd64", "arm32v7", "arm64v8"])
    assert parity["observed"] == ("3 arches alike: 2 Debian packages, 0 Python distributions, "
                                  "5 paths; 1 allowed")
    assert [d["message"] for d in parity["allowed"]] == [
        f"arm64v8: lacks {PLUGINS}/b.so (amd64, arm32v7 have it)"]
    assert "parity: ✓ 3 arches alike" in all_arches_row(run.stderr)


def test_verify_against_a_matrix_allowing_nothing_fails_parity_alone(
        published: tuple[str, Cli], project: Path) -> None:
    run = xbuild("verify", published[0], "-f", project / "strict.yml", "--json", cwd=project)
    assert run.exit_code == 7, run.stderr
    report: dict[str, Any] = run.json()
    assert [a["ok"] for a in report["arches"]] == [True, True, True]  # each arch is honest
    assert report["parity"]["status"] == "fail"
    assert [d["message"] for d in report["parity"]["differences"]] == [
        f"arm64v8: lacks {PLUGINS}/b.so (amd64, arm32v7 have it)"]
    assert f"parity: ✗ 1 difference — arm64v8: lacks {PLUGINS}/b.so" in all_arches_row(
        run.stderr)


def test_verify_of_one_arch_does_not_check_parity(published: tuple[str, Cli],
                                                   project: Path) -> None:
    run = xbuild("verify", published[0], "-f", project / "strict.yml", "--arch", "arm64v8",
                 "--json", cwd=project)
    assert run.exit_code == 0, run.stderr
    parity: dict[str, Any] = run.json()["parity"]  # type: ignore[assignment]
    assert (parity["status"], parity["observed"]) == (
        "not checked", "not checked: only arm64v8 verified here, and parity compares arches")
