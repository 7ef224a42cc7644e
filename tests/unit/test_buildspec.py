"""Every BuildRequest: labels, named contexts, source URLs, bases and probes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.fakes import arch
from xbuild.core.buildspec import (
    BuildRequest,
    Provenance,
    base_request,
    build_request,
    labels_for,
    probe_request,
    source_url,
)
from xbuild.core.matrix import BaseSpec
from xbuild.core.plan import Target
from xbuild.core.refs import Reference

AMD64, ARM32 = arch("amd64"), arch("arm32v7")
CREATED = "2026-01-01T00:00:00Z"
DIGEST = "sha256:" + "ab" * 32
OCI = "org.opencontainers.image"


def ref(text: str) -> Reference:
    return Reference.parse(text)


def target(*, image: str = "child", parent_name: str | None = "ns/base:t",
           parent: str | None = "base", parent_published: str | None = None,
           description: str | None = "") -> Target:
    context = Path("/ctx") / image
    return Target(image=image, arch=ARM32, ref=ref(f"reg:5000/team/{image}:v1-arm32v7"), level=1,
                  context=context, dockerfile=context / "Dockerfile",
                  build_args=(("A", "1"), ("B", "two")), parent=parent,
                  parent_name=ref(parent_name) if parent_name else None,
                  parent_published=ref(parent_published) if parent_published else None,
                  description=description)


@pytest.mark.parametrize(("provenance", "version", "expected"), [
    pytest.param(Provenance(created=CREATED), "v1", {
        "architecture": "arm32v7", f"{OCI}.created": CREATED, f"{OCI}.title": "child",
        f"{OCI}.version": "v1", f"{OCI}.description": "",
    }, id="no-git"),
    pytest.param(Provenance(created=CREATED, revision="0123abc", source="https://x/y.git"), "v1", {
        "architecture": "arm32v7", f"{OCI}.created": CREATED, f"{OCI}.revision": "0123abc",
        f"{OCI}.source": "https://x/y.git", f"{OCI}.title": "child", f"{OCI}.version": "v1",
        f"{OCI}.description": "",
    }, id="git"),
    pytest.param(Provenance(created="", revision="", source=""), "", {
        "architecture": "arm32v7", f"{OCI}.title": "child", f"{OCI}.description": "",
    }, id="everything-empty"),
])
def test_labels_drop_empty_values_but_always_blank_an_inherited_description(
        provenance: Provenance, version: str, expected: dict[str, str]) -> None:
    labels = labels_for(title="child", arch=ARM32, provenance=provenance, version=version,
                        description="")
    assert dict(labels) == expected
    assert len(labels) == len(dict(labels))


@pytest.mark.parametrize(("description", "expected"), [
    pytest.param("DICOM server", "DICOM server", id="from-matrix"),
    pytest.param("", "", id="none-anywhere-blanks-the-base-one"),
    pytest.param(None, None, id="the-dockerfile-has-its-own"),
])
def test_description_label(description: str | None, expected: str | None) -> None:
    labels = dict(labels_for(title="x", arch=AMD64, provenance=Provenance(created=CREATED),
                             version="v1", description=description))
    assert labels.get(f"{OCI}.description") == expected


def request(t: Target, parent_source: str | None, *, push: bool = True,
            base_contexts: tuple[tuple[str, str], ...] = ()) -> BuildRequest:
    return build_request(t, parent_source=ref(parent_source) if parent_source else None,
                         provenance=Provenance(created=CREATED), version="v1", push=push,
                         contexts=base_contexts)


@pytest.mark.parametrize(("t", "source", "expected"), [
    pytest.param(target(), f"reg:5000/team/base@{DIGEST}",
                 {"ns/base:t": f"docker-image://reg:5000/team/base@{DIGEST}"}, id="pinned-parent"),
    pytest.param(target(), "reg:5000/team/base:v1-arm32v7",
                 {"ns/base:t": "docker-image://reg:5000/team/base:v1-arm32v7"}, id="parent-tag"),
    pytest.param(target(parent=None, parent_published="ns/base:v1-arm32v7"),
                 "ns/base:v1-arm32v7", {"ns/base:t": "docker-image://ns/base:v1-arm32v7"},
                 id="published-parent"),
    pytest.param(target(image="base", parent=None, parent_name=None), None, {}, id="no-parent"),
    pytest.param(target(image="base", parent=None, parent_name=None), "ignored:tag", {},
                 id="source-without-a-name"),
    pytest.param(target(), None, {}, id="name-without-a-source"),
])
def test_build_request_contexts(t: Target, source: str | None, expected: dict[str, str]) -> None:
    assert dict(request(t, source).contexts) == expected


def test_build_request_keeps_base_contexts_and_adds_the_parent() -> None:
    base = (("debian:bookworm-slim", "docker-image://mirror/debian:bookworm-slim"),)
    contexts = request(target(), f"r/base@{DIGEST}", base_contexts=base).contexts
    assert contexts == (base[0], ("ns/base:t", f"docker-image://r/base@{DIGEST}"))


def test_parent_source_overrides_a_base_context_of_the_same_name() -> None:
    base = (("ns/base:t", "docker-image://elsewhere/base:t"),)
    contexts = request(target(), f"r/base@{DIGEST}", base_contexts=base).contexts
    assert dict(contexts) == {"ns/base:t": f"docker-image://r/base@{DIGEST}"}


@pytest.mark.parametrize(("push", "tag"), [
    pytest.param(True, "reg:5000/team/child:staging-v1-arm32v7", id="push-to-staging"),
    pytest.param(False, "reg:5000/team/child:v1-arm32v7", id="load"),
])
def test_build_request_fields(push: bool, tag: str) -> None:
    built = request(target(description="the child"), None, push=push)
    assert built == BuildRequest(
        key="child-arm32v7", context=Path("/ctx/child"), dockerfile=Path("/ctx/child/Dockerfile"),
        platform=ARM32.platform, tag=ref(tag),
        build_args=(("A", "1"), ("B", "two")),
        labels=(("architecture", "arm32v7"), (f"{OCI}.created", CREATED),
                (f"{OCI}.title", "child"), (f"{OCI}.version", "v1"),
                (f"{OCI}.description", "the child")),
        contexts=(), push=push)


def test_base_request_is_published_per_arch_under_the_namespace(tmp_path: Path) -> None:
    base = BaseSpec(name=ref("debian:bookworm-slim"), suite="bookworm",
                    mirror="http://deb.debian.org/debian")
    built = base_request(base, AMD64, namespace="127.0.0.1:5000/team", workdir=tmp_path,
                         provenance=Provenance(created=CREATED, revision="abc",
                                               source="https://example.org/x"))
    assert str(built.tag) == "127.0.0.1:5000/team/debian:bookworm-slim-amd64"
    assert built.push and built.platform == AMD64.platform
    assert built.dockerfile == tmp_path / "Dockerfile"
    assert dict(built.labels) == {
        "architecture": "amd64", f"{OCI}.created": CREATED, f"{OCI}.revision": "abc",
        f"{OCI}.source": "https://example.org/x", f"{OCI}.title": "debian:bookworm-slim",
        f"{OCI}.version": "bookworm-slim",
        f"{OCI}.description": "Debian bookworm minbase from http://deb.debian.org/debian, "
                              "by mmdebstrap"}


def test_probe_request_is_loaded_not_pushed(tmp_path: Path) -> None:
    built = probe_request(ARM32, workdir=tmp_path, tag=ref("xbuild-probe:busybox-arm32v7"))
    assert (built.push, built.key, dict(built.labels)) == (
        False, "probe-arm32v7", {"architecture": "arm32v7"})


@pytest.mark.parametrize(("remote", "url"), [
    pytest.param("https://github.com/derekmerck/xbuild.git", "https://github.com/derekmerck/xbuild.git",
                 id="https"),
    pytest.param("https://user:ghp_secret@github.com/o/r.git", "https://github.com/o/r.git",
                 id="token-dropped"),
    pytest.param("git@github.com:o/r.git", "https://github.com/o/r.git", id="scp-like"),
    pytest.param("ssh://git@gitlab.example.org:2222/o/r.git",
                 "https://gitlab.example.org:2222/o/r.git", id="ssh-with-port"),
    pytest.param("https://h.example/o/r?token=x#frag", "https://h.example/o/r", id="query-dropped"),
    pytest.param("/home/derek/src/xbuild", "", id="local-path"),
    pytest.param("../xbuild", "", id="relative-path"),
    pytest.param("file:///srv/git/xbuild.git", "", id="file-url"),
    pytest.param("C:/src/xbuild", "", id="windows-path"),
    pytest.param("", "", id="no-remote"),
])
def test_source_url_is_a_url_or_nothing(remote: str, url: str) -> None:
    assert source_url(remote) == url
