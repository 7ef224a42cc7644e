"""Bases from the Debian mirror, then orthanc and orthanc-plugins for 3 arches, verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.run import docker, xbuild
from xbuild.host.registry import LocalRegistry

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

    built = xbuild("build", "orthanc-plugins", "-f", MATRIX, "--namespace", namespace,
                   *arch_flags, "--push", "--verify", "--json", "--log-dir", tmp_path)
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
        for arch in arches:
            checks = {c["check"]: c["status"] for c in arch["checks"]}
            assert checks["run"] == "pass", (image, arch["arch"], checks)
            assert checks[smoke] == "pass", (image, arch["arch"], checks)
