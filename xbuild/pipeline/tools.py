"""The effects a command works with, made once per command from the console and its options:
the docker adapter, the host shell and the run folder."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from xbuild.core.answers import Built
from xbuild.core.buildspec import BuildRequest
from xbuild.core.refs import Reference
from xbuild.engine.audit import Inspector
from xbuild.engine.retry import RetryPolicy
from xbuild.engine.runner import Engine
from xbuild.host.bases import BaseEngine
from xbuild.host.cmd import Shell
from xbuild.host.doctor import EngineFacts
from xbuild.host.paths import OWNER, sweep_runs, write_text_atomically
from xbuild.host.published import Registry, TagReader
from xbuild.output.console import Console

RECORD_NAME = "summary.json"


class Adapter(Engine, Inspector, BaseEngine, EngineFacts, Protocol):
    """Everything the pipeline asks of the engine: engine/docker.py's Docker, or a fake."""


class Tools:
    """The adapters one command works with. The docker adapter is made on first use, so a
    command that needs no engine (a no-op rerun) never loads python-on-whales."""

    def __init__(self, *, console: Console, shell: Shell, registry: TagReader,
                 docker: Adapter | Callable[[], Adapter]) -> None:
        self.console, self.shell, self.registry = console, shell, registry
        self._docker = docker

    @functools.cached_property
    def docker(self) -> Adapter:
        return self._docker() if callable(self._docker) else self._docker


class LazyEngine:
    """The runner's engine, made only when a build or a list needs it."""

    def __init__(self, kit: Tools, *, dry_run: bool) -> None:
        self._kit, self.dry_run = kit, dry_run

    def build(self, request: BuildRequest, log: TextIO,
              on_line: Callable[[str], None]) -> Built:
        return self._kit.docker.build(request, log, on_line)

    def create_list(self, ref: Reference, sources: Sequence[Reference],
                    log: TextIO | None = None) -> None:
        self._kit.docker.create_list(ref, sources, log)


def tools(console: Console, *, dry_run: bool = False) -> Tools:
    """A dry run prints every command it would run; -v echoes the ones it runs."""
    echo = console.say if dry_run else (console.command if console.verbose else None)
    shell = Shell(echo=echo, dry_run=dry_run)

    def docker() -> Adapter:
        from xbuild.engine.docker import Docker  # python-on-whales only when a step needs it
        return Docker(echo=echo, dry_run=dry_run, retry=RetryPolicy())

    return Tools(console=console, docker=docker, shell=shell, registry=Registry(shell))


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
