"""What the engine and the registry answer, as plain records: the layers above name them
without importing the adapters that produce them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from xbuild.core.platforms import Platform


@dataclass(frozen=True, slots=True, kw_only=True)
class Built:
    """A build: the pushed manifest's digest, or the image's config digest when loaded."""

    digest: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutput:
    """A container's exit code and the tail of what it printed."""

    exit_code: int
    output: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    """A tag as the registry serves it now."""

    digest: str  # of the manifest (or list) the tag points to
    labels: Mapping[str, str] = field(default_factory=dict)  # a single image's config labels
    entries: frozenset[str] = frozenset()  # a list's entries' digests


class ListEntry(NamedTuple):
    """One entry of a published manifest list: (platform, digest)."""

    platform: Platform
    digest: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageConfig:
    """What an image's config says: its platform, labels and how it starts."""

    platform: Platform
    labels: Mapping[str, str]
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()  # NAME=value
    created: datetime | None = None  # when it was built, as its config says

    @property
    def path(self) -> str:
        found = [e.split("=", 1)[1] for e in self.env if e.startswith("PATH=")]
        return found[0] if found else "/usr/bin:/bin"
