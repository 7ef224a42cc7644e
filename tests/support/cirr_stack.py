"""The CIRR stack (stacks/cirr) under `docker compose` for its tests: the compose plugin
required, the stack brought up from a registry with a cirr.env and the two password files,
beside a PACS and a workstation (tests/support/cirr.py has the images and the DICOM flow;
tests/integration/test_cirr_stack.py runs it on amd64, tests/e2e on arm64v8)."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.cirr import (
    PLATFORMS,
    STACK,
    Registry,
    build_images,
    prove_dicom_flows,
    settings,
    start_peers,
)
from tests.support.engine import ci_is_set
from tests.support.run import docker


@pytest.fixture(scope="module", autouse=True)
def compose_plugin() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True,
                           check=False)
    if probe.returncode == 0:
        return
    problem = f"docker compose is missing: {probe.stderr.strip()} (ci/host-setup.sh installs it)"
    if ci_is_set():
        pytest.fail(problem)
    pytest.skip(problem)


@dataclass
class Stack:
    project: str
    env_file: Path
    platform: str
    extra: list[str] = field(default_factory=list)  # containers started beside the stack

    @property
    def env(self) -> dict[str, str]:
        # cirr.env alone configures the stack: variables of the same names in this process
        # would override it, so none reach docker compose.
        names = {line.split("=", 1)[0] for line in self.env_file.read_text().splitlines()
                 if "=" in line}
        kept = {k: v for k, v in os.environ.items() if k not in names}
        return {**kept, "DOCKER_DEFAULT_PLATFORM": self.platform}

    def compose(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "compose", "-p", self.project, "-f",
                               str(STACK / "compose.yml"), "--env-file", str(self.env_file),
                               *args], capture_output=True, text=True, check=False,
                              env=self.env, timeout=900)

    def container(self, service: str) -> str:
        if service in ("pacs", "workstation"):
            return f"{self.project}-{service}"
        found = self.compose("ps", "-q", service).stdout.split()
        assert len(found) == 1, (service, found)
        return found[0]

    @property
    def network(self) -> str:
        return f"{self.project}_service_network"


@contextmanager
def stack_up(namespace: str, arch: str, root: Path) -> Iterator[Stack]:
    """The stack from the registry with a cirr.env, plus the PACS and the workstation."""
    env_file = root / "cirr.env"
    cirr_env = settings(namespace, arch, root)
    env_file.write_text("".join(f"{k}={v}\n" for k, v in cirr_env.items()))
    stack = Stack(project=f"cirrtest{uuid.uuid4().hex[:8]}", env_file=env_file,
                  platform=PLATFORMS[arch])
    try:
        up = stack.compose("up", "-d")
        assert up.returncode == 0, up.stderr
        stack.extra = start_peers(stack.network, f"{namespace}/orthanc:latest-{arch}",
                                  stack.platform, stack.project)
        yield stack
    finally:
        for name in stack.extra:
            docker("rm", "-f", "-v", name)
        down = stack.compose("down", "-v", "--remove-orphans")
        assert down.returncode == 0, down.stderr
        left = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project="
                      f"{stack.project}")
        assert left.stdout.strip() == "", left.stdout  # compose down -v removed its volumes


def routes_a_study(registry: Registry, arch: str, root: Path, *, timeout: float) -> None:
    """The whole proof for one arch: images built, the stack up, the DICOM flows, torn down."""
    namespace = build_images(registry, arch, root)
    with stack_up(namespace, arch, root) as stack:
        prove_dicom_flows(stack.container, timeout=timeout)
