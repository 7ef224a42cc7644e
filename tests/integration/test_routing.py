"""Routing on two real engines: amd64 on the default one, arm64v8 and arm32v7 on a second
engine reached through its docker context. Each target is built by its node (its image store
shows it, the other's does not), parents are pinned across nodes per arch, and the lists are
complete and verified. Two engines on one 2-core host prove routing, not speed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.run import Cli, FixtureMatrix, xbuild
from tests.support.second_engine import SecondEngine, second_engine
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.integration
__all__ = ["second_engine"]  # the fixture, for pytest
CHAIN = ("base", "child", "grandchild")


def images_on(context: str | None, namespace: str) -> set[str]:
    """The repository:tag names an engine's image store holds under `namespace`."""
    flags = ["--context", context] if context else []
    listing = subprocess.run(["docker", *flags, "image", "ls", "--format",
                              "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True,
                             check=True).stdout.split()
    return {name.removeprefix(f"{namespace}/") for name in listing
            if name.startswith(f"{namespace}/")}


@pytest.fixture(scope="module")
def routed(second_engine: SecondEngine, registry: LocalRegistry, fixture_matrix: FixtureMatrix,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, str, Path]:
    root = tmp_path_factory.mktemp("nodes") / "matrix"
    shutil.copytree(fixture_matrix.path.parent, root)
    namespace = f"{registry.address}/routed"
    run = xbuild("build", *CHAIN, "--push", "--verify", "-f", root / "matrix.yml",
                 "--namespace", namespace, "--builder", f"arm64v8={second_engine.context}",
                 "--builder", f"arm32v7={second_engine.context}", "--json",
                 "--log-dir", root / "logs")
    return run, namespace, root


def targets(run: Cli) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = run.json()["targets"]  # type: ignore[assignment]
    return found


def test_the_run_succeeds_with_complete_verified_lists(routed: tuple[Cli, str, Path]) -> None:
    run, _, _ = routed
    assert run.exit_code == 0, run.stderr
    lists: list[dict[str, Any]] = run.json()["lists"]  # type: ignore[assignment]
    assert [(entry["image"], entry["status"], len(entry["platforms"])) for entry in lists] == [
        (image, "published", 3) for image in CHAIN]
    assert run.json()["verified"] is True


def test_each_target_was_built_by_its_node(routed: tuple[Cli, str, Path],
                                           second_engine: SecondEngine) -> None:
    run, namespace, root = routed
    nodes = {(t["image"], t["arch"]): t["node"] for t in targets(run)}
    assert nodes == {(image, arch): (second_engine.context if arch != "amd64" else "")
                     for image in CHAIN for arch in ("amd64", "arm32v7", "arm64v8")}
    # the docker driver keeps what it pushes (to the staging tag) in its engine's image store
    there, here = images_on(second_engine.context, namespace), images_on(None, namespace)
    for image in CHAIN:
        assert {f"{image}:staging-latest-arm64v8", f"{image}:staging-latest-arm32v7"} <= there
        assert f"{image}:staging-latest-amd64" not in there
        assert f"{image}:staging-latest-amd64" in here
        assert not {f"{image}:staging-latest-arm64v8", f"{image}:staging-latest-arm32v7"} & here
    (timeline,) = root.joinpath("logs").glob("*/timeline.md")
    assert f"section {second_engine.context}" in timeline.read_text()
    assert "section default" in timeline.read_text()


def test_parents_are_pinned_across_nodes_per_arch(routed: tuple[Cli, str, Path],
                                                  fixture_matrix: FixtureMatrix) -> None:
    _, namespace, _ = routed
    for arch, platform in (("arm64v8", "linux/arm64"), ("arm32v7", "linux/arm/v7"),
                           ("amd64", "linux/amd64")):
        ref = f"{namespace}/grandchild:latest-{arch}"
        done = subprocess.run(["docker", "run", "--rm", "--pull", "always", "--platform",
                               platform, ref, "cat", "/xbuild/grandchild-saw"],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == fixture_matrix.value  # what this run's base wrote
