"""Fixtures the integration and e2e tiers share: the engine check and a throwaway registry."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator

import pytest

from xbuild.host.registry import LocalRegistry


def _engine_problem() -> str | None:
    if shutil.which("docker") is None:
        return "the docker CLI is missing"
    probe = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                           capture_output=True, text=True, check=False)
    return None if probe.returncode == 0 else f"no Docker engine: {probe.stderr.strip()}"


@pytest.fixture(scope="session", autouse=True)
def engine() -> None:
    problem = _engine_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"these tests need the engine under CI: {problem}")
    pytest.skip(f"{problem} (run `bash ci/setup.sh`; under CI=true this fails)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRegistry]:
    """A registry on 127.0.0.1 started through xbuild's own `registry` code."""
    local = LocalRegistry(port=free_port(), home=tmp_path_factory.mktemp("registry"))
    local.start()
    yield local
    local.stop()
