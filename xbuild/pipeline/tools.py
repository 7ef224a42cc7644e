"""The effects a command works with, made once per command from the console and its options:
the docker adapter, the host shell and the run folder."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from xbuild.core.answers import Built
from xbuild.core.buildspec import BuildRequest
from xbuild.core.errors import EnvironmentProblem
from xbuild.core.nodes import DEFAULT
from xbuild.core.refs import Reference
from xbuild.engine.audit import Inspector
from xbuild.engine.retry import RetryPolicy
from xbuild.engine.runner import Engine
from xbuild.host.cmd import Shell
from xbuild.host.doctor import EngineFacts
from xbuild.host.mmdebstrap import BaseEngine
from xbuild.host.paths import OWNER, sweep_runs, write_text_atomically
from xbuild.host.published import PublishedReader, TagReader
from xbuild.output.console import Console

RECORD_NAME = "summary.json"


class Adapter(Engine, Inspector, BaseEngine, EngineFacts, Protocol):
    """Everything the pipeline asks of the engine: engine/docker.py's Docker, or a fake."""


AdapterFor = Callable[[str], Adapter]  # a node's name ("" the default) -> its adapter


class Tools:
    """The adapters one command works with. An engine adapter is made on first use, so a
    command that needs no engine (a no-op rerun) never loads python-on-whales."""

    def __init__(self, *, console: Console, shell: Shell, registry: TagReader,
                 docker: Adapter | AdapterFor) -> None:
        """`docker`: the adapter of every node, or a function making each node's."""
        self.console, self.shell, self.registry = console, shell, registry
        self._make = docker if callable(docker) else (lambda _node: docker)
        self._made: dict[str, Adapter] = {}
        self._making = threading.Lock()  # the runner's workers ask for their node at once

    def engine(self, node: str) -> Adapter:
        """The adapter of `node`: a docker context or buildx builder ("" the default)."""
        with self._making:
            if node not in self._made:
                self._made[node] = self._make(node)
            return self._made[node]

    @property
    def docker(self) -> Adapter:
        """The default node's adapter: the one that also publishes, pulls and verifies."""
        return self.engine(DEFAULT)


class LazyEngine:
    """The runner's engine for one node, made only when a build or a list needs it."""

    def __init__(self, kit: Tools, node: str, *, dry_run: bool) -> None:
        self._kit, self._node, self.dry_run = kit, node, dry_run

    def build(self, request: BuildRequest, log: TextIO,
              on_line: Callable[[str], None]) -> Built:
        return self._kit.engine(self._node).build(request, log, on_line)

    def create_list(self, ref: Reference, sources: Sequence[Reference],
                    log: TextIO | None = None) -> None:
        self._kit.engine(self._node).create_list(ref, sources, log)


def tools(console: Console, *, dry_run: bool = False) -> Tools:
    """A dry run prints every command it would run; -v echoes the ones it runs."""
    echo = console.say if dry_run else (console.command if console.verbose else None)
    shell = Shell(echo=echo, dry_run=dry_run)

    def adapter(node: str) -> Adapter:
        from xbuild.engine.docker import Docker, node_kind  # python-on-whales when needed

        if node == DEFAULT:
            return Docker(echo=echo, dry_run=dry_run, retry=RetryPolicy())
        kind = node_kind(node)
        if kind is None:
            raise EnvironmentProblem(f"node {node}: there is no docker context and no buildx "
                                     f"builder of that name (`docker context ls`, "
                                     f"`docker buildx ls`)")
        return Docker(echo=echo, dry_run=dry_run, retry=RetryPolicy(),
                      context=node if kind == "context" else None,
                      builder=node if kind == "builder" else None)

    return Tools(console=console, docker=adapter, shell=shell, registry=PublishedReader(shell))


def new_run_dir(log_dir: Path) -> Path:
    """`<log_dir>/<UTC time>[-n]`, created: each run's logs and record."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = log_dir / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = log_dir / f"{stamp}-{suffix}"
    sweep_runs(log_dir)  # what a killed run left staged
    run_dir.mkdir(parents=True)
    (run_dir / OWNER).write_text(str(os.getpid()))
    return run_dir


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """A JSON file written whole or not at all (a killed run leaves no half file)."""
    return write_text_atomically(path, json.dumps(data, indent=2))


def write_record(run_dir: Path, summary: dict[str, Any]) -> Path:
    """The run's summary.json."""
    return write_json(run_dir / RECORD_NAME, summary)
