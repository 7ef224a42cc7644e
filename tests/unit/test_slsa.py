"""Provenance: the SLSA v1 predicate xbuild attaches, field by field, and reading it back."""

from __future__ import annotations

from typing import Any

import pytest

from xbuild.core.identity import Inputs, SourceDigest
from xbuild.core.refs import Reference
from xbuild.core.slsa import BuildFacts, claims, predicate, statement

IMAGE_DIGEST = "sha256:" + "1" * 64
BASE_DIGEST = "sha256:" + "2" * 64
PARENT_DIGEST = "sha256:" + "3" * 64
IDENTITY = "sha256:" + "4" * 64
COMMIT = "5" * 40

FACTS = BuildFacts(
    subject=Reference.parse(f"127.0.0.1:5000/ns/orthanc-plugins@{IMAGE_DIGEST}"),
    image="orthanc-plugins", identity=IDENTITY,
    inputs=Inputs(source=SourceDigest(context="c" * 64, dockerfile="d" * 64, bases=()),
                  platform="linux/arm/v7", build_args=(("ORTHANC_VERSION", "1.12"),),
                  downloads=(("plugin.zip", "e" * 64),), bases=(), parent=IDENTITY,
                  description="Orthanc with plugins"),
    source="https://github.com/derekmerck/xbuild", revision=COMMIT, dirty=False,
    matrix="matrix.yml", matrix_sha256="f" * 64, dockerfile="images/orthanc-plugins/Dockerfile",
    bases=(Reference.parse(f"127.0.0.1:5000/ns/debian@{BASE_DIGEST}"),),
    parent=Reference.parse(f"127.0.0.1:5000/ns/orthanc@{PARENT_DIGEST}"),
    downloads=(("plugin.zip", "https://example.org/plugin.zip", "e" * 64),),
    builder=(("xbuild", "0.1.0"), ("engine", "26.1.5"), ("buildx", "0.13.1")), node="",
    invocation="20261203-081500", started="2026-12-03T08:15:01Z",
    finished="2026-12-03T08:17:40Z")


def test_the_statement_names_the_image_by_digest() -> None:
    found = statement(FACTS)
    assert found["_type"] == "https://in-toto.io/Statement/v1"
    assert found["predicateType"] == "https://slsa.dev/provenance/v1"
    assert found["subject"] == [{"name": "127.0.0.1:5000/ns/orthanc-plugins",
                                 "digest": {"sha256": "1" * 64}}]


def test_the_predicate_states_every_input() -> None:
    definition = predicate(FACTS)["buildDefinition"]
    assert definition["externalParameters"] == {
        "source": {"uri": "https://github.com/derekmerck/xbuild", "revision": COMMIT,
                   "dirty": False},
        "matrix": {"path": "matrix.yml", "sha256": "f" * 64},
        "image": "orthanc-plugins", "dockerfile": "images/orthanc-plugins/Dockerfile",
        "platform": "linux/arm/v7", "buildArgs": {"ORTHANC_VERSION": "1.12"}}
    assert definition["internalParameters"]["identity"] == IDENTITY
    assert definition["resolvedDependencies"] == [
        {"uri": f"git+https://github.com/derekmerck/xbuild@{COMMIT}",
         "digest": {"gitCommit": COMMIT}, "name": "source"},
        {"uri": "oci://127.0.0.1:5000/ns/debian", "digest": {"sha256": "2" * 64},
         "name": "base"},
        {"uri": "oci://127.0.0.1:5000/ns/orthanc", "digest": {"sha256": "3" * 64},
         "name": "parent"},
        {"uri": "https://example.org/plugin.zip", "digest": {"sha256": "e" * 64},
         "name": "plugin.zip"}]


def test_the_run_details_name_the_builder_and_times() -> None:
    details = predicate(FACTS)["runDetails"]
    assert details == {
        "builder": {"id": "urn:xbuild:builder:default",
                    "version": {"xbuild": "0.1.0", "engine": "26.1.5", "buildx": "0.13.1"}},
        "metadata": {"invocationId": "20261203-081500", "startedOn": "2026-12-03T08:15:01Z",
                     "finishedOn": "2026-12-03T08:17:40Z"}}


def test_claims_are_read_back() -> None:
    assert claims(predicate(FACTS)) == (COMMIT, IDENTITY)


@pytest.mark.parametrize("found", [
    pytest.param({}, id="empty"),
    pytest.param({"buildDefinition": []}, id="definition-not-a-mapping"),
    pytest.param({"buildDefinition": {"externalParameters": {"source": {"revision": 7}},
                                      "internalParameters": {"identity": ["x"]}}},
                 id="values-not-strings"),
])
def test_hostile_predicates_claim_nothing(found: dict[str, Any]) -> None:
    assert claims(found) == ("", "")
