"""What one buildx build is asked to do, derived from a plan target. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xbuild.plan import Target
from xbuild.platforms import Platform

Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """Facts about this run that go into every image's OCI labels."""

    created: str  # RFC 3339, UTC, one value for the whole run
    revision: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildRequest:
    key: str
    context: Path
    dockerfile: Path
    platform: Platform
    tag: str
    build_args: Pairs
    labels: Pairs
    contexts: Pairs  # named build contexts: the name a Dockerfile uses -> where it comes from
    push: bool


def labels_for(target: Target, provenance: Provenance, version: str) -> Pairs:
    labels = {
        "architecture": target.arch.name,
        "org.opencontainers.image.created": provenance.created,
        "org.opencontainers.image.revision": provenance.revision,
        "org.opencontainers.image.source": provenance.source,
        "org.opencontainers.image.title": target.image,
        "org.opencontainers.image.version": version,
    }
    return tuple((k, v) for k, v in labels.items() if v)


def build_request(target: Target, *, parent_source: str | None, provenance: Provenance,
                  version: str, push: bool, contexts: Pairs = ()) -> BuildRequest:
    """`parent_source` is the image the parent's name must resolve to, e.g. `repo@sha256:...`.

    `contexts` are the other named contexts: bootstrapped bases, staged downloads.
    """
    named = dict(contexts)
    if target.parent_name and parent_source:
        named[target.parent_name] = f"docker-image://{parent_source}"
    return BuildRequest(
        key=target.key, context=target.context, dockerfile=target.dockerfile,
        platform=target.arch.platform, tag=target.ref, build_args=target.build_args,
        labels=labels_for(target, provenance, version), contexts=tuple(named.items()),
        push=push,
    )


def repository_of(ref: str) -> str:
    """`host:5000/ns/img:tag` -> `host:5000/ns/img` (a port's colon is not a tag's)."""
    ref = ref.split("@", 1)[0]
    colon, slash = ref.rfind(":"), ref.rfind("/")
    return ref[:colon] if colon > slash else ref


def pinned(ref: str, digest: str) -> str:
    return f"{repository_of(ref)}@{digest}"
