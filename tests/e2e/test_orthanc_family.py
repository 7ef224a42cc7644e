"""Bases from the Debian mirror, then orthanc and orthanc-plugins for 3 arches, verified; then
the same command again, which must find everything up to date and publish nothing new."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.run import docker, xbuild
from xbuild.host.local_registry import LocalRegistry

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
MATRIX = ROOT / "matrix.yml"
ARCHES = ("amd64", "arm32v7", "arm64v8")
PLATFORMS = {"linux/amd64", "linux/arm/v7", "linux/arm64"}  # arm64's v8 is implied
SMOKES = {"orthanc": "smoke:system-name", "orthanc-plugins": "smoke:dicom-web-listed"}


def _platforms(ref: str) -> set[str]:
    raw = docker("buildx", "imagetools", "inspect", "--raw", ref)
    assert raw.returncode == 0, raw.stderr
    entries = json.loads(raw.stdout)["manifests"]
    named = {"/".join(filter(None, (e["platform"]["os"], e["platform"]["architecture"],
                                    e["platform"].get("variant"))))
             for e in entries if e["platform"]["os"] != "unknown"}
    return {name.removesuffix("/v8") for name in named}


def test_orthanc_family_builds_publishes_and_verifies_on_every_arch(
        registry: LocalRegistry, tmp_path: Path) -> None:
    namespace = f"{registry.address}/e2e"
    arch_flags = [flag for arch in ARCHES for flag in ("--arch", arch)]

    bases = xbuild("bases", "-f", MATRIX, "--namespace", namespace, *arch_flags)
    assert bases.exit_code == 0, bases.stderr
    assert _platforms(f"{namespace}/debian:bookworm-slim") == PLATFORMS

    build: list[str | Path] = ["build", "orthanc-plugins", "-f", MATRIX, "--namespace",
                               namespace, *arch_flags, "--push", "--verify", "--json",
                               "--log-dir", tmp_path]
    started = time.monotonic()
    built = xbuild(*build)
    cold = time.monotonic() - started
    assert built.exit_code == 0, built.stderr
    targets = built.json()["targets"]
    assert isinstance(targets, list)
    assert {t["image"] for t in targets} == {"orthanc", "orthanc-plugins"}
    assert all(t["status"] == "pushed" for t in targets), targets

    for image, smoke in SMOKES.items():
        ref = f"{namespace}/{image}:latest"
        assert _platforms(ref) == PLATFORMS
        audit = xbuild("verify", ref, "-f", MATRIX, "--json")
        assert audit.exit_code == 0, audit.stderr
        verdict = audit.json()
        arches = verdict["arches"]
        assert isinstance(arches, list)
        assert {a["arch"] for a in arches} == set(ARCHES)
        parity = verdict["parity"]
        assert isinstance(parity, dict)
        assert (parity["status"], parity["arches"]) == ("pass", list(ARCHES)), parity
        for arch in arches:
            checks = {c["check"]: c["status"] for c in arch["checks"]}
            assert checks["run"] == "pass", (image, arch["arch"], checks)
            assert checks[smoke] == "pass", (image, arch["arch"], checks)

    lists = {image: _list_digest(f"{namespace}/{image}:latest") for image in SMOKES}
    started = time.monotonic()
    rerun = xbuild(*build)
    noop = time.monotonic() - started
    print(f"orthanc + orthanc-plugins x 3 arches: cold {cold:.0f} s, no-op rerun {noop:.1f} s")
    assert rerun.exit_code == 0, rerun.stderr
    again = rerun.json()["targets"]
    assert isinstance(again, list)
    statuses = {(t["image"], t["arch"], t["status"]) for t in again}
    assert statuses == {(image, arch, "up to date") for image in SMOKES for arch in ARCHES}
    assert {image: _list_digest(f"{namespace}/{image}:latest") for image in SMOKES} == lists


def _list_digest(ref: str) -> str:
    raw = docker("buildx", "imagetools", "inspect", ref, "--format", "{{json .Manifest.Digest}}")
    assert raw.returncode == 0, raw.stderr
    digest = json.loads(raw.stdout)
    assert isinstance(digest, str) and digest.startswith("sha256:"), raw.stdout
    return digest
