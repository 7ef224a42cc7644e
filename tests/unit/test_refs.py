"""Docker image references: Reference parses and builds them; the namespace/name/tag checks."""

from __future__ import annotations

import pytest

from tests.unit.fakes import arch
from xbuild.core.errors import ExitCode, InvalidReference
from xbuild.core.refs import (
    Reference,
    name_problem,
    namespace_problem,
    registry_of,
    tag_problem,
)
from xbuild.core.text import quoted

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(("text", "repository", "tag", "digest", "registry"), [
    pytest.param("derekmerck/orthanc", "derekmerck/orthanc", "", "", "docker.io",
                 id="hub-namespace"),
    pytest.param("orthanc", "orthanc", "", "", "docker.io", id="hub-bare"),
    pytest.param("derekmerck/orthanc:latest-arm64v8", "derekmerck/orthanc", "latest-arm64v8", "",
                 "docker.io", id="hub-tag"),
    pytest.param("127.0.0.1:5000/ns/orthanc:latest", "127.0.0.1:5000/ns/orthanc", "latest", "",
                 "127.0.0.1:5000", id="ip-port-tag"),
    pytest.param(f"localhost:5000/x@{DIGEST}", "localhost:5000/x", "", DIGEST, "localhost:5000",
                 id="localhost-port-digest"),
    pytest.param(f"localhost:5000/x:t1@{DIGEST}", "localhost:5000/x", "t1", DIGEST,
                 "localhost:5000", id="tag-and-digest"),
    pytest.param("localhost/x", "localhost/x", "", "", "localhost", id="localhost"),
    pytest.param("ghcr.io/a/b:v1.2", "ghcr.io/a/b", "v1.2", "", "ghcr.io", id="ghcr"),
    pytest.param("my-registry.example.com:443/a/b", "my-registry.example.com:443/a/b", "", "",
                 "my-registry.example.com:443", id="host-port-no-tag"),
    pytest.param("a_b/c__d/e.f-g---h", "a_b/c__d/e.f-g---h", "", "", "docker.io",
                 id="separators"),
])
def test_parse_reference(text: str, repository: str, tag: str, digest: str,
                         registry: str) -> None:
    ref = Reference.parse(text)
    assert ref == Reference(repository=repository, tag=tag, digest=digest)
    assert ref.registry == registry
    assert str(ref) == text


@pytest.mark.parametrize(("text", "match"), [
    pytest.param("", "empty repository", id="empty"),
    pytest.param(f"@{DIGEST}", "empty repository", id="digest-only"),
    pytest.param("Derek/orthanc", "'Derek'", id="uppercase-namespace"),
    pytest.param("derekmerck/Orthanc", "'Orthanc'", id="uppercase-name"),
    pytest.param("derek merck/orthanc", "'derek merck'", id="space"),
    pytest.param("derekmerck//orthanc", "''", id="empty-component"),
    pytest.param("derekmerck/orthanc/", "''", id="trailing-slash"),
    pytest.param("derekmerck/-orthanc", "'-orthanc'", id="leading-dash"),
    pytest.param("derekmerck/orthanc:", "tag ''", id="empty-tag"),
    pytest.param("derekmerck/orthanc:-bad", "tag '-bad'", id="tag-leading-dash"),
    pytest.param("derekmerck/orthanc:.bad", "tag '.bad'", id="tag-leading-dot"),
    pytest.param("derekmerck/orthanc:" + "a" * 129, "tag 'a", id="tag-129"),
    pytest.param("derekmerck/orthanc@sha256:abc", "not a sha256 digest", id="short-digest"),
    pytest.param("derekmerck/orthanc@md5:" + "0" * 32, "not a sha256 digest", id="md5"),
    pytest.param(f"derekmerck/orthanc@{DIGEST.upper()}", "not a sha256 digest",
                 id="uppercase-digest"),
    pytest.param("-bad.io/x", "registry host", id="bad-host"),
    pytest.param("host_name.io/x", "registry host", id="host-underscore"),
    pytest.param(":5000/x", "registry host", id="port-only"),
    pytest.param("derekmerck/orthanc\n", None, id="trailing-newline"),
    pytest.param("derekmerck/orthanc:latest\n", None, id="tag-trailing-newline"),
    pytest.param("ns/" + "a" * 253, None, id="name-over-255"),
    pytest.param("derekmerck/orthanc:lätest", "tag 'lätest'", id="tag-not-ascii"),
    pytest.param("derekmerck/örthanc", "'örthanc'", id="name-not-ascii"),
    pytest.param("derekmerck/orthanc:latest\u0661", None, id="tag-arabic-digit"),
])
def test_parse_reference_errors(text: str, match: str | None) -> None:
    with pytest.raises(InvalidReference, match=match) as caught:
        Reference.parse(text)
    assert quoted(text) in str(caught.value)
    assert caught.value.exit_code == ExitCode.CONFIG


