"""Bases from the Debian mirror, then orthanc and orthanc-plugins for 3 arches, verified with
their smoke tests (DICOM through each arch's own DICOM port), signed and attested with a key
made here and checked with `xbuild verify --key` and cosign; then the same command again,
which must find everything up to date and publish, sign and attest nothing new. The plugins
every arch ships must be the same; and the DICOM smoke test must fail, naming the step, when
the port is shut."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.cosign_keys import key_pair
from tests.support.run import Cli, docker, xbuild
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
MATRIX = ROOT / "matrix.yml"
ARCHES = ("amd64", "arm32v7", "arm64v8")
PLATFORMS = {"amd64": "linux/amd64", "arm32v7": "linux/arm/v7", "arm64v8": "linux/arm64"}
SMOKES = {"orthanc": {"smoke:version", "smoke:dicom-round-trip"},
          "orthanc-plugins": {"smoke:version", "smoke:plugins-load",
                              "smoke:dicom-round-trip-dicomweb"}}
# Debian 13's plugin folder: the orthanc package's own five, then one or two per plugin package.
PLUGIN_DIR = "/usr/share/orthanc/plugins"   # symbolic links into LIBRARY_DIR
LIBRARY_DIR = "/usr/lib/orthanc"
PLUGINS = sorted([
    "libDelayedDeletion.so", "libHousekeeper.so", "libModalityWorklists.so",
    "libMultitenantDicom.so", "libServeFolders.so",
    "libOrthancDicomWeb.so", "libOrthancGdcm.so", "libOrthancMySQLIndex.so",
    "libOrthancMySQLStorage.so", "libOrthancNeuro.so", "libOrthancPostgreSQLIndex.so",
    "libOrthancPostgreSQLStorage.so", "libOrthancPython.so", "libOrthancWebViewer.so",
    "libOrthancWSI.so"])


PASSWORD = "e2e-signing-password"


@dataclass(frozen=True, kw_only=True)
class Family:
    namespace: str
    build: list[str | Path]   # the build command, to run again
    built: Cli
    seconds: float
    public: Path  # the cosign public key the release is signed with


@pytest.fixture(scope="module")
def family(registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Family]:
    """orthanc and orthanc-plugins built, pushed and verified for every arch."""
    namespace = f"{registry.address}/e2e"
    arch_flags = [flag for arch in ARCHES for flag in ("--arch", arch)]
    bases = xbuild("bases", "-f", MATRIX, "--namespace", namespace, *arch_flags)
    assert bases.exit_code == 0, bases.stderr
    assert _platforms(f"{namespace}/debian:trixie-slim") == set(PLATFORMS.values())
    key, public = key_pair(tmp_path_factory.mktemp("keys"), PASSWORD)
    build: list[str | Path] = [
        "build", "orthanc-plugins", "-f", MATRIX, "--namespace", namespace, *arch_flags,
        "--push", "--verify", "--sign-key", key, "--json", "--log-dir",
        tmp_path_factory.mktemp("logs")]
    started = time.monotonic()
    built = xbuild(*build, env={"COSIGN_PASSWORD": PASSWORD})
    yield Family(namespace=namespace, build=build, built=built,
                 seconds=time.monotonic() - started, public=public)


def _platforms(ref: str) -> set[str]:
    raw = docker("buildx", "imagetools", "inspect", "--raw", ref)
    assert raw.returncode == 0, raw.stderr
    entries = json.loads(raw.stdout)["manifests"]
    named = {"/".join(filter(None, (e["platform"]["os"], e["platform"]["architecture"],
                                    e["platform"].get("variant"))))
             for e in entries if e["platform"]["os"] != "unknown"}
    return {name.removesuffix("/v8") for name in named}


def test_orthanc_family_builds_publishes_and_verifies_on_every_arch(family: Family) -> None:
    assert family.built.exit_code == 0, family.built.stderr
    targets = family.built.json()["targets"]
    assert isinstance(targets, list)
    assert {t["image"] for t in targets} == {"orthanc", "orthanc-plugins"}
    assert all(t["status"] == "pushed" for t in targets), targets

    for image, smokes in SMOKES.items():
        ref = f"{family.namespace}/{image}:latest"
        assert _platforms(ref) == set(PLATFORMS.values())
        audit = xbuild("verify", ref, "-f", MATRIX, "--key", family.public, "--json")
        assert audit.exit_code == 0, audit.stderr
        arches = audit.json()["arches"]
        assert isinstance(arches, list)
        assert {a["arch"] for a in arches} == set(ARCHES)
        parity = audit.json()["parity"]
        assert isinstance(parity, dict)
        assert (parity["status"], parity["arches"]) == ("pass", list(ARCHES)), parity
        for arch in arches:
            checks = {c["check"]: c["status"] for c in arch["checks"]}
            assert checks["run"] == "pass", (image, arch["arch"], checks)
            assert {name: checks.get(name) for name in smokes} == dict.fromkeys(
                smokes, "pass"), (image, arch["arch"], checks)
            trusted = {name: checks.get(name) for name in ("signature", "sbom", "provenance")}
            assert trusted == dict.fromkeys(trusted, "pass"), (image, arch["arch"], checks)
        assert audit.json()["list"] == [{"check": "signature", "status": "pass",
                                         "observed": "signed", "expected": ""}]
        assert _cosign("verify", f"{ref}", family.public) == 0

    lists = {image: _list_digest(f"{family.namespace}/{image}:latest") for image in SMOKES}
    tags = {image: _tags(f"{family.namespace}/{image}") for image in SMOKES}
    started = time.monotonic()
    rerun = xbuild(*family.build, env={"COSIGN_PASSWORD": PASSWORD})
    noop = time.monotonic() - started
    print(f"orthanc + orthanc-plugins x 3 arches: cold {family.seconds:.0f} s, "
          f"no-op rerun {noop:.1f} s")
    assert rerun.exit_code == 0, rerun.stderr
    again = rerun.json()["targets"]
    assert isinstance(again, list)
    statuses = {(t["image"], t["arch"], t["status"]) for t in again}
    assert statuses == {(image, arch, "up to date") for image in SMOKES for arch in ARCHES}
    assert {image: _list_digest(f"{family.namespace}/{image}:latest")
            for image in SMOKES} == lists
    assert {image: _tags(f"{family.namespace}/{image}") for image in SMOKES} == tags


def test_every_arch_ships_the_same_plugins(family: Family) -> None:
    """The plugin folder holds the same names on every arch, and they link to the same
    versioned libraries (/usr/lib/orthanc/lib*.so.<plugin version>)."""
    assert family.built.exit_code == 0, family.built.stderr
    folders: dict[str, dict[str, list[str]]] = {}
    for arch in ARCHES:
        listed = docker("run", "--rm", "--network", "none", "--platform", PLATFORMS[arch],
                        "--entrypoint", "sh", f"{family.namespace}/orthanc-plugins:latest-{arch}",
                        "-c", f"ls {PLUGIN_DIR}; echo --; ls {LIBRARY_DIR}")
        assert listed.returncode == 0, listed.stderr
        plugins, libraries = listed.stdout.split("--\n")
        folders[arch] = {"plugins": sorted(plugins.split()),
                         "libraries": sorted(libraries.split())}
    assert {arch: f["plugins"] for arch, f in folders.items()} == dict.fromkeys(ARCHES, PLUGINS)
    amd64 = folders["amd64"]["libraries"]
    assert {arch: f["libraries"] for arch, f in folders.items()} == dict.fromkeys(ARCHES, amd64)


def test_the_dicom_smoke_test_fails_naming_the_step_when_the_port_is_shut(
        family: Family, tmp_path: Path) -> None:
    """orthanc with its DICOM server switched off, judged by orthanc's own smoke test."""
    assert family.built.exit_code == 0, family.built.stderr
    smoke = yaml.safe_load(MATRIX.read_text())["images"]["orthanc"]["smoke"]
    (tmp_path / "shut").mkdir()
    (tmp_path / "shut" / "Dockerfile").write_text(
        f"FROM {family.namespace}/orthanc:latest\nENV ORTHANC__DICOM_SERVER_ENABLED=false\n")
    (tmp_path / "matrix.yml").write_text(yaml.safe_dump({
        "namespace": family.namespace, "tag": "latest", "architectures": ["amd64"],
        "images": {"shut": {"context": "shut",
                            "smoke": {"dicom-round-trip": smoke["dicom-round-trip"]}}}}))
    judged = xbuild("build", "shut", "-f", tmp_path / "matrix.yml", "--push", "--verify",
                    "--log-dir", tmp_path / "logs")
    assert judged.exit_code == 7, judged.stderr
    # verify shows a smoke test's last line: the step that failed, after the log's tail
    assert "smoke:dicom-round-trip" in judged.stderr
    assert "smoke: failed: C-ECHO to 127.0.0.1:4242" in judged.stderr


def _list_digest(ref: str) -> str:
    raw = docker("buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest.Digest}}")
    assert raw.returncode == 0, raw.stderr
    digest = json.loads(raw.stdout)
    assert isinstance(digest, str) and digest.startswith("sha256:"), raw.stdout
    return digest


def _cosign(command: str, ref: str, public: Path) -> int:
    return subprocess.run(["cosign", command, "--key", str(public),
                           "--insecure-ignore-tlog=true", "--allow-insecure-registry",
                           "--allow-http-registry", ref], capture_output=True,
                          check=False, timeout=300).returncode


def _tags(repository: str) -> dict[str, str]:
    """Every tag (cosign's .sig and .att included) and the digest it names."""
    listed = subprocess.run(["skopeo", "list-tags", "--tls-verify=false",
                             f"docker://{repository}"], capture_output=True, text=True,
                            check=True)
    found = {}
    for tag in json.loads(listed.stdout)["Tags"]:
        raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                              f"docker://{repository}:{tag}"], capture_output=True, check=True)
        found[tag] = hashlib.sha256(raw.stdout).hexdigest()
    return found
