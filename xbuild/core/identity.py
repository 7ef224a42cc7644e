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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xbuild.core import dockerfile as df
from xbuild.core.bounded_read import read_bounded
from xbuild.core.context_digest import context_digest
from xbuild.core.plan import Target

VERSION = "xbuild identity v1"
SCRATCH = "scratch"


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """What one image's builds share whatever the arch: its context and Dockerfile."""

    context: str  # sha256 of the context as BuildKit would send it
    dockerfile: str  # sha256 of the Dockerfile's bytes
    bases: tuple[str, ...]  # the external bases its FROM lines name, in order


@dataclass(frozen=True, slots=True, kw_only=True)
class Inputs:
    """Everything one target's identity is made of, as plan --json shows it."""

    source: Source
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


def read_source(context: Path, dockerfile: Path, parent_name: str | None) -> Source:
    text = read_bounded(dockerfile, df.MAX_BYTES)
    return Source(context=context_digest(context, dockerfile=dockerfile),
                  dockerfile=hashlib.sha256(text).hexdigest(),
                  bases=external_bases(text.decode("utf-8", errors="replace"), parent_name))


def external_bases(dockerfile_text: str, parent_name: str | None) -> tuple[str, ...]:
    """FROM names that are images from elsewhere: not scratch, not an earlier stage's name,
    not the in-matrix parent (whose identity counts instead)."""
    stages: set[str] = set()
    found: list[str] = []
    for word, rest in df.instructions(dockerfile_text):
        if word != "FROM":
            continue
        words = [w for w in rest.split() if not w.startswith("--")]
        if not words:
            continue
        name = words[0]
        if name.lower() != SCRATCH and name not in stages and name != parent_name \
                and name not in found:
            found.append(name)
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2])
    return tuple(found)


def inputs_for(target: Target, source: Source, *, downloads: Sequence[tuple[str, str | None]],
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
