"""Docker image references: validation and parsing, following distribution's reference grammar."""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"

COMPONENT_RE = re.compile(_COMPONENT)
TAG_RE = re.compile(_TAG)
DIGEST_RE = re.compile(_DIGEST)
_DOMAIN_RE = re.compile(_DOMAIN)
MAX_NAME_LENGTH = 255


def _is_domain(first: str) -> bool:
    # distribution's rule: the first part is a registry host if it looks like one.
    return first == "localhost" or "." in first or ":" in first


def namespace_problem(namespace: str) -> str | None:
    """Why `namespace` cannot prefix an image name, or None when it can."""
    if len(namespace) > MAX_NAME_LENGTH:
        return f"longer than {MAX_NAME_LENGTH} characters"
    parts = namespace.split("/")
    if _is_domain(parts[0]):
        if not _DOMAIN_RE.fullmatch(parts[0]):
            return f"{parts[0]!r} is not a valid registry host"
        parts = parts[1:]
    bad = next((p for p in parts if not COMPONENT_RE.fullmatch(p)), None)
    if bad is not None:
        return f"{bad!r} is not a valid path component (lowercase letters, digits, . _ -)"
    return None


def name_problem(name: str) -> str | None:
    if not COMPONENT_RE.fullmatch(name):
        return "must be lowercase letters, digits and single separators (. _ -)"
    return None


def tag_problem(tag: str) -> str | None:
    if not TAG_RE.fullmatch(tag):
        return "must be 1 to 128 of letters, digits, _ . - and not start with . or -"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reference:
    repository: str  # with registry host and namespace: 127.0.0.1:5000/derekmerck/orthanc
    tag: str = ""
    digest: str = ""

    @property
    def registry(self) -> str:
        first = self.repository.split("/", 1)[0]
        return first if _is_domain(first) and "/" in self.repository else "docker.io"

    def __str__(self) -> str:
        text = self.repository
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(text: str) -> Reference:
    """Split `host/ns/name:tag@digest`; raise ValueError naming what is wrong."""
    rest, _, digest = text.partition("@")
    if digest and not DIGEST_RE.fullmatch(digest):
        raise ValueError(f"{text!r}: {digest!r} is not a sha256 digest")
    repository, tag = rest, ""
    slash, colon = rest.rfind("/"), rest.rfind(":")
    if colon > slash:
        repository, tag = rest[:colon], rest[colon + 1 :]
        if problem := tag_problem(tag):
            raise ValueError(f"{text!r}: tag {tag!r} {problem}")
    if not repository:
        raise ValueError(f"{text!r}: empty repository")
    if problem := namespace_problem(repository):
        raise ValueError(f"{text!r}: {problem}")
    return Reference(repository=repository, tag=tag, digest=digest)
