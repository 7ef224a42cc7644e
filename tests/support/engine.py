"""Fixtures the integration and e2e tiers share: the engine check and a throwaway registry."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from xbuild.host.local_registry import LocalRegistry


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
def engine(tmp_path_factory: pytest.TempPathFactory) -> None:
    require(_engine_problem())
    own_the_session(tmp_path_factory.getbasetemp())


OWNER = "owner.pid"


def own_the_session(basetemp: Path) -> None:
    """Mark this session's temp folder as ours, and stop the registries that sessions killed
    earlier (SIGKILL, a timeout) left running from their temp folders."""
    (basetemp / OWNER).write_text(str(os.getpid()))
    for pid, config in _test_registries(basetemp.parent):
        if not config.is_relative_to(basetemp) and not _session_alive(config, basetemp.parent):
            os.kill(pid, signal.SIGTERM)


def _test_registries(temp_root: Path) -> Iterator[tuple[int, Path]]:
    """(pid, config) of each `docker-registry serve CONFIG` whose CONFIG is under temp_root."""
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if len(argv) >= 3 and argv[0].endswith(b"docker-registry") and argv[1] == b"serve":
            config = Path(os.fsdecode(argv[2]))
            if entry.name.isdigit() and config.is_relative_to(temp_root):
                yield int(entry.name), config


def _session_alive(config: Path, temp_root: Path) -> bool:
    session = temp_root / config.relative_to(temp_root).parts[0]
    if not session.is_dir():
        return False  # pytest pruned the folder: its session ended long ago
    try:
        pid = int((session / OWNER).read_text())
    except (OSError, ValueError):
        return True  # unmarked (an older checkout's session, perhaps running): left alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
