"""The CIRR stack (stacks/cirr) under test: its images built by xbuild, its passwords as files,
and the DICOM flow both deployments (compose, swarm) must carry.

A study created in a PACS (an extra Orthanc on the stack's network) is found (C-FIND) and
retrieved (C-MOVE) by the bridge, which sends it to the router; the router forwards it to the
archive and the workstation (another extra Orthanc). The archive must hold it with PostgreSQL
indexing and storing it; with the workstation stopped, the router keeps what it could not send.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tests.support.run import docker, xbuild

ROOT = Path(__file__).parents[2]
STACK = ROOT / "stacks" / "cirr"
PLATFORMS = {"amd64": "linux/amd64", "arm64v8": "linux/arm64"}
ORTHANC_PASSWORD = "orthanc-test-pw"
POSTGRES_PASSWORD = "pg-test-pw"
DATABASE = "cirr_test"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
# The PACS and the workstation are containers on the stack's network.
PEERS = {"MOD_PACS": "PACS,pacs,4242", "MOD_WORKSTATION": "WORKSTATION,workstation,4242"}

# The running container of a service ("archive", "pacs", ...), looked up when asked: a swarm
# replaces a task that failed (the archive, until PostgreSQL answers).
Containers = Callable[[str], str]


class Registry(Protocol):
    @property
    def address(self) -> str: ...


def write_secrets(folder: Path) -> Path:
    """The two password files stacks/cirr/README.md asks for, readable by the images' uid."""
    folder.mkdir(mode=0o755)
    files = {"ORTHANC__REGISTERED_USERS": json.dumps({"admin": ORTHANC_PASSWORD}),
             "ORTHANC__POSTGRESQL__PASSWORD": POSTGRES_PASSWORD}
    for name, value in files.items():
        (folder / name).write_text(value)
        (folder / name).chmod(0o444)
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings(namespace: str, arch: str, root: Path) -> dict[str, str]:
    """A cirr.env's settings for the images in `namespace`, the password files in `root`."""
    ports = ("ARCHIVE_DICOM_PORT", "ROUTER_DICOM_PORT", "BRIDGE_DICOM_PORT",
             "ARCHIVE_HTTP_PORT", "ROUTER_HTTP_PORT", "BRIDGE_HTTP_PORT")
    return {"CIRR_NAMESPACE": namespace, "CIRR_TAG": f"latest-{arch}",
            "ORTHANC_PG_DATABASE": DATABASE, "CIRR_SECRETS": str(write_secrets(root / "secrets")),
            **PEERS, **{name: str(_free_port()) for name in ports}}


def build_images(registry: Registry, arch: str, log_dir: Path) -> str:
    """Bases, orthanc, orthanc-plugins and postgres for one arch; their namespace."""
    namespace = f"{registry.address}/cirr-{arch}-{uuid.uuid4().hex[:6]}"
    # The top-level matrix's bases include the stack's (bookworm, for PostgreSQL 15).
    bases = xbuild("bases", "-f", ROOT / "matrix.yml", "--arch", arch, "--namespace", namespace)
    assert bases.exit_code == 0, bases.stderr
    for matrix, image in ((ROOT / "matrix.yml", "orthanc-plugins"),
                          (STACK / "matrix.yml", "postgres")):
        built = xbuild("build", image, "-f", matrix, "--arch", arch, "--namespace", namespace,
                       "--push", "--log-dir", log_dir / image)
        assert built.exit_code == 0, built.stderr
        # one arch of several is only staged: the merge step makes its per-arch tags public,
        # with a list of that arch alone (README: GitHub Actions)
        records = [str(r) for r in (log_dir / image).glob("*/build-record.json")]
        merged = xbuild("manifest", "-f", matrix, "--namespace", namespace, "--allow-partial",
                        *(f"--from={r}" for r in records))
        assert merged.exit_code in (0, 5), merged.stderr  # 5: published, but partial
    return namespace


