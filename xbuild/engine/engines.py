"""Each node's docker adapter (engine/docker.py's Docker), made on first use, and the three
things callers ask of one: build, inspect, publish.

A node is a docker context or a buildx builder ("" the default: the current context). An
adapter is made when a node is first asked for, so a command that needs no engine (a no-op
rerun) never loads python-on-whales.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from xbuild.core.answers import Built, ImageConfig, ListEntry, RunOutput
from xbuild.core.buildspec import BuildRequest
from xbuild.core.errors import EnvironmentProblem
from xbuild.core.nodes import DEFAULT
from xbuild.core.platforms import Platform
from xbuild.core.refs import Reference
from xbuild.core.smoke import Sandbox
from xbuild.engine.retry import RetryPolicy

if TYPE_CHECKING:
    from xbuild.engine.docker import Docker

LineSink = Callable[[str], None]


class Builder(Protocol):
    """Builds one image x arch (the runner, the bases, the probes)."""

    def build(self, request: BuildRequest, log: TextIO, on_line: LineSink) -> Built: ...


class Publisher(Protocol):
    """Publishes manifest lists."""

    def create_list(self, ref: Reference, sources: Sequence[Reference],
                    log: TextIO | None = None) -> None: ...


class Tagger(Protocol):
    """Puts a pinned image under a tag of its repository, its digest kept (host/retag.py)."""

    def put(self, source: Reference, tag: Reference) -> None: ...


class Signer(Protocol):
    """Signs pinned images and attaches signed attestations to them (host/cosign.py)."""

    def sign(self, image: Reference) -> None: ...
    def attest(self, image: Reference, predicate: Path, kind: str) -> None: ...


class Inspector(Protocol):
    """Reads and runs images, never changing a registry (verify)."""

    def list_entries(self, ref: Reference) -> list[ListEntry] | None: ...
    def pull(self, ref: Reference) -> bool: ...
    def image_config(self, ref: Reference) -> ImageConfig: ...
    def export(self, ref: Reference, output: Path, *, max_bytes: int) -> None: ...
    def remove_image(self, ref: Reference) -> None: ...
    def run(self, image: Reference, command: Sequence[str], *, platform: Platform,
            sandbox: Sandbox, entrypoint: str | None = None) -> RunOutput: ...


class Engines:
    """Node name -> its Docker, each made once, on first use; safe to ask from threads."""

    def __init__(self, *, echo: LineSink | None = None, dry_run: bool = False,
                 make: Callable[[str], Docker] | None = None) -> None:
        """`echo` and `dry_run` go to every adapter; `make` replaces the real ones (tests)."""
        self.echo, self.dry_run = echo, dry_run
        self._make = make or self._docker
        self._made: dict[str, Docker] = {}
        self._making = threading.Lock()  # the runner's workers ask for their node at once

    def on(self, node: str = DEFAULT) -> Docker:
        """The adapter of `node` (the default node: the one that publishes and verifies)."""
        with self._making:
            if node not in self._made:
                self._made[node] = self._make(node)
            return self._made[node]

    def _docker(self, node: str) -> Docker:
        from xbuild.engine.docker import Docker, node_kind  # python-on-whales when needed

        if node == DEFAULT:
            return Docker(echo=self.echo, dry_run=self.dry_run, retry=RetryPolicy())
        kind = node_kind(node)
        if kind is None:
            raise EnvironmentProblem(f"node {node}: there is no docker context and no buildx "
                                     f"builder of that name (`docker context ls`, "
                                     f"`docker buildx ls`)")
        return Docker(echo=self.echo, dry_run=self.dry_run, retry=RetryPolicy(),
                      context=node if kind == "context" else None,
                      builder=node if kind == "builder" else None)
