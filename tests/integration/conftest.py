"""Integration tier: the real engine, a throwaway local registry, QEMU, busybox fixtures.

Nothing is pulled: fixture images are FROM scratch on Debian's busybox-static for each arch.
Without an engine these tests fail under CI=true; elsewhere they skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from tests.support.engine import engine, free_port, registry
from tests.support.run import FixtureMatrix
from tests.support.second_engine import second_engine
from xbuild.core.platforms import arch_named
from xbuild.host.cmd import Shell
from xbuild.host.probe import busybox_binary

FIXTURES = Path(__file__).parents[1] / "fixtures" / "matrix"
ROOT_IMAGES = ("base", "duo", "flaky")  # fixture images FROM scratch, which need busybox
# buildx's TARGETARCH+TARGETVARIANT -> xbuild arch, as the fixture Dockerfiles COPY them.
BUSYBOX_NAMES = {"amd64": "amd64", "arm64": "arm64v8", "armv7": "arm32v7"}
# shared fixtures, re-exported for pytest
__all__ = ["engine", "free_port", "registry", "second_engine"]


@pytest.fixture(scope="session")
def busybox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    cache = Path(os.environ.get("XBUILD_TEST_CACHE", tmp_path_factory.mktemp("cache")))
    binaries = {}
    for suffix, name in BUSYBOX_NAMES.items():
        arch = arch_named(name)
        assert arch is not None
        binaries[suffix] = busybox_binary(arch, cache, Shell())
    return binaries


@pytest.fixture(scope="session")
def fixture_matrix(tmp_path_factory: pytest.TempPathFactory,
                   busybox: dict[str, Path]) -> FixtureMatrix:
    """The fixture matrix in a temp folder, busybox staged, base's VALUE unique to this run."""
    root = tmp_path_factory.mktemp("matrix") / "matrix"
    shutil.copytree(FIXTURES, root)
    for image in ROOT_IMAGES:
        for suffix, binary in busybox.items():
            shutil.copy2(binary, root / image / f"busybox-{suffix}")
    value = f"run-{uuid.uuid4().hex[:12]}"
    text = (root / "matrix.yml").read_text().replace("VALUE: from-base", f"VALUE: {value}")
    assert value in text, "the fixture matrix no longer sets base's VALUE"
    (root / "matrix.yml").write_text(text)
    return FixtureMatrix(path=root / "matrix.yml", value=value)
