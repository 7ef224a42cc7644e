"""The CIRR stack (stacks/cirr) for its tests: its images built by xbuild into a registry,
the stack brought up with `docker compose` beside a PACS and a workstation, and the DICOM
flows that prove it (tests/integration/test_cirr_stack.py on amd64, tests/e2e on arm64v8)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.support.engine import require
from tests.support.run import docker, xbuild

ROOT = Path(__file__).parents[2]
STACK = ROOT / "stacks" / "cirr"
PLATFORMS = {"amd64": "linux/amd64", "arm64v8": "linux/arm64"}
ORTHANC_PASSWORD = "orthanc-test-pw"
POSTGRES_PASSWORD = "pg-test-pw"
DATABASE = "cirr_test"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


class Registry(Protocol):
    @property
    def address(self) -> str: ...


@pytest.fixture(scope="module", autouse=True)
def compose_plugin() -> None:
    """docker compose (v2): fails under CI when it is missing, skips elsewhere."""
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True,
                           check=False)
    require(None if probe.returncode == 0 else f"docker compose is missing: "
            f"{probe.stderr.strip()} (ci/host-setup.sh installs it)")


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        found = self.compose("ps", "-q", service).stdout.split()
        assert len(found) == 1, (service, found)
        return found[0]

    @property
    def network(self) -> str:
        return f"{self.project}_service_network"


def rest(container: str, path: str, body: object = None, *, user: bool = True) -> Any:
    """Orthanc's REST API inside a container (curl is in the orthanc image): parsed JSON."""
    command = ["exec", container, "curl", "-fsS", "--max-time", "300"]
    if user:
        command += ["-u", f"admin:{ORTHANC_PASSWORD}"]
    if body is not None:
        command += ["-X", "POST", "--data-binary",
                    body if isinstance(body, str) else json.dumps(body)]
    done = docker(*command, f"http://127.0.0.1:8042{path}")
    assert done.returncode == 0, (path, done.stderr)
    return json.loads(done.stdout)


