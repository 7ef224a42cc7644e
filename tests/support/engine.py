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


TRUE = frozenset({"1", "true", "yes", "on", "y"})


def ci_is_set() -> bool:
    """Whether ``CI`` holds any true value (1, true, True, yes, ...): then what a test needs
    must be there, and its absence fails the test instead of skipping it."""
    return os.environ.get("CI", "").strip().lower() in TRUE


def require(problem: str | None) -> None:
    """Fail under CI, skip elsewhere, when ``problem`` names something missing."""
    if problem is None:
        return
    if ci_is_set():
        pytest.fail(f"under CI this test needs what is missing: {problem}")
    pytest.skip(f"{problem} (run `bash ci/setup.sh`; under CI this fails)")


@pytest.fixture(scope="session", autouse=True)
def engine() -> None:
    require(_engine_problem())


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
