"""Docker image references: the one type that parses and builds every reference xbuild uses.

The grammar is distribution's (github.com/distribution/reference, regexp.go), ASCII only as Go's
regexp reads `\\w`: a name of at most 255 characters made of an optional registry host and
lowercase path components, an optional tag of 1 to 128 characters, an optional sha256 digest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xbuild.core.errors import InvalidReference
from xbuild.core.platforms import Arch
from xbuild.core.text import quoted

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"

COMPONENT_RE = re.compile(_COMPONENT)
TAG_RE = re.compile(_TAG)
DIGEST_RE = re.compile(_DIGEST)
_DOMAIN_RE = re.compile(_DOMAIN)
MAX_NAME_LENGTH = 255
MAX_TAG_LENGTH = 128
STAGING_PREFIX = "staging-"


def _is_domain(first: str) -> bool:
    # distribution's rule: the first part is a registry host if it looks like one.
    return first == "localhost" or "." in first or ":" in first


def namespace_problem(namespace: str) -> str | None:
    """Why `namespace` cannot prefix an image name, or None when it can."""
    return _name_problem(namespace, host_first=True)


def repository_problem(repository: str) -> str | None:
    """Why `repository` is not a whole image name: its first part is a registry host only
    when more follows (distribution's splitDockerDomain), so `a.b` alone is a path."""
    return _name_problem(repository, host_first="/" in repository)


def _name_problem(name: str, *, host_first: bool) -> str | None:
    if len(name) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    parts = name.split("/")
    if host_first and _is_domain(parts[0]):
        if not _DOMAIN_RE.fullmatch(parts[0]):
            return f"{quoted(parts[0])} is not a valid registry host"
        parts = parts[1:]
    bad = next((p for p in parts if not COMPONENT_RE.fullmatch(p)), None)
    if bad is not None:
        return f"{quoted(bad)} is not a valid path component (lowercase letters, digits, . _ -)"
    return None


def name_problem(name: str) -> str | None:
    if not COMPONENT_RE.fullmatch(name):
        return "must be lowercase ASCII letters, digits and single separators (. _ -)"
    return None


def tag_problem(tag: str) -> str | None:
    if not TAG_RE.fullmatch(tag):
        return "must be 1 to 128 ASCII letters, digits, _ . - and not start with . or -"
    return None


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Reference:
    repository: str  # with registry host and namespace: 127.0.0.1:5000/derekmerck/orthanc
    tag: str = ""
    digest: str = ""

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Split `host/ns/name:tag@digest`; raise InvalidReference naming what is wrong."""
        rest, _, digest = text.partition("@")
        if digest and not DIGEST_RE.fullmatch(digest):
            raise InvalidReference(f"{quoted(text)}: {quoted(digest)} is not a sha256 digest")
        repository, tag = rest, ""
        slash, colon = rest.rfind("/"), rest.rfind(":")
        if colon > slash:
            repository, tag = rest[:colon], rest[colon + 1:]
            if problem := tag_problem(tag):
                raise InvalidReference(f"{quoted(text)}: tag {quoted(tag)} {problem}")
        if not repository:
            raise InvalidReference(f"{quoted(text)}: empty repository")
        if problem := repository_problem(repository):
            raise InvalidReference(f"{quoted(text)}: {problem}")
        return cls(repository=repository, tag=tag, digest=digest)

    @classmethod
    def of(cls, namespace: str, name: str, tag: str) -> Reference:
        """`<namespace>/<name>:<tag>`, e.g. derekmerck/orthanc:latest."""
        return cls(repository=f"{namespace}/{name}", tag=tag)

    @property
    def name(self) -> str:
        """The last path component: `orthanc` of `127.0.0.1:5000/derekmerck/orthanc`."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def registry(self) -> str:
        first = self.repository.split("/", 1)[0]
        return first if _is_domain(first) and "/" in self.repository else "docker.io"

    def per_arch(self, arch: Arch) -> Reference:
        """The per-arch tag an arch is published under: `<tag>-<arch>`."""
        return Reference(repository=self.repository, tag=f"{self.tag}-{arch.name}")

    def staging(self) -> Reference:
        """Where a per-arch image waits, pushed but not yet public: `staging-<tag>`. No
        consumer pulls it; the public tag moves to its digest once the release is verified."""
        return Reference(repository=self.repository, tag=f"{STAGING_PREFIX}{self.tag}")

    def pinned(self, digest: str) -> Reference:
        """`<repository>@<digest>`: exactly that manifest, whatever the tag says now."""
        return Reference(repository=self.repository, digest=digest)

    def in_namespace(self, namespace: str) -> Reference:
        """The same name and tag under another namespace: a base as xbuild publishes it."""
        return Reference(repository=f"{namespace}/{self.name}", tag=self.tag)

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def registry_of(namespace: str) -> str:
    """The registry a namespace publishes to: `127.0.0.1:5000` or `docker.io`."""
    return Reference.of(namespace, "x", "").registry


def per_arch_tag_problem(tag: str, arches: tuple[Arch, ...]) -> str | None:
    longest = max((len(a.name) for a in arches), default=0)
    if len(STAGING_PREFIX) + len(tag) + 1 + longest > MAX_TAG_LENGTH:
        return (f"{quoted(tag)} is too long: staging tags '{STAGING_PREFIX}<tag>-<arch>' must "
                f"fit in {MAX_TAG_LENGTH} characters")
    return None
