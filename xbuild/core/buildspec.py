"""What one buildx build is asked to do: every BuildRequest xbuild makes is built here. Pure."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from xbuild.core.matrix import BaseSpec
from xbuild.core.plan import Target
from xbuild.core.platforms import Arch, Platform
from xbuild.core.refs import Reference

Pairs = tuple[tuple[str, str], ...]
OCI = "org.opencontainers.image"
IDENTITY_LABEL = "xbuild.identity"  # see core/identity.py
REVISION_LABEL = f"{OCI}.revision"  # the checkout's commit
_SCP_LIKE = re.compile(r"(?P<user>[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)")


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """Facts about this run that go into every image's OCI labels."""

    created: str  # RFC 3339, UTC: the checkout's commit time, never the wall clock
    revision: str = ""
    source: str = ""  # a URL, never a local path (see source_url)
    epoch: int | None = None  # `created` in seconds: SOURCE_DATE_EPOCH for every build


@dataclass(frozen=True, slots=True, kw_only=True)
class BuildRequest:
    key: str
    context: Path
    dockerfile: Path
    platform: Platform
    tag: Reference
    build_args: Pairs
    labels: Pairs
    contexts: Pairs  # named build contexts: the name a Dockerfile uses -> where it comes from
    push: bool
    secrets: tuple[str, ...] = ()  # buildx --secret values: where each comes from, not what


def source_url(remote: str) -> str:
    """The public URL of a git remote for `org.opencontainers.image.source`, or "".

    Credentials are dropped, scp-like remotes (`git@host:owner/repo.git`) become https URLs,
    and anything else that is not a URL (a local folder path) gives "": a host path must
    never reach a published image.
    """
    remote = remote.strip()
    parts = urllib.parse.urlsplit(remote)
    if parts.scheme in ("http", "https", "ssh", "git") and parts.hostname:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        scheme = "https" if parts.scheme in ("ssh", "git") else parts.scheme
        return urllib.parse.urlunsplit((scheme, host, parts.path, "", ""))
    scp = _SCP_LIKE.fullmatch(remote)
    if scp and "/" not in scp["host"] and "." in scp["host"]:
        return f"https://{scp['host']}/{scp['path']}"
    return ""


def labels_for(*, title: str, arch: Arch, provenance: Provenance, version: str,
               description: str | None) -> Pairs:
    """The OCI labels of one image x arch. `description` None leaves the Dockerfile's own."""
    labels = {
        "architecture": arch.name,
        f"{OCI}.created": provenance.created,
        REVISION_LABEL: provenance.revision,
        f"{OCI}.source": provenance.source,
        f"{OCI}.title": title,
        f"{OCI}.version": version,
    }
    pairs = [(k, v) for k, v in labels.items() if v]
    if description is not None:
        pairs.append((f"{OCI}.description", description))
    return tuple(pairs)


def image_source(ref: Reference) -> str:
    return f"docker-image://{ref}"


def build_request(target: Target, *, parent_source: Reference | None, provenance: Provenance,
                  version: str, push: bool, contexts: Pairs = (),
                  identity: str = "") -> BuildRequest:
    """`parent_source` is the image the parent's name must resolve to, e.g. `repo@sha256:...`.

    `contexts` are the other named contexts: bootstrapped bases, staged downloads. `identity`
    (core/identity.py) is labelled so that a later run can tell the image is up to date. A
    push goes to the staging tag: the public one moves only once the release is verified.
    """
    named = dict(contexts)
    if target.parent_name and parent_source:
        named[str(target.parent_name)] = image_source(parent_source)
    labels = labels_for(title=target.image, arch=target.arch, provenance=provenance,
                        version=version, description=target.description)
    if identity:
        labels += ((IDENTITY_LABEL, identity),)
    return BuildRequest(
        key=target.key, context=target.context, dockerfile=target.dockerfile,
        platform=target.arch.platform, tag=target.staging_ref if push else target.ref,
        build_args=(*target.build_args, *_epoch_arg(provenance)), labels=labels,
        contexts=tuple(named.items()), push=push, secrets=tuple(s.spec for s in target.secrets),
    )


def _epoch_arg(provenance: Provenance) -> Pairs:
    """BuildKit stamps SOURCE_DATE_EPOCH into the image config instead of the clock, so a
    rebuild from cache gives the same digest."""
    return (("SOURCE_DATE_EPOCH", str(provenance.epoch)),) if provenance.epoch is not None else ()


def base_request(base: BaseSpec, arch: Arch, *, namespace: str, workdir: Path,
                 provenance: Provenance) -> BuildRequest:
    """A bootstrapped root filesystem (workdir/rootfs.tar) as `<namespace>/<base>-<arch>`."""
    description = f"Debian {base.suite} minbase from {base.mirror}, by mmdebstrap"
    return BuildRequest(
        key=f"{base.name.name}-{base.name.tag}-{arch.name}", context=workdir,
        dockerfile=workdir / "Dockerfile", platform=arch.platform,
        tag=base.published(namespace).per_arch(arch), build_args=_epoch_arg(provenance),
        labels=labels_for(title=str(base.name), arch=arch, provenance=provenance,
                          version=base.name.tag, description=description),
        contexts=(), push=True)


def probe_request(arch: Arch, *, workdir: Path, tag: Reference) -> BuildRequest:
    """A local probe image (busybox on scratch) that proves containers of `arch` run."""
    return BuildRequest(key=f"probe-{arch.name}", context=workdir,
                        dockerfile=workdir / "Dockerfile", platform=arch.platform, tag=tag,
                        build_args=(), labels=(("architecture", arch.name),), contexts=(),
                        push=False)
