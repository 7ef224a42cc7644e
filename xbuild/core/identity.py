"""Build identity: one digest of everything that determines an image x arch, known before
building. Pure: what must be looked up (a base's digest, a published parent's identity) is
given to it.

What counts:
- the context's files, as BuildKit would send them (`.dockerignore` honoured; contents, kinds,
  modes and link targets, never mtimes or owners: core/context_digest.py);
- the Dockerfile's bytes;
- the build args for that arch (their order does not matter) and the platform;
- the checksum of each download the arch's build gets;
- the digest of each external base (a FROM that is neither scratch, a stage of the same
  Dockerfile nor the in-matrix parent) as it was resolved for that arch;
- the identity of the in-matrix parent for the same arch;
- the description label matrix.yml gives it (the other labels say when and from which commit
  it was built, which is no reason to build it again).

Two targets with equal identities build the same image (from cache when it is there). The
identity travels with the image as the label IDENTITY_LABEL; xbuild reads it back to skip
what is up to date and to refuse a stale arch in a merge.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from xbuild.core import dockerfile as df
from xbuild.core.answers import Published
from xbuild.core.bounded_read import read_bounded
from xbuild.core.context_digest import context_digest
from xbuild.core.plan import Plan, Target
from xbuild.core.refs import Reference

VERSION = "xbuild identity v1"
SCRATCH = "scratch"


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceDigest:
    """What one image's builds share whatever the arch: its context and Dockerfile."""

    context: str  # sha256 of the context as BuildKit would send it
    dockerfile: str  # sha256 of the Dockerfile's bytes
    bases: tuple[str, ...]  # the external bases its FROM lines name, in order


@dataclass(frozen=True, slots=True, kw_only=True)
class Inputs:
    """Everything one target's identity is made of, as plan --json shows it."""

    source: SourceDigest
    platform: str
    build_args: tuple[tuple[str, str], ...]
    downloads: tuple[tuple[str, str | None], ...]  # file name -> sha256, None if not known yet
    bases: tuple[tuple[str, str | None], ...]  # base name -> digest, None if not resolved
    parent: str | None  # the parent's identity; "" when the target has no in-matrix parent
    description: str | None = ""  # the description label matrix.yml gives the image

    @property
    def unknown(self) -> tuple[str, ...]:
        """What is not known yet (then there is no identity, and the target must be built)."""
        missing = [f"download {name}" for name, sha in self.downloads if sha is None]
        missing += [f"base {name}" for name, digest in self.bases if digest is None]
        if self.parent is None:
            missing.append("the parent's identity")
        return tuple(missing)


def read_source(context: Path, dockerfile: Path, parent_name: str | None) -> SourceDigest:
    text = read_bounded(dockerfile, df.MAX_BYTES)
    return SourceDigest(context=context_digest(context, dockerfile=dockerfile),
                  dockerfile=hashlib.sha256(text).hexdigest(),
                  bases=external_bases(text.decode("utf-8", errors="replace"), parent_name))


def external_bases(dockerfile_text: str, parent_name: str | None) -> tuple[str, ...]:
    """FROM names that are images from elsewhere: not scratch, not an earlier stage's name,
    not the in-matrix parent (whose identity counts instead)."""
    stages: set[str] = set()
    found: list[str] = []
    for line in df.from_lines(dockerfile_text):
        name = line.image
        if name.lower() != SCRATCH and name not in stages and name != parent_name \
                and name not in found:
            found.append(name)
        if line.stage:
            stages.add(line.stage)
    return tuple(found)


def inputs_for(target: Target, source: SourceDigest, *,
               downloads: Sequence[tuple[str, str | None]],
               bases: Mapping[str, str | None], parent: str | None,
               description: str | None = "") -> Inputs:
    """`parent`: the parent's identity (None when unknown); ignored without a parent."""
    has_parent = target.parent_name is not None
    return Inputs(source=source, platform=str(target.arch.platform),
                  build_args=tuple(sorted(target.build_args)),
                  downloads=tuple(sorted(downloads, key=lambda pair: pair[0])),
                  bases=tuple((name, bases.get(name)) for name in source.bases),
                  parent=parent if has_parent else "", description=description)


def identity(inputs: Inputs) -> str | None:
    """`sha256:<hex>` over the inputs, or None when some input is not known."""
    if inputs.unknown:
        return None
    canonical = json.dumps({
        "version": VERSION, "context": inputs.source.context,
        "dockerfile": inputs.source.dockerfile, "platform": inputs.platform,
        "build_args": [list(pair) for pair in inputs.build_args],
        "downloads": [list(pair) for pair in inputs.downloads],
        "bases": [list(pair) for pair in inputs.bases], "parent": inputs.parent,
        "description": inputs.description,
    }, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def inputs_as_dict(inputs: Inputs) -> dict[str, Any]:
    """What plan --json shows of a target's identity."""
    return {"context": inputs.source.context, "dockerfile": inputs.source.dockerfile,
            "platform": inputs.platform, "build_args": dict(inputs.build_args),
            "downloads": dict(inputs.downloads), "bases": dict(inputs.bases),
            "parent": inputs.parent, "description": inputs.description,
            "unknown": list(inputs.unknown)}


def _frozen() -> Mapping[Any, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    """Each target's identity and what the registry already holds, read once before a build
    (pipeline/resolve.py); read-only."""

    inputs: Mapping[str, Inputs] = field(default_factory=_frozen)  # target key -> inputs
    identities: Mapping[str, str | None] = field(default_factory=_frozen)  # key -> identity
    up_to_date: Mapping[str, str] = field(default_factory=_frozen)  # key -> published digest
    staged: Mapping[str, str] = field(default_factory=_frozen)  # key -> digest under staging-
    bases: Mapping[tuple[str, str], Reference] = field(default_factory=_frozen)  # (name, arch)
    lists: Mapping[str, frozenset[str]] = field(default_factory=_frozen)  # list ref -> digests
    published: Mapping[str, Published | None] = field(default_factory=_frozen)  # per-arch tag

    def __post_init__(self) -> None:
        for name in ("inputs", "identities", "up_to_date", "staged", "bases", "lists",
                     "published"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def to_build(self, plan: Plan) -> list[Target]:
        """What must be built: neither published nor staged with the identity it would get."""
        return [t for t in plan.targets
                if t.key not in self.up_to_date and t.key not in self.staged]

    def current_digests(self) -> dict[str, str]:
        """Per-arch tag -> the digest it named when read (tags that exist)."""
        return {tag: found.digest for tag, found in self.published.items() if found}

    def list_unchanged(self, ref: Reference, digests: Collection[str]) -> bool:
        """The published list `ref` already holds exactly `digests`: publishing it changes
        nothing."""
        return self.lists.get(str(ref)) == frozenset(digests)
