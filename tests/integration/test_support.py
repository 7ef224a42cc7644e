"""The fixture matrix as conftest stages it (`fixture_matrix`, `busybox`): recipes that pull
nothing, busybox staged per TARGETARCH+TARGETVARIANT, and the arm32v7 behaviour flaky needs.

They need the real engine, buildx and QEMU binfmt; nothing is skipped when one is missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import ROOT_IMAGES
from tests.support.engine import OWNER, free_port, own_the_session
from tests.support.run import FixtureMatrix, docker
from xbuild.host.local_registry import LocalRegistry

pytestmark = [pytest.mark.integration, pytest.mark.harness]  # tests tests/support


def matrix_of(fixture_matrix: FixtureMatrix) -> dict[str, object]:
    raw = yaml.safe_load(fixture_matrix.path.read_text())
    assert isinstance(raw, dict)
    return raw


def images_of(fixture_matrix: FixtureMatrix) -> dict[str, dict[str, object]]:
    images = matrix_of(fixture_matrix)["images"]
    assert isinstance(images, dict)
    return images


def test_fixture_recipes_pull_nothing_and_name_parents_as_the_matrix_does(
        fixture_matrix: FixtureMatrix) -> None:
    raw = matrix_of(fixture_matrix)
    root = fixture_matrix.path.parent
    for name, entry in images_of(fixture_matrix).items():
        lines = (root / str(entry["context"]) / "Dockerfile").read_text().splitlines()
        assert not any(line.startswith("# syntax=") for line in lines), name
        froms = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
        parent = entry.get("from")
        expected = f"{raw['namespace']}/{parent}:{raw['tag']}" if parent else "scratch"
        assert froms == [expected], name


def test_fixture_matrix_stages_busybox_in_every_root_image(
        fixture_matrix: FixtureMatrix, busybox: dict[str, Path]) -> None:
    root = fixture_matrix.path.parent
    roots = {str(entry["context"]) for entry in images_of(fixture_matrix).values()
             if "from" not in entry}
    assert roots == set(ROOT_IMAGES)
    for image in roots:
        staged = sorted(p.name for p in (root / image).glob("busybox-*"))
        assert staged == ["busybox-amd64", "busybox-arm64", "busybox-armv7"], image
        for suffix, binary in busybox.items():
            assert (root / image / f"busybox-{suffix}").read_bytes() == binary.read_bytes()
    base = images_of(fixture_matrix)["base"]
    assert base["args"] == {"VALUE": fixture_matrix.value}


def build_fixture(context: Path, platform: str, tag: str,
                  *args: str) -> subprocess.CompletedProcess[str]:
    return docker("buildx", "build", "--progress", "plain", "--load", "--platform", platform,
                  "--tag", tag, *args, str(context))


def test_arm32v7_arch_answer_and_flaky_failure(fixture_matrix: FixtureMatrix) -> None:
    """The flaky fixture relies on QEMU's arm/v7 answering `arch` with armv7l."""
    root = fixture_matrix.path.parent
    tag = f"xbuild-support-tmp/base:{uuid.uuid4().hex[:12]}"
    try:
        built = build_fixture(root / "base", "linux/arm/v7", tag, "--build-arg", "VALUE=v")
        assert built.returncode == 0, built.stderr
        shown = docker("run", "--rm", "--platform", "linux/arm/v7", tag,
                       "cat", "/xbuild/base-arch", "/xbuild/base-value")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.split() == ["armv7l", "v"]
        failed = build_fixture(root / "flaky", "linux/arm/v7", tag)
        assert failed.returncode != 0
        assert "flaky: deliberately fails on arm32v7" in failed.stderr
    finally:
        docker("image", "rm", "--force", tag)


def test_a_registry_left_by_a_killed_session_is_stopped_and_a_live_ones_is_not(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    basetemp = tmp_path_factory.getbasetemp()
    dead = basetemp.parent / f"pytest-killed-{uuid.uuid4().hex[:8]}"
    live = basetemp.parent / f"pytest-live-{uuid.uuid4().hex[:8]}"
    gone = subprocess.Popen(["true"])
    gone.wait()
    registries = []
    for session, owner in ((dead, gone.pid), (live, os.getpid())):
        (session / "registry").mkdir(parents=True)
        (session / OWNER).write_text(str(owner))
        registries.append(LocalRegistry(port=free_port(), home=session / "registry"))
    try:
        for registry in registries:
            registry.start()
        own_the_session(basetemp)
        deadline = time.monotonic() + 10
        while registries[0].answers() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not registries[0].answers()
        assert registries[1].answers()
    finally:
        for registry in registries:
            registry.stop()
        shutil.rmtree(dead, ignore_errors=True)
        shutil.rmtree(live, ignore_errors=True)