def until(probe: Any, seconds: float, what: str) -> Any:
    """Call probe() until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            found = probe()
        except AssertionError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f} s"
        time.sleep(2)


def answers(container: str, *, user: bool = True) -> bool:
    return "DicomAet" in rest(container, "/system", user=user)


def build_images(registry: Registry, arch: str, log_dir: Path) -> str:
    """Bases, orthanc, orthanc-plugins and postgres for one arch; their namespace."""
    namespace = f"{registry.address}/cirr-{arch}-{uuid.uuid4().hex[:6]}"
    bases = xbuild("bases", "-f", ROOT / "matrix.yml", "--arch", arch, "--namespace", namespace)
    assert bases.exit_code == 0, bases.stderr
    for matrix, image in ((ROOT / "matrix.yml", "orthanc-plugins"),
                          (STACK / "matrix.yml", "postgres")):
        built = xbuild("build", image, "-f", matrix, "--arch", arch, "--namespace", namespace,
                       "--push", "--log-dir", log_dir / image)
        assert built.exit_code == 0, built.stderr
    return namespace


@contextmanager
def stack_up(namespace: str, arch: str, root: Path) -> Iterator[Stack]:
    """The stack from the registry with a cirr.env, plus the PACS and the workstation."""
    ports = {name: _port() for name in ("ARCHIVE_DICOM_PORT", "ROUTER_DICOM_PORT",
                                        "BRIDGE_DICOM_PORT", "ARCHIVE_HTTP_PORT",
                                        "ROUTER_HTTP_PORT", "BRIDGE_HTTP_PORT")}
    settings = {
        "CIRR_NAMESPACE": namespace, "CIRR_TAG": f"latest-{arch}",
        "ORTHANC_PG_DATABASE": DATABASE, "ORTHANC_PASSWORD": ORTHANC_PASSWORD,
        "POSTGRES_PASSWORD": POSTGRES_PASSWORD,
        # The PACS and the workstation are containers on the stack's network.
        "MOD_PACS": "PACS,pacs,4242", "MOD_WORKSTATION": "WORKSTATION,workstation,4242",
        **{name: str(port) for name, port in ports.items()},
    }
    env_file = root / "cirr.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    stack = Stack(project=f"cirrtest{uuid.uuid4().hex[:8]}", env_file=env_file,
                  platform=PLATFORMS[arch])
    try:
        up = stack.compose("up", "-d")
        assert up.returncode == 0, up.stderr
        orthanc = f"{namespace}/orthanc:latest-{arch}"
        for alias, aet, extra in (
                ("pacs", "PACS", ["-e", "ORTHANC__DICOM_MODALITIES__BRIDGE=CIRR1,bridge,4242"]),
                ("workstation", "WORKSTATION", [])):
            name = f"{stack.project}-{alias}"
            started = docker("run", "-d", "--name", name, "--platform", stack.platform,
                             "--network", stack.network, "--network-alias", alias,
                             "-e", f"ORTHANC__DICOM_AET={aet}", *extra, orthanc)
            assert started.returncode == 0, started.stderr
            stack.extra.append(name)
        yield stack
    finally:
        for name in stack.extra:
            docker("rm", "-f", "-v", name)
        down = stack.compose("down", "-v", "--remove-orphans")
        assert down.returncode == 0, down.stderr
        left = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project="
                      f"{stack.project}")
        assert left.stdout.strip() == "", left.stdout  # compose down -v removed its volumes


def prove_dicom_flows(stack: Stack, timeout: float) -> None:
    archive, router, bridge, postgres = (stack.container(s) for s in
                                         ("archive", "router", "bridge", "postgres"))
    pacs, workstation = stack.extra
    for container, user in ((archive, True), (router, True), (bridge, True),
                            (pacs, False), (workstation, False)):
        until(lambda c=container, u=user: answers(c, user=u), timeout, f"{container} answers")

    # A study in the PACS, made by Orthanc itself: no outside data.
    created = rest(pacs, "/tools/create-dicom", {"Tags": {
        "PatientName": "CIRR^TEST", "PatientID": "CIRR-0001", "Modality": "OT",
        "StudyDescription": "xbuild stack test", "SOPClassUID": SECONDARY_CAPTURE}},
        user=False)
    instance = created["ID"]
    study_uid = rest(pacs, f"/instances/{instance}/simplified-tags", user=False)[
        "StudyInstanceUID"]

    # The bridge finds it in the PACS (C-FIND) and pulls it (C-MOVE to itself).
    query = rest(bridge, "/modalities/Pacs/query",
                 {"Level": "Study", "Query": {"StudyInstanceUID": study_uid}})
    assert rest(bridge, f"/queries/{query['ID']}/answers") == ["0"]
    retrieved = rest(bridge, f"/queries/{query['ID']}/retrieve",
                     {"TargetAet": "CIRR1", "Synchronous": True})
    assert retrieved["RemoteAet"] == "PACS"
    study = rest(bridge, "/tools/lookup", study_uid)
    assert [s["Type"] for s in study] == ["Study"]

    # The bridge sends it to the router, which forwards it to the archive and the workstation.
    sent = rest(bridge, "/modalities/Router/store",
                {"Resources": [study[0]["ID"]], "Synchronous": True})
    assert (sent["InstancesCount"], sent["FailedInstancesCount"]) == (1, 0)

    # Orthanc's instance ids hash the DICOM UIDs: the same id is the same instance.
    until(lambda: rest(archive, "/instances") == [instance], timeout, "the archive holds it")
    until(lambda: rest(workstation, "/instances", user=False) == [instance], timeout,
          "the workstation received it")
    until(lambda: rest(router, "/instances") == [], timeout, "the router keeps no copy")

    # PostgreSQL indexes it (Orthanc's resource type 3 is an instance) and stores the file.
    def psql(sql: str) -> str:
        done = docker("exec", postgres, "psql", "-U", "postgres", "-d", DATABASE, "-tAc", sql)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert psql("SELECT publicid FROM resources WHERE resourcetype = 3") == instance
    assert int(psql("SELECT count(*) FROM storagearea")) >= 1

    # With the workstation down, the router keeps what it could not deliver.
    assert docker("stop", workstation).returncode == 0
    second = rest(router, "/tools/create-dicom", {"Tags": {
        "PatientName": "CIRR^DOWN", "PatientID": "CIRR-0002", "Modality": "OT",
        "SOPClassUID": SECONDARY_CAPTURE}})["ID"]
    until(lambda: second in rest(archive, "/instances"), timeout, "the archive holds the second")
    until(lambda: f"kept {second}: not taken by Workstation" in docker(
        "logs", router).stderr, timeout, "the router says it kept the second")
    assert rest(router, "/instances") == [second]
