"""The CIRR stack deployed as the seed deploys it: `docker stack deploy` on a swarm.

A single-node swarm is made here if the engine is in none (and left again afterwards), the node
labelled storage=true and bridge=true, and stacks/cirr deployed from the images this run built,
its passwords as swarm secrets. On this engine a service's virtual IP does not route, so the
stack goes up with stacks/cirr/dnsrr.yml on top. The DICOM flow is compose's
(tests/support/cirr.py). Then `docker stack rm`, and nothing the test made may be left: no
swarm, service, container, network, secret or volume.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.support.run import docker

pytestmark = pytest.mark.integration

LABELS = {"storage": "true", "bridge": "true"}
SWARM_NETWORKS = {"ingress", "docker_gwbridge"}  # what `docker swarm init` adds


def _ok(*args: str) -> str:
    done = docker(*args)
    assert done.returncode == 0, (args, done.stderr)
    return done.stdout.strip()


def _names(kind: str) -> set[str]:
    listed = docker(kind, "ls", "--format", "{{.Name}}")
    return set(listed.stdout.split()) if listed.returncode == 0 else set()


@dataclass(frozen=True, kw_only=True)
class Host:
    """What the engine held before the test: the test must leave exactly this."""

    swarm: str                # docker info's LocalNodeState: "inactive" or "active"
    networks: frozenset[str]
    labels: frozenset[str]    # the node's labels, when a swarm was already there

    @classmethod
    def now(cls) -> Host:
        swarm = _ok("info", "--format", "{{.Swarm.LocalNodeState}}")
        labels: frozenset[str] = frozenset()
        if swarm == "active":
            labels = frozenset(json.loads(_ok("node", "inspect", "self", "--format",
                                              "{{json .Spec.Labels}}")) or {})
        return cls(swarm=swarm, networks=frozenset(_names("network")), labels=labels)


@pytest.fixture
def swarm() -> Iterator[Host]:
    """A swarm manager with the seed's node labels; the host as it was, afterwards."""
    before = Host.now()
    assert before.swarm in ("inactive", "active"), f"swarm state {before.swarm!r}"
    if before.swarm == "inactive":
        _ok("swarm", "init", "--advertise-addr", "127.0.0.1")
    node = _ok("info", "--format", "{{.Swarm.NodeID}}")
    added = [k for k in LABELS if k not in before.labels]
    try:
        for key, value in LABELS.items():
            _ok("node", "update", "--label-add", f"{key}={value}", node)
        yield before
    finally:
        if before.swarm == "inactive":
            _ok("swarm", "leave", "--force")
            # `swarm leave` keeps the bridge `swarm init` made: gone only if it was not there.
            for network in SWARM_NETWORKS - before.networks:
                if network in _names("network"):
                    _ok("network", "rm", network)
        else:
            for key in added:
                _ok("node", "update", "--label-rm", key, node)
    assert _ok("info", "--format", "{{.Swarm.LocalNodeState}}") == before.swarm
    assert not (SWARM_NETWORKS & _names("network")) - before.networks


@dataclass(frozen=True, kw_only=True)
class SwarmStack:
    name: str
    env: dict[str, str]

    def deploy(self) -> None:
        done = subprocess.run(["docker", "stack", "deploy", "-c", "compose.yml", "-c",
                               "dnsrr.yml", self.name], cwd=STACK, env=self.env,
                              capture_output=True, text=True, check=False, timeout=300)
        assert done.returncode == 0, done.stderr

    def container(self, service: str) -> str:
        if service in ("pacs", "workstation"):
            return f"{self.name}-{service}"
        found = _ok("ps", "-q", "--filter", f"label=com.docker.swarm.service.name="
                                            f"{self.name}_{service}").split()
        assert len(found) == 1, (service, found)
        return found[0]

    def left(self) -> dict[str, list[str]]:
        """What of this stack the engine still holds, by kind."""
        label = f"label=com.docker.stack.namespace={self.name}"
        held = {"container": docker("ps", "-aq", "--filter", label).stdout.split(),
                "network": docker("network", "ls", "-q", "--filter", label).stdout.split(),
                "secret": docker("secret", "ls", "-q", "--filter", label).stdout.split(),
                "service": docker("service", "ls", "-q", "--filter", label).stdout.split()}
        held["volume"] = [v for v in _names("volume") if v.startswith(f"{self.name}_")]
        return {kind: found for kind, found in held.items() if found}

    def remove(self, extra: list[str]) -> None:
        for name in extra:
            docker("rm", "-f", "-v", name)
        docker("stack", "rm", self.name)
        deadline = time.monotonic() + 120
        # Tasks stop, then their networks go; the volume outlives `stack rm` by design.
        while set(self.left()) - {"volume"} and time.monotonic() < deadline:
            time.sleep(2)
        for volume in self.left().get("volume", []):
            docker("volume", "rm", volume)


def test_cirr_stack_on_a_swarm_routes_a_study_and_leaves_nothing(
        registry: Registry, swarm: Host, tmp_path: Path) -> None:
    namespace = build_images(registry, "amd64", tmp_path)
    name = f"cirrswarm{uuid.uuid4().hex[:6]}"
    cirr_env = settings(namespace, "amd64", tmp_path)
    stack = SwarmStack(name=name, env={**os.environ, **cirr_env})
    extra: list[str] = []
    try:
        stack.deploy()
        assert {"secret", "network", "service"} <= set(stack.left())
        # Placed by the seed's constraints, on the one node that carries both labels.
        for service, label in (("postgres", "storage"), ("bridge", "bridge")):
            constraints = _ok("service", "inspect", f"{name}_{service}", "--format",
                              "{{json .Spec.TaskTemplate.Placement.Constraints}}")
            assert json.loads(constraints) == [f"node.labels.{label}==true"]
        # The passwords are swarm secrets, never part of a service's environment.
        secrets = _ok("secret", "ls", "--filter", f"label=com.docker.stack.namespace={name}",
                      "--format", "{{.Name}}").split()
        assert sorted(secrets) == [f"{name}_orthanc_users", f"{name}_postgres_password"]
        archive_env = _ok("service", "inspect", f"{name}_archive", "--format",
                          "{{json .Spec.TaskTemplate.ContainerSpec.Env}}")
        assert "test-pw" not in archive_env
        extra = start_peers(f"{name}_service_network", f"{namespace}/orthanc:latest-amd64",
                            PLATFORMS["amd64"], name)
        prove_dicom_flows(stack.container, timeout=240)
    finally:
        stack.remove(extra)
    assert stack.left() == {}
