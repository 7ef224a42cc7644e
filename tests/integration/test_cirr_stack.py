"""The CIRR stack (stacks/cirr) brought up with `docker compose`, proven with DICOM traffic.

Its images are built by xbuild into a throwaway local registry: orthanc and orthanc-plugins
from the top-level matrix, PostgreSQL from the stack's own matrix. The stack comes up from
that registry with a cirr.env and the two password files, plus two more Orthancs on its
network playing the clinical PACS and the workstation; tests/support/cirr.py has the flow.
The same stack on a swarm: test_cirr_swarm.py.

amd64 runs natively in the default run; arm64v8 (everything under QEMU) is behind e2e.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.support.cirr import (
    PLATFORMS,
    STACK,
    Registry,
    build_images,
    prove_dicom_flows,
    settings,
    start_peers,
)
from tests.support.run import docker

pytestmark = pytest.mark.integration


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


@pytest.fixture(scope="module", autouse=True)
def compose_plugin() -> None:
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True,
                           check=False)
    if probe.returncode == 0:
        return
    problem = f"docker compose is missing: {probe.stderr.strip()} (ci/host-setup.sh installs it)"
    if _ci():
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


def test_cirr_stack_routes_a_study_from_the_pacs_on_amd64(registry: Registry,
                                                          tmp_path: Path) -> None:
    namespace = build_images(registry, "amd64", tmp_path)
    with stack_up(namespace, "amd64", tmp_path) as stack:
        prove_dicom_flows(stack.container, timeout=180)


@pytest.mark.e2e
def test_cirr_stack_routes_a_study_from_the_pacs_on_arm64v8(registry: Registry,
                                                            tmp_path: Path) -> None:
    namespace = build_images(registry, "arm64v8", tmp_path)
    with stack_up(namespace, "arm64v8", tmp_path) as stack:
        prove_dicom_flows(stack.container, timeout=600)


# --- the compose file, without running it ---------------------------------------------------

EXAMPLE = {line.split("=", 1)[0]: line.split("=", 1)[1]
           for line in (STACK / "cirr.env.example").read_text().splitlines()
           if line and not line.startswith("#")}


def _config(command: list[str], settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    names = set(EXAMPLE)
    env = {k: v for k, v in os.environ.items() if k not in names}
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=STACK,
                          env={**env, **settings})


def test_the_compose_file_is_a_swarm_stack_with_the_seeds_placements() -> None:
    done = _config(["docker", "stack", "config", "-c", "compose.yml"], EXAMPLE)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert services["postgres"]["deploy"]["placement"]["constraints"] == [
        "node.labels.storage==true"]
    assert services["bridge"]["deploy"]["placement"]["constraints"] == [
        "node.labels.bridge==true"]
    bridge = services["bridge"]["environment"]
    assert bridge["ORTHANC__DICOM_MODALITIES__PACS"] == "PACS,10.0.0.1,11112"  # from cirr.env
    assert services["archive"]["environment"]["ORTHANC__POSTGRESQL__DATABASE"] == "orthanc"
    assert services["archive"]["image"] == "127.0.0.1:5000/derekmerck/orthanc-plugins:latest"
    # Passwords arrive as files under the names the images read, never in the environment.
    targets = {name: [s["target"] for s in service["secrets"]]
               for name, service in services.items()}
    assert targets == {"postgres": ["POSTGRES_PASSWORD"],
                       "archive": ["ORTHANC__REGISTERED_USERS", "ORTHANC__POSTGRESQL__PASSWORD"],
                       "router": ["ORTHANC__REGISTERED_USERS"],
                       "bridge": ["ORTHANC__REGISTERED_USERS"]}
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == \
        "/run/secrets/POSTGRES_PASSWORD"
    for service in services.values():
        assert not {k for k in service["environment"]
                    if "PASSWORD" in k or "USERS" in k} - {"POSTGRES_PASSWORD_FILE"}


@pytest.mark.parametrize("missing", ["CIRR_SECRETS", "ORTHANC_PG_DATABASE", "MOD_PACS",
                                     "MOD_WORKSTATION"])
def test_compose_refuses_a_cirr_env_without_a_required_setting(missing: str) -> None:
    settings = {k: v for k, v in EXAMPLE.items() if k != missing}
    done = _config(["docker", "compose", "-f", "compose.yml", "config", "-q"], settings)
    assert done.returncode != 0
    assert f"set {missing} in cirr.env" in done.stderr