def start_peers(network: str, orthanc: str, platform: str, prefix: str) -> list[str]:
    """The PACS (which knows the bridge) and the workstation, on the stack's network."""
    names = []
    for alias, aet, extra in (
            ("pacs", "PACS", ["-e", "ORTHANC__DICOM_MODALITIES__BRIDGE=CIRR1,bridge,4242"]),
            ("workstation", "WORKSTATION", [])):
        name = f"{prefix}-{alias}"
        started = docker("run", "-d", "--name", name, "--platform", platform,
                         "--network", network, "--network-alias", alias,
                         "-e", f"ORTHANC__DICOM_AET={aet}", *extra, orthanc)
        assert started.returncode == 0, started.stderr
        names.append(name)
    return names


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


def until(probe: Callable[[], Any], seconds: float, what: str) -> Any:
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


def _create(container: str, name: str, patient: str, *, user: bool) -> str:
    created = rest(container, "/tools/create-dicom", {"Tags": {
        "PatientName": name, "PatientID": patient, "Modality": "OT",
        "StudyDescription": "xbuild stack test", "SOPClassUID": SECONDARY_CAPTURE}}, user=user)
    return str(created["ID"])


def prove_dicom_flows(at: Containers, timeout: float) -> None:
    users = {"archive": True, "router": True, "bridge": True, "pacs": False,
             "workstation": False}
    for service, user in users.items():
        def answers(s: str = service, u: bool = user) -> bool:
            return "DicomAet" in rest(at(s), "/system", user=u)

        until(answers, timeout, f"{service} answers")

    # A study in the PACS, made by Orthanc itself: no outside data.
    instance = _create(at("pacs"), "CIRR^TEST", "CIRR-0001", user=False)
    study_uid = rest(at("pacs"), f"/instances/{instance}/simplified-tags", user=False)[
        "StudyInstanceUID"]

    # The bridge finds it in the PACS (C-FIND) and pulls it (C-MOVE to itself).
    query = rest(at("bridge"), "/modalities/Pacs/query",
                 {"Level": "Study", "Query": {"StudyInstanceUID": study_uid}})
    assert rest(at("bridge"), f"/queries/{query['ID']}/answers") == ["0"]
    retrieved = rest(at("bridge"), f"/queries/{query['ID']}/retrieve",
                     {"TargetAet": "CIRR1", "Synchronous": True})
    assert retrieved["RemoteAet"] == "PACS"
    study = rest(at("bridge"), "/tools/lookup", study_uid)
    assert [s["Type"] for s in study] == ["Study"]

    # The bridge sends it to the router, which forwards it to the archive and the workstation.
    sent = rest(at("bridge"), "/modalities/Router/store",
                {"Resources": [study[0]["ID"]], "Synchronous": True})
    assert (sent["InstancesCount"], sent["FailedInstancesCount"]) == (1, 0)

    # Orthanc's instance ids hash the DICOM UIDs: the same id is the same instance.
    until(lambda: rest(at("archive"), "/instances") == [instance], timeout,
          "the archive holds it")
    until(lambda: rest(at("workstation"), "/instances", user=False) == [instance], timeout,
          "the workstation received it")
    until(lambda: rest(at("router"), "/instances") == [], timeout, "the router keeps no copy")

    # PostgreSQL indexes it (Orthanc's resource type 3 is an instance) and stores the file.
    def psql(sql: str) -> str:
        done = docker("exec", at("postgres"), "psql", "-U", "postgres", "-d", DATABASE,
                      "-tAc", sql)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert psql("SELECT publicid FROM resources WHERE resourcetype = 3") == instance
    assert int(psql("SELECT count(*) FROM storagearea")) >= 1

    # With the workstation down, the router keeps what it could not deliver.
    assert docker("stop", at("workstation")).returncode == 0
    second = _create(at("router"), "CIRR^DOWN", "CIRR-0002", user=True)
    until(lambda: second in rest(at("archive"), "/instances"), timeout,
          "the archive holds the second")
    until(lambda: f"kept {second}: not taken by Workstation" in docker(
        "logs", at("router")).stderr, timeout, "the router says it kept the second")
    assert rest(at("router"), "/instances") == [second]
