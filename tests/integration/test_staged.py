"""Nothing public before it is verified, on the real engine and registry: a refused or failed
release moves no public tag, and the lying image is under none. The registry is read with
skopeo, independently of xbuild."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.run import Cli, FixtureMatrix, xbuild
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.integration
ARCHES = ("amd64", "arm32v7", "arm64v8")
DOCKERFILE = """FROM scratch
ARG TARGETARCH
ARG TARGETVARIANT
COPY busybox-${TARGETARCH}${TARGETVARIANT} /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG RELEASE
ARG FAIL=""
RUN [ -z "$FAIL" ] && echo "$RELEASE" > /release
"""


def digest_of(ref: str) -> str | None:
    """The digest of the manifest a tag serves now (None: no such tag), read by skopeo."""
    done = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                           f"docker://{ref}"], capture_output=True, check=False)
    if done.returncode != 0:
        return None
    return "sha256:" + hashlib.sha256(done.stdout).hexdigest()


def public_tags(repository: str) -> dict[str, str | None]:
    return {tag: digest_of(f"{repository}:{tag}")
            for tag in ("t", *(f"t-{arch}" for arch in ARCHES))}


def release(root: Path, namespace: str, logs: Path, number: int,
            arch_args: str = "") -> Cli:
    (root / "matrix.yml").write_text(
        f"namespace: x\ntag: t\narchitectures: [{', '.join(ARCHES)}]\n"
        f"images:\n  app:\n    context: app\n    args: {{RELEASE: '{number}'}}\n{arch_args}")
    return xbuild("build", "--push", "--verify", "-f", root / "matrix.yml", "--namespace",
                  namespace, "--log-dir", logs, "--json")


@pytest.fixture
def released(fixture_matrix: FixtureMatrix, registry: LocalRegistry, tmp_path: Path,
             request: pytest.FixtureRequest) -> tuple[Path, str, dict[str, str | None]]:
    """Release 1 of `app`, published whole: the matrix folder, namespace, public digests."""
    root = tmp_path / "matrix"
    (root / "app").mkdir(parents=True)
    for binary in (fixture_matrix.path.parent / "base").glob("busybox-*"):
        shutil.copy2(binary, root / "app" / binary.name)
    (root / "app" / "Dockerfile").write_text(DOCKERFILE)
    namespace = f"{registry.address}/staged-{request.node.name[-40:].lower().strip('_-')}"
    first = release(root, namespace, tmp_path / "logs", 1)
    assert first.exit_code == 0, first.stderr
    tags = public_tags(f"{namespace}/app")
    assert None not in tags.values()
    return root, namespace, tags


def built_digests(run: Cli) -> dict[str, str]:
    targets: list[dict[str, Any]] = run.json()["targets"]  # type: ignore[assignment]
    return {t["arch"]: t["digest"] for t in targets if t["digest"]}


def test_a_refused_release_moves_no_public_tag(
        released: tuple[Path, str, dict[str, str | None]], tmp_path: Path) -> None:
    root, namespace, before = released
    app = root / "app"
    shutil.copy2(app / "busybox-amd64", app / "busybox-arm64")  # arm64v8 now holds amd64 code
    second = release(root, namespace, tmp_path / "logs", 2)
    assert second.exit_code == 7, second.stderr
    assert public_tags(f"{namespace}/app") == before
    lying = built_digests(second)["arm64v8"]
    assert lying.startswith("sha256:") and lying not in before.values()
    assert digest_of(f"{namespace}/app:staging-t-arm64v8") == lying  # staged, never public


def test_a_release_with_a_failed_arch_moves_no_public_tag(
        released: tuple[Path, str, dict[str, str | None]], tmp_path: Path) -> None:
    root, namespace, before = released
    second = release(root, namespace, tmp_path / "logs", 2,
                     arch_args="    arch_args: {arm32v7: {FAIL: '1'}}\n")
    assert second.exit_code == 5, second.stderr
    built = built_digests(second)
    assert set(built) == {"amd64", "arm64v8"}  # they built, and wait in staging
    assert public_tags(f"{namespace}/app") == before
    assert not set(built.values()) & set(before.values())
