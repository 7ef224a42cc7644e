"""Build provenance: an in-toto statement with a SLSA v1 provenance predicate for one image x
arch, from what xbuild knows when it built it. Pure.

What it says (README, Trust): the source repository, commit and whether the tree was dirty;
matrix.yml's digest; the Dockerfile, the context and the build args (secrets never: they are
BuildKit secrets, not args, and matrix.yml refuses args that look like one); the platform;
every base and the parent, by digest; every download with its checksum; the engine, buildx
and xbuild versions and the node; the build identity. `claims` reads the two facts `xbuild
verify` compares with the image's labels back out of a predicate from the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xbuild.core.identity import Inputs
from xbuild.core.refs import Reference

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
COSIGN_TYPE = "slsaprovenance1"  # cosign attest --type
BUILD_TYPE = "urn:xbuild:buildtype:image:v1"  # what the parameters below mean: README, Trust


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildFacts:
    """What one target's provenance says."""

    subject: Reference  # the per-arch image, pinned
    image: str
    identity: str
    inputs: Inputs
    source: str  # the repository's URL ("" outside a checkout with a public remote)
    revision: str  # the commit ("" outside git)
    dirty: bool  # uncommitted changes in the checkout
    matrix: str  # matrix.yml's path, relative to the checkout
    matrix_sha256: str
    dockerfile: str  # the Dockerfile's path, relative to the checkout
    bases: tuple[Reference, ...]  # every external base, pinned
    parent: Reference | None  # the in-matrix parent, pinned
    downloads: tuple[tuple[str, str, str], ...]  # (file name, URL, sha256)
    builder: tuple[tuple[str, str], ...]  # (component, version): xbuild, engine, buildx
    node: str  # the docker context or buildx builder ("" the default)
    invocation: str  # the run folder's name
    started: str  # RFC 3339
    finished: str


def predicate(facts: BuildFacts) -> dict[str, Any]:
    """The SLSA v1 provenance predicate (what `cosign attest --type slsaprovenance1` takes)."""
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "source": {"uri": facts.source, "revision": facts.revision,
                           "dirty": facts.dirty},
                "matrix": {"path": facts.matrix, "sha256": _hex(facts.matrix_sha256)},
                "image": facts.image, "dockerfile": facts.dockerfile,
                "platform": facts.inputs.platform,
                "buildArgs": dict(facts.inputs.build_args),
            },
            "internalParameters": {
                "identity": facts.identity,
                "context": facts.inputs.source.context,
                "dockerfileSha256": facts.inputs.source.dockerfile,
                "description": facts.inputs.description or "",
            },
            "resolvedDependencies": _dependencies(facts),
        },
        "runDetails": {
            "builder": {"id": _builder_id(facts), "version": dict(facts.builder)},
            "metadata": {"invocationId": facts.invocation, "startedOn": facts.started,
                         "finishedOn": facts.finished},
        },
    }


def statement(facts: BuildFacts) -> dict[str, Any]:
    """The whole in-toto statement, subject included, as the run folder keeps it."""
    return {"_type": STATEMENT_TYPE,
            "subject": [{"name": facts.subject.repository,
                         "digest": {"sha256": _hex(facts.subject.digest)}}],
            "predicateType": PREDICATE_TYPE, "predicate": predicate(facts)}


def _dependencies(facts: BuildFacts) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if facts.source and facts.revision:
        found.append({"uri": f"git+{facts.source}@{facts.revision}",
                      "digest": {"gitCommit": facts.revision}, "name": "source"})
    found += [{"uri": f"oci://{ref.repository}", "digest": {"sha256": _hex(ref.digest)},
               "name": "base"} for ref in facts.bases]
    if facts.parent is not None:
        found.append({"uri": f"oci://{facts.parent.repository}",
                      "digest": {"sha256": _hex(facts.parent.digest)}, "name": "parent"})
    found += [{"uri": url, "digest": {"sha256": sha}, "name": name}
              for name, url, sha in facts.downloads]
    return found


def _builder_id(facts: BuildFacts) -> str:
    return f"urn:xbuild:builder:{facts.node or 'default'}"


def _hex(digest: str) -> str:
    return digest.removeprefix("sha256:")


def claims(found: Mapping[str, Any]) -> tuple[str, str]:
    """(commit, identity) that a predicate from a registry states; "" where it states none or
    something that is not a string. `found` is hostile: only these two paths are read."""
    definition = _mapping(found.get("buildDefinition"))
    source = _mapping(_mapping(definition.get("externalParameters")).get("source"))
    internal = _mapping(definition.get("internalParameters"))
    commit, identity = source.get("revision"), internal.get("identity")
    return (commit if isinstance(commit, str) else "",
            identity if isinstance(identity, str) else "")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