def test_a_name_of_exactly_255_characters_is_a_reference() -> None:
    assert Reference.parse("ns/" + "a" * 252).name == "a" * 252


def test_quoted_cuts_long_values_at_80_characters() -> None:
    assert quoted("x" * 81) == repr("x" * 80 + "…")
    assert quoted("short") == "'short'"


AMD64 = arch("amd64")
DIGEST2 = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("built", "text"), [
    pytest.param(Reference.of("derekmerck", "orthanc", "latest"), "derekmerck/orthanc:latest",
                 id="of"),
    pytest.param(Reference.of("127.0.0.1:5000/ns", "orthanc", "v1").per_arch(AMD64),
                 "127.0.0.1:5000/ns/orthanc:v1-amd64", id="per-arch-with-port"),
    pytest.param(Reference.parse("127.0.0.1:5000/ns/img:t-amd64").pinned(DIGEST2),
                 f"127.0.0.1:5000/ns/img@{DIGEST2}", id="pinned-drops-the-tag"),
    pytest.param(Reference.parse("ns/img").pinned(DIGEST2), f"ns/img@{DIGEST2}",
                 id="pinned-no-tag"),
    pytest.param(Reference.parse("debian:bookworm-slim").in_namespace("127.0.0.1:5000/team"),
                 "127.0.0.1:5000/team/debian:bookworm-slim", id="base-in-namespace"),
    pytest.param(Reference.parse("library/debian:12").in_namespace("reg.io/x"),
                 "reg.io/x/debian:12", id="base-with-path"),
])
def test_references_are_built_by_reference_only(built: Reference, text: str) -> None:
    assert str(built) == text
    assert Reference.parse(text) == built


@pytest.mark.parametrize(("namespace", "registry"), [
    ("derekmerck", "docker.io"), ("127.0.0.1:5000/team", "127.0.0.1:5000"),
    ("ghcr.io/org", "ghcr.io"), ("localhost/x", "localhost"), ("a/b", "docker.io"),
])
def test_registry_of_a_namespace(namespace: str, registry: str) -> None:
    assert registry_of(namespace) == registry


@pytest.mark.parametrize("namespace", [
    "derekmerck", "derek-merck", "a/b/c", "127.0.0.1:5000/team", "localhost/x", "localhost",
    "localhost:5000", "ghcr.io/a/b", "Registry.Example.com/x",
])
def test_valid_namespaces(namespace: str) -> None:
    assert namespace_problem(namespace) is None


@pytest.mark.parametrize(("namespace", "match"), [
    pytest.param("Derek Merck", "'Derek Merck' is not a valid path component", id="space"),
    pytest.param("UPPER", "'UPPER' is not a valid path component", id="uppercase"),
    pytest.param("", "'' is not a valid path component", id="empty"),
    pytest.param("a//b", "'' is not a valid path component", id="empty-component"),
    pytest.param("ghcr.io/Team", "'Team'", id="uppercase-after-host"),
    pytest.param("bad_host.io/x", "'bad_host.io' is not a valid registry host", id="bad-host"),
    pytest.param("localhost:port/x", "not a valid registry host", id="bad-port"),
])
def test_invalid_namespaces(namespace: str, match: str) -> None:
    problem = namespace_problem(namespace)
    assert problem is not None
    assert match in problem


@pytest.mark.parametrize(("name", "valid"), [
    ("orthanc", True), ("orthanc-plugins", True), ("a.b_c__d", True), ("x1", True),
    ("Orthanc", False), ("-x", False), ("x-", False), ("a___b", False), ("", False),
    ("a/b", False), ("a b", False),
])
def test_name_problem(name: str, valid: bool) -> None:
    assert (name_problem(name) is None) is valid


@pytest.mark.parametrize(("tag", "valid"), [
    pytest.param("latest", True, id="latest"),
    pytest.param("latest-arm64v8", True, id="per-arch"),
    pytest.param("_x", True, id="leading-underscore"),
    pytest.param("V1.2", True, id="uppercase"),
    pytest.param("a" * 128, True, id="128"),
    pytest.param("a" * 129, False, id="129"),
    pytest.param("-bad", False, id="leading-dash"),
    pytest.param(".bad", False, id="leading-dot"),
    pytest.param("", False, id="empty"),
    pytest.param("a:b", False, id="colon"),
    pytest.param("a/b", False, id="slash"),
    pytest.param("a b", False, id="space"),
    pytest.param("latest\n", False, id="trailing-newline"),
    pytest.param("lätest", False, id="not-ascii"),
])
def test_tag_problem(tag: str, valid: bool) -> None:
    assert (tag_problem(tag) is None) is valid
