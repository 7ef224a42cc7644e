"""From a plan target to a BuildRequest: labels, named contexts, repositories, pinned refs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.fakes import arch
from xbuild.buildspec import (
    BuildRequest,
    Provenance,
    build_request,
    labels_for,
    pinned,
    repository_of,
)
from xbuild.plan import Target

AMD64, ARM32 = arch("amd64"), arch("arm32v7")
CREATED = "2026-01-01T00:00:00Z"
DIGEST = "sha256:" + "ab" * 32


def target(*, image: str = "child", parent_name: str | None = "ns/base:t",
           parent: str | None = "base", parent_published: str | None = None) -> Target:
    context = Path("/ctx") / image
    return Target(image=image, arch=ARM32, ref=f"reg:5000/team/{image}:v1-arm32v7", level=1,
                  context=context, dockerfile=context / "Dockerfile",
                  build_args=(("A", "1"), ("B", "two")), parent=parent, parent_name=parent_name,
                  parent_published=parent_published)


@pytest.mark.parametrize(("provenance", "version", "expected"), [
    pytest.param(Provenance(created=CREATED), "v1", {
        "architecture": "arm32v7", "org.opencontainers.image.created": CREATED,
        "org.opencontainers.image.title": "child", "org.opencontainers.image.version": "v1",
    }, id="no-git"),
    pytest.param(Provenance(created=CREATED, revision="0123abc", source="https://x/y.git"), "v1", {
        "architecture": "arm32v7", "org.opencontainers.image.created": CREATED,
        "org.opencontainers.image.revision": "0123abc",
        "org.opencontainers.image.source": "https://x/y.git",
        "org.opencontainers.image.title": "child", "org.opencontainers.image.version": "v1",
    }, id="git"),
    pytest.param(Provenance(created="", revision="", source=""), "", {
        "architecture": "arm32v7", "org.opencontainers.image.title": "child",
    }, id="everything-empty"),
])
def test_labels_for_drops_empty_values(provenance: Provenance, version: str,
                                       expected: dict[str, str]) -> None:
    labels = labels_for(target(), provenance, version)
    assert dict(labels) == expected
    assert all(value for _, value in labels)
    assert len(labels) == len(dict(labels))


def request(t: Target, parent_source: str | None, *, push: bool = True,
            base_contexts: tuple[tuple[str, str], ...] = ()) -> BuildRequest:
    return build_request(t, parent_source=parent_source, provenance=Provenance(created=CREATED),
                         version="v1", push=push, contexts=base_contexts)


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


@pytest.mark.parametrize("push", [True, False], ids=["push", "load"])
def test_build_request_fields(push: bool) -> None:
    t = target()
    built = request(t, None, push=push)
    assert built == BuildRequest(
        key="child-arm32v7", context=Path("/ctx/child"), dockerfile=Path("/ctx/child/Dockerfile"),
        platform=ARM32.platform, tag="reg:5000/team/child:v1-arm32v7",
        build_args=(("A", "1"), ("B", "two")), labels=labels_for(t, Provenance(created=CREATED),
                                                                 "v1"),
        contexts=(), push=push)


@pytest.mark.parametrize(("ref", "repository"), [
    pytest.param("127.0.0.1:5000/ns/img:tag", "127.0.0.1:5000/ns/img", id="port-and-tag"),
    pytest.param("127.0.0.1:5000/ns/img", "127.0.0.1:5000/ns/img", id="port-no-tag"),
    pytest.param("localhost:5000/img:t-amd64", "localhost:5000/img", id="localhost-port"),
    pytest.param("ns/img:tag", "ns/img", id="hub-namespace"),
    pytest.param("img:tag", "img", id="bare-name"),
    pytest.param("img", "img", id="bare-name-no-tag"),
    pytest.param("ghcr.io/a/b/img:1.2.3-arm64v8", "ghcr.io/a/b/img", id="deep-path"),
])
def test_repository_of(ref: str, repository: str) -> None:
    assert repository_of(ref) == repository


@pytest.mark.parametrize(("ref", "expected"), [
    pytest.param("127.0.0.1:5000/ns/img:t-amd64", f"127.0.0.1:5000/ns/img@{DIGEST}", id="port"),
    pytest.param("ns/img:t-amd64", f"ns/img@{DIGEST}", id="hub"),
    pytest.param("127.0.0.1:5000/ns/img", f"127.0.0.1:5000/ns/img@{DIGEST}", id="no-tag"),
])
def test_pinned(ref: str, expected: str) -> None:
    assert pinned(ref, DIGEST) == expected
