"""`xbuild sbom`'s steps over FakeDocker: each arch exported once, nothing run, what was pulled
removed; a single image's arch from its config; the one-line answer across arches."""

from __future__ import annotations

import json

from tests.unit.fakes import FakeDocker, FakeImage
from xbuild.core.answers import ListEntry
from xbuild.core.platforms import Platform, arch_named
from xbuild.core.refs import Reference
from xbuild.pipeline.bill_of_materials import arch_sboms, find_package, one_line

REPO = "127.0.0.1:5000/derekmerck/orthanc"
AMD64, ARM32 = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def status(arch: str, version: str) -> bytes:
    return (f"Package: openssl\nStatus: install ok installed\nArchitecture: {arch}\n"
            f"Version: {version}\n").encode()


def platform(name: str) -> Platform:
    arch = arch_named(name)
    assert arch is not None
    return arch.platform


def image(arch_name: str, arch: str, version: str) -> FakeImage:
    files: dict[str, bytes | str] = {"/var/lib/dpkg/status": status(arch, version),
                                     "/etc/debian_version": b"12.8\n"}
    return FakeImage(platform=platform(arch_name), files=files)


def fake() -> FakeDocker:
    return FakeDocker(
        images={f"{REPO}@{AMD64}": image("amd64", "amd64", "3.0.15-1~deb12u1"),
                f"{REPO}@{ARM32}": image("arm32v7", "armhf", "3.0.14-1~deb12u2"),
                f"{REPO}:single": image("arm64v8", "arm64", "3.0.15-1~deb12u1")},
        lists={f"{REPO}:latest": [ListEntry(platform=platform("amd64"), digest=AMD64),
                                  ListEntry(platform=platform("arm32v7"), digest=ARM32)],
               f"{REPO}:single": None})


def test_each_arch_of_a_list_is_exported_once_and_nothing_runs() -> None:
    docker = fake()
    found = arch_sboms(Reference.parse(f"{REPO}:latest"), (), docker, tool_version="1")
    assert [(s.arch.name, s.digest) for s in found] == [("amd64", AMD64), ("arm32v7", ARM32)]
    assert docker.exported == [f"{REPO}@{AMD64}", f"{REPO}@{ARM32}"]
    assert docker.removed == docker.exported and docker.runs == []
    purls = [json.loads(s.document)["components"][0]["purl"] for s in found]
    assert purls == ["pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12",
                     "pkg:deb/debian/openssl@3.0.14-1~deb12u2?arch=armhf&distro=debian-12"]
    line = one_line("openssl", [(s.arch, find_package(s.inventory, "openssl")) for s in found])
    assert line == "openssl 3.0.15-1~deb12u1 (amd64), 3.0.14-1~deb12u2 (arm32v7)"


def test_only_the_arches_asked_for() -> None:
    docker = fake()
    arm32 = arch_named("arm32v7")
    assert arm32 is not None
    found = arch_sboms(Reference.parse(f"{REPO}:latest"), (arm32,), docker, tool_version="1")
    assert [s.arch.name for s in found] == ["arm32v7"]
    assert docker.exported == [f"{REPO}@{ARM32}"]


def test_a_single_image_is_the_arch_its_config_names() -> None:
    docker = fake()
    found = arch_sboms(Reference.parse(f"{REPO}:single"), (), docker, tool_version="1")
    assert [(s.arch.name, s.digest) for s in found] == [("arm64v8", "")]
    assert json.loads(found[0].document)["metadata"]["component"]["version"] == f"{REPO}:single"
